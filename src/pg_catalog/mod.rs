//! pg_catalog and information_schema over the live catalog and the session: the relations
//! PostgreSQL clients read to learn what a server holds (psql's `\d`, JDBC's
//! `DatabaseMetaData`, ODBC's catalog functions, SQLAlchemy's reflection, BI tools).
//!
//! Each statement that names one of these relations gets it from a [`snapshot::Snapshot`]
//! of the catalog as it is now — so a table created a moment ago, this connection's
//! temporary views and a dropped table's absence all show. Snapshots (and the relations
//! built from them) are reused until the catalog's epoch moves, except for sessions with
//! temporary views, whose snapshots are their own. Relations have PostgreSQL 15's columns
//! ([`definitions`]) and, for the catalogs describing PostgreSQL itself (`pg_type`, `pg_am`,
//! ...), PostgreSQL's own rows.

pub mod definitions;
pub mod functions;
pub mod information_schema;
pub mod results;
pub mod rows;
pub mod snapshot;
pub mod tables;
pub mod types;

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{Expr, Statement, visit_expressions, visit_relations};

use crate::error::Result;
use crate::exec::catalog_bridge::Catalog;
use crate::pg_catalog::definitions::{INFORMATION_SCHEMA, LAKEPORT_SCHEMA, system_relation};
use crate::pg_catalog::snapshot::Snapshot;
use crate::session::QueryContext;

pub use definitions::PG_CATALOG;

/// Whether `schema` is one of the two system schemas this module serves.
pub fn is_system_schema(schema: &str) -> bool {
    schema == PG_CATALOG || schema == INFORMATION_SCHEMA || schema == LAKEPORT_SCHEMA
}

/// Whether a table scan reads a pg_catalog or information_schema relation. Unqualified
/// names resolve to pg_catalog first, as in PostgreSQL.
pub fn is_catalog_scan(scan: &datafusion::logical_expr::TableScan) -> bool {
    match scan.table_name.schema() {
        Some(schema) => is_system_schema(schema),
        None => system_relation(PG_CATALOG, scan.table_name.table()).is_some(),
    }
}

/// Whether planning `statement` needs a [`Snapshot`]: it names a pg_catalog or
/// information_schema relation, or calls a catalog function.
pub fn needs_snapshot(statement: &Statement) -> bool {
    let mut needed = false;
    let _ = visit_relations(statement, |name| {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
            .collect();
        needed |= match parts.as_slice() {
            [table] => system_relation(PG_CATALOG, table).is_some(),
            [.., schema, _] => is_system_schema(schema),
            [] => false,
        };
        ControlFlow::<()>::Continue(())
    });
    let _ = visit_expressions(statement, |expr| {
        if let Expr::Function(function) = expr {
            needed |=
                functions::is_catalog_function(&function.name.to_string().to_ascii_lowercase());
        }
        ControlFlow::<()>::Continue(())
    });
    needed
}

/// What a snapshot without temporary views depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SnapshotKey {
    catalog: u64,
    epoch: u64,
    database: String,
    user: String,
    search_path: Vec<String>,
}

impl SnapshotKey {
    /// Whether `newer` describes the same catalog after it changed.
    pub(crate) fn superseded_by(&self, newer: &SnapshotKey) -> bool {
        self.catalog == newer.catalog && self.epoch != newer.epoch
    }
}

/// The key of the session's snapshot as the catalog is now; `None` for sessions with
/// temporary views, whose snapshots are their own.
pub(crate) fn snapshot_key(catalog: &Catalog, ctx: &QueryContext) -> Option<SnapshotKey> {
    ctx.temp_views.is_empty().then(|| SnapshotKey {
        catalog: catalog.id(),
        epoch: catalog.epoch(),
        database: ctx.database.clone(),
        user: ctx.user.clone(),
        search_path: ctx.search_path.clone(),
    })
}

/// Recent snapshots, reused by statements of sessions without temporary views until the
/// catalog changes (its epoch moves). A few entries: one per (database, user, search path)
/// in use.
static SNAPSHOTS: Mutex<Vec<(SnapshotKey, Arc<Snapshot>)>> = Mutex::new(Vec::new());
const SNAPSHOTS_KEPT: usize = 8;

/// The statement's snapshot: a cached one when nothing it depends on has changed.
pub async fn snapshot(catalog: &Catalog, ctx: &QueryContext) -> Result<Arc<Snapshot>> {
    let Some(key) = snapshot_key(catalog, ctx) else {
        return Ok(Arc::new(Snapshot::take(catalog, ctx).await?));
    };
    let cached = snapshots()
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, snapshot)| snapshot.clone());
    if let Some(snapshot) = cached {
        return Ok(snapshot);
    }
    let snapshot = Arc::new(Snapshot::take(catalog, ctx).await?);
    if catalog.epoch() == key.epoch {
        let mut cache = snapshots();
        cache.retain(|(k, _)| k.catalog != key.catalog || k.epoch == key.epoch);
        cache.push((key, snapshot.clone()));
        if cache.len() > SNAPSHOTS_KEPT {
            cache.remove(0);
        }
    }
    Ok(snapshot)
}

fn snapshots() -> std::sync::MutexGuard<'static, Vec<(SnapshotKey, Arc<Snapshot>)>> {
    // Entries are pushed whole, so a poisoned cache is still consistent.
    SNAPSHOTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Relations whose rows depend on the session beyond the snapshot's key.
pub(crate) fn session_dependent(name: &str) -> bool {
    matches!(name, "pg_settings" | "pg_stat_activity" | "query_history")
}

/// The relation `schema.name` of pg_catalog or information_schema, from `snapshot`.
pub fn relation(
    snapshot: &Snapshot,
    ctx: &QueryContext,
    schema: &str,
    name: &str,
) -> Result<Option<Arc<dyn TableProvider>>> {
    let Some(relation) = system_relation(schema, name) else {
        return Ok(None);
    };
    let key = (schema.to_string(), name.to_string());
    let reusable = !session_dependent(name);
    let cached = reusable
        .then(|| {
            snapshot
                .built
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
        })
        .flatten();
    let batch = match cached {
        Some(batch) => batch,
        None => {
            let batch = if schema == INFORMATION_SCHEMA {
                information_schema::build(relation, snapshot)?
            } else {
                tables::build(relation, snapshot, ctx)?
            };
            if reusable {
                snapshot
                    .built
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, batch.clone());
            }
            batch
        }
    };
    let table = MemTable::try_new(relation.columns.clone(), vec![vec![batch]])?;
    Ok(Some(Arc::new(table)))
}
