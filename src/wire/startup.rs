//! Startup and authentication: checks the database, runs the exchange the
//! [`Authenticator`](crate::auth::Authenticator) asks for (none, SCRAM-SHA-256 with or without
//! channel binding, MD5, or a clear-text password over TLS), then checks the connection limit,
//! creates the session (applying the settings the client sent in its startup packet), and
//! answers with AuthenticationOk, the reported ParameterStatus values, BackendKeyData and
//! ReadyForQuery.
//!
//! An exchange spans several messages; its state lives in the connection's extensions as a
//! [`PendingAuth`] between them. Every failed exchange is logged, waits `auth.failure_delay`,
//! and ends with the same 28P01 error whether the user or the password was wrong.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::sasl::scram::{ScramSecret, ScramServerAuthWaitingForClientFinal};
use pgwire::api::auth::{
    StartupHandler, protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_DATABASE, METADATA_USER, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::response::{ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, ParameterStatus, PasswordMessageFamily, SecretKey,
};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::Mutex;

use crate::auth::{Challenge, Identity, ScramVerifier, Verifier, password_failed};
use crate::error::{Error, ErrorKind};
use crate::registry::Registry;
use crate::registry::activity::{BackendState, Peer};
use crate::session::Session;
use crate::sql::Connection;
use crate::wire::errors::fatal;
use crate::wire::{ConnectionState, Handler};

/// Startup parameters that are not session settings.
const NOT_SETTINGS: &[&str] = &["user", "database", "replication", "options"];
const SCRAM: &str = "SCRAM-SHA-256";
const SCRAM_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// An authentication exchange in progress.
struct PendingAuth {
    user: String,
    database: String,
    parameters: BTreeMap<String, String>,
    stage: std::sync::Mutex<Option<Stage>>,
}

enum Stage {
    ScramFirst(ScramVerifier),
    ScramFinal(Box<ScramServerAuthWaitingForClientFinal>),
    Md5 { hex: String, salt: [u8; 4] },
    Cleartext(Option<Verifier>),
}

#[async_trait]
impl StartupHandler for Handler {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                self.on_startup_packet(client, startup.parameters).await
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                self.on_password_message(client, message).await
            }
            _ => Err(fatal(&Error::new(
                ErrorKind::ProtocolViolation,
                "expected a startup or password message",
            ))),
        }
    }
}

impl Handler {
    async fn on_startup_packet<C>(
        &self,
        client: &mut C,
        parameters: BTreeMap<String, String>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let config = &self.service.config;
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                fatal(&Error::new(
                    ErrorKind::ProtocolViolation,
                    "no PostgreSQL user name specified in startup packet",
                ))
            })?;
        let database = client
            .metadata()
            .get(METADATA_DATABASE)
            .cloned()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| user.clone());
        if database != config.server.database {
            return Err(fatal(
                &Error::new(
                    ErrorKind::UndefinedDatabase,
                    format!("database \"{database}\" does not exist"),
                )
                .with_hint(format!(
                    "this server serves database \"{}\"",
                    config.server.database
                )),
            ));
        }
        // Authenticating connections count too, as in PostgreSQL: a flood of clients that
        // never finish startup cannot take more than the limit.
        let Some(slot) = self.registry.claim_slot(config.server.max_connections) else {
            return Err(fatal(&Error::new(
                ErrorKind::TooManyConnections,
                "sorry, too many clients already",
            )));
        };
        client.session_extensions().insert(slot);
        let challenge = match self.authenticator.challenge(
            &user,
            client.socket_addr(),
            client.is_secure(),
        ) {
            Ok(challenge) => challenge,
            Err(error) => {
                tracing::warn!(user = %user, client = %client.socket_addr(), reason = %error.message, "connection refused");
                return Err(fatal(&error));
            }
        };
        let (request, stage) = match challenge {
            Challenge::None(identity) => {
                return self.admit(client, identity, database, &parameters).await;
            }
            Challenge::Scram(verifier) => {
                let mut mechanisms = Vec::new();
                if client.is_secure() && self.scram_bound.is_some() {
                    mechanisms.push(SCRAM_PLUS.to_string());
                }
                mechanisms.push(SCRAM.to_string());
                (
                    Authentication::SASL(mechanisms),
                    Stage::ScramFirst(verifier),
                )
            }
            Challenge::Md5 { hex } => {
                let salt: [u8; 4] = rand::random();
                (
                    Authentication::MD5Password(salt.to_vec()),
                    Stage::Md5 { hex, salt },
                )
            }
            Challenge::Cleartext(verifier) => (
                Authentication::CleartextPassword,
                Stage::Cleartext(verifier),
            ),
        };
        client.session_extensions().insert(PendingAuth {
            user,
            database,
            parameters,
            stage: std::sync::Mutex::new(Some(stage)),
        });
        client.set_state(PgWireConnectionState::AuthenticationInProgress);
        client
            .send(PgWireBackendMessage::Authentication(request))
            .await?;
        Ok(())
    }

    async fn on_password_message<C>(
        &self,
        client: &mut C,
        message: PasswordMessageFamily,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let pending = client
            .session_extensions()
            .get::<PendingAuth>()
            .ok_or_else(|| {
                fatal(&Error::new(
                    ErrorKind::ProtocolViolation,
                    "password message before a startup packet",
                ))
            })?;
        let stage = pending
            .stage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let outcome = match stage {
            Some(Stage::ScramFirst(verifier)) => {
                self.scram_first(client, &pending, verifier, message).await
            }
            Some(Stage::ScramFinal(waiting)) => {
                match message
                    .into_sasl_response()
                    .and_then(|response| waiting.on_client_final_message(&response.data))
                {
                    Ok(server_final) => {
                        client
                            .feed(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(server_final.into_bytes().into()),
                            ))
                            .await?;
                        Ok(true)
                    }
                    Err(PgWireError::InvalidPassword(_)) => Err("wrong password".into()),
                    Err(error) => Err(error.to_string()),
                }
            }
            Some(Stage::Md5 { hex, salt }) => match message.into_password() {
                Ok(answer)
                    if crate::auth::verifier::md5_response_matches(
                        &hex,
                        &salt,
                        &answer.password,
                    ) =>
                {
                    Ok(true)
                }
                Ok(_) => Err("wrong password".into()),
                Err(error) => Err(error.to_string()),
            },
            Some(Stage::Cleartext(verifier)) => match message.into_password() {
                Ok(answer)
                    if verifier
                        .as_ref()
                        .is_some_and(|v| v.matches_cleartext(&pending.user, &answer.password)) =>
                {
                    Ok(true)
                }
                Ok(_) => Err("wrong user or password".into()),
                Err(error) => Err(error.to_string()),
            },
            None => Err("password message out of order".into()),
        };
        match outcome {
            Ok(false) => Ok(()),
            Ok(true) => match self.authenticator.identity(&pending.user) {
                Some(identity) => {
                    self.admit(
                        client,
                        identity,
                        pending.database.clone(),
                        &pending.parameters,
                    )
                    .await
                }
                None => Err(self.refuse(client, &pending.user, "no such user").await),
            },
            Err(reason) => Err(self.refuse(client, &pending.user, &reason).await),
        }
    }

    /// SCRAM's client-first message: answers with the server-first message. `Ok(false)`:
    /// the exchange goes on.
    async fn scram_first<C>(
        &self,
        client: &mut C,
        pending: &PendingAuth,
        verifier: ScramVerifier,
        message: PasswordMessageFamily,
    ) -> Result<bool, String>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let initial = message
            .into_sasl_initial_response()
            .map_err(|e| e.to_string())?;
        let server = match initial.auth_method.as_str() {
            SCRAM => &self.scram,
            SCRAM_PLUS if client.is_secure() => self
                .scram_bound
                .as_ref()
                .ok_or("channel binding is not available")?,
            other => return Err(format!("unsupported SASL mechanism \"{other}\"")),
        };
        let secret = ScramSecret::Verifier {
            salt: verifier.salt,
            iterations: verifier.iterations as usize,
            stored_key: verifier.stored_key,
            server_key: verifier.server_key,
        };
        let data = initial.data.unwrap_or_default();
        let (server_first, waiting) = server
            .on_client_first_message_with_secret(&data, secret)
            .map_err(|e| e.to_string())?;
        *pending.stage.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Stage::ScramFinal(Box::new(waiting)));
        client
            .send(PgWireBackendMessage::Authentication(
                Authentication::SASLContinue(server_first.into_bytes().into()),
            ))
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(false)
    }

    /// Logs a failed exchange, waits the failure delay, and gives the one error for all.
    async fn refuse<C: ClientInfo>(&self, client: &C, user: &str, reason: &str) -> PgWireError {
        let reason = match self.authenticator.identity(user) {
            Some(_) => reason,
            None => "no such user",
        };
        tracing::warn!(user = %user, client = %client.socket_addr(), reason, "password authentication failed");
        tokio::time::sleep(self.authenticator.failure_delay()).await;
        fatal(&password_failed(user))
    }

    /// Lets an authenticated client in: the connection limit, the session, and the
    /// messages that end startup.
    async fn admit<C>(
        &self,
        client: &mut C,
        identity: Identity,
        database: String,
        parameters: &BTreeMap<String, String>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let config = &self.service.config;
        let application_name = parameters
            .get("application_name")
            .cloned()
            .unwrap_or_default();
        let peer = Peer {
            user: identity.user.clone(),
            database: database.clone(),
            client_addr: client.socket_addr(),
            admin: identity.role == crate::auth::Role::Admin,
        };
        let registration = self.registry.register(peer, &application_name);
        let pid = registration.control.pid;
        let user = identity.user.clone();
        let user_settings = identity.settings.clone();
        let session = Session::new(
            registration.backend(),
            identity,
            database,
            client.socket_addr(),
            &application_name,
            &config.session,
            self.service.engine.default_options(),
        );
        for (name, value) in &user_settings {
            session.variables.set(name, value).map_err(|e| fatal(&e))?;
        }
        for (name, value) in parameters {
            if NOT_SETTINGS.contains(&name.as_str()) {
                continue;
            }
            session.variables.set(name, value).map_err(|e| fatal(&e))?;
        }
        if let Some(options) = parameters.get("options") {
            for (name, value) in command_line_settings(options) {
                session
                    .variables
                    .set(&name, &value)
                    .map_err(|e| fatal(&e))?;
            }
        }
        registration
            .control
            .idle(BackendState::Idle, &session.variables.application_name());
        session.variables.take_changed_reported();
        let reported = session.variables.reported();
        let secret = Registry::secret_of(&registration.control);
        client.set_pid_and_secret_key(pid, SecretKey::I32(secret));
        client.session_extensions().insert(ConnectionState {
            connection: Mutex::new(Connection::new(self.service.clone(), session)),
            registration,
            declared_types: Default::default(),
        });
        client
            .feed(PgWireBackendMessage::Authentication(Authentication::Ok))
            .await?;
        for (name, value) in reported {
            client
                .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    name, value,
                )))
                .await?;
        }
        client
            .feed(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(
                pid,
                SecretKey::I32(secret),
            )))
            .await?;
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                TransactionStatus::Idle,
            )))
            .await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        tracing::info!(pid, user = %user, client = %client.socket_addr(), tls = client.is_secure(), "connection authorized");
        Ok(())
    }
}

/// `-c name=value` and `--name=value` settings from the startup `options` parameter.
fn command_line_settings(options: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = options.split_whitespace().collect();
    let mut settings = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let setting = match words[i] {
            "-c" => {
                i += 1;
                words.get(i).copied()
            }
            w => w.strip_prefix("-c").or_else(|| w.strip_prefix("--")),
        };
        if let Some((name, value)) = setting.and_then(|s| s.split_once('=')) {
            settings.push((name.replace('-', "_"), value.to_string()));
        }
        i += 1;
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parameter() {
        assert_eq!(
            command_line_settings("-c statement_timeout=5s --search-path=public -cDateStyle=ISO"),
            vec![
                ("statement_timeout".to_string(), "5s".to_string()),
                ("search_path".to_string(), "public".to_string()),
                ("DateStyle".to_string(), "ISO".to_string())
            ]
        );
    }
}
