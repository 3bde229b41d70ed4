//! The last statements the server finished, kept in memory for `lakeport.query_history`:
//! who ran what, for how long, how many rows it returned and read, and how it ended.
//!
//! A bounded ring: the oldest entry goes when a new one arrives past `capacity`. Entries are
//! recorded once, when a statement ends, so the lock is held for a push and nothing else.
//! Each keeps its plan, with the operators' final metrics, as JSON (the plan itself would
//! hold on to what its operators buffered) for the monitoring UI's plan graph.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::activity::Progress;

/// How a statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    /// Canceled by a client, a timeout or an administrator (SQLSTATE 57xxx).
    Canceled {
        sqlstate: String,
        message: String,
    },
    Failed {
        sqlstate: String,
        message: String,
    },
}

impl Outcome {
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Canceled { .. } => "canceled",
            Outcome::Failed { .. } => "failed",
        }
    }

    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Outcome::Finished => None,
            Outcome::Canceled { sqlstate, .. } | Outcome::Failed { sqlstate, .. } => Some(sqlstate),
        }
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Finished => None,
            Outcome::Canceled { message, .. } | Outcome::Failed { message, .. } => Some(message),
        }
    }
}

/// One finished statement.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The statement's query id, given when it started: increasing from 1 over the
    /// server's life (entries are kept in the order statements end).
    pub id: u64,
    pub pid: i32,
    pub user: String,
    pub application_name: String,
    pub query: String,
    pub started: SystemTime,
    pub duration: Duration,
    /// Rows sent to the client (or the command's row count).
    pub rows: u64,
    pub progress: Progress,
    pub outcome: Outcome,
    /// The plans it ran, as a JSON array of `sql::explain::node_json` trees with metrics;
    /// `None` for statements answered without a plan.
    pub plans: Option<Arc<serde_json::Value>>,
}

/// The ring of finished statements.
#[derive(Debug)]
pub struct QueryHistory {
    capacity: usize,
    entries: Mutex<VecDeque<HistoryEntry>>,
}

impl QueryHistory {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<HistoryEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `entry` and lets the oldest go past the capacity.
    pub fn record(&self, entry: HistoryEntry) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The kept entries, in the order their statements ended.
    pub fn entries(&self) -> Vec<HistoryEntry> {
        self.lock().iter().cloned().collect()
    }

    /// The last `count` entries, the latest first.
    pub fn latest(&self, count: usize) -> Vec<HistoryEntry> {
        self.lock().iter().rev().take(count).cloned().collect()
    }

    /// The entry of statement `id`, while it is kept.
    pub fn get(&self, id: u64) -> Option<HistoryEntry> {
        self.lock()
            .iter()
            .rev()
            .find(|entry| entry.id == id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, query: &str) -> HistoryEntry {
        HistoryEntry {
            id,
            pid: 7,
            user: "ann".into(),
            application_name: String::new(),
            query: query.into(),
            started: SystemTime::now(),
            duration: Duration::from_millis(3),
            rows: 1,
            progress: Progress::default(),
            outcome: Outcome::Finished,
            plans: None,
        }
    }

    #[test]
    fn keeps_the_last_entries() {
        let history = QueryHistory::new(2);
        for (id, query) in [(1, "select 1"), (2, "select 2"), (3, "select 3")] {
            history.record(entry(id, query));
        }
        let kept: Vec<(u64, String)> = history
            .entries()
            .into_iter()
            .map(|e| (e.id, e.query))
            .collect();
        assert_eq!(
            kept,
            [(2, "select 2".to_string()), (3, "select 3".to_string())]
        );
        assert_eq!(history.get(3).map(|e| e.query), Some("select 3".into()));
        assert!(history.get(1).is_none(), "the oldest entry is gone");
        let latest: Vec<u64> = history.latest(5).iter().map(|e| e.id).collect();
        assert_eq!(latest, [3, 2]);
        let off = QueryHistory::new(0);
        off.record(entry(1, "select 1"));
        assert!(off.entries().is_empty());
    }
}
