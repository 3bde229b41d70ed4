//! Per-connection state: who is connected, the session variables, the transaction block and
//! the notices waiting to reach the client. Plain state, read by `sql` and `exec`; each
//! statement gets a read-only [`QueryContext`] snapshot of what planning needs.

pub mod transaction;
pub mod variables;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use datafusion::config::ConfigOptions;

pub use transaction::{Transaction, TransactionOutcome, TransactionStatus};
pub use variables::Variables;

use crate::config::SessionDefaults;
use crate::exec::catalog_bridge::Relation;
use crate::registry::Backend;

/// A session's temporary views by name; copied on write, so each statement's snapshot
/// stays as it was.
pub type TempViews = Arc<BTreeMap<String, Relation>>;

/// A message for the client that is not an error (NoticeResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// "WARNING" or "NOTICE".
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl Notice {
    /// A NOTICE (SQLSTATE 00000).
    pub fn plain(message: impl Into<String>) -> Self {
        Self {
            severity: "NOTICE",
            code: "00000",
            message: message.into(),
        }
    }

    /// A WARNING with SQLSTATE `code`.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: "WARNING",
            code,
            message: message.into(),
        }
    }
}

pub struct Session {
    /// The process id clients see (BackendKeyData, `pg_backend_pid()`).
    pub pid: i32,
    /// This connection in the server's registry.
    pub backend: Backend,
    pub user: String,
    /// Who authenticated, with the role and schema allow list privileges are checked against.
    pub identity: crate::auth::Identity,
    /// What this user may read and change, and the catalog epoch they were computed at
    /// (see `sql::Connection::refresh_privileges`).
    pub privileges: Arc<crate::auth::Privileges>,
    pub privileges_epoch: Option<u64>,
    pub database: String,
    pub client_addr: SocketAddr,
    pub variables: Variables,
    pub transaction: Transaction,
    /// `CREATE TEMPORARY VIEW`s: this connection's only, gone when it closes.
    pub temp_views: TempViews,
    /// Temporary views `CACHE TABLE` replaced by their rows, by name.
    pub cached_views: BTreeMap<String, CachedView>,
    notices: Vec<Notice>,
}

/// A temporary view whose rows `CACHE TABLE` holds: what to restore on `UNCACHE TABLE`.
pub struct CachedView {
    pub original: Relation,
    /// The rows now standing in for the view (the view is restored only while they do).
    pub rows: Arc<dyn datafusion::catalog::TableProvider>,
    /// The rows' bytes in the engine's memory pool.
    pub reservation: datafusion::execution::memory_pool::MemoryReservation,
}

impl Session {
    pub fn new(
        backend: Backend,
        identity: crate::auth::Identity,
        database: String,
        client_addr: SocketAddr,
        application_name: &str,
        defaults: &SessionDefaults,
        datafusion: ConfigOptions,
    ) -> Self {
        let superuser = identity.role == crate::auth::Role::Admin;
        let variables = Variables::new(
            defaults,
            datafusion,
            &identity.user,
            application_name,
            superuser,
        );
        Self {
            pid: backend.pid(),
            backend,
            user: identity.user.clone(),
            privileges: Arc::new(crate::auth::Privileges::new(&identity, &[])),
            privileges_epoch: None,
            identity,
            database,
            client_addr,
            variables,
            transaction: Transaction::default(),
            temp_views: TempViews::default(),
            cached_views: BTreeMap::new(),
            notices: Vec::new(),
        }
    }

    /// Queues `notice` for the client, sent before the statement's result.
    pub fn notice(&mut self, notice: Notice) {
        self.notices.push(notice);
    }

    /// The notices to send: the session's own, then the warnings raised inside the
    /// running statement's plan.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        let mut notices = std::mem::take(&mut self.notices);
        notices.extend(
            self.backend
                .control
                .take_warnings()
                .into_iter()
                .map(|message| Notice::warning("01000", message)),
        );
        notices
    }

    /// What planning and execution of one statement may read.
    pub fn query_context(&self) -> QueryContext {
        QueryContext {
            pid: self.pid,
            user: self.user.clone(),
            database: self.database.clone(),
            search_path: self.resolved_search_path(),
            time_zone: self.variables.time_zone(),
            options: self.variables.datafusion_options(),
            variables: self.variables.clone(),
            temp_views: self.temp_views.clone(),
            privileges: self.privileges.clone(),
            backend: self.backend.clone(),
        }
    }

    /// The search path with `"$user"` replaced and quotes removed.
    fn resolved_search_path(&self) -> Vec<String> {
        self.variables
            .search_path()
            .into_iter()
            .map(|entry| {
                if entry == "\"$user\"" || entry == "$user" {
                    self.user.clone()
                } else if let Some(inner) =
                    entry.strip_prefix('"').and_then(|e| e.strip_suffix('"'))
                {
                    inner.replace("\"\"", "\"")
                } else {
                    entry.to_ascii_lowercase()
                }
            })
            .collect()
    }
}

/// A snapshot of the session for planning and running one statement.
#[derive(Clone)]
pub struct QueryContext {
    pub pid: i32,
    pub user: String,
    pub database: String,
    /// Schemas to search for unqualified names, in order (may name schemas that do not exist).
    pub search_path: Vec<String>,
    pub time_zone: String,
    pub options: ConfigOptions,
    /// The live variables, for `current_setting()` and `set_config()`.
    pub variables: Variables,
    pub temp_views: TempViews,
    /// What the session's user may read; name resolution checks every table against it.
    pub privileges: Arc<crate::auth::Privileges>,
    /// The connection in the server's registry: progress, other sessions, signals.
    pub backend: Backend,
}
