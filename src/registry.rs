//! Live connections, by backend pid: what a CancelRequest (and later `pg_cancel_backend`,
//! `pg_stat_activity`) looks up.
//!
//! Each connection registers a [`ConnectionControl`] for its lifetime. The control holds the
//! cancel key and the current statement's [`StatementGuard`] token; a cancel fires that token
//! and nothing else, so a cancel arriving between statements is dropped, as in PostgreSQL.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI32, Ordering};
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
}

impl ConnectionControl {
    /// Starts a statement: a fresh token, and the deadline from `statement_timeout_ms`.
    pub fn start_statement(&self, statement_timeout_ms: u64) -> StatementGuard {
        let token = CancellationToken::new();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = token.clone();
        StatementGuard {
            token,
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
    deadline: Option<Instant>,
}

impl StatementGuard {
    /// A guard that never fires, for work outside a statement.
    pub fn unguarded() -> Self {
        Self {
            token: CancellationToken::new(),
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
        })
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
