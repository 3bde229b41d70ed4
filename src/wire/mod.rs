//! The PostgreSQL wire protocol — the only module that imports pgwire.
//!
//! pgwire frames messages, negotiates SSL (refused for now), dispatches CancelRequests and
//! skips messages after an extended-protocol error until Sync. lakeport implements every
//! handler itself: [`startup`] (session creation, ParameterStatus, BackendKeyData),
//! [`simple`] (Query), [`extended`] (Parse/Bind/Describe/Execute/Close/Sync/Flush), and
//! [`rows`], which streams an `exec::RowCursor` as DataRows under the statement's cancel and
//! timeout guard. pgwire's own portal store and row collection are not used: portals live in
//! `sql::Connection` and rows are never collected beyond one batch.

mod copy;
pub mod encode;
pub mod errors;
mod extended;
pub mod params;
mod rows;
mod simple;
mod startup;
pub mod text;

use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::{ClientInfo, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::Mutex;

use crate::registry::{Registration, Registry};
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
}

impl Handlers {
    pub fn new(service: Arc<Service>, registry: Arc<Registry>) -> Self {
        Self {
            inner: Arc::new(Handler { service, registry }),
        }
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

/// Serves one client connection until it ends.
pub async fn serve_connection(
    socket: tokio::net::TcpStream,
    handlers: Arc<Handlers>,
) -> std::io::Result<()> {
    pgwire::tokio::process_socket(socket, None, handlers).await
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
