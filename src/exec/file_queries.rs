//! Spark's file queries: ``SELECT * FROM parquet.`s3://bucket/sales/` `` (or ``csv.`…` ``,
//! ``json.`…` ``) reads the files at a path as a table, its columns and `key=value`
//! partitions inferred from them. The path must lie inside the location allow-list (42501 otherwise), and only
//! users whose reading no schema allow list limits may read files directly (a file query
//! would otherwise reach around the tables they may not read).
//!
//! Each file reference becomes a temporary view of the statement's own query context; a
//! view's query resolves its file references the same way each time it is planned, so a
//! view over files reads them as they are then (and checks them against the allow-list).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Statement, visit_relations_mut};
use lakeport_catalog::{Storage, StorageFormat};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::files::files_relation;
use crate::session::QueryContext;
use crate::storage::locations::{AllowedLocations, normalise};

/// Replaces the file references of `statement` by temporary views of a copy of `ctx`; `None`
/// when it has none.
pub async fn resolve(
    state: &dyn Session,
    locations: &AllowedLocations,
    ctx: &QueryContext,
    statement: &mut Statement,
) -> Result<Option<QueryContext>> {
    let mut files = Vec::new();
    let _ = visit_relations_mut(statement, |name| {
        if let Some(file) = file_reference(name) {
            let view = format!("__lakeport_file_{}", files.len());
            files.push(file);
            *name = ObjectName::from(vec![Ident::new(view)]);
        }
        ControlFlow::<()>::Continue(())
    });
    if files.is_empty() {
        return Ok(None);
    }
    if !ctx.privileges.reads_files() {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "permission denied to read files directly: user \"{}\" reads only some schemas",
                ctx.user
            ),
        )
        .with_hint("query the files through a table, or ask an administrator"));
    }
    let mut ctx = ctx.clone();
    let views = Arc::make_mut(&mut ctx.temp_views);
    for (n, (format, path)) in files.into_iter().enumerate() {
        let location = normalise(&path)?;
        locations.check(&location)?;
        let storage = Storage {
            location,
            format,
            options: BTreeMap::new(),
        };
        views.insert(
            format!("__lakeport_file_{n}"),
            files_relation(state, storage).await?,
        );
    }
    Ok(Some(ctx))
}

/// ``format.`path` ``: a format name, then a backquoted path.
fn file_reference(name: &ObjectName) -> Option<(StorageFormat, String)> {
    let [format, path] = name.0.as_slice() else {
        return None;
    };
    let (format, path) = (format.as_ident()?, path.as_ident()?);
    if format.quote_style.is_some() || path.quote_style != Some('`') {
        return None;
    }
    Some((StorageFormat::from_name(&format.value)?, path.value.clone()))
}
