//! Startup: checks the database and connection limit, creates the session (applying the
//! settings the client sent in its startup packet), and answers with AuthenticationOk, the
//! reported ParameterStatus values, BackendKeyData and ReadyForQuery.

use std::fmt::Debug;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    StartupHandler, protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_DATABASE, METADATA_USER, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::response::{ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::Mutex;

use crate::error::{Error, ErrorKind};
use crate::registry::Registry;
use crate::session::Session;
use crate::sql::Connection;
use crate::wire::errors::fatal;
use crate::wire::{ConnectionState, Handler};

/// Startup parameters that are not session settings.
const NOT_SETTINGS: &[&str] = &["user", "database", "replication", "options"];

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
        let PgWireFrontendMessage::Startup(startup) = message else {
            return Ok(());
        };
        protocol_negotiation(client, &startup).await?;
        save_startup_parameters_to_metadata(client, &startup);
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
        if self.registry.count() >= config.server.max_connections {
            return Err(fatal(&Error::new(
                ErrorKind::TooManyConnections,
                "sorry, too many clients already",
            )));
        }
        let registration = self.registry.register();
        let pid = registration.control.pid;
        let application_name = startup
            .parameters
            .get("application_name")
            .cloned()
            .unwrap_or_default();
        let session = Session::new(
            pid,
            user.clone(),
            database,
            client.socket_addr(),
            &application_name,
            &config.session,
            self.service.engine.default_options(),
        );
        for (name, value) in &startup.parameters {
            if NOT_SETTINGS.contains(&name.as_str()) {
                continue;
            }
            session.variables.set(name, value).map_err(|e| fatal(&e))?;
        }
        if let Some(options) = startup.parameters.get("options") {
            for (name, value) in command_line_settings(options) {
                session
                    .variables
                    .set(&name, &value)
                    .map_err(|e| fatal(&e))?;
            }
        }
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
        tracing::info!(pid, user = %user, client = %client.socket_addr(), "connection authorized");
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
