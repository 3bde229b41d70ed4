//! Memory budgets: one pool for all queries together (`engine.memory_limit`, DataFusion's
//! fair spill pool) and, inside it, a budget per query (`engine.query_memory_limit`).
//!
//! [`QueryMemoryPool`] is the per-query view of the shared pool: every reservation is counted
//! against both, so a query that outgrows its own budget spills (sorts, aggregates) or fails
//! with 53200 (hash join build sides) while other queries keep the rest of the shared pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

#[derive(Debug)]
pub struct QueryMemoryPool {
    shared: Arc<dyn MemoryPool>,
    limit: usize,
    /// Bytes this query holds now; never more than `limit`.
    used: AtomicUsize,
}

impl QueryMemoryPool {
    pub fn new(shared: Arc<dyn MemoryPool>, limit: usize) -> Self {
        Self {
            shared,
            limit,
            used: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Display for QueryMemoryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "query budget of {} bytes ({} held) in {}",
            self.limit,
            self.reserved(),
            self.shared
        )
    }
}

impl MemoryPool for QueryMemoryPool {
    fn name(&self) -> &str {
        "lakeport query budget"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.shared.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.shared.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::AcqRel);
        self.shared.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::AcqRel);
        self.shared.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let before = self.used.fetch_add(additional, Ordering::AcqRel);
        if before + additional > self.limit {
            self.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "query memory limit exceeded: {} needs {additional} more bytes, the query holds {before} of its {} (engine.query_memory_limit)",
                reservation.consumer().name(),
                self.limit
            )));
        }
        if let Err(error) = self.shared.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(error);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;

    #[test]
    fn a_query_is_held_to_its_budget_and_the_shared_pool_to_its_own() {
        let shared: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1000));
        let first: Arc<dyn MemoryPool> = Arc::new(QueryMemoryPool::new(shared.clone(), 600));
        let second: Arc<dyn MemoryPool> = Arc::new(QueryMemoryPool::new(shared.clone(), 600));
        let a = MemoryConsumer::new("a").register(&first);
        a.try_grow(500).unwrap();
        assert!(a.try_grow(200).is_err(), "over the query's budget");
        let b = MemoryConsumer::new("b").register(&second);
        assert!(
            b.try_grow(600).is_err(),
            "over what the shared pool has left"
        );
        b.try_grow(400).unwrap();
        assert_eq!(
            (first.reserved(), second.reserved(), shared.reserved()),
            (500, 400, 900)
        );
        drop(a);
        assert_eq!((first.reserved(), shared.reserved()), (0, 400));
    }
}
