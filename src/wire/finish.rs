//! What every statement leaves behind when it ends: an entry in the query history, the
//! server's counters, and a log event with its duration, rows and outcome — at debug level,
//! or at info level with its plan and the plan's metrics when it ran at least
//! `log.min_duration_statement`.

use std::time::{Instant, SystemTime};

use crate::error::{Error, ErrorKind};
use crate::registry::history::{HistoryEntry, Outcome};
use crate::sql::Connection;
use crate::sql::explain::plans_json;
use crate::wire::errors::sqlstate;

/// Records the end of statement `sql`, started at `started`, that sent `rows` rows (or
/// failed with `error`).
pub fn finish_statement(
    connection: &Connection,
    sql: &str,
    started: Instant,
    rows: u64,
    error: Option<&Error>,
) {
    let duration = started.elapsed();
    let session = &connection.session;
    let running = session.backend.control.running();
    let progress = running
        .as_ref()
        .map(|running| running.end())
        .unwrap_or_default();
    let outcome = match error {
        None => Outcome::Finished,
        Some(error) => {
            let sqlstate = sqlstate(error.kind).to_string();
            let message = error.message.clone();
            match error.kind {
                ErrorKind::QueryCanceled
                | ErrorKind::StatementTimeout
                | ErrorKind::AdminShutdown => Outcome::Canceled { sqlstate, message },
                _ => Outcome::Failed { sqlstate, message },
            }
        }
    };
    let duration_ms = duration.as_secs_f64() * 1000.0;
    let threshold = connection.config().log.min_duration_statement;
    if threshold >= 0 && duration.as_millis() >= threshold as u128 {
        let plan = running
            .as_ref()
            .map(|running| running.plan_with_metrics())
            .unwrap_or_default();
        tracing::info!(
            pid = session.pid,
            user = %session.user,
            duration_ms,
            rows,
            rows_read = progress.rows_read,
            bytes_read = progress.bytes_read,
            outcome = outcome.state(),
            sqlstate = outcome.sqlstate().unwrap_or(""),
            statement = %sql,
            plan = %plan,
            "slow statement"
        );
    } else {
        tracing::debug!(
            pid = session.pid,
            user = %session.user,
            duration_ms,
            rows,
            rows_read = progress.rows_read,
            bytes_read = progress.bytes_read,
            outcome = outcome.state(),
            sqlstate = outcome.sqlstate().unwrap_or(""),
            statement = %sql,
            "statement"
        );
    }
    let registry = &session.backend.registry;
    registry
        .metrics()
        .statement_ended(duration, &outcome, rows, progress);
    let plans = running
        .as_ref()
        .and_then(|running| plans_json(&running.plans()));
    registry.history().record(HistoryEntry {
        id: running.as_ref().map_or(0, |running| running.id),
        pid: session.pid,
        user: session.user.clone(),
        application_name: session.variables.application_name(),
        query: sql.to_string(),
        started: SystemTime::now() - duration,
        duration,
        rows,
        progress,
        outcome,
        plans,
    });
}
