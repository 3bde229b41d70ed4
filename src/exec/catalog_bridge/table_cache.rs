//! `CACHE TABLE`: the rows of a catalog table held in memory and read instead of its files
//! until `UNCACHE TABLE`, `CLEAR CACHE`, or a change to the table through this server (DDL,
//! INSERT, REFRESH TABLE: whatever invalidates it in the [`Catalog`](super::Catalog)) drops
//! them. The rows are charged to the engine's memory pool for as long as they are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::catalog::TableProvider;
use datafusion::execution::memory_pool::MemoryReservation;

/// Cached tables by (schema, table).
#[derive(Default)]
pub struct TableCache {
    entries: Mutex<HashMap<(String, String), CachedTable>>,
}

struct CachedTable {
    provider: Arc<dyn TableProvider>,
    /// Holds the rows' bytes in the engine's memory pool; released when the entry goes.
    _reservation: MemoryReservation,
}

impl TableCache {
    pub fn get(&self, schema: &str, table: &str) -> Option<Arc<dyn TableProvider>> {
        let key = (schema.to_string(), table.to_string());
        self.lock().get(&key).map(|entry| entry.provider.clone())
    }

    pub fn insert(
        &self,
        schema: &str,
        table: &str,
        provider: Arc<dyn TableProvider>,
        reservation: MemoryReservation,
    ) {
        let key = (schema.to_string(), table.to_string());
        let entry = CachedTable {
            provider,
            _reservation: reservation,
        };
        self.lock().insert(key, entry);
    }

    /// Drops a table's rows; whether there were any.
    pub fn remove(&self, schema: &str, table: &str) -> bool {
        let key = (schema.to_string(), table.to_string());
        self.lock().remove(&key).is_some()
    }

    pub fn remove_schema(&self, schema: &str) {
        self.lock().retain(|(s, _), _| s != schema);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), CachedTable>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
