//! Every store the registry opens is wrapped here, to count its requests by kind — listings,
//! Parquet footer reads, other reads, writes — and log each at debug level under the target
//! `lakeport::storage::requests`. The counts show what the caches save: a query run a
//! second time should list nothing and read no footer.
//!
//! A read counts as a footer read when it asks for the end of the object: a suffix range,
//! or a range (or one of a batch of ranges) ending at the size a listing through this store
//! reported.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use url::Url;

/// Sizes remembered from listings, at most this many (then forgotten all at once).
const REMEMBERED_SIZES: usize = 200_000;

/// Request counters shared by every store of a registry.
#[derive(Debug, Default)]
pub struct Requests {
    lists: AtomicU64,
    footer_reads: AtomicU64,
    reads: AtomicU64,
    heads: AtomicU64,
    writes: AtomicU64,
    deletes: AtomicU64,
    copies: AtomicU64,
    bytes_read: AtomicU64,
    errors: AtomicU64,
}

/// A snapshot of [`Requests`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub lists: u64,
    /// Reads of an object's end: Parquet footers.
    pub footer_reads: u64,
    /// Other reads (whole objects, ranges, batches of ranges).
    pub reads: u64,
    pub heads: u64,
    pub writes: u64,
    pub deletes: u64,
    pub copies: u64,
    /// Bytes the reads asked for and got.
    pub bytes_read: u64,
    /// Reads and writes that failed, other than for a missing object.
    pub errors: u64,
}

impl Requests {
    pub fn counts(&self) -> RequestCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestCounts {
            lists: get(&self.lists),
            footer_reads: get(&self.footer_reads),
            reads: get(&self.reads),
            heads: get(&self.heads),
            writes: get(&self.writes),
            deletes: get(&self.deletes),
            copies: get(&self.copies),
            bytes_read: get(&self.bytes_read),
            errors: get(&self.errors),
        }
    }
}

impl std::ops::Sub for RequestCounts {
    type Output = RequestCounts;

    fn sub(self, before: RequestCounts) -> RequestCounts {
        RequestCounts {
            lists: self.lists - before.lists,
            footer_reads: self.footer_reads - before.footer_reads,
            reads: self.reads - before.reads,
            heads: self.heads - before.heads,
            writes: self.writes - before.writes,
            deletes: self.deletes - before.deletes,
            copies: self.copies - before.copies,
            bytes_read: self.bytes_read - before.bytes_read,
            errors: self.errors - before.errors,
        }
    }
}

fn count(counter: &AtomicU64, op: &'static str, path: &dyn fmt::Display) {
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(target: "lakeport::storage::requests", op, %path);
}

/// A store whose requests are counted in `requests`.
#[derive(Debug)]
pub struct Metered {
    inner: Arc<dyn ObjectStore>,
    requests: Arc<Requests>,
    sizes: Arc<Mutex<HashMap<Path, u64>>>,
}

impl Metered {
    pub fn new(inner: Arc<dyn ObjectStore>, requests: Arc<Requests>) -> Self {
        Self {
            inner,
            requests,
            sizes: Arc::default(),
        }
    }

    /// Counts `result` as an error unless it succeeded or found nothing.
    fn failures<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result
            && !matches!(error, object_store::Error::NotFound { .. })
        {
            self.requests.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn add_bytes(&self, bytes: u64) {
        self.requests.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    fn is_footer(&self, location: &Path, range: Option<&GetRange>) -> bool {
        match range {
            Some(GetRange::Suffix(_)) => true,
            Some(GetRange::Bounded(range)) => self.ends_object(location, range),
            _ => false,
        }
    }

    /// Whether `range` reaches the end of the object, as its listing reported it.
    fn ends_object(&self, location: &Path, range: &Range<u64>) -> bool {
        self.sizes
            .lock()
            .map(|sizes| sizes.get(location) == Some(&range.end))
            .unwrap_or(false)
    }
}

/// Remembers the sizes of listed objects, for telling footer reads apart.
fn remember_sizes(
    sizes: Arc<Mutex<HashMap<Path, u64>>>,
    stream: BoxStream<'static, Result<ObjectMeta>>,
) -> BoxStream<'static, Result<ObjectMeta>> {
    stream
        .inspect(move |item| {
            if let (Ok(meta), Ok(mut sizes)) = (item, sizes.lock()) {
                if sizes.len() >= REMEMBERED_SIZES {
                    sizes.clear();
                }
                sizes.insert(meta.location.clone(), meta.size);
            }
        })
        .boxed()
}

impl fmt::Display for Metered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl ObjectStore for Metered {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        count(&self.requests.writes, "put", location);
        self.failures(self.inner.put_opts(location, payload, opts).await)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        count(&self.requests.writes, "put_multipart", location);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            count(&self.requests.heads, "head", location);
        } else if self.is_footer(location, options.range.as_ref()) {
            count(&self.requests.footer_reads, "get_footer", location);
        } else {
            count(&self.requests.reads, "get", location);
        }
        let head = options.head;
        let result = self.failures(self.inner.get_opts(location, options).await)?;
        if !head {
            self.add_bytes(result.range.end - result.range.start);
        }
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        if ranges.iter().any(|range| self.ends_object(location, range)) {
            count(&self.requests.footer_reads, "get_footer", location);
        } else {
            count(&self.requests.reads, "get_ranges", location);
        }
        let parts = self.failures(self.inner.get_ranges(location, ranges).await)?;
        self.add_bytes(parts.iter().map(|part| part.len() as u64).sum());
        Ok(parts)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let requests = self.requests.clone();
        let counted = locations
            .inspect(move |item| {
                if let Ok(path) = item {
                    count(&requests.deletes, "delete", path);
                }
            })
            .boxed();
        self.inner.delete_stream(counted)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        count(
            &self.requests.lists,
            "list",
            &prefix.cloned().unwrap_or_default(),
        );
        remember_sizes(self.sizes.clone(), self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        count(
            &self.requests.lists,
            "list",
            &prefix.cloned().unwrap_or_default(),
        );
        remember_sizes(
            self.sizes.clone(),
            self.inner.list_with_offset(prefix, offset),
        )
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        count(
            &self.requests.lists,
            "list",
            &prefix.cloned().unwrap_or_default(),
        );
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        count(&self.requests.copies, "copy", from);
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        count(&self.requests.copies, "rename", from);
        self.inner.rename_opts(from, to, options).await
    }
}

/// A registry whose stores also count into `requests`: what one statement asks of storage,
/// on top of the server-wide counts of the stores underneath.
#[derive(Debug)]
pub struct MeteredRegistry {
    inner: Arc<dyn ObjectStoreRegistry>,
    requests: Arc<Requests>,
}

impl MeteredRegistry {
    pub fn new(inner: Arc<dyn ObjectStoreRegistry>, requests: Arc<Requests>) -> Self {
        Self { inner, requests }
    }
}

impl ObjectStoreRegistry for MeteredRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        let store = self.inner.get_store(url)?;
        Ok(Arc::new(Metered::new(store, self.requests.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn requests_are_counted_by_kind() {
        let requests = Arc::new(Requests::default());
        let store = Metered::new(Arc::new(InMemory::new()), requests.clone());
        let path = Path::from("t/a.parquet");
        store
            .put(&path, PutPayload::from_static(b"0123456789"))
            .await
            .unwrap();
        let listed: Vec<ObjectMeta> = store
            .list(Some(&Path::from("t")))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        store.get_range(&path, 6..10).await.unwrap();
        store.get_range(&path, 0..4).await.unwrap();
        store.get_ranges(&path, &[0..2, 4..6]).await.unwrap();
        store.get_ranges(&path, &[0..2, 8..10]).await.unwrap();
        store.head(&path).await.unwrap();
        store.copy(&path, &Path::from("t/b.parquet")).await.unwrap();
        store.delete(&path).await.unwrap();
        assert_eq!(
            requests.counts(),
            RequestCounts {
                lists: 1,
                footer_reads: 2,
                reads: 2,
                heads: 1,
                writes: 1,
                deletes: 1,
                copies: 1,
                bytes_read: 4 + 4 + 4 + 4,
                errors: 0,
            }
        );
    }
}
