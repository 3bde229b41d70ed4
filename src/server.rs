//! The server: builds the shared service (engine, tables, demo data), then accepts
//! connections until the shutdown future resolves.
//!
//! Each connection runs as its own task on the caller's runtime (the socket side); query
//! execution runs on the engine's own runtime.
//!
//! Shutdown stops accepting and drains: idle sessions close at once (FATAL 57P01), running
//! statements go on for `server.shutdown_grace`, then are terminated; `serve` returns once
//! every connection task has ended (or a few seconds after terminating, whatever is left).

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::Engine;
use crate::exec::tables::listing_table;
use crate::registry::Registry;
use crate::sql::Service;
use crate::wire::Handlers;

/// Builds everything connections share: the engine and the tables it serves.
pub async fn build(mut config: Config) -> Result<Arc<Service>> {
    let metastore = open_metastore(&config)?;
    if config.catalog.backend == crate::config::CatalogBackend::Hive
        && config.catalog.managed_location.is_empty()
    {
        adopt_metastore_warehouse(&mut config, metastore.as_ref()).await;
    }
    let engine = Engine::try_new(&config, metastore)?;
    let mut tables = Vec::new();
    if config.demo.enabled {
        tables.extend(crate::demo::ensure_demo(&config.catalog.warehouse, &config.demo).await?);
    }
    tables.extend(config.tables.iter().cloned());
    for table in &tables {
        let (schema, name) = table.qualified_name();
        let provider = listing_table(engine.base_state(), table).await?;
        engine.tables().register(
            &schema.to_ascii_lowercase(),
            &name.to_ascii_lowercase(),
            provider,
        );
        tracing::debug!(table = %table.name, path = %table.path.display(), "table registered");
    }
    Ok(Service::new(engine, Arc::new(config)))
}

/// Opens the configured metastore: the Hive Metastore at `catalog.uri`, or the embedded
/// one under the warehouse. The embedded store's `default` database, made on first open,
/// keeps managed tables at `catalog.managed_location` or else in the warehouse directory
/// itself, as Spark's does.
fn open_metastore(config: &Config) -> Result<Arc<dyn lakeport_catalog::Metastore>> {
    if config.catalog.backend == crate::config::CatalogBackend::Hive {
        return open_hive_metastore(config);
    }
    let warehouse = std::path::absolute(&config.catalog.warehouse).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!(
                "invalid warehouse directory \"{}\": {e}",
                config.catalog.warehouse.display()
            ),
        )
    })?;
    let location = match config.catalog.managed_location.as_str() {
        "" => crate::storage::locations::local_url(&warehouse),
        managed => crate::storage::locations::normalise(managed)?,
    };
    let metastore = lakeport_catalog::EmbeddedMetastore::open(
        &warehouse.join(lakeport_catalog::embedded::FILE_NAME),
        &location,
    )?;
    tracing::info!(path = %metastore.path().display(), "metastore opened");
    Ok(Arc::new(metastore))
}

/// With a Hive Metastore, new databases go where Spark and Hive put them: beside its
/// `default` database (its warehouse), which becomes `catalog.managed_location`. A
/// metastore that is down now is asked again when a database is created.
async fn adopt_metastore_warehouse(
    config: &mut Config,
    metastore: &dyn lakeport_catalog::Metastore,
) {
    match metastore
        .get_database(lakeport_catalog::model::DEFAULT_DATABASE)
        .await
    {
        Ok(default) => {
            tracing::info!(location = %default.location, "managed tables go to the metastore's warehouse");
            config.catalog.managed_location = default.location;
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the metastore's default database"),
    }
}

#[cfg(feature = "hms")]
fn open_hive_metastore(config: &Config) -> Result<Arc<dyn lakeport_catalog::Metastore>> {
    let timeout = config
        .catalog
        .timeout()
        .map_err(|e| Error::invalid_parameter(e.to_string()))?;
    let metastore = lakeport_catalog::hive::HiveMetastore::new(&config.catalog.uri, timeout)?;
    tracing::info!(uri = %metastore.uri(), "using the Hive Metastore");
    Ok(Arc::new(metastore))
}

#[cfg(not(feature = "hms"))]
fn open_hive_metastore(_config: &Config) -> Result<Arc<dyn lakeport_catalog::Metastore>> {
    Err(Error::invalid_parameter(
        "catalog.backend = \"hive\" needs lakeport built with the hms feature",
    ))
}

/// Accepts connections on `listener` until `shutdown` resolves.
pub async fn serve(
    service: Arc<Service>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let listener = listeners.postgres;
    let grace = crate::config::parse_duration(
        "server.shutdown_grace",
        &service.config.server.shutdown_grace,
    )
    .map_err(|e| Error::invalid_parameter(e.to_string()))?;
    let registry = Registry::new(service.config.monitoring.query_history);
    let handlers = Arc::new(Handlers::try_new(service.clone(), registry.clone())?);
    // Stops the monitoring listener when this function returns, however it returns.
    let monitoring_stop = tokio_util::sync::CancellationToken::new();
    let _stop_monitoring = monitoring_stop.clone().drop_guard();
    if let Some(http) = listeners.monitoring {
        tokio::spawn(crate::monitoring::serve(
            http,
            service,
            registry.clone(),
            monitoring_stop,
        ));
    }
    // Each connection task holds a sender; `recv` returns None once all have ended.
    let (alive, mut all_ended) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let handlers = handlers.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::wire::serve_connection(socket, handlers).await {
                tracing::debug!(client = %peer, error = %e, "connection ended with an error");
            }
            drop(alive);
        });
    }
    drop(listener);
    drop(alive);
    tracing::info!(running = registry.count(), grace = ?grace, "shutting down: closing idle sessions, letting running statements finish");
    registry.drain();
    if tokio::time::timeout(grace, all_ended.recv()).await.is_err() {
        tracing::warn!(
            running = registry.count(),
            "shutdown grace period over: terminating running statements"
        );
        registry.terminate();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), all_ended.recv()).await;
    }
    Ok(())
}

/// The server's bound sockets.
pub struct Listeners {
    /// PostgreSQL clients (`server.listen`).
    pub postgres: TcpListener,
    /// The monitoring endpoints (`monitoring.http_listen`), unless turned off.
    pub monitoring: Option<TcpListener>,
}

/// Binds the configured addresses.
pub async fn bind(config: &Config) -> Result<Listeners> {
    let postgres = TcpListener::bind(config.server.listen).await.map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("could not listen on {}: {e}", config.server.listen),
        )
    })?;
    let monitoring = crate::monitoring::bind(config).await?;
    Ok(Listeners {
        postgres,
        monitoring,
    })
}
