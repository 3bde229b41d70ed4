//! Server-wide counters of connections and statements, updated as they happen and read by
//! the Prometheus endpoint. Lock-free: each is an atomic, and the duration histogram is a
//! fixed array of atomic buckets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::activity::Progress;
use super::history::Outcome;

/// Upper bounds of the statement duration histogram's buckets, in seconds.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

#[derive(Debug, Default)]
pub struct ServerMetrics {
    connections_total: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
    canceled: AtomicU64,
    /// Statements at most each bound of [`DURATION_BUCKETS`] (not cumulative; the
    /// exposition adds them up).
    duration_buckets: [AtomicU64; DURATION_BUCKETS.len()],
    duration_micros: AtomicU64,
    rows_sent: AtomicU64,
    rows_read: AtomicU64,
    bytes_read: AtomicU64,
    spills: AtomicU64,
    spilled_bytes: AtomicU64,
}

/// A reading of [`ServerMetrics`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub connections_total: u64,
    pub finished: u64,
    pub failed: u64,
    pub canceled: u64,
    /// Cumulative counts at each bound of [`DURATION_BUCKETS`].
    pub duration_buckets: Vec<u64>,
    pub duration_seconds: f64,
    pub rows_sent: u64,
    pub rows_read: u64,
    pub bytes_read: u64,
    pub spills: u64,
    pub spilled_bytes: u64,
}

impl MetricsSnapshot {
    pub fn statements(&self) -> u64 {
        self.finished + self.failed + self.canceled
    }
}

impl ServerMetrics {
    pub fn connection_opened(&self) {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn statement_ended(
        &self,
        duration: Duration,
        outcome: &Outcome,
        rows: u64,
        progress: Progress,
    ) {
        let counter = match outcome {
            Outcome::Finished => &self.finished,
            Outcome::Failed { .. } => &self.failed,
            Outcome::Canceled { .. } => &self.canceled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let seconds = duration.as_secs_f64();
        if let Some(bucket) = DURATION_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.duration_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.duration_micros
            .fetch_add(duration.as_micros() as u64, Ordering::Relaxed);
        self.rows_sent.fetch_add(rows, Ordering::Relaxed);
        self.rows_read
            .fetch_add(progress.rows_read, Ordering::Relaxed);
        self.bytes_read
            .fetch_add(progress.bytes_read, Ordering::Relaxed);
        self.spills.fetch_add(progress.spills, Ordering::Relaxed);
        self.spilled_bytes
            .fetch_add(progress.spilled_bytes, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut cumulative = 0;
        let duration_buckets = self
            .duration_buckets
            .iter()
            .map(|bucket| {
                cumulative += get(bucket);
                cumulative
            })
            .collect();
        MetricsSnapshot {
            connections_total: get(&self.connections_total),
            finished: get(&self.finished),
            failed: get(&self.failed),
            canceled: get(&self.canceled),
            duration_buckets,
            duration_seconds: get(&self.duration_micros) as f64 / 1e6,
            rows_sent: get(&self.rows_sent),
            rows_read: get(&self.rows_read),
            bytes_read: get(&self.bytes_read),
            spills: get(&self.spills),
            spilled_bytes: get(&self.spilled_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_fall_into_cumulative_buckets() {
        let metrics = ServerMetrics::default();
        let failed = Outcome::Failed {
            sqlstate: "22012".into(),
            message: "division by zero".into(),
        };
        metrics.statement_ended(
            Duration::from_micros(500),
            &Outcome::Finished,
            3,
            Progress::default(),
        );
        metrics.statement_ended(Duration::from_millis(30), &failed, 0, Progress::default());
        metrics.statement_ended(
            Duration::from_secs(120),
            &Outcome::Finished,
            1,
            Progress {
                spills: 2,
                spilled_bytes: 4096,
                ..Progress::default()
            },
        );
        let snapshot = metrics.snapshot();
        assert_eq!(
            (snapshot.finished, snapshot.failed, snapshot.statements()),
            (2, 1, 3)
        );
        assert_eq!(snapshot.duration_buckets[0], 1, "0.5 ms is within 1 ms");
        assert_eq!(snapshot.duration_buckets[3], 2, "30 ms is within 50 ms");
        assert_eq!(
            *snapshot.duration_buckets.last().unwrap(),
            2,
            "two minutes is past the last bound: only +Inf counts it"
        );
        assert_eq!(snapshot.rows_sent, 4);
        assert_eq!((snapshot.spills, snapshot.spilled_bytes), (2, 4096));
        assert!((snapshot.duration_seconds - 120.0305).abs() < 1e-9);
    }
}
