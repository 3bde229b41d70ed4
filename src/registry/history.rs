//! The last statements the server finished, kept in memory for `lakeport.query_history`:
//! who ran what, for how long, how many rows it returned and read, and how it ended.
//!
//! A bounded ring: the oldest entry goes when a new one arrives past `capacity`. Entries are
//! recorded once, when a statement ends, so the lock is held for a push and nothing else.

use std::collections::VecDeque;
use std::sync::Mutex;
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
    /// Increasing from 1 over the server's life.
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
}

/// The ring of finished statements.
#[derive(Debug)]
pub struct QueryHistory {
    capacity: usize,
    entries: Mutex<(u64, VecDeque<HistoryEntry>)>,
}

impl QueryHistory {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new((0, VecDeque::with_capacity(capacity.min(4096)))),
        }
    }

    /// Keeps `entry` (its `id` is assigned here) and lets the oldest go past the capacity.
    pub fn record(&self, mut entry: HistoryEntry) {
        if self.capacity == 0 {
            return;
        }
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (last_id, entries) = &mut *guard;
        *last_id += 1;
        entry.id = *last_id;
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> Vec<HistoryEntry> {
        let guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(query: &str) -> HistoryEntry {
        HistoryEntry {
            id: 0,
            pid: 7,
            user: "ann".into(),
            application_name: String::new(),
            query: query.into(),
            started: SystemTime::now(),
            duration: Duration::from_millis(3),
            rows: 1,
            progress: Progress::default(),
            outcome: Outcome::Finished,
        }
    }

    #[test]
    fn keeps_the_last_entries_with_increasing_ids() {
        let history = QueryHistory::new(2);
        for query in ["select 1", "select 2", "select 3"] {
            history.record(entry(query));
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
        let off = QueryHistory::new(0);
        off.record(entry("select 1"));
        assert!(off.entries().is_empty());
    }
}
