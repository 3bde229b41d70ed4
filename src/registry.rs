//! Live connections, by backend pid: what a CancelRequest (and later `pg_cancel_backend`,
//! `pg_stat_activity`) looks up.
//!
//! Each connection registers a [`ConnectionControl`] for its lifetime. The control holds the
//! cancel key and the current statement's [`StatementGuard`] token; a cancel fires that token
//! and nothing else, so a cancel arriving between statements is dropped, as in PostgreSQL.
//!
//! Shutdown goes through the registry in two steps: [`Registry::drain`] asks every connection
//! to close as soon as it is idle (the connection loop watches [`Registry::draining`]), and
//! [`Registry::terminate`], after the grace period, fails every running statement with 57P01.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// Per-connection handle for cancellation.
pub struct ConnectionControl {
    pub pid: i32,
    secret: i32,
    /// The running statement's token; replaced at each statement start.
    current: Mutex<CancellationToken>,
    /// The registry's terminate token: fires for every statement at the end of shutdown.
    terminating: CancellationToken,
}

impl ConnectionControl {
    /// Starts a statement: a fresh token, and the deadline from `statement_timeout_ms`.
    pub fn start_statement(&self, statement_timeout_ms: u64) -> StatementGuard {
        let token = CancellationToken::new();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = token.clone();
        StatementGuard {
            token,
            terminating: self.terminating.clone(),
            deadline: (statement_timeout_ms > 0)
                .then(|| Instant::now() + Duration::from_millis(statement_timeout_ms)),
        }
    }

    pub fn cancel(&self) {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel();
    }
}

/// The cancellation and timeout of one statement: every await on the statement's work goes
/// through [`StatementGuard::run`], so planning, execution and streaming all stop on cancel.
#[derive(Clone)]
pub struct StatementGuard {
    token: CancellationToken,
    terminating: CancellationToken,
    deadline: Option<Instant>,
}

impl StatementGuard {
    /// A guard that never fires, for work outside a statement.
    pub fn unguarded() -> Self {
        Self {
            token: CancellationToken::new(),
            terminating: CancellationToken::new(),
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
            _ = timeout => Err(Error::statement_timeout()),
            result = work => result,
        }
    }
}

/// All live connections.
#[derive(Default)]
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

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.control.pid);
    }
}

impl Registry {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            next_pid: AtomicI32::new(std::process::id() as i32 % 10_000 * 100 + 1),
            connections: Mutex::new(HashMap::new()),
            draining: CancellationToken::new(),
            terminating: CancellationToken::new(),
            slots: Arc::new(AtomicUsize::new(0)),
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

    /// Registers a new connection with a fresh pid and random cancel secret.
    pub fn register(self: &Arc<Self>) -> Registration {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let control = Arc::new(ConnectionControl {
            pid,
            secret: rand::random(),
            current: Mutex::new(CancellationToken::new()),
            terminating: self.terminating.clone(),
        });
        self.lock().insert(pid, control.clone());
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_needs_the_secret_and_a_running_statement() {
        let registry = Registry::new();
        let registration = registry.register();
        let control = registration.control.clone();
        let guard = control.start_statement(0);
        assert!(!registry.cancel(control.pid, Registry::secret_of(&control).wrapping_add(1)));
        assert!(registry.cancel(control.pid, Registry::secret_of(&control)));
        let result: Result<()> = guard.run(std::future::pending()).await;
        assert_eq!(
            result.unwrap_err().kind,
            crate::error::ErrorKind::QueryCanceled
        );
        let next = control.start_statement(0);
        assert_eq!(next.run(async { Ok(5) }).await.unwrap(), 5);
        drop(registration);
        assert_eq!(registry.count(), 0);
    }

    #[tokio::test]
    async fn statement_timeout_fires() {
        let registry = Registry::new();
        let registration = registry.register();
        let guard = registration.control.start_statement(20);
        let result: Result<()> = guard.run(std::future::pending()).await;
        assert_eq!(
            result.unwrap_err().kind,
            crate::error::ErrorKind::StatementTimeout
        );
    }
}
