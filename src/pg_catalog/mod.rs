//! pg_catalog and information_schema over the live catalog and the session: the relations
//! PostgreSQL clients read to learn what a server holds (psql's `\d`, JDBC's
//! `DatabaseMetaData`, ODBC's catalog functions, SQLAlchemy's reflection, BI tools).
//!
//! Each statement that names one of these relations gets it computed afresh from a
//! [`snapshot::Snapshot`] — so a table created a moment ago, this connection's temporary
//! views and a dropped table's absence all show — with PostgreSQL 15's columns
//! ([`definitions`]) and, for the catalogs describing PostgreSQL itself (`pg_type`, `pg_am`,
//! ...), PostgreSQL's own rows.

pub mod definitions;
pub mod functions;
pub mod information_schema;
pub mod rows;
pub mod snapshot;
pub mod tables;
pub mod types;

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{Expr, Statement, visit_expressions, visit_relations};

use crate::error::Result;
use crate::exec::catalog_bridge::Catalog;
use crate::pg_catalog::definitions::{INFORMATION_SCHEMA, system_relation};
use crate::pg_catalog::snapshot::Snapshot;
use crate::session::QueryContext;

pub use definitions::PG_CATALOG;

/// Whether `schema` is one of the two system schemas this module serves.
pub fn is_system_schema(schema: &str) -> bool {
    schema == PG_CATALOG || schema == INFORMATION_SCHEMA
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

/// Takes the statement's snapshot.
pub async fn snapshot(catalog: &Catalog, ctx: &QueryContext) -> Result<Arc<Snapshot>> {
    Ok(Arc::new(Snapshot::take(catalog, ctx).await?))
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
    let batch = if schema == INFORMATION_SCHEMA {
        information_schema::build(relation, snapshot)?
    } else {
        tables::build(relation, snapshot, ctx)?
    };
    let table = MemTable::try_new(relation.columns.clone(), vec![vec![batch]])?;
    Ok(Some(Arc::new(table)))
}
