//! What each connection is doing, as `pg_stat_activity` shows it: its state (idle, active,
//! idle in transaction), the last statement and when it started, and the running
//! statement's progress.
//!
//! Progress is read, not pushed: the engine attaches the statement's physical plan and a
//! per-statement storage counter ([`StatementProgress`], which partitioned scans also find
//! in the session config to count the partitions they prune), and a reader of
//! `pg_stat_activity` walks the plan's live metrics. When the statement ends its figures
//! are frozen and the plan is let go (a finished hash join still holds its build side).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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

/// Rows and bytes a statement has read so far, and what it spilled to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows produced by the plan's scans.
    pub rows_read: u64,
    /// Bytes requested from object storage.
    pub bytes_read: u64,
    /// Spill files its operators wrote, and their bytes.
    pub spills: u64,
    pub spilled_bytes: u64,
    /// Partitions of the partitioned tables it scanned, and how many of them its
    /// filters pruned (left unread).
    pub partitions: u64,
    pub partitions_pruned: u64,
}

/// The running statement's plan and storage counter, attached by the engine.
#[derive(Debug)]
pub struct StatementProgress {
    /// The statement's query id: unique over the server's life, shared by its
    /// `pg_stat_activity` row, its history entry and the monitoring UI.
    pub id: u64,
    plans: Mutex<Vec<Arc<dyn ExecutionPlan>>>,
    requests: Arc<Requests>,
    partitions: AtomicU64,
    partitions_pruned: AtomicU64,
    /// The figures taken when the statement ended.
    ended: OnceLock<Progress>,
}

impl StatementProgress {
    pub fn new(id: u64) -> Self {
        Self {
            id,
            plans: Mutex::new(Vec::new()),
            requests: Arc::default(),
            partitions: AtomicU64::new(0),
            partitions_pruned: AtomicU64::new(0),
            ended: OnceLock::new(),
        }
    }

    /// A scan of a partitioned table read `kept` of its `total` partitions.
    pub fn partitions_scanned(&self, total: usize, kept: usize) {
        self.partitions.fetch_add(total as u64, Ordering::Relaxed);
        self.partitions_pruned
            .fetch_add(total.saturating_sub(kept) as u64, Ordering::Relaxed);
    }

    /// The plans attached so far (a statement may run more than one, as EXPLAIN ANALYZE or
    /// INSERT … SELECT do).
    pub fn plans(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        lock(&self.plans).clone()
    }

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

    /// The statement's figures: as it ended, once [`StatementProgress::end`] has taken
    /// them, or so far.
    pub fn progress(&self) -> Progress {
        self.ended.get().copied().unwrap_or_else(|| self.measure())
    }

    /// The statement ended: its figures are taken once, here, and kept.
    pub fn end(&self) -> Progress {
        *self.ended.get_or_init(|| self.measure())
    }

    fn measure(&self) -> Progress {
        let mut progress = Progress {
            bytes_read: self.requests.counts().bytes_read,
            partitions: self.partitions.load(Ordering::Relaxed),
            partitions_pruned: self.partitions_pruned.load(Ordering::Relaxed),
            ..Progress::default()
        };
        for plan in lock(&self.plans).iter() {
            add_operator_figures(plan, &mut progress);
        }
        progress
    }
}

/// Adds what the operators of `plan` report so far to `progress`: the output rows of its
/// leaves (the rows its scans produced) and every operator's spills.
fn add_operator_figures(plan: &Arc<dyn ExecutionPlan>, progress: &mut Progress) {
    let children = plan.children();
    if let Some(metrics) = plan.metrics() {
        if children.is_empty() {
            progress.rows_read += metrics.output_rows().unwrap_or(0) as u64;
        }
        progress.spills += metrics.spill_count().unwrap_or(0) as u64;
        progress.spilled_bytes += metrics.spilled_bytes().unwrap_or(0) as u64;
    }
    for child in children {
        add_operator_figures(child, progress);
    }
}

/// The mutable part of a connection's activity.
#[derive(Debug)]
pub(super) struct Activity {
    state: BackendState,
    application_name: String,
    query: String,
    query_id: Option<u64>,
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
            query_id: None,
            query_start: None,
            state_change: SystemTime::now(),
            xact_start: None,
            running: None,
            finished: Progress::default(),
        }
    }

    /// Statement `id` starts; `in_transaction`: inside a transaction block that began earlier.
    pub(super) fn start(&mut self, id: u64, query: &str, in_transaction: bool) {
        let now = SystemTime::now();
        self.freeze();
        self.state = BackendState::Active;
        self.query.clear();
        self.query.push_str(query);
        self.query_id = Some(id);
        self.query_start = Some(now);
        self.state_change = now;
        if !in_transaction || self.xact_start.is_none() {
            self.xact_start = Some(now);
        }
        self.running = Some(Arc::new(StatementProgress::new(id)));
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
            self.finished = progress.end();
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
            query_id: self.query_id,
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
    /// The running or last statement's id.
    pub query_id: Option<u64>,
    pub query_start: Option<SystemTime>,
    pub state_change: SystemTime,
    pub xact_start: Option<SystemTime>,
    pub progress: Progress,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
