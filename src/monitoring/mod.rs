//! The monitoring listener (`monitoring.http_listen`, `--http-listen`): Prometheus metrics at
//! `/metrics`, liveness at `/healthz` (the process answers), readiness at `/readyz` (the
//! catalog answers and the default database's storage can be listed), and for admins the
//! web UI at `/` ([`ui`]) with the JSON it reads under `/api/` ([`api`], [`access`]).
//!
//! It runs on the socket runtime beside the PostgreSQL listener and stops with it.

pub mod access;
pub mod api;
pub mod http;
pub mod prometheus;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::hive_table::directory_url;
use crate::registry::Registry;
use crate::sql::Service;
use access::Access;
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
        tracing::info!(
            %address,
            "monitoring listener: web UI at http://{address}/, /metrics, /healthz, /readyz"
        );
    }
    let access = Arc::new(Access::new(&service.config));
    http::serve(listener, shutdown, move |request| {
        let service = service.clone();
        let registry = registry.clone();
        let access = access.clone();
        async move { route(request, &service, &registry, &access).await }
    })
    .await;
}

async fn route(
    request: Request,
    service: &Service,
    registry: &Registry,
    access: &Access,
) -> Response {
    if request.path == "/" || request.path.starts_with("/ui") || request.path.starts_with("/api/") {
        return match access.admit(&request).await {
            Ok(admin) => route_ui(&request, registry, &admin),
            Err(refusal) => refusal,
        };
    }
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

/// The web UI and its API, for `admin`.
fn route_ui(request: &Request, registry: &Registry, admin: &str) -> Response {
    let get = request.method == "GET" || request.method == "HEAD";
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        (_, ["api", "queries"]) if get => api::queries(registry, &request.query),
        (_, ["api", "queries", id]) if get => api::query(registry, id),
        ("POST", ["api", "queries", id, "cancel"]) => {
            // A page elsewhere cannot send this header without the browser asking first
            // (CORS preflight), which this server never grants.
            if request.header("x-lakeport-ui").is_none() {
                return Response::text(403, "cancel requests come from the monitoring UI\n");
            }
            api::cancel(registry, id, admin)
        }
        _ if get => ui::asset(&request.path).unwrap_or_else(|| Response::text(404, "not found\n")),
        _ => Response::text(405, "method not allowed here\n"),
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
