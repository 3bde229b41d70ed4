//! Live connections, by backend pid: what a CancelRequest, `pg_cancel_backend`,
//! `pg_terminate_backend` and `pg_stat_activity` look up.
//!
//! Each connection registers a [`ConnectionControl`] for its lifetime. The control holds the
//! cancel key, the current statement's [`StatementGuard`] token and the connection's
//! [`activity`]; a cancel fires that token and nothing else, so a cancel arriving between
//! statements is dropped, as in PostgreSQL. A terminate fails the running statement and
//! closes the connection, or closes it at once when it is idle.
//!
//! Shutdown goes through the registry in two steps: [`Registry::drain`] asks every connection
//! to close as soon as it is idle (the connection loop watches [`Registry::draining`]), and
//! [`Registry::terminate`], after the grace period, fails every running statement with 57P01.

pub mod activity;
pub mod history;
pub mod metrics;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use activity::{Activity, ActivityRow, BackendState, Peer, StatementProgress};
use history::QueryHistory;
use metrics::ServerMetrics;

/// Per-connection handle for cancellation, termination and activity.
pub struct ConnectionControl {
    pub pid: i32,
    secret: i32,
    pub peer: Peer,
    backend_start: SystemTime,
    /// The running statement's token; replaced at each statement start.
    current: Mutex<CancellationToken>,
    /// The registry's terminate token: fires for every statement at the end of shutdown.
    terminating: CancellationToken,
    /// `pg_terminate_backend` of this connection: fails its statement, closes it when idle.
    terminated: CancellationToken,
    /// The registry's query id counter.
    query_ids: Arc<AtomicU64>,
    activity: Mutex<Activity>,
    /// Warnings raised while a statement runs (by functions inside its plan), for the
    /// session to send before the statement's completion.
    warnings: Mutex<Vec<String>>,
}

impl ConnectionControl {
    /// Starts the statement `query`: a fresh token, the deadline from
    /// `statement_timeout_ms`, and the connection's state becomes active.
    pub fn start_statement(
        &self,
        statement_timeout_ms: u64,
        query: &str,
        in_transaction: bool,
    ) -> StatementGuard {
        let token = CancellationToken::new();
        let id = self.query_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let mut activity = lock(&self.activity);
        *lock(&self.current) = token.clone();
        activity.start(id, query, in_transaction);
        drop(activity);
        StatementGuard {
            token,
            terminating: self.terminating.clone(),
            terminated: self.terminated.clone(),
            deadline: (statement_timeout_ms > 0)
                .then(|| Instant::now() + Duration::from_millis(statement_timeout_ms)),
        }
    }

    /// The connection waits for its client again, in `state`.
    pub fn idle(&self, state: BackendState, application_name: &str) {
        lock(&self.activity).idle(state, application_name);
    }

    /// The running statement's progress, for the engine to attach its plan to.
    pub fn running(&self) -> Option<Arc<StatementProgress>> {
        lock(&self.activity).running()
    }

    pub fn cancel(&self) {
        lock(&self.current).cancel();
    }

    /// Cancels statement `id` if it is the one running here; false otherwise (it ended, or
    /// the connection has moved on to another statement, which is left alone).
    pub fn cancel_query(&self, id: u64) -> bool {
        let activity = lock(&self.activity);
        let running = activity.running().is_some_and(|running| running.id == id);
        if running {
            lock(&self.current).cancel();
        }
        running
    }

    /// Fails the running statement with 57P01 and closes the connection.
    pub fn terminate(&self) {
        self.terminated.cancel();
    }

    /// Fires when the connection is terminated.
    pub fn terminated(&self) -> &CancellationToken {
        &self.terminated
    }

    pub fn activity(&self) -> ActivityRow {
        lock(&self.activity).row(self.pid, &self.peer, self.backend_start)
    }

    /// A WARNING for the client from inside the running statement.
    pub fn warn(&self, message: String) {
        lock(&self.warnings).push(message);
    }

    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.warnings))
    }
}

/// What a backend can be asked to do by another session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `pg_cancel_backend`: cancel the running statement.
    Cancel,
    /// `pg_terminate_backend`: end the connection.
    Terminate,
}

/// The cancellation and timeout of one statement: every await on the statement's work goes
/// through [`StatementGuard::run`], so planning, execution and streaming all stop on cancel.
#[derive(Clone)]
pub struct StatementGuard {
    token: CancellationToken,
    terminating: CancellationToken,
    terminated: CancellationToken,
    deadline: Option<Instant>,
}

impl StatementGuard {
    /// A guard that never fires, for work outside a statement.
    pub fn unguarded() -> Self {
        Self {
            token: CancellationToken::new(),
            terminating: CancellationToken::new(),
            terminated: CancellationToken::new(),
            deadline: None,
        }
    }

    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let timeout = async {
            match self.deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = self.token.cancelled() => Err(Error::canceled()),
            _ = self.terminating.cancelled() => Err(Error::admin_shutdown()),
            _ = self.terminated.cancelled() => Err(Error::admin_shutdown()),
            _ = timeout => Err(Error::statement_timeout()),
            result = work => result,
        }
    }
}

/// All live connections.
pub struct Registry {
    next_pid: AtomicI32,
    connections: Mutex<HashMap<i32, Arc<ConnectionControl>>>,
    /// Fired when shutdown begins: idle connections close, running ones close after it.
    draining: CancellationToken,
    /// Fired when the shutdown grace period ends: running statements fail.
    terminating: CancellationToken,
    /// Connections past their startup packet (authenticating or in session): what
    /// `server.max_connections` bounds.
    slots: Arc<AtomicUsize>,
    history: QueryHistory,
    metrics: ServerMetrics,
    /// The last query id given to a statement.
    query_ids: Arc<AtomicU64>,
}

/// One of `server.max_connections`, held from the startup packet until the connection ends.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Unregisters a connection when dropped.
pub struct Registration {
    registry: Arc<Registry>,
    pub control: Arc<ConnectionControl>,
}

impl Registration {
    pub fn backend(&self) -> Backend {
        Backend {
            registry: self.registry.clone(),
            control: self.control.clone(),
        }
    }
}

/// A session's own entry in the registry, and the registry: what its statements use to
/// report progress, list every connection and signal other backends.
#[derive(Clone)]
pub struct Backend {
    pub registry: Arc<Registry>,
    pub control: Arc<ConnectionControl>,
}

impl Backend {
    pub fn pid(&self) -> i32 {
        self.control.pid
    }
}

impl Drop for Registration {
    /// The connection is gone: unregistered, and logged as PostgreSQL's
    /// `log_disconnections` does, with how long the session lasted.
    fn drop(&mut self) {
        self.registry.lock().remove(&self.control.pid);
        let control = &self.control;
        let session = control.backend_start.elapsed().unwrap_or_default();
        tracing::info!(
            pid = control.pid,
            user = %control.peer.user,
            database = %control.peer.database,
            client = %control.peer.client_addr,
            session_ms = session.as_secs_f64() * 1000.0,
            "connection closed"
        );
    }
}

impl Registry {
    /// A registry that keeps the last `query_history` finished statements.
    pub fn new(query_history: usize) -> Arc<Self> {
        Arc::new(Self {
            history: QueryHistory::new(query_history),
            metrics: ServerMetrics::default(),
            next_pid: AtomicI32::new(std::process::id() as i32 % 10_000 * 100 + 1),
            connections: Mutex::new(HashMap::new()),
            draining: CancellationToken::new(),
            terminating: CancellationToken::new(),
            slots: Arc::new(AtomicUsize::new(0)),
            query_ids: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A connection slot, unless `max` are taken.
    pub fn claim_slot(&self, max: usize) -> Option<Slot> {
        let claimed = self
            .slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < max).then_some(taken + 1)
            })
            .is_ok();
        claimed.then(|| Slot(self.slots.clone()))
    }

    /// Starts shutdown: every connection closes once it is idle.
    pub fn drain(&self) {
        self.draining.cancel();
    }

    /// Fires when shutdown starts.
    pub fn draining(&self) -> &CancellationToken {
        &self.draining
    }

    /// Ends the grace period: every running statement fails with 57P01.
    pub fn terminate(&self) {
        self.terminating.cancel();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<ConnectionControl>>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every live connection, taken out of the lock so that reading one does not hold up
    /// connections coming and going.
    fn controls(&self) -> Vec<Arc<ConnectionControl>> {
        self.lock().values().cloned().collect()
    }

    /// Registers a new connection of `peer` with a fresh pid and random cancel secret.
    pub fn register(self: &Arc<Self>, peer: Peer, application_name: &str) -> Registration {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let control = Arc::new(ConnectionControl {
            pid,
            secret: rand::random(),
            peer,
            backend_start: SystemTime::now(),
            current: Mutex::new(CancellationToken::new()),
            terminating: self.terminating.clone(),
            terminated: CancellationToken::new(),
            query_ids: self.query_ids.clone(),
            activity: Mutex::new(Activity::new(application_name)),
            warnings: Mutex::new(Vec::new()),
        });
        self.lock().insert(pid, control.clone());
        self.metrics.connection_opened();
        Registration {
            registry: self.clone(),
            control,
        }
    }

    pub fn secret_of(control: &ConnectionControl) -> i32 {
        control.secret
    }

    /// A CancelRequest: cancels only when pid and secret match.
    pub fn cancel(&self, pid: i32, secret: i32) -> bool {
        let control = self.lock().get(&pid).cloned();
        match control {
            Some(control) if control.secret == secret => {
                control.cancel();
                true
            }
            _ => false,
        }
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    pub fn history(&self) -> &QueryHistory {
        &self.history
    }

    pub fn metrics(&self) -> &ServerMetrics {
        &self.metrics
    }

    /// Every connection's activity, by pid.
    pub fn activity(&self) -> Vec<ActivityRow> {
        let mut rows: Vec<ActivityRow> = self.controls().iter().map(|c| c.activity()).collect();
        rows.sort_by_key(|row| row.pid);
        rows
    }

    /// The connection running statement `id`, with that statement's progress.
    pub fn running_query(&self, id: u64) -> Option<(ActivityRow, Arc<StatementProgress>)> {
        self.controls().iter().find_map(|control| {
            let running = control.running().filter(|running| running.id == id)?;
            Some((control.activity(), running))
        })
    }

    /// Cancels statement `id` wherever it runs; false when no connection is running it.
    /// The caller decides who may (the monitoring UI lets only admins in).
    pub fn cancel_query(&self, id: u64) -> bool {
        self.controls()
            .iter()
            .any(|control| control.cancel_query(id))
    }

    /// `pg_cancel_backend(pid)` or `pg_terminate_backend(pid)` from `caller`: false when no
    /// connection has `pid`. Admins may signal anyone; other users only their own sessions.
    pub fn signal(&self, pid: i32, signal: Signal, caller: &Peer) -> Result<bool> {
        let Some(target) = self.lock().get(&pid).cloned() else {
            return Ok(false);
        };
        if !caller.admin && (target.peer.admin || target.peer.user != caller.user) {
            return Err(signal_denied(signal, target.peer.admin));
        }
        match signal {
            Signal::Cancel => target.cancel(),
            Signal::Terminate => target.terminate(),
        }
        Ok(true)
    }
}

/// PostgreSQL 15's refusals of a signal to another role's backend.
fn signal_denied(signal: Signal, target_is_admin: bool) -> Error {
    let message = match (signal, target_is_admin) {
        (Signal::Cancel, true) => "must be a superuser to cancel superuser query",
        (Signal::Terminate, true) => "must be a superuser to terminate superuser process",
        (Signal::Cancel, false) => {
            "must be a member of the role whose query is being canceled or member of pg_signal_backend"
        }
        (Signal::Terminate, false) => {
            "must be a member of the role whose process is being terminated or member of pg_signal_backend"
        }
    };
    Error::new(ErrorKind::PermissionDenied, message)
        .with_hint("only users with role admin may signal other users' sessions")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(user: &str, admin: bool) -> Peer {
        Peer {
            user: user.into(),
            database: "lakeport".into(),
            client_addr: "127.0.0.1:5000".parse().unwrap(),
            admin,
        }
    }

    #[tokio::test]
    async fn cancel_needs_the_secret_and_a_running_statement() {
        let registry = Registry::new(10);
        let registration = registry.register(peer("ann", false), "psql");
        let control = registration.control.clone();
        let guard = control.start_statement(0, "select 1", false);
        assert!(!registry.cancel(control.pid, Registry::secret_of(&control).wrapping_add(1)));
        assert!(registry.cancel(control.pid, Registry::secret_of(&control)));
        let result: Result<()> = guard.run(std::future::pending()).await;
        assert_eq!(
            result.unwrap_err().kind,
            crate::error::ErrorKind::QueryCanceled
        );
        let next = control.start_statement(0, "select 2", false);
        assert_eq!(next.run(async { Ok(5) }).await.unwrap(), 5);
        drop(registration);
        assert_eq!(registry.count(), 0);
    }

    #[tokio::test]
    async fn statement_timeout_fires() {
        let registry = Registry::new(10);
        let registration = registry.register(peer("ann", false), "psql");
        let guard = registration.control.start_statement(20, "select 1", false);
        let result: Result<()> = guard.run(std::future::pending()).await;
        assert_eq!(
            result.unwrap_err().kind,
            crate::error::ErrorKind::StatementTimeout
        );
    }

    #[tokio::test]
    async fn users_signal_their_own_sessions_and_admins_anyone() {
        let registry = Registry::new(10);
        let ann = registry.register(peer("ann", false), "");
        let bob = registry.register(peer("bob", false), "");
        let root = registry.register(peer("root", true), "");
        let denied = registry
            .signal(bob.control.pid, Signal::Cancel, &ann.control.peer)
            .unwrap_err();
        assert_eq!(denied.kind, ErrorKind::PermissionDenied);
        let denied = registry
            .signal(root.control.pid, Signal::Terminate, &ann.control.peer)
            .unwrap_err();
        assert!(denied.message.contains("superuser"), "{}", denied.message);
        assert!(
            registry
                .signal(ann.control.pid, Signal::Cancel, &ann.control.peer)
                .unwrap()
        );
        assert!(
            !registry
                .signal(-1, Signal::Cancel, &root.control.peer)
                .unwrap()
        );
        let guard = bob.control.start_statement(0, "select pg_sleep(10)", false);
        assert!(
            registry
                .signal(bob.control.pid, Signal::Terminate, &root.control.peer)
                .unwrap()
        );
        let result: Result<()> = guard.run(std::future::pending()).await;
        assert_eq!(result.unwrap_err().kind, ErrorKind::AdminShutdown);
        assert!(bob.control.terminated().is_cancelled());
        assert!(!ann.control.terminated().is_cancelled());
    }

    #[test]
    fn activity_follows_statements_and_transactions() {
        let registry = Registry::new(10);
        let ann = registry.register(peer("ann", false), "psql");
        let row = |registry: &Registry| registry.activity().remove(0);
        assert_eq!(row(&registry).state, BackendState::Idle);
        assert_eq!(row(&registry).query_start, None);
        ann.control.start_statement(0, "begin", false);
        ann.control.idle(BackendState::IdleInTransaction, "psql");
        let begun = row(&registry);
        assert_eq!(begun.state, BackendState::IdleInTransaction);
        assert_eq!(begun.query, "begin");
        let xact_start = begun.xact_start.expect("a transaction start");
        ann.control.start_statement(0, "select 1", true);
        let running = row(&registry);
        assert_eq!(running.state, BackendState::Active);
        assert_eq!(running.query, "select 1");
        assert_eq!(running.xact_start, Some(xact_start));
        assert!(ann.control.running().is_some());
        ann.control.idle(BackendState::Idle, "report");
        let done = row(&registry);
        assert_eq!(done.state, BackendState::Idle);
        assert_eq!(done.query, "select 1");
        assert_eq!(done.xact_start, None);
        assert_eq!(done.application_name, "report");
        assert!(ann.control.running().is_none());
    }
}
