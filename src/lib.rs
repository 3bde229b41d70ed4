//! lakeport: a PostgreSQL-wire SQL server for data lakes, on DataFusion.
//!
//! How a query flows (see `DESIGN.md` beside the repository for the whole map):
//!
//! ```text
//! client ──TCP──▶ server (accept loop)
//!                   └─▶ wire (pgwire handlers: startup, simple, extended, cancel)
//!                         └─▶ sql::Connection (split → parse → route → prepare → run)
//!                               ├─ utility: SET/SHOW/BEGIN/cursors ──▶ session
//!                               └─ query ──▶ exec::Engine (resolve, plan, execute)
//!                                              └─▶ storage (object stores, allowed locations)
//!                         ◀── sql::Output { rows: RowCursor | command tag }
//!                   wire encodes record batches to DataRows (text or binary) as they arrive
//! ```
//!
//! Dependencies point one way: `server → wire → sql → exec`; `session` is plain state read by
//! `sql` and `exec`; errors carry an [`error::ErrorKind`] mapped to SQLSTATE in
//! `wire::errors` only.

pub mod auth;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod config;
pub mod demo;
pub mod error;
pub mod exec;
pub mod monitoring;
pub mod pg_catalog;
pub mod pgtypes;
pub mod registry;
pub mod server;
pub mod session;
pub mod sql;
pub mod storage;
pub mod wire;

use std::future::Future;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};

/// Builds the service from `config` and serves `listeners` until `shutdown` resolves.
pub async fn run(
    config: Config,
    listeners: server::Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let service = server::build(config).await?;
    server::serve(service, listeners, shutdown).await
}
