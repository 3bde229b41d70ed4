//! The simple query protocol: each statement of the Query message is prepared, run and
//! answered in turn; the first error ends the message, as in PostgreSQL.

use std::fmt::Debug;
use std::time::Instant;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse, ReadyForQuery};
use pgwire::messages::simplequery::Query;

use crate::error::ErrorKind;
use crate::registry::StatementGuard;
use crate::session::TransactionStatus;
use crate::sql::split::StatementText;
use crate::sql::{Connection, Output};
use crate::wire::copy::send_copy;
use crate::wire::errors::{error_response, fatal};
use crate::wire::finish::finish_statement;
use crate::wire::rows::{
    Failure, binary_formats, encode_options, feed, row_description, send_notices,
    send_parameter_changes, send_rows,
};
use crate::wire::{Handler, connection_state, mark_idle};

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = connection_state(client)?;
        let mut connection = state.connection.lock().await;
        let pieces = Connection::split(&query.query);
        if pieces.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        }
        for piece in &pieces {
            let started = Instant::now();
            let timeout = connection.session.variables.statement_timeout_ms();
            let guard = state.registration.control.start_statement(
                timeout,
                piece.text,
                connection.transaction_status() != TransactionStatus::Idle,
            );
            let result = run_statement(client, &mut connection, piece, &guard).await;
            match result {
                Ok(rows) => finish_statement(&connection, piece.text, started, rows, None),
                Err(Failure::Client(e)) => return Err(e),
                Err(Failure::Statement(error)) => {
                    finish_statement(&connection, piece.text, started, 0, Some(&error));
                    if error.kind == ErrorKind::AdminShutdown {
                        return Err(fatal(&error));
                    }
                    connection.statement_failed();
                    send_notices(client, &mut connection.session).await?;
                    client
                        .feed(PgWireBackendMessage::ErrorResponse(error_response(&error)))
                        .await?;
                    break;
                }
            }
        }
        send_parameter_changes(client, &connection.session).await?;
        mark_idle(&state, &connection);
        let status = super::extended::ready_status(connection.transaction_status());
        client
            .feed(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        client.flush().await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(PgWireError::ApiError(
            "lakeport handles Query in on_query".into(),
        ))
    }
}

/// Runs one statement and sends its answer; returns the rows sent.
async fn run_statement<C>(
    client: &mut C,
    connection: &mut Connection,
    piece: &StatementText<'_>,
    guard: &StatementGuard,
) -> Result<u64, Failure>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let output = guard.run(connection.run_simple(piece)).await?;
    send_notices(client, &mut connection.session).await?;
    match output {
        Output::Rows { mut cursor, tag } => {
            let schema = cursor.schema();
            let binary = binary_formats(&[], schema.fields().len());
            feed(
                client,
                PgWireBackendMessage::RowDescription(row_description(&schema, &binary)),
            )
            .await?;
            let options = encode_options(&connection.session);
            let streamed =
                send_rows(client, &mut cursor, usize::MAX, &binary, &options, guard).await?;
            send_notices(client, &mut connection.session).await?;
            feed(
                client,
                PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    tag.completion(streamed.rows),
                )),
            )
            .await?;
            Ok(streamed.rows)
        }
        Output::CopyOut { mut cursor, format } => {
            let options = encode_options(&connection.session);
            let rows = send_copy(client, &mut cursor, &format, &options, guard).await?;
            feed(
                client,
                PgWireBackendMessage::CommandComplete(CommandComplete::new(format!("COPY {rows}"))),
            )
            .await?;
            Ok(rows)
        }
        Output::Command(tag) => {
            feed(
                client,
                PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)),
            )
            .await?;
            Ok(0)
        }
        Output::Empty => {
            feed(
                client,
                PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()),
            )
            .await?;
            Ok(0)
        }
    }
}
