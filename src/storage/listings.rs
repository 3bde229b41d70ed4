//! Listing a directory's data files, and the bounded cache of those listings.
//!
//! A table scan lists each (surviving) partition directory once; the listing is kept here
//! under its table's name until DDL, an INSERT or `REFRESH TABLE` on that table forgets
//! it, until it is older than `[storage] listing_ttl` (when set), or until the cache needs
//! its room (least recently used first). A listing that started before its table was
//! invalidated is returned but not kept, so a stale listing never outlives the change that
//! made it stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use datafusion::datasource::listing::ListingTableUrl;
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::Result;
use crate::storage::errors::storage_error;

/// The data files under a directory, sorted, skipping Hadoop's hidden files (`_SUCCESS`,
/// `.part-0.crc`, `_temporary/`, ...: any path component starting with `_` or `.`) and
/// empty files.
pub async fn list_data_files(
    store: &Arc<dyn ObjectStore>,
    url: &ListingTableUrl,
) -> Result<Vec<ObjectMeta>> {
    let prefix = url.prefix();
    let mut files: Vec<ObjectMeta> = store
        .list(Some(prefix))
        .try_filter(|meta| {
            let visible = meta
                .location
                .prefix_match(prefix)
                .map(|mut parts| parts.all(|part| !is_hidden(part.as_ref())))
                .unwrap_or(false);
            std::future::ready(visible && meta.size > 0)
        })
        .try_collect()
        .await
        .map_err(|e| storage_error("list", url.as_str(), &e))?;
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(files)
}

pub fn is_hidden(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.')
}

/// A table, as the owner of cached listings: (database, name).
pub type TableKey = (String, String);

pub struct ListingCache {
    ttl: Option<Duration>,
    capacity: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for ListingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (entries, size) = self.usage();
        f.debug_struct("ListingCache")
            .field("entries", &entries)
            .field("size", &size)
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[derive(Default)]
struct State {
    /// Per table, its directories' listings by directory URL.
    tables: HashMap<TableKey, HashMap<String, Entry>>,
    /// Estimated bytes of all entries.
    size: usize,
    /// Bumped for each use, to find the least recently used entry.
    clock: u64,
    /// Bumped by every invalidation: a listing that began before one is not kept.
    generation: u64,
    /// Lookups answered from the cache, and those that listed.
    hits: u64,
    misses: u64,
}

struct Entry {
    files: Arc<[ObjectMeta]>,
    listed: Instant,
    size: usize,
    used: u64,
}

impl ListingCache {
    /// A cache of at most `capacity` estimated bytes whose entries expire after `ttl`.
    pub fn new(capacity: usize, ttl: Option<Duration>) -> Self {
        Self {
            ttl,
            capacity,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Entries are inserted whole, so a poisoned cache is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The data files of `url`, a directory of `table`: from the cache, or listed now.
    pub async fn files(
        &self,
        table: &TableKey,
        store: &Arc<dyn ObjectStore>,
        url: &ListingTableUrl,
    ) -> Result<Arc<[ObjectMeta]>> {
        let generation = {
            let mut state = self.state();
            state.clock += 1;
            let clock = state.clock;
            let cached = state
                .tables
                .get_mut(table)
                .and_then(|directories| directories.get_mut(url.as_str()))
                .filter(|entry| self.ttl.is_none_or(|ttl| entry.listed.elapsed() < ttl));
            if let Some(entry) = cached {
                entry.used = clock;
                let files = entry.files.clone();
                state.hits += 1;
                return Ok(files);
            }
            state.misses += 1;
            state.generation
        };
        let files: Arc<[ObjectMeta]> = list_data_files(store, url).await?.into();
        let size = estimated_size(table, url.as_str(), &files);
        let mut state = self.state();
        if state.generation == generation && size <= self.capacity {
            state.clock += 1;
            let entry = Entry {
                files: files.clone(),
                listed: Instant::now(),
                size,
                used: state.clock,
            };
            let replaced = state
                .tables
                .entry(table.clone())
                .or_default()
                .insert(url.as_str().to_string(), entry);
            state.size += size;
            state.size -= replaced.map_or(0, |old| old.size);
            while state.size > self.capacity && state.evict_least_recent() {}
        }
        Ok(files)
    }

    /// Forgets every listing of `table`, and any listing now in progress.
    pub fn invalidate(&self, table: &TableKey) {
        let mut state = self.state();
        state.generation += 1;
        if let Some(directories) = state.tables.remove(table) {
            state.size -= directories.values().map(|e| e.size).sum::<usize>();
        }
    }

    /// Forgets every listing of the tables of `database`, and any listing in progress.
    pub fn invalidate_database(&self, database: &str) {
        let mut state = self.state();
        state.generation += 1;
        let mut freed = 0;
        state.tables.retain(|(db, _), directories| {
            if db != database {
                return true;
            }
            freed += directories.values().map(|e| e.size).sum::<usize>();
            false
        });
        state.size -= freed;
    }

    /// (hits, misses) of lookups so far, for monitoring.
    pub fn lookups(&self) -> (u64, u64) {
        let state = self.state();
        (state.hits, state.misses)
    }

    /// (entries, estimated bytes), for tests and monitoring.
    pub fn usage(&self) -> (usize, usize) {
        let state = self.state();
        (state.tables.values().map(HashMap::len).sum(), state.size)
    }
}

impl State {
    /// Removes the least recently used entry; `false` when there is none.
    fn evict_least_recent(&mut self) -> bool {
        let oldest = self
            .tables
            .iter()
            .flat_map(|(table, directories)| {
                directories
                    .iter()
                    .map(move |(url, entry)| (entry.used, table, url))
            })
            .min_by_key(|(used, _, _)| *used)
            .map(|(_, table, url)| (table.clone(), url.clone()));
        let Some((table, url)) = oldest else {
            return false;
        };
        if let Some(directories) = self.tables.get_mut(&table) {
            if let Some(entry) = directories.remove(&url) {
                self.size -= entry.size;
            }
            if directories.is_empty() {
                self.tables.remove(&table);
            }
        }
        true
    }
}

fn estimated_size(table: &TableKey, url: &str, files: &[ObjectMeta]) -> usize {
    let per_file = std::mem::size_of::<ObjectMeta>() + 16;
    table.0.len()
        + table.1.len()
        + url.len()
        + files
            .iter()
            .map(|meta| {
                per_file + meta.location.as_ref().len() + meta.e_tag.as_ref().map_or(0, String::len)
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};

    async fn put(store: &Arc<dyn ObjectStore>, path: &str) {
        store
            .put(&Path::from(path), PutPayload::from_static(b"data"))
            .await
            .unwrap();
    }

    fn table(name: &str) -> TableKey {
        ("db".into(), name.into())
    }

    #[tokio::test]
    async fn listings_skip_hidden_files_and_stay_until_invalidated() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        put(&store, "t/a.parquet").await;
        put(&store, "t/_SUCCESS").await;
        put(&store, "t/.b.parquet.inprogress").await;
        put(&store, "t/_temporary/c.parquet").await;
        let url = ListingTableUrl::parse("memory:///t/").unwrap();
        let cache = ListingCache::new(1 << 20, None);
        let first = cache.files(&table("t"), &store, &url).await.unwrap();
        assert_eq!(first.len(), 1);
        put(&store, "t/d.parquet").await;
        assert_eq!(
            cache.files(&table("t"), &store, &url).await.unwrap().len(),
            1
        );
        cache.invalidate(&table("other"));
        assert_eq!(
            cache.files(&table("t"), &store, &url).await.unwrap().len(),
            1
        );
        cache.invalidate(&table("t"));
        assert_eq!(
            cache.files(&table("t"), &store, &url).await.unwrap().len(),
            2
        );
    }

    #[tokio::test]
    async fn listings_expire_after_the_ttl() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        put(&store, "t/a.parquet").await;
        let url = ListingTableUrl::parse("memory:///t/").unwrap();
        let cache = ListingCache::new(1 << 20, Some(Duration::from_millis(50)));
        assert_eq!(
            cache.files(&table("t"), &store, &url).await.unwrap().len(),
            1
        );
        put(&store, "t/b.parquet").await;
        assert_eq!(
            cache.files(&table("t"), &store, &url).await.unwrap().len(),
            1
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            cache.files(&table("t"), &store, &url).await.unwrap().len(),
            2
        );
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_size() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        for dir in 0..20 {
            put(&store, &format!("t/d={dir}/part.parquet")).await;
        }
        let one = {
            let probe = ListingCache::new(1 << 20, None);
            let url = ListingTableUrl::parse("memory:///t/d=0/").unwrap();
            probe.files(&table("t"), &store, &url).await.unwrap();
            probe.usage().1
        };
        let cache = ListingCache::new(one * 5, None);
        for dir in 0..20 {
            let url = ListingTableUrl::parse(format!("memory:///t/d={dir}/")).unwrap();
            cache.files(&table("t"), &store, &url).await.unwrap();
            let (_, size) = cache.usage();
            assert!(size <= one * 5, "{size} > {}", one * 5);
        }
        assert!(cache.usage().0 >= 4, "{:?}", cache.usage());
        cache.invalidate_database("db");
        assert_eq!(cache.usage(), (0, 0));
    }
}
