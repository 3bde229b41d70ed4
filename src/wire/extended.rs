//! The extended query protocol: Parse, Bind, Describe, Execute (with row limits and
//! PortalSuspended), Close, Sync and Flush, over the statements and portals of
//! `sql::Connection`. Messages are queued and flushed at Sync or Flush, so pipelines stay
//! pipelined. An error returned here makes pgwire send it and skip to the next Sync.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use futures::{Sink, SinkExt};
use pgwire::api::portal::Portal;
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::stmt::NoopQueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    PortalSuspended, Sync as PgSync, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus,
};

use crate::error::{Error, ErrorKind};
use crate::pgtypes::{arrow_type_for_oid, pg_type};
use crate::session;
use crate::sql::{Connection, PortalOutput};
use crate::wire::copy::send_copy;
use crate::wire::errors::{fatal, to_pgwire};
use crate::wire::finish::finish_statement;
use crate::wire::params::decode_parameter;
use crate::wire::rows::{
    Failure, binary_formats, encode_options, feed, row_description, send_notices,
    send_parameter_changes, send_rows,
};
use crate::wire::{Handler, connection_state, mark_idle};

pub fn ready_status(status: session::TransactionStatus) -> TransactionStatus {
    match status {
        session::TransactionStatus::Idle => TransactionStatus::Idle,
        session::TransactionStatus::InBlock => TransactionStatus::Transaction,
        session::TransactionStatus::Failed => TransactionStatus::Error,
    }
}

fn name_of(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("")
}

/// Marks the statement failed and turns the error into pgwire's, which sends it.
fn fail(connection: &mut Connection, error: Error) -> PgWireError {
    if error.kind == ErrorKind::AdminShutdown {
        return fatal(&error);
    }
    connection.statement_failed();
    to_pgwire(&error)
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::new(NoopQueryParser)
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        let declared: Vec<Option<DataType>> = message
            .type_oids
            .iter()
            .map(|oid| arrow_type_for_oid(*oid).unwrap_or(None))
            .collect();
        if let Err(error) = connection
            .parse(name_of(&message.name), &message.query, &declared)
            .await
        {
            finish_statement(&connection, &message.query, Instant::now(), 0, Some(&error));
            return Err(fail(&mut connection, error));
        }
        state
            .declared_types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name_of(&message.name).to_string(), message.type_oids);
        feed(
            client,
            PgWireBackendMessage::ParseComplete(ParseComplete::new()),
        )
        .await?;
        Ok(())
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        let result = bind(&mut connection, message);
        result.map_err(|e| fail(&mut connection, e))?;
        feed(
            client,
            PgWireBackendMessage::BindComplete(BindComplete::new()),
        )
        .await?;
        Ok(())
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        let name = name_of(&message.name);
        let (parameters, columns, formats) = match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                let statement = connection
                    .statement(name)
                    .map_err(|e| fail(&mut connection, e))?;
                let declared = state
                    .declared_types
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(name)
                    .cloned()
                    .unwrap_or_default();
                let oids = statement
                    .param_types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match declared.get(i) {
                        Some(&oid)
                            if oid != 0 && arrow_type_for_oid(oid).is_ok_and(|t| t.is_some()) =>
                        {
                            oid
                        }
                        _ => pg_type(t).oid,
                    })
                    .collect();
                (Some(oids), statement.columns.clone(), Vec::new())
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let columns = connection
                    .portal_columns(name)
                    .map_err(|e| fail(&mut connection, e))?;
                let formats = connection
                    .portal(name)
                    .map(|p| p.result_formats.clone())
                    .unwrap_or_default();
                (None, columns, formats)
            }
            other => {
                let error = Error::new(
                    ErrorKind::ProtocolViolation,
                    format!("invalid DESCRIBE message subtype {other}"),
                );
                return Err(fail(&mut connection, error));
            }
        };
        if let Some(oids) = parameters {
            feed(
                client,
                PgWireBackendMessage::ParameterDescription(ParameterDescription::new(oids)),
            )
            .await?;
        }
        match columns {
            Some(schema) => {
                let binary = binary_formats(&formats, schema.fields().len());
                feed(
                    client,
                    PgWireBackendMessage::RowDescription(row_description(&schema, &binary)),
                )
                .await?;
            }
            None => feed(client, PgWireBackendMessage::NoData(NoData::new())).await?,
        }
        Ok(())
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        let name = name_of(&message.name);
        let started = Instant::now();
        let timeout = connection.session.variables.statement_timeout_ms();
        let limit = if message.max_rows <= 0 {
            usize::MAX
        } else {
            message.max_rows as usize
        };
        let sql = connection
            .portal(name)
            .map(|p| p.statement_sql().to_string())
            .unwrap_or_default();
        let guard = state.registration.control.start_statement(
            timeout,
            &sql,
            connection.transaction_status() != session::TransactionStatus::Idle,
        );
        let result: Result<u64, Failure> = async {
            let output = guard.run(connection.execute_portal(name)).await?;
            send_notices(client, &mut connection.session).await?;
            match output {
                PortalOutput::Rows { cursor, tag } => {
                    let formats = connection
                        .portal(name)
                        .map(|p| p.result_formats.clone())
                        .unwrap_or_default();
                    let options = encode_options(&connection.session);
                    let mut cursor = cursor.lock().await;
                    let binary = binary_formats(&formats, cursor.schema().fields().len());
                    let streamed =
                        send_rows(client, &mut cursor, limit, &binary, &options, &guard).await?;
                    send_notices(client, &mut connection.session).await?;
                    if streamed.finished {
                        feed(
                            client,
                            PgWireBackendMessage::CommandComplete(CommandComplete::new(
                                tag.completion(streamed.rows),
                            )),
                        )
                        .await?;
                    } else {
                        feed(
                            client,
                            PgWireBackendMessage::PortalSuspended(PortalSuspended::new()),
                        )
                        .await?;
                    }
                    Ok(streamed.rows)
                }
                PortalOutput::CopyOut { mut cursor, format } => {
                    let options = encode_options(&connection.session);
                    let rows = send_copy(client, &mut cursor, &format, &options, &guard).await?;
                    feed(
                        client,
                        PgWireBackendMessage::CommandComplete(CommandComplete::new(format!(
                            "COPY {rows}"
                        ))),
                    )
                    .await?;
                    Ok(rows)
                }
                PortalOutput::Command(tag) => {
                    feed(
                        client,
                        PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)),
                    )
                    .await?;
                    Ok(0)
                }
                PortalOutput::Empty => {
                    feed(
                        client,
                        PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()),
                    )
                    .await?;
                    Ok(0)
                }
            }
        }
        .await;
        match result {
            Ok(rows) => {
                finish_statement(&connection, &sql, started, rows, None);
                Ok(())
            }
            Err(Failure::Client(e)) => Err(e),
            Err(Failure::Statement(error)) => {
                finish_statement(&connection, &sql, started, 0, Some(&error));
                connection.close_portal(name);
                Err(fail(&mut connection, error))
            }
        }
    }

    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        connection.sync();
        send_parameter_changes(client, &connection.session).await?;
        mark_idle(&state, &connection);
        let status = ready_status(connection.transaction_status());
        feed(
            client,
            PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status)),
        )
        .await?;
        client.flush().await?;
        Ok(())
    }

    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        let name = name_of(&message.name);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => connection.close_statement(name),
            TARGET_TYPE_BYTE_PORTAL => connection.close_portal(name),
            other => {
                let error = Error::new(
                    ErrorKind::ProtocolViolation,
                    format!("invalid CLOSE message subtype {other}"),
                );
                return Err(fail(&mut connection, error));
            }
        }
        feed(
            client,
            PgWireBackendMessage::CloseComplete(CloseComplete::new()),
        )
        .await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        _portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(PgWireError::ApiError(
            "lakeport handles Execute in on_execute".into(),
        ))
    }
}

/// Decodes a Bind's parameters by the statement's types and creates the portal.
fn bind(connection: &mut Connection, message: Bind) -> Result<(), Error> {
    let statement = connection.statement(name_of(&message.statement_name))?;
    if message.parameters.len() != statement.param_types.len() {
        return Err(Error::new(
            ErrorKind::ProtocolViolation,
            format!(
                "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                message.parameters.len(),
                name_of(&message.statement_name),
                statement.param_types.len()
            ),
        ));
    }
    let binary = binary_formats(&message.parameter_format_codes, message.parameters.len());
    let params = message
        .parameters
        .iter()
        .zip(&statement.param_types)
        .enumerate()
        .map(|(i, (value, target))| decode_parameter(i, value.as_ref(), binary[i], target))
        .collect::<Result<Vec<_>, Error>>()?;
    connection.bind(
        name_of(&message.portal_name),
        name_of(&message.statement_name),
        params,
        message.result_column_format_codes,
    )
}
