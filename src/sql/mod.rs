//! SQL in, protocol-neutral results out.
//!
//! [`Service`] is shared by all connections; each connection owns a [`Connection`] with its
//! [`Session`], prepared statements and portals. A statement is first *prepared* (parsed,
//! routed on its AST, and planned when it is a query, which fixes its parameter and result
//! types) and then *run*, giving an [`Output`]: rows to stream, a command tag, or nothing.
//! The simple protocol prepares and runs each statement of a query string in turn; the
//! extended protocol maps Parse/Bind/Execute onto the same two steps.

pub mod copy;
mod cursor;
pub mod ddl;
pub mod explain;
mod literals;
mod names;
pub mod parse;
mod privileges;
pub mod split;
mod utility;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::Statement;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Engine, RowCursor, RowStream};
use crate::pg_catalog::results;
use crate::session::{Session, TransactionStatus};
use crate::sql::copy::CopyFormat;
use crate::sql::parse::{Parsed, parse_statement};
use crate::sql::split::{StatementText, split_statements};
pub use crate::sql::utility::Command;

/// What a statement produced.
pub enum Output {
    /// Rows, read through the cursor; `tag` names the command for its completion tag.
    Rows { cursor: RowCursor, tag: RowsTag },
    /// A command without rows, with its completion tag (`SET`, `BEGIN`, `MOVE 5`, ...).
    Command(String),
    /// COPY ... TO STDOUT: rows to write in a COPY format.
    CopyOut {
        cursor: RowCursor,
        format: CopyFormat,
    },
    /// An empty statement.
    Empty,
}

/// The command a row result answers, for its completion tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsTag {
    Select,
    Fetch,
    Show,
    Explain,
}

impl RowsTag {
    /// The CommandComplete text after `rows` rows.
    pub fn completion(self, rows: u64) -> String {
        match self {
            RowsTag::Select => format!("SELECT {rows}"),
            RowsTag::Fetch => format!("FETCH {rows}"),
            RowsTag::Show => "SHOW".to_string(),
            RowsTag::Explain => "EXPLAIN".to_string(),
        }
    }
}

/// A prepared statement: what Parse (or the simple protocol) made of the text.
pub struct Prepared {
    pub sql: String,
    kind: PreparedKind,
    /// Types of `$1..$n`; unknown ones are text, as PostgreSQL resolves them.
    pub param_types: Vec<DataType>,
    /// Result columns, or `None` when the statement returns no rows.
    pub columns: Option<SchemaRef>,
}

enum PreparedKind {
    Empty,
    Query {
        plan: LogicalPlan,
        tag: RowsTag,
        /// For a catalog-only statement: where its answer is kept, and the statement to plan
        /// again once the catalog has changed.
        keep: Option<Box<Keeping>>,
    },
    /// A catalog-only statement answered already (see [`results`]); planned afresh if the
    /// catalog has changed by the time it runs.
    Kept {
        statement: Box<Statement>,
    },
    DeclareCursor {
        name: String,
        plan: LogicalPlan,
        columns: SchemaRef,
        hold: bool,
    },
    Command(Command),
    Catalog(Box<ddl::ast::CatalogStatement>),
    /// GRANT or REVOKE.
    Privileges(Box<Statement>),
    CopyOut {
        plan: LogicalPlan,
        columns: SchemaRef,
        format: CopyFormat,
    },
    /// EXPLAIN of a query: its plan, and what to show of it.
    Explain {
        plan: LogicalPlan,
        options: explain::ExplainOptions,
    },
}

/// A catalog-only query's answer slot and its statement.
struct Keeping {
    slot: results::Slot,
    statement: Statement,
}

/// A portal: a prepared statement with bound parameters, run at most once and read in pieces.
pub struct Portal {
    statement: Arc<Prepared>,
    params: Vec<ScalarValue>,
    /// Per-column result formats as the client asked (0 text, 1 binary; one code = all).
    pub result_formats: Vec<i16>,
    /// Cursors from DECLARE ... WITH HOLD outlive their transaction.
    holdable: bool,
    state: PortalState,
}

enum PortalState {
    NotStarted,
    Rows {
        cursor: Arc<Mutex<RowCursor>>,
        tag: RowsTag,
    },
    Done,
}

impl Portal {
    /// The text of the statement this portal runs, for logs.
    pub fn statement_sql(&self) -> &str {
        &self.statement.sql
    }
}

/// What Execute on a portal gives the wire layer.
pub enum PortalOutput {
    /// Read (up to the row limit) from this cursor.
    Rows {
        cursor: Arc<Mutex<RowCursor>>,
        tag: RowsTag,
    },
    Command(String),
    CopyOut {
        cursor: RowCursor,
        format: CopyFormat,
    },
    Empty,
}

/// State shared by every connection.
pub struct Service {
    pub engine: Engine,
    pub config: Arc<Config>,
}

impl Service {
    pub fn new(engine: Engine, config: Arc<Config>) -> Arc<Self> {
        Arc::new(Self { engine, config })
    }
}

/// One client connection's SQL state.
pub struct Connection {
    service: Arc<Service>,
    pub session: Session,
    /// Prepared statements by name; "" is the unnamed statement.
    statements: HashMap<String, Arc<Prepared>>,
    /// Portals and cursors by name (one namespace, as in PostgreSQL); "" is the unnamed portal.
    portals: HashMap<String, Portal>,
}

impl Connection {
    pub fn new(service: Arc<Service>, session: Session) -> Self {
        Self {
            service,
            session,
            statements: HashMap::new(),
            portals: HashMap::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.service.config
    }

    pub fn transaction_status(&self) -> TransactionStatus {
        self.session.transaction.status()
    }

    /// Records that a statement failed: a transaction block becomes aborted.
    pub fn statement_failed(&mut self) {
        self.session.transaction.fail();
    }

    /// Splits a simple-protocol query string into statements.
    pub fn split(query: &str) -> Vec<StatementText<'_>> {
        split_statements(query)
    }

    /// Prepares and runs one statement of a simple query.
    pub async fn run_simple(&mut self, piece: &StatementText<'_>) -> Result<Output> {
        let prepared = self.prepare(piece, &[]).await?;
        if let Some(n) = prepared.param_types.len().checked_sub(1) {
            return Err(Error::new(
                ErrorKind::UndefinedObject,
                format!("there is no parameter ${}", n + 1),
            ));
        }
        self.run(&prepared, Vec::new()).await
    }

    /// Parse: prepares `sql` as statement `name` ("" = unnamed, replaced freely).
    pub async fn parse(
        &mut self,
        name: &str,
        sql: &str,
        declared: &[Option<DataType>],
    ) -> Result<()> {
        if !name.is_empty() && self.statements.contains_key(name) {
            return Err(Error::new(
                ErrorKind::DuplicatePreparedStatement,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let pieces = split_statements(sql);
        let prepared = match pieces.as_slice() {
            [] => Prepared::empty(sql),
            [piece] => self.prepare(piece, declared).await?,
            _ => {
                return Err(Error::syntax(
                    "cannot insert multiple commands into a prepared statement",
                ));
            }
        };
        self.statements.insert(name.to_string(), Arc::new(prepared));
        Ok(())
    }

    pub fn statement(&self, name: &str) -> Result<Arc<Prepared>> {
        self.statements.get(name).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedPreparedStatement,
                format!("prepared statement \"{name}\" does not exist"),
            )
        })
    }

    pub fn close_statement(&mut self, name: &str) {
        self.statements.remove(name);
    }

    /// Bind: creates portal `portal` ("" = unnamed) from a statement and parameter values.
    pub fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        params: Vec<ScalarValue>,
        result_formats: Vec<i16>,
    ) -> Result<()> {
        let statement = self.statement(statement)?;
        if params.len() != statement.param_types.len() {
            return Err(Error::new(
                ErrorKind::ProtocolViolation,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    statement.param_types.len()
                ),
            ));
        }
        if let Some(columns) = &statement.columns
            && result_formats.len() > 1
            && result_formats.len() != columns.fields().len()
        {
            return Err(Error::new(
                ErrorKind::ProtocolViolation,
                format!(
                    "bind message has {} result formats but query has {} columns",
                    result_formats.len(),
                    columns.fields().len()
                ),
            ));
        }
        if !portal.is_empty() && self.portals.contains_key(portal) {
            return Err(Error::new(
                ErrorKind::DuplicateCursor,
                format!("portal \"{portal}\" already exists"),
            ));
        }
        self.portals.insert(
            portal.to_string(),
            Portal {
                statement,
                params,
                result_formats,
                holdable: false,
                state: PortalState::NotStarted,
            },
        );
        Ok(())
    }

    pub fn portal(&self, name: &str) -> Result<&Portal> {
        self.portals
            .get(name)
            .ok_or_else(|| cursor::undefined(name))
    }

    /// The result columns of a portal, or `None` when it returns no rows.
    pub fn portal_columns(&self, name: &str) -> Result<Option<SchemaRef>> {
        let portal = self.portal(name)?;
        Ok(match &portal.state {
            PortalState::Rows { cursor, .. } => match cursor.try_lock() {
                Ok(cursor) => Some(cursor.schema()),
                Err(_) => portal.statement.columns.clone(),
            },
            _ => portal.statement.columns.clone(),
        })
    }

    pub fn close_portal(&mut self, name: &str) {
        self.portals.remove(name);
    }

    /// Sync: the unnamed portal ends with the implicit transaction.
    pub fn sync(&mut self) {
        self.portals.remove("");
    }

    /// Execute: runs the portal's statement the first time, then hands out its rows.
    pub async fn execute_portal(&mut self, name: &str) -> Result<PortalOutput> {
        let portal = self
            .portals
            .get_mut(name)
            .ok_or_else(|| cursor::undefined(name))?;
        match &portal.state {
            PortalState::Rows { cursor, tag } => {
                return Ok(PortalOutput::Rows {
                    cursor: cursor.clone(),
                    tag: *tag,
                });
            }
            PortalState::Done => {
                return Ok(match portal.statement.columns {
                    Some(_) => PortalOutput::Command(RowsTag::Select.completion(0)),
                    None => PortalOutput::Empty,
                });
            }
            PortalState::NotStarted => {}
        }
        let statement = portal.statement.clone();
        let params = std::mem::take(&mut portal.params);
        portal.state = PortalState::Done;
        let output = self.run(&statement, params).await?;
        Ok(match output {
            Output::Rows { cursor, tag } => {
                let cursor = Arc::new(Mutex::new(cursor));
                if let Some(portal) = self.portals.get_mut(name) {
                    portal.state = PortalState::Rows {
                        cursor: cursor.clone(),
                        tag,
                    };
                }
                PortalOutput::Rows { cursor, tag }
            }
            Output::Command(tag) => PortalOutput::Command(tag),
            Output::CopyOut { cursor, format } => PortalOutput::CopyOut { cursor, format },
            Output::Empty => PortalOutput::Empty,
        })
    }

    /// Parses, routes and (for queries) plans one statement.
    async fn prepare(
        &mut self,
        piece: &StatementText<'_>,
        declared: &[Option<DataType>],
    ) -> Result<Prepared> {
        self.refresh_privileges().await?;
        let sql = piece.text.to_string();
        if let Some(catalog_statement) = ddl::parse::parse(piece) {
            let catalog_statement = catalog_statement?;
            self.session.transaction.check_not_failed()?;
            return Ok(Prepared {
                sql,
                param_types: Vec::new(),
                columns: ddl::run::result_schema(&catalog_statement),
                kind: PreparedKind::Catalog(Box::new(catalog_statement)),
            });
        }
        let parsed = parse_statement(piece)?;
        let statement = match parsed {
            Parsed::Fetch(fetch) => {
                self.session.transaction.check_not_failed()?;
                let columns = Some(self.cursor_schema(&fetch.cursor)?).filter(|_| !fetch.is_move);
                return Ok(Prepared::command(sql, Command::Fetch(fetch), columns));
            }
            Parsed::Sql(statement) => *statement,
        };
        if !utility::allowed_in_failed_transaction(&statement) {
            self.session.transaction.check_not_failed()?;
        }
        match statement {
            Statement::Query(_) => {
                if declared.is_empty()
                    && let Some(answer) = self.kept_answer(&sql)
                {
                    return Ok(Prepared {
                        sql,
                        param_types: Vec::new(),
                        columns: Some(answer.columns.clone()),
                        kind: PreparedKind::Kept {
                            statement: Box::new(statement),
                        },
                    });
                }
                self.prepare_query(sql, statement, declared, RowsTag::Select)
                    .await
            }
            statement @ Statement::Explain { .. } => {
                let (query, options) = explain::parse(statement)?;
                let ctx = self.session.query_context();
                let planned = self.service.engine.plan(&ctx, query, declared).await?;
                Ok(Prepared {
                    sql,
                    param_types: resolve_param_types(planned.param_types),
                    columns: Some(explain::columns()),
                    kind: PreparedKind::Explain {
                        plan: planned.plan,
                        options,
                    },
                })
            }
            Statement::Declare { stmts } => self.prepare_declare(sql, stmts, declared).await,
            statement @ Statement::Copy { .. } => self.prepare_copy(sql, statement, declared).await,
            statement @ (Statement::Grant(_) | Statement::Revoke(_)) => Ok(Prepared {
                sql,
                param_types: Vec::new(),
                columns: None,
                kind: PreparedKind::Privileges(Box::new(statement)),
            }),
            other => {
                let command = utility::route(other)?;
                let columns = command.columns(&self.session);
                Ok(Prepared::command(sql, command, columns))
            }
        }
    }

    /// Starts a query whose rows go to the client, held to `engine.max_result_rows`.
    async fn result_rows(&self, plan: LogicalPlan, params: Vec<ScalarValue>) -> Result<RowStream> {
        let ctx = self.session.query_context();
        let stream = self.service.engine.execute(&ctx, plan, params).await?;
        Ok(match self.service.config.engine.max_result_rows {
            0 => stream,
            cap => stream.capped(cap),
        })
    }

    /// Recomputes the session's privileges when the catalog (and so perhaps its grants)
    /// changed since they were last computed. An admin's do not depend on grants. While the
    /// grants cannot be read (a metastore that is down) the session keeps the privileges
    /// it has (at first: none from grants) and tries again at its next statement, so
    /// statements that need no catalog still run.
    async fn refresh_privileges(&mut self) -> Result<()> {
        let catalog = self.service.engine.catalog();
        let epoch = catalog.epoch();
        if self.session.privileges_epoch == Some(epoch) {
            return Ok(());
        }
        let grants = if self.session.identity.role == crate::auth::Role::Admin {
            Arc::new(Vec::new())
        } else {
            match catalog.grants().await {
                Ok(grants) => grants,
                Err(e) => {
                    tracing::warn!(error = %e, "grants unreadable: privileges kept as they were");
                    return Ok(());
                }
            }
        };
        self.session.privileges = Arc::new(crate::auth::Privileges::new(
            &self.session.identity,
            &grants,
        ));
        self.session.privileges_epoch = Some(epoch);
        Ok(())
    }

    async fn prepare_query(
        &self,
        sql: String,
        statement: Statement,
        declared: &[Option<DataType>],
        tag: RowsTag,
    ) -> Result<Prepared> {
        let ctx = self.session.query_context();
        let query = match &statement {
            Statement::Query(query) => Some(query.clone()),
            _ => None,
        };
        // Whether the answer is kept is decided on the plan (`results::keepable`).
        let slot = query
            .as_ref()
            .and_then(|_| results::slot(self.service.engine.catalog(), &ctx, &sql));
        let original = slot.as_ref().map(|_| statement.clone());
        let mut statement = statement;
        if let Statement::Query(query) = &mut statement {
            literals::int4_output_literals(query);
        }
        let planned = self.service.engine.plan(&ctx, statement, declared).await?;
        let keep = slot
            .zip(original)
            .filter(|_| results::keepable(&planned.plan))
            .map(|(slot, statement)| Box::new(Keeping { slot, statement }));
        let columns = Arc::new(planned.plan.schema().as_arrow().clone());
        let columns = match query {
            Some(query) => names::postgres_names(&query, columns),
            None => columns,
        };
        Ok(Prepared {
            sql,
            param_types: resolve_param_types(planned.param_types),
            columns: Some(columns),
            kind: PreparedKind::Query {
                plan: planned.plan,
                tag,
                keep,
            },
        })
    }

    async fn prepare_copy(
        &self,
        sql: String,
        statement: Statement,
        declared: &[Option<DataType>],
    ) -> Result<Prepared> {
        let (query, format) = copy::route_copy(statement)?;
        let ctx = self.session.query_context();
        let planned = self
            .service
            .engine
            .plan(&ctx, Statement::Query(Box::new(query.clone())), declared)
            .await?;
        let columns = Arc::new(planned.plan.schema().as_arrow().clone());
        let columns = names::postgres_names(&query, columns);
        Ok(Prepared {
            sql,
            param_types: resolve_param_types(planned.param_types),
            columns: None,
            kind: PreparedKind::CopyOut {
                plan: planned.plan,
                columns,
                format,
            },
        })
    }

    /// Runs a prepared statement with bound parameters.
    async fn run(&mut self, prepared: &Prepared, params: Vec<ScalarValue>) -> Result<Output> {
        match &prepared.kind {
            PreparedKind::Empty => Ok(Output::Empty),
            PreparedKind::Query { plan, tag, keep } => {
                let columns = prepared.columns.clone();
                if let (Some(keeping), Some(columns)) = (keep, &columns) {
                    let ctx = self.session.query_context();
                    if !keeping.slot.is_current(self.service.engine.catalog(), &ctx) {
                        let declared: Vec<Option<DataType>> =
                            prepared.param_types.iter().cloned().map(Some).collect();
                        let fresh = self
                            .prepare_query(
                                prepared.sql.clone(),
                                keeping.statement.clone(),
                                &declared,
                                *tag,
                            )
                            .await?;
                        return Box::pin(self.run(&fresh, params)).await;
                    }
                    let slot = &keeping.slot;
                    let batches = match results::lookup(slot, &params) {
                        Some(answer) => answer.batches.clone(),
                        None => {
                            let batches = self
                                .service
                                .engine
                                .execute(&ctx, plan.clone(), params.clone())
                                .await?
                                .collect_all()
                                .await?;
                            let answer = results::Answer {
                                columns: columns.clone(),
                                batches: batches.clone(),
                            };
                            results::store(slot.clone(), params, answer);
                            batches
                        }
                    };
                    let stream = RowStream::from_batches(columns.clone(), batches);
                    return Ok(Output::Rows {
                        cursor: RowCursor::new(stream).with_schema(columns.clone()),
                        tag: *tag,
                    });
                }
                let stream = self.result_rows(plan.clone(), params).await?;
                let mut cursor = RowCursor::new(stream);
                if let Some(columns) = columns {
                    cursor = cursor.with_schema(columns);
                }
                Ok(Output::Rows { cursor, tag: *tag })
            }
            PreparedKind::Explain { plan, options } => {
                let ctx = self.session.query_context();
                let engine = &self.service.engine;
                let (physical, task) = engine.physical_plan(&ctx, plan.clone(), params).await?;
                let physical = engine.place(physical, &task);
                let to_run = physical.clone();
                let run = async move { engine.run(to_run, task).count_rows().await };
                let batch = explain::explain(physical, run, *options).await?;
                let columns = explain::columns();
                let stream = RowStream::from_batches(columns.clone(), vec![batch]);
                Ok(Output::Rows {
                    cursor: RowCursor::new(stream).with_schema(columns),
                    tag: RowsTag::Explain,
                })
            }
            PreparedKind::Kept { statement } => {
                let answer = match self.kept_answer(&prepared.sql) {
                    Some(current) => current,
                    None => {
                        let fresh = self
                            .prepare_query(
                                prepared.sql.clone(),
                                (**statement).clone(),
                                &[],
                                RowsTag::Select,
                            )
                            .await?;
                        return Box::pin(self.run(&fresh, params)).await;
                    }
                };
                let stream =
                    RowStream::from_batches(answer.columns.clone(), answer.batches.clone());
                Ok(Output::Rows {
                    cursor: RowCursor::new(stream).with_schema(answer.columns.clone()),
                    tag: RowsTag::Select,
                })
            }
            PreparedKind::DeclareCursor {
                name,
                plan,
                columns,
                hold,
            } => {
                self.declare_cursor(name, plan.clone(), params, columns.clone(), *hold, prepared)
                    .await
            }
            PreparedKind::Command(command) => utility::run(self, command.clone()).await,
            PreparedKind::Catalog(statement) => {
                privileges::check_catalog(self, statement).await?;
                ddl::run(self, (**statement).clone()).await
            }
            PreparedKind::Privileges(statement) => {
                privileges::grant_or_revoke(self, (**statement).clone()).await
            }
            PreparedKind::CopyOut {
                plan,
                columns,
                format,
            } => {
                let stream = self.result_rows(plan.clone(), params).await?;
                Ok(Output::CopyOut {
                    cursor: RowCursor::new(stream).with_schema(columns.clone()),
                    format: format.clone(),
                })
            }
        }
    }

    /// Ends the transaction's portals: all but holdable cursors close at COMMIT/ROLLBACK.
    fn end_transaction_portals(&mut self) {
        self.portals.retain(|_, portal| portal.holdable);
    }

    /// DISCARD ALL: back to a fresh session.
    fn discard_all(&mut self) {
        self.portals.clear();
        self.statements.clear();
        self.session.variables.reset_all();
    }
}

impl Connection {
    /// The kept answer to a catalog-only statement, as the catalog is now.
    fn kept_answer(&self, sql: &str) -> Option<Arc<results::Answer>> {
        let ctx = self.session.query_context();
        results::lookup(
            &results::slot(self.service.engine.catalog(), &ctx, sql)?,
            &[],
        )
    }
}

impl Prepared {
    fn empty(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            kind: PreparedKind::Empty,
            param_types: Vec::new(),
            columns: None,
        }
    }

    fn command(sql: String, command: Command, columns: Option<SchemaRef>) -> Self {
        Self {
            sql,
            kind: PreparedKind::Command(command),
            param_types: Vec::new(),
            columns,
        }
    }
}

/// Unknown parameter types become text, as PostgreSQL resolves an unknown-type parameter.
fn resolve_param_types(types: Vec<Option<DataType>>) -> Vec<DataType> {
    types
        .into_iter()
        .map(|t| match t {
            None | Some(DataType::Null) => DataType::Utf8,
            Some(t) => t,
        })
        .collect()
}
