//! The PostgreSQL wire protocol — the only module that imports pgwire.
//!
//! pgwire frames messages, negotiates TLS ([`tls`]), dispatches CancelRequests and skips
//! messages after an extended-protocol error until Sync; [`connection`] runs the message loop
//! (deadlines, idle timeouts, shutdown) with [`framing`] checking every length prefix first.
//! lakeport implements every handler itself: [`startup`] (authentication, session creation,
//! ParameterStatus, BackendKeyData),
//! [`simple`] (Query), [`extended`] (Parse/Bind/Describe/Execute/Close/Sync/Flush), and
//! [`rows`], which streams an `exec::RowCursor` as DataRows under the statement's cancel and
//! timeout guard. pgwire's own portal store and row collection are not used: portals live in
//! `sql::Connection` and rows are never collected beyond one batch.

mod connection;
mod copy;
pub mod encode;
pub mod errors;
mod extended;
mod finish;
pub mod framing;
pub mod fuzzing;
pub mod params;
mod rows;
mod simple;
mod startup;
pub mod text;
pub mod tls;

pub use connection::serve_connection;

use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::sasl::scram::ScramServerAuth;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::{ClientInfo, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::Mutex;

use crate::auth::Authenticator;
use crate::registry::activity::BackendState;
use crate::registry::{Registration, Registry};
use crate::session::TransactionStatus;
use crate::sql::{Connection, Service};

/// What a connection keeps between messages, stored in pgwire's per-connection extensions;
/// dropping it (when the socket closes) closes portals and unregisters the connection.
pub struct ConnectionState {
    pub connection: Mutex<Connection>,
    pub registration: Registration,
    /// Parameter type OIDs each statement's Parse declared, by statement name: Describe
    /// echoes them (a client that declared varchar expects varchar back, not text).
    pub declared_types: std::sync::Mutex<std::collections::HashMap<String, Vec<u32>>>,
}

/// The handlers for every connection.
pub struct Handlers {
    inner: Arc<Handler>,
}

pub struct Handler {
    service: Arc<Service>,
    registry: Arc<Registry>,
    authenticator: Authenticator,
    /// SCRAM without channel binding, and with it when TLS is on and the certificate's
    /// signature algorithm allows `tls-server-end-point`.
    scram: ScramServerAuth,
    scram_bound: Option<ScramServerAuth>,
    tls: Option<tls::Tls>,
    max_message_size: usize,
}

impl Handlers {
    /// The handlers for `service`'s configuration: loads the TLS certificate and key.
    pub fn try_new(service: Arc<Service>, registry: Arc<Registry>) -> crate::Result<Self> {
        let config = &service.config;
        let tls = tls::load(&config.tls)?;
        let scram_bound = tls.as_ref().and_then(|tls| {
            let mut bound = ScramServerAuth::new();
            match bound.configure_certificate(&tls.certificate_pem) {
                Ok(()) => Some(bound),
                Err(e) => {
                    tracing::info!(error = %e, "SCRAM channel binding is off for this certificate");
                    None
                }
            }
        });
        let max_message_size = crate::config::parse_byte_size(&config.server.max_message_size)
            .map_err(|e| crate::Error::invalid_parameter(e.to_string()))?;
        let authenticator = Authenticator::new(config.auth.clone(), config.tls.require_remote);
        tracing::info!(
            method = authenticator.method().name(),
            users = config.auth.users.len(),
            tls = tls.is_some(),
            channel_binding = scram_bound.is_some(),
            "authentication"
        );
        Ok(Self {
            inner: Arc::new(Handler {
                service,
                registry,
                authenticator,
                scram: ScramServerAuth::new(),
                scram_bound,
                tls,
                max_message_size,
            }),
        })
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.inner.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.inner.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.inner.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.inner.clone()
    }
}

#[async_trait]
impl CancelHandler for Handler {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let secret = match request.secret_key {
            SecretKey::I32(secret) => Some(secret),
            SecretKey::Bytes(bytes) => <[u8; 4]>::try_from(bytes.as_ref())
                .ok()
                .map(i32::from_be_bytes),
        };
        if let Some(secret) = secret {
            let found = self.registry.cancel(request.pid, secret);
            tracing::debug!(pid = request.pid, found, "cancel request");
        }
    }
}

/// Records in the registry that the connection waits for its client, in the state its
/// transaction status gives.
fn mark_idle(state: &ConnectionState, connection: &Connection) {
    let backend_state = match connection.transaction_status() {
        TransactionStatus::Idle => BackendState::Idle,
        TransactionStatus::InBlock => BackendState::IdleInTransaction,
        TransactionStatus::Failed => BackendState::IdleInTransactionAborted,
    };
    state.registration.control.idle(
        backend_state,
        &connection.session.variables.application_name(),
    );
}

/// The connection state of an authenticated client.
fn connection_state<C: ClientInfo + ?Sized>(client: &C) -> PgWireResult<Arc<ConnectionState>> {
    client
        .session_extensions()
        .get::<ConnectionState>()
        .ok_or_else(|| {
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                "08P01".into(),
                "message before startup completed".into(),
            )))
        })
}
