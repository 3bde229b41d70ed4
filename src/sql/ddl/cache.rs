//! `CACHE TABLE`, `UNCACHE TABLE`, `CLEAR CACHE`: a catalog table's or temporary view's rows
//! held in memory (charged to the engine's memory pool) and read instead of its files.
//! Catalog tables are cached for every session (see `catalog_bridge::table_cache`: DDL,
//! INSERT and REFRESH TABLE through this server drop them); a temporary view is cached for
//! its own connection, a global temporary view for every session (until it is replaced or
//! dropped). `CACHE TABLE v AS SELECT …` makes the temporary view and caches it.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::{GLOBAL_TEMP, Relation};
use crate::pg_catalog::functions::quote_ident;
use crate::session::CachedView;
use crate::sql::Connection;
use crate::sql::ddl::ast::{CreateView, ObjectName, ViewBody, ViewKind};
use crate::sql::ddl::run::{
    Found, catalog, create_view, find, query_context, quoted_table, run_internal_query,
    undefined_table,
};

pub async fn cache_table(
    connection: &mut Connection,
    name: &ObjectName,
    query: Option<String>,
) -> Result<()> {
    if let Some(sql) = query {
        let view = CreateView {
            name: name.clone(),
            kind: ViewKind::Temporary,
            or_replace: false,
            if_not_exists: false,
            columns: Vec::new(),
            comment: None,
            properties: Default::default(),
            body: ViewBody::Query(sql),
        };
        create_view(connection, view).await?;
    }
    let cached = match find(connection, name).await? {
        Some(Found::Catalog(table)) => Cached::Table(table),
        Some(Found::Temp(view)) => Cached::View(view),
        Some(Found::GlobalTemp(view)) => Cached::GlobalView(view),
        Some(Found::Static(..)) => {
            return Err(Error::unsupported(format!(
                "\"{name}\" cannot be cached: only catalog tables and views can"
            )));
        }
        None => return Err(undefined_table(name)),
    };
    let relation = match &cached {
        Cached::Table(table) => quoted_table(table),
        Cached::View(view) => quote_ident(view),
        Cached::GlobalView(view) => format!("{}.{}", quote_ident(GLOBAL_TEMP), quote_ident(view)),
    };
    let (rows, reservation) = read_rows(connection, &relation, name).await?;
    match cached {
        Cached::Table(table) => {
            catalog(connection).cached_tables().insert(
                &table.database,
                &table.name,
                rows,
                reservation,
            );
        }
        Cached::GlobalView(view) => {
            catalog(connection)
                .cached_tables()
                .insert(GLOBAL_TEMP, &view, rows, reservation);
        }
        Cached::View(view) => {
            let views = Arc::make_mut(&mut connection.session.temp_views);
            let Some(original) = views.insert(view.clone(), Relation::Table(rows.clone())) else {
                return Err(undefined_table(name));
            };
            let original = match connection.session.cached_views.remove(&view) {
                Some(earlier) => earlier.original,
                None => original,
            };
            let cached = CachedView {
                original,
                rows,
                reservation,
            };
            connection.session.cached_views.insert(view, cached);
        }
    }
    Ok(())
}

pub async fn uncache_table(
    connection: &mut Connection,
    name: &ObjectName,
    if_exists: bool,
) -> Result<()> {
    match find(connection, name).await? {
        Some(Found::Catalog(table)) => {
            catalog(connection)
                .cached_tables()
                .remove(&table.database, &table.name);
        }
        Some(Found::Temp(view)) => restore_view(connection, &view),
        Some(Found::GlobalTemp(view)) => {
            catalog(connection)
                .cached_tables()
                .remove(GLOBAL_TEMP, &view);
        }
        Some(Found::Static(..)) => {}
        None if if_exists => {}
        None => return Err(undefined_table(name)),
    }
    Ok(())
}

pub fn clear_cache(connection: &mut Connection) {
    catalog(connection).cached_tables().clear();
    let views: Vec<String> = connection.session.cached_views.keys().cloned().collect();
    for view in views {
        restore_view(connection, &view);
    }
}

/// Puts a cached temporary view's definition back, unless the view was replaced since.
fn restore_view(connection: &mut Connection, view: &str) {
    let Some(cached) = connection.session.cached_views.remove(view) else {
        return;
    };
    let views = Arc::make_mut(&mut connection.session.temp_views);
    if let Some(Relation::Table(current)) = views.get(view)
        && Arc::ptr_eq(current, &cached.rows)
    {
        views.insert(view.to_string(), cached.original);
    }
}

/// What `CACHE TABLE` holds rows for.
enum Cached {
    Table(Box<lakeport_catalog::Table>),
    View(String),
    GlobalView(String),
}

/// Runs `SELECT * FROM relation` and keeps its rows, charged to the engine's memory pool.
async fn read_rows(
    connection: &Connection,
    relation: &str,
    name: &ObjectName,
) -> Result<(Arc<dyn TableProvider>, MemoryReservation)> {
    let pool = connection
        .service
        .engine
        .base_state()
        .runtime_env()
        .memory_pool
        .clone();
    let mut reservation = MemoryConsumer::new(format!("CACHE TABLE {name}")).register(&pool);
    let mut stream = run_internal_query(connection, &format!("SELECT * FROM {relation}")).await?;
    let schema = stream.schema();
    let batches = stream
        .collect_charged(&mut reservation)
        .await
        .map_err(|e| {
            if e.kind == ErrorKind::ResourcesExhausted {
                Error::new(
                    ErrorKind::ResourcesExhausted,
                    format!("cannot cache \"{name}\": its rows do not fit in the server's memory"),
                )
                .with_hint("cache a smaller table or query, or raise engine.memory_limit")
            } else {
                e
            }
        })?;
    let partitions = query_context(connection)
        .options
        .execution
        .target_partitions
        .max(1);
    let mut spread = vec![Vec::new(); partitions];
    for (n, batch) in batches.into_iter().enumerate() {
        spread[n % partitions].push(batch);
    }
    let table = MemTable::try_new(schema, spread)?;
    Ok((Arc::new(table), reservation))
}
