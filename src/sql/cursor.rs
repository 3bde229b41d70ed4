//! SQL cursors: `DECLARE`, `FETCH`, `MOVE`, `CLOSE`. A cursor is a portal made by SQL; it
//! lives in the same namespace as protocol portals, so `MOVE ... FROM <portal>` works on
//! either (asyncpg relies on that).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{Declare, Statement};
use futures::stream;
use tokio::sync::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::exec::{RowCursor, RowStream};
use crate::sql::parse::FetchCommand;
use crate::sql::{
    Connection, Output, Portal, PortalState, Prepared, PreparedKind, RowsTag, resolve_param_types,
};

pub(super) fn undefined(name: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedCursor,
        format!("cursor \"{name}\" does not exist"),
    )
}

impl Connection {
    pub(super) async fn prepare_declare(
        &self,
        sql: String,
        mut declarations: Vec<Declare>,
        declared: &[Option<DataType>],
    ) -> Result<Prepared> {
        let declaration = match declarations.len() {
            1 => declarations.remove(0),
            _ => return Err(Error::syntax("DECLARE declares exactly one cursor")),
        };
        let name = declaration
            .names
            .first()
            .map(|ident| match ident.quote_style {
                Some(_) => ident.value.clone(),
                None => ident.value.to_ascii_lowercase(),
            })
            .ok_or_else(|| Error::syntax("DECLARE needs a cursor name"))?;
        if declaration.scroll == Some(true) {
            return Err(Error::unsupported("SCROLL cursors are not supported")
                .with_hint("lakeport cursors are forward-only"));
        }
        if declaration.binary == Some(true) {
            return Err(Error::unsupported("BINARY cursors are not supported"));
        }
        let query = declaration
            .for_query
            .ok_or_else(|| Error::syntax("DECLARE CURSOR needs FOR <query>"))?;
        let ctx = self.session.query_context();
        let planned = self
            .service
            .engine
            .plan(&ctx, Statement::Query(query.clone()), declared)
            .await?;
        let columns = Arc::new(planned.plan.schema().as_arrow().clone());
        let columns = super::names::postgres_names(&query, columns);
        Ok(Prepared {
            sql,
            param_types: resolve_param_types(planned.param_types),
            columns: None,
            kind: PreparedKind::DeclareCursor {
                name,
                plan: planned.plan,
                columns,
                hold: declaration.hold == Some(true),
            },
        })
    }

    pub(super) async fn declare_cursor(
        &mut self,
        name: &str,
        plan: LogicalPlan,
        params: Vec<ScalarValue>,
        columns: SchemaRef,
        hold: bool,
        prepared: &Prepared,
    ) -> Result<Output> {
        if !hold && self.transaction_status() == crate::session::TransactionStatus::Idle {
            return Err(Error::new(
                ErrorKind::NoActiveTransaction,
                "DECLARE CURSOR can only be used in transaction blocks",
            ));
        }
        if self.portals.contains_key(name) {
            return Err(Error::new(
                ErrorKind::DuplicateCursor,
                format!("cursor \"{name}\" already exists"),
            ));
        }
        let stream = self.result_rows(plan, params).await?;
        let statement = Arc::new(Prepared {
            sql: prepared.sql.clone(),
            kind: PreparedKind::Empty,
            param_types: Vec::new(),
            columns: Some(columns.clone()),
        });
        self.portals.insert(
            name.to_string(),
            Portal {
                statement,
                params: Vec::new(),
                result_formats: Vec::new(),
                holdable: hold,
                state: PortalState::Rows {
                    cursor: Arc::new(Mutex::new(RowCursor::new(stream).with_schema(columns))),
                    tag: RowsTag::Select,
                },
            },
        );
        Ok(Output::Command("DECLARE CURSOR".into()))
    }

    /// The columns FETCH returns from a cursor.
    pub(super) fn cursor_schema(&self, name: &str) -> Result<SchemaRef> {
        let portal = self.portals.get(name).ok_or_else(|| undefined(name))?;
        portal.statement.columns.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidCursorState,
                format!("portal \"{name}\" cannot be run"),
            )
        })
    }

    /// FETCH returns up to `count` rows; MOVE skips them and says how many.
    pub(super) async fn fetch(&mut self, fetch: FetchCommand) -> Result<Output> {
        let portal = self
            .portals
            .get(&fetch.cursor)
            .ok_or_else(|| undefined(&fetch.cursor))?;
        let schema = self.cursor_schema(&fetch.cursor)?;
        let cursor = match &portal.state {
            PortalState::Rows { cursor, .. } => cursor.clone(),
            PortalState::Done => {
                let done = RowStream::from_batches(schema, Vec::new());
                return Ok(match fetch.is_move {
                    true => Output::Command("MOVE 0".into()),
                    false => Output::Rows {
                        cursor: RowCursor::new(done),
                        tag: RowsTag::Fetch,
                    },
                });
            }
            PortalState::NotStarted => {
                return Err(Error::new(
                    ErrorKind::InvalidCursorState,
                    format!("portal \"{}\" has not been executed", fetch.cursor),
                ));
            }
        };
        let limit = fetch
            .count
            .map_or(usize::MAX, |c| c.min(usize::MAX as u64) as usize);
        if fetch.is_move {
            let skipped = cursor.lock().await.skip(limit).await?;
            return Ok(Output::Command(format!("MOVE {skipped}")));
        }
        let rows = stream::try_unfold((cursor, limit), |(cursor, remaining)| async move {
            if remaining == 0 {
                return Ok(None);
            }
            let batch = cursor.lock().await.next_batch(remaining).await?;
            Ok(batch.map(|b| {
                let left = remaining - b.num_rows();
                (b, (cursor, left))
            }))
        });
        Ok(Output::Rows {
            cursor: RowCursor::new(RowStream::from_stream(schema, rows)),
            tag: RowsTag::Fetch,
        })
    }

    /// CLOSE name / CLOSE ALL.
    pub(super) fn close_cursor(&mut self, name: Option<&str>) -> Result<Output> {
        match name {
            None => {
                self.portals.clear();
                Ok(Output::Command("CLOSE CURSOR ALL".into()))
            }
            Some(name) => match self.portals.remove(name) {
                Some(_) => Ok(Output::Command("CLOSE CURSOR".into())),
                None => Err(undefined(name)),
            },
        }
    }
}
