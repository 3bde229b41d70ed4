//! Streaming a cursor's rows to the client, and the messages around statements shared by
//! both protocols (RowDescription, notices, parameter status, the statement log line).

use std::fmt::Debug;

use datafusion::arrow::datatypes::Schema;
use futures::{Sink, SinkExt};
use pgwire::error::PgWireError;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{FieldDescription, RowDescription};
use pgwire::messages::startup::ParameterStatus;

use crate::error::Error;
use crate::exec::RowCursor;
use crate::pgtypes::pg_type;
use crate::registry::StatementGuard;
use crate::session::Session;
use crate::wire::encode::{EncodeOptions, encode_batch};
use crate::wire::errors::notice_response;
use crate::wire::text::Zone;

/// Why a statement stopped: its own error (reported, the connection goes on) or the client's
/// socket (the connection ends).
pub enum Failure {
    Statement(Error),
    Client(PgWireError),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Statement(error)
    }
}

impl From<PgWireError> for Failure {
    fn from(error: PgWireError) -> Self {
        Failure::Client(error)
    }
}

/// Queues a message; the socket's errors become pgwire's.
pub async fn feed<C>(client: &mut C, message: PgWireBackendMessage) -> Result<(), PgWireError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    client.feed(message).await.map_err(PgWireError::from)
}

/// Whether column `i` is sent in binary, from a Bind's result format codes.
pub fn binary_formats(codes: &[i16], columns: usize) -> Vec<bool> {
    match codes {
        [] => vec![false; columns],
        [one] => vec![*one == 1; columns],
        many => (0..columns).map(|i| many.get(i) == Some(&1)).collect(),
    }
}

pub fn row_description(schema: &Schema, binary: &[bool]) -> RowDescription {
    let fields = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let pg = pg_type(field.data_type());
            let format = i16::from(binary.get(i).copied().unwrap_or(false));
            FieldDescription::new(
                field.name().clone(),
                0,
                0,
                pg.oid,
                pg.len,
                pg.typmod,
                format,
            )
        })
        .collect();
    RowDescription::new(fields)
}

pub fn encode_options(session: &Session) -> EncodeOptions {
    EncodeOptions {
        zone: Zone::parse(&session.variables.time_zone()),
        extra_float_digits: session.variables.extra_float_digits(),
    }
}

/// What streaming a cursor achieved.
pub struct Streamed {
    pub rows: u64,
    /// The cursor has no more rows (else the row limit stopped it).
    pub finished: bool,
}

/// Sends up to `limit` rows of `cursor` as DataRows. Every wait on the engine goes through
/// `guard`, so a cancel or timeout stops the statement between batches.
pub async fn send_rows<C>(
    client: &mut C,
    cursor: &mut RowCursor,
    limit: usize,
    binary: &[bool],
    options: &EncodeOptions,
    guard: &StatementGuard,
) -> Result<Streamed, Failure>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let mut sent: u64 = 0;
    let mut remaining = limit;
    let mut rows = Vec::new();
    while remaining > 0 {
        let Some(batch) = guard.run(cursor.next_batch(remaining)).await? else {
            return Ok(Streamed {
                rows: sent,
                finished: true,
            });
        };
        rows.clear();
        encode_batch(&batch, binary, options, &mut rows)?;
        for row in rows.drain(..) {
            feed(client, PgWireBackendMessage::DataRow(row)).await?;
        }
        sent += batch.num_rows() as u64;
        remaining -= batch.num_rows();
    }
    Ok(Streamed {
        rows: sent,
        finished: false,
    })
}

/// Sends the notices the session collected.
pub async fn send_notices<C>(client: &mut C, session: &mut Session) -> Result<(), PgWireError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    for notice in session.take_notices() {
        client
            .feed(PgWireBackendMessage::NoticeResponse(notice_response(
                &notice,
            )))
            .await?;
    }
    Ok(())
}

/// Sends ParameterStatus for reported settings that changed, before ReadyForQuery.
pub async fn send_parameter_changes<C>(client: &mut C, session: &Session) -> Result<(), PgWireError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    for (name, value) in session.variables.take_changed_reported() {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await?;
    }
    Ok(())
}
