//! What each connection is doing, as `pg_stat_activity` shows it: its state (idle, active,
//! idle in transaction), the last statement and when it started, and the running
//! statement's progress.
//!
//! Progress is read, not pushed: the engine attaches the statement's physical plan and a
//! per-statement storage counter ([`StatementProgress`]), and a reader of
//! `pg_stat_activity` walks the plan's live metrics. When the statement ends its figures
//! are frozen and the plan is let go (a finished hash join still holds its build side).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::display::DisplayableExecutionPlan;

use crate::storage::metered::Requests;

/// A connection's state, by PostgreSQL's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendState {
    Idle,
    Active,
    IdleInTransaction,
    IdleInTransactionAborted,
}

impl BackendState {
    pub fn name(self) -> &'static str {
        match self {
            BackendState::Idle => "idle",
            BackendState::Active => "active",
            BackendState::IdleInTransaction => "idle in transaction",
            BackendState::IdleInTransactionAborted => "idle in transaction (aborted)",
        }
    }
}

/// Who is connected, fixed at startup.
#[derive(Debug, Clone)]
pub struct Peer {
    pub user: String,
    pub database: String,
    pub client_addr: SocketAddr,
    /// Whether the user may see every session's statements and signal every backend.
    pub admin: bool,
}

/// Rows and bytes a statement has read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows produced by the plan's scans.
    pub rows_read: u64,
    /// Bytes requested from object storage.
    pub bytes_read: u64,
}

/// The running statement's plan and storage counter, attached by the engine.
#[derive(Debug, Default)]
pub struct StatementProgress {
    plans: Mutex<Vec<Arc<dyn ExecutionPlan>>>,
    requests: Arc<Requests>,
}

impl StatementProgress {
    /// Counts toward this statement's rows read: the scans of `plan`, as they run.
    pub fn attach(&self, plan: &Arc<dyn ExecutionPlan>) {
        lock(&self.plans).push(plan.clone());
    }

    /// Where this statement's storage requests are counted.
    pub fn requests(&self) -> Arc<Requests> {
        self.requests.clone()
    }

    /// The attached plans as indented text with each operator's metrics so far.
    pub fn plan_with_metrics(&self) -> String {
        lock(&self.plans)
            .iter()
            .map(|plan| {
                DisplayableExecutionPlan::with_metrics(plan.as_ref())
                    .indent(true)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn progress(&self) -> Progress {
        let rows_read = lock(&self.plans)
            .iter()
            .map(|plan| scanned_rows(plan))
            .sum();
        Progress {
            rows_read,
            bytes_read: self.requests.counts().bytes_read,
        }
    }
}

/// Output rows of the plan's leaves: what its scans have produced so far.
fn scanned_rows(plan: &Arc<dyn ExecutionPlan>) -> u64 {
    let children = plan.children();
    if children.is_empty() {
        return plan
            .metrics()
            .and_then(|metrics| metrics.output_rows())
            .unwrap_or(0) as u64;
    }
    children.into_iter().map(scanned_rows).sum()
}

/// The mutable part of a connection's activity.
#[derive(Debug)]
pub(super) struct Activity {
    state: BackendState,
    application_name: String,
    query: String,
    query_start: Option<SystemTime>,
    state_change: SystemTime,
    xact_start: Option<SystemTime>,
    running: Option<Arc<StatementProgress>>,
    /// The figures of the last statement, once it ended.
    finished: Progress,
}

impl Activity {
    pub(super) fn new(application_name: &str) -> Self {
        Self {
            state: BackendState::Idle,
            application_name: application_name.to_string(),
            query: String::new(),
            query_start: None,
            state_change: SystemTime::now(),
            xact_start: None,
            running: None,
            finished: Progress::default(),
        }
    }

    /// A statement starts; `in_transaction`: inside a transaction block that began earlier.
    pub(super) fn start(&mut self, query: &str, in_transaction: bool) -> Arc<StatementProgress> {
        let now = SystemTime::now();
        self.freeze();
        self.state = BackendState::Active;
        self.query.clear();
        self.query.push_str(query);
        self.query_start = Some(now);
        self.state_change = now;
        if !in_transaction || self.xact_start.is_none() {
            self.xact_start = Some(now);
        }
        let progress = Arc::new(StatementProgress::default());
        self.running = Some(progress.clone());
        progress
    }

    /// Waiting for the client again, in `state`.
    pub(super) fn idle(&mut self, state: BackendState, application_name: &str) {
        self.freeze();
        if self.state != state {
            self.state = state;
            self.state_change = SystemTime::now();
        }
        if state == BackendState::Idle {
            self.xact_start = None;
        }
        if self.application_name != application_name {
            self.application_name = application_name.to_string();
        }
    }

    /// The running statement's progress, if one is attached.
    pub(super) fn running(&self) -> Option<Arc<StatementProgress>> {
        self.running.clone()
    }

    fn freeze(&mut self) {
        if let Some(progress) = self.running.take() {
            self.finished = progress.progress();
        }
    }

    pub(super) fn row(&self, pid: i32, peer: &Peer, backend_start: SystemTime) -> ActivityRow {
        ActivityRow {
            pid,
            user: peer.user.clone(),
            database: peer.database.clone(),
            client_addr: peer.client_addr,
            application_name: self.application_name.clone(),
            backend_start,
            state: self.state,
            query: self.query.clone(),
            query_start: self.query_start,
            state_change: self.state_change,
            xact_start: self.xact_start,
            progress: match &self.running {
                Some(running) => running.progress(),
                None => self.finished,
            },
        }
    }
}

/// One connection as `pg_stat_activity` shows it.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub pid: i32,
    pub user: String,
    pub database: String,
    pub client_addr: SocketAddr,
    pub application_name: String,
    pub backend_start: SystemTime,
    pub state: BackendState,
    pub query: String,
    pub query_start: Option<SystemTime>,
    pub state_change: SystemTime,
    pub xact_start: Option<SystemTime>,
    pub progress: Progress,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
