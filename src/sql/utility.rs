//! Utility statements: session variables (SET, RESET, SHOW), transaction blocks, cursors,
//! DEALLOCATE and DISCARD. Routed on the AST; statements lakeport does not run are refused
//! with SQLSTATE 0A000 naming the statement.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{
    CloseCursor, DiscardObject, Expr, Ident, ObjectName, Reset, Set, Statement, Value,
};

use crate::error::{Error, Result};
use crate::exec::{RowCursor, RowStream};
use crate::session::{Notice, Session, TransactionOutcome, variables};
use crate::sql::parse::FetchCommand;
use crate::sql::{Connection, Output, RowsTag};

/// A routed utility statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Set {
        name: String,
        value: Option<String>,
    },
    /// SET statements accepted for compatibility that change nothing lakeport keeps.
    SetIgnored,
    Reset(Option<String>),
    Show(Option<String>),
    /// BEGIN or START TRANSACTION, with the command tag PostgreSQL answers each with.
    Begin {
        tag: &'static str,
    },
    Commit,
    Rollback,
    Savepoint(String),
    Release(String),
    RollbackTo(String),
    Fetch(FetchCommand),
    Close(Option<String>),
    Deallocate(Option<String>),
    DiscardAll,
}

/// Statements that still run in an aborted transaction block.
pub(super) fn allowed_in_failed_transaction(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Commit { .. } | Statement::Rollback { .. }
    )
}

/// SHOW names PostgreSQL spells as several words; any other multi-part name is dotted
/// (`SHOW datafusion.execution.batch_size` reaches here as three identifiers).
const SPOKEN_VARIABLE_NAMES: &[&str] = &[
    "time zone",
    "transaction isolation level",
    "session authorization",
];

pub(super) fn route(statement: Statement) -> Result<Command> {
    Ok(match statement {
        Statement::Set(set) => route_set(set)?,
        Statement::Reset(reset) => match reset.reset {
            Reset::ALL => Command::Reset(None),
            Reset::ConfigurationParameter(name) => Command::Reset(Some(object_name(&name))),
        },
        Statement::ShowVariable { variable } => {
            let words: Vec<String> = variable.iter().map(ident_text).collect();
            let spoken = words.join(" ");
            let name = if SPOKEN_VARIABLE_NAMES.contains(&spoken.as_str()) {
                spoken
            } else {
                words.join(".")
            };
            match name.as_str() {
                "all" => Command::Show(None),
                _ => Command::Show(Some(name)),
            }
        }
        Statement::StartTransaction { begin, .. } => Command::Begin {
            tag: if begin { "BEGIN" } else { "START TRANSACTION" },
        },
        Statement::Commit { .. } => Command::Commit,
        Statement::Rollback {
            savepoint: None, ..
        } => Command::Rollback,
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => Command::RollbackTo(ident_text(&name)),
        Statement::Savepoint { name } => Command::Savepoint(ident_text(&name)),
        Statement::ReleaseSavepoint { name } => Command::Release(ident_text(&name)),
        Statement::Close { cursor } => match cursor {
            CloseCursor::All => Command::Close(None),
            CloseCursor::Specific { name } => Command::Close(Some(ident_text(&name))),
        },
        Statement::Deallocate { name, .. } => match ident_text(&name).as_str() {
            "all" if name.quote_style.is_none() => Command::Deallocate(None),
            _ => Command::Deallocate(Some(ident_text(&name))),
        },
        Statement::Discard { object_type } => match object_type {
            DiscardObject::ALL => Command::DiscardAll,
            _ => Command::SetIgnored,
        },
        other => return Err(unsupported_statement(&other)),
    })
}

fn route_set(set: Set) -> Result<Command> {
    Ok(match set {
        Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = object_name(&variable);
            if let [Expr::Identifier(ident)] = values.as_slice()
                && ident.quote_style.is_none()
                && ident.value.eq_ignore_ascii_case("default")
            {
                return Ok(Command::Set { name, value: None });
            }
            let value = values
                .iter()
                .map(setting_text)
                .collect::<Vec<_>>()
                .join(", ");
            Command::Set {
                name,
                value: Some(value),
            }
        }
        Set::SetTimeZone { value, .. } => {
            let text = setting_text(&value);
            let is_default = matches!(&value, Expr::Identifier(i) if i.quote_style.is_none()
                && (i.value.eq_ignore_ascii_case("local") || i.value.eq_ignore_ascii_case("default")));
            Command::Set {
                name: "timezone".into(),
                value: (!is_default).then_some(text),
            }
        }
        Set::SetNames { charset_name, .. } => Command::Set {
            name: "client_encoding".into(),
            value: Some(charset_name.value),
        },
        Set::SetTransaction { .. } => Command::SetIgnored,
        Set::SetRole {
            role_name: None, ..
        } => Command::SetIgnored,
        other => {
            return Err(Error::unsupported(format!(
                "{} is not supported",
                statement_keyword(&other.to_string())
            )));
        }
    })
}

/// A SET value as PostgreSQL reads it: strings unquoted, identifiers as written.
fn setting_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::EscapedStringLiteral(s) => s.clone(),
            Value::Number(n, _) => n.to_string(),
            Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => match ident.quote_style {
            Some(_) => format!("\"{}\"", ident.value),
            None => ident.value.clone(),
        },
        Expr::UnaryOp { op, expr } => format!("{op}{}", setting_text(expr)),
        other => other.to_string(),
    }
}

pub(crate) fn ident_text(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}

fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident_text(ident),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The leading keywords of a statement, for "X is not supported".
fn statement_keyword(sql: &str) -> String {
    sql.split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphabetic() || c == '_'))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

fn unsupported_statement(statement: &Statement) -> Error {
    let row_change = match statement {
        Statement::Delete(_) => Some("DELETE"),
        Statement::Update(_) => Some("UPDATE"),
        Statement::Merge(_) => Some("MERGE"),
        _ => None,
    };
    if let Some(keyword) = row_change {
        return Error::unsupported(format!(
            "{keyword} is not supported: lakeport's tables are Parquet, CSV and JSON files, which \
             are not changed row by row (Spark refuses it on them too)"
        ))
        .with_hint(
            "rewrite what changes with INSERT OVERWRITE, for a whole table or for its partitions",
        );
    }
    let keyword = statement_keyword(&statement.to_string());
    Error::unsupported(format!("{keyword} is not supported"))
        .with_hint("see the README for the statements lakeport runs")
}

fn text_schema(names: &[&str]) -> SchemaRef {
    Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

impl Command {
    /// Result columns, for Describe before the command runs.
    pub(super) fn columns(&self, session: &Session) -> Option<SchemaRef> {
        match self {
            Command::Show(None) => Some(text_schema(&["name", "setting", "description"])),
            Command::Show(Some(name)) => {
                let display = session
                    .variables
                    .get(name)
                    .map(|(display, _)| display)
                    .unwrap_or_else(|_| name.clone());
                Some(text_schema(&[display.as_str()]))
            }
            _ => None,
        }
    }
}

pub(super) async fn run(connection: &mut Connection, command: Command) -> Result<Output> {
    let session = &mut connection.session;
    let tag = |t: &str| Ok(Output::Command(t.to_string()));
    match command {
        Command::Set { name, value } => {
            match value {
                Some(value) => session.variables.set(&name, &value)?,
                None => {
                    session.variables.reset(&name)?;
                    String::new()
                }
            };
            if let Some(notice) = variables::no_effect_notice(&name) {
                session.notice(Notice::plain(notice));
            }
            tag("SET")
        }
        Command::SetIgnored => tag("SET"),
        Command::Reset(name) => {
            match name {
                Some(name) => session.variables.reset(&name)?,
                None => session.variables.reset_all(),
            }
            tag("RESET")
        }
        Command::Show(name) => show(session, name.as_deref()),
        Command::Begin { tag } => transaction(session, |s| s.transaction.begin(tag)),
        Command::Commit => {
            let output = transaction(session, |s| s.transaction.commit());
            connection.end_transaction_portals();
            output
        }
        Command::Rollback => {
            let output = transaction(session, |s| s.transaction.rollback());
            connection.end_transaction_portals();
            output
        }
        Command::Savepoint(name) => {
            let outcome = session.transaction.savepoint(&name)?;
            tag(outcome.tag)
        }
        Command::Release(name) => {
            let outcome = session.transaction.release(&name)?;
            tag(outcome.tag)
        }
        Command::RollbackTo(name) => {
            let outcome = session.transaction.rollback_to(&name)?;
            tag(outcome.tag)
        }
        Command::Fetch(fetch) => connection.fetch(fetch).await,
        Command::Close(name) => connection.close_cursor(name.as_deref()),
        Command::Deallocate(name) => match name {
            None => {
                connection.statements.retain(|name, _| name.is_empty());
                tag("DEALLOCATE ALL")
            }
            Some(name) => match connection.statements.remove(&name) {
                Some(_) => tag("DEALLOCATE"),
                None => Err(connection
                    .statement(&name)
                    .err()
                    .unwrap_or_else(|| Error::internal("statement vanished during DEALLOCATE"))),
            },
        },
        Command::DiscardAll => {
            if session.transaction.status() != crate::session::TransactionStatus::Idle {
                return Err(Error::new(
                    crate::error::ErrorKind::NoActiveTransaction,
                    "DISCARD ALL cannot run inside a transaction block",
                ));
            }
            connection.discard_all();
            tag("DISCARD ALL")
        }
    }
}

fn transaction(
    session: &mut Session,
    step: impl FnOnce(&mut Session) -> TransactionOutcome,
) -> Result<Output> {
    let outcome = step(session);
    if let Some(warning) = outcome.warning {
        session.notice(warning);
    }
    Ok(Output::Command(outcome.tag.to_string()))
}

fn show(session: &Session, name: Option<&str>) -> Result<Output> {
    let (schema, columns): (SchemaRef, Vec<ArrayRef>) = match name {
        Some(name) => {
            let (display, value) = session.variables.get(name)?;
            (
                text_schema(&[display.as_str()]),
                vec![Arc::new(StringArray::from(vec![value]))],
            )
        }
        None => {
            let rows = session.variables.all();
            let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
            let settings: Vec<&str> = rows.iter().map(|r| r.setting.as_str()).collect();
            let descriptions: Vec<&str> = rows.iter().map(|r| r.description.as_str()).collect();
            (
                text_schema(&["name", "setting", "description"]),
                vec![
                    Arc::new(StringArray::from(names)),
                    Arc::new(StringArray::from(settings)),
                    Arc::new(StringArray::from(descriptions)),
                ],
            )
        }
    };
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Output::Rows {
        cursor: RowCursor::new(RowStream::from_batches(schema, vec![batch])),
        tag: RowsTag::Show,
    })
}
