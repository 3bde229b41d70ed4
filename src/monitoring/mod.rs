//! The monitoring listener (`monitoring.http_listen`, `--http-listen`): Prometheus metrics at
//! `/metrics`, liveness at `/healthz` (the process answers) and readiness at `/readyz` (the
//! catalog answers and the default database's storage can be listed).
//!
//! It runs on the socket runtime beside the PostgreSQL listener and stops with it.

pub mod http;
pub mod prometheus;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::hive_table::directory_url;
use crate::registry::Registry;
use crate::sql::Service;
use http::{Request, Response};

/// Readiness checks give up after this long.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// Serves the monitoring endpoints on `listener` until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "monitoring listener: /metrics, /healthz, /readyz");
    }
    http::serve(listener, shutdown, move |request| {
        let service = service.clone();
        let registry = registry.clone();
        async move { route(request, &service, &registry).await }
    })
    .await;
}

async fn route(request: Request, service: &Service, registry: &Registry) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::text(405, "only GET and HEAD are served here\n");
    }
    match request.path.as_str() {
        "/metrics" => Response::new(
            200,
            prometheus::CONTENT_TYPE,
            prometheus::render(service, registry),
        ),
        "/healthz" => Response::text(200, "ok\n"),
        "/readyz" => match tokio::time::timeout(READY_TIMEOUT, readiness(service)).await {
            Ok(Ok(())) => Response::text(200, "ready\n"),
            Ok(Err(error)) => Response::text(503, format!("not ready: {}\n", error.message)),
            Err(_) => Response::text(
                503,
                format!("not ready: no answer within {READY_TIMEOUT:?}\n"),
            ),
        },
        _ => Response::text(404, "not found\n"),
    }
}

/// Whether the catalog answers and the default database's location can be listed.
async fn readiness(service: &Service) -> Result<()> {
    let metastore = service.engine.catalog().metastore();
    let default = metastore
        .get_database("default")
        .await
        .map_err(|e| Error::new(ErrorKind::Storage, format!("catalog: {e}")))?;
    let url = directory_url(&default.location)?;
    let store = service
        .engine
        .base_state()
        .runtime_env()
        .object_store(url.object_store())?;
    store
        .list_with_delimiter(Some(url.prefix()))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!(
                    "storage at \"{}\": {}",
                    default.location,
                    crate::storage::errors::scrub_configured(&e.to_string())
                ),
            )
        })?;
    Ok(())
}

/// Binds `monitoring.http_listen` when the listener is on.
pub async fn bind(config: &crate::Config) -> Result<Option<TcpListener>> {
    if !config.monitoring.http {
        return Ok(None);
    }
    let address = config.monitoring.http_listen;
    TcpListener::bind(address).await.map(Some).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("could not listen on {address} (monitoring.http_listen): {e}"),
        )
    })
}
