//! The JSON the monitoring UI reads: running and recent statements, one statement with its
//! plan and per-operator metrics, and cancelling a running statement.
//!
//! A statement is named by its query id (`pg_stat_activity.query_id`,
//! `lakeport.query_history.query_id`), the same while it runs and once it is in the history.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::registry::Registry;
use crate::registry::activity::{ActivityRow, BackendState};
use crate::registry::history::HistoryEntry;
use crate::sql::explain::plans_json;

use super::http::Response;

/// How many recent statements `/api/queries` lists unless `?limit=` says otherwise.
const DEFAULT_RECENT: usize = 100;

/// `GET /api/queries`: the running statements and the latest finished ones.
pub fn queries(registry: &Registry, query_string: &str) -> Response {
    let limit = query_string
        .split('&')
        .find_map(|pair| pair.strip_prefix("limit="))
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_RECENT);
    let now = SystemTime::now();
    let running: Vec<Value> = registry
        .activity()
        .iter()
        .filter(|row| row.state == BackendState::Active)
        .filter_map(|row| running_json(row, now))
        .collect();
    let recent: Vec<Value> = registry
        .history()
        .latest(limit)
        .iter()
        .map(finished_json)
        .collect();
    Response::json(
        200,
        &json!({ "now": epoch_ms(now), "running": running, "recent": recent }),
    )
}

/// `GET /api/queries/{id}`: one statement, running or kept in the history, with its plans.
pub fn query(registry: &Registry, id: &str) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return not_found(id);
    };
    if let Some((row, progress)) = registry.running_query(id) {
        let mut statement = running_json(&row, SystemTime::now()).unwrap_or_default();
        statement["plans"] = plans(plans_json(&progress.plans()).as_deref());
        return Response::json(200, &statement);
    }
    match registry.history().get(id) {
        Some(entry) => {
            let mut statement = finished_json(&entry);
            statement["plans"] = plans(entry.plans.as_deref());
            Response::json(200, &statement)
        }
        None => not_found(&id.to_string()),
    }
}

/// `POST /api/queries/{id}/cancel` by `admin`.
pub fn cancel(registry: &Registry, id: &str, admin: &str) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return not_found(id);
    };
    if registry.cancel_query(id) {
        tracing::info!(
            query_id = id,
            by = admin,
            "statement canceled from the monitoring UI"
        );
        return Response::json(200, &json!({ "id": id, "canceled": true }));
    }
    Response::json(
        409,
        &json!({ "id": id, "canceled": false, "error": format!("query {id} is not running") }),
    )
}

fn running_json(row: &ActivityRow, now: SystemTime) -> Option<Value> {
    let (id, started) = (row.query_id?, row.query_start?);
    let duration = now.duration_since(started).unwrap_or_default();
    Some(json!({
        "id": id,
        "pid": row.pid,
        "user": row.user,
        "database": row.database,
        "application_name": row.application_name,
        "client": row.client_addr.to_string(),
        "query": row.query,
        "started": epoch_ms(started),
        "duration_ms": duration.as_secs_f64() * 1000.0,
        "rows_read": row.progress.rows_read,
        "bytes_read": row.progress.bytes_read,
        "partitions": row.progress.partitions,
        "partitions_pruned": row.progress.partitions_pruned,
        "state": "running",
    }))
}

fn finished_json(entry: &HistoryEntry) -> Value {
    json!({
        "id": entry.id,
        "pid": entry.pid,
        "user": entry.user,
        "application_name": entry.application_name,
        "query": entry.query,
        "started": epoch_ms(entry.started),
        "duration_ms": entry.duration.as_secs_f64() * 1000.0,
        "rows": entry.rows,
        "rows_read": entry.progress.rows_read,
        "bytes_read": entry.progress.bytes_read,
        "partitions": entry.progress.partitions,
        "partitions_pruned": entry.progress.partitions_pruned,
        "state": entry.outcome.state(),
        "sqlstate": entry.outcome.sqlstate(),
        "error": entry.outcome.message(),
    })
}

fn plans(plans: Option<&Value>) -> Value {
    plans.cloned().unwrap_or_else(|| json!([]))
}

fn not_found(id: &str) -> Response {
    Response::json(
        404,
        &json!({ "error": format!("no running or recent query has id {id}") }),
    )
}

fn epoch_ms(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}
