//! The execution runtime: DataFusion's CPU-bound work runs here, off the runtime that serves
//! sockets, so a heavy query cannot delay another connection's protocol messages.
//!
//! Results cross back to the socket side through a bounded channel per query: the engine
//! produces at most `buffer` batches ahead of the client (backpressure), and dropping the
//! receiving [`RowStream`] aborts the producing task, which drops DataFusion's stream and
//! with it every task the plan spawned.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Wraps every operator of `plan` that has inputs in DataFusion's [`CooperativeExec`], so that
/// each batch it emits spends tokio's cooperative budget.
///
/// DataFusion only makes the leaves (scans) cooperative; an operator that emits many batches
/// from memory — a cross join, a nested loop join, a large aggregate's output — then never
/// returns `Pending`, and its task can neither be aborted (cancel, timeout, a client gone)
/// nor share the runtime's threads with other queries. With a budget at every operator,
/// every task yields within a bounded number of batches.
pub fn cooperative(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let wrapped = plan.transform_up(|node| {
        if node.children().is_empty() || node.is::<CooperativeExec>() {
            return Ok(Transformed::no(node));
        }
        let wrapped: Arc<dyn ExecutionPlan> = Arc::new(CooperativeExec::new(node));
        Ok(Transformed::yes(wrapped))
    });
    Ok(wrapped.data()?)
}

/// A multi-threaded tokio runtime of its own, for query execution.
pub struct CpuRuntime {
    handle: tokio::runtime::Handle,
    /// Queries whose producing task is alive: counted up when one starts, down when its
    /// task ends, finished or aborted because the client went away.
    running: Arc<AtomicUsize>,
    /// Dropping the sender lets the runtime's owner thread shut it down.
    _shutdown: std::sync::mpsc::Sender<()>,
}

impl CpuRuntime {
    pub fn try_new(threads: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("lakeport-exec")
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the execution runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (shutdown, wait) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("lakeport-exec-owner".into())
            .spawn(move || {
                let _ = wait.recv();
                runtime.shutdown_background();
            })
            .map_err(|e| Error::internal(format!("cannot start the execution runtime: {e}")))?;
        Ok(Self {
            handle,
            running: Arc::default(),
            _shutdown: shutdown,
        })
    }

    /// How many queries are executing now.
    pub fn running_queries(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Starts executing `plan` on this runtime and returns its rows as a stream.
    pub fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        task_ctx: Arc<TaskContext>,
        buffer: usize,
    ) -> RowStream {
        let schema = plan.schema();
        let (sender, receiver) = mpsc::channel(buffer.max(1));
        let running = RunningQuery::start(&self.running);
        let task = self.handle.spawn(async move {
            let _running = running;
            let produce = async {
                let mut stream = match execute_stream(plan, task_ctx) {
                    Ok(stream) => stream,
                    Err(e) => {
                        let _ = sender.send(Err(Error::from(e))).await;
                        return;
                    }
                };
                while let Some(item) = stream.next().await {
                    let failed = item.is_err();
                    if sender.send(item.map_err(Error::from)).await.is_err() || failed {
                        return;
                    }
                }
            };
            forward_panic(produce, &sender).await;
        });
        RowStream {
            schema,
            receiver,
            task: Some(task),
        }
    }
}

/// Runs a producer; if it panics, the reader gets an XX000 error instead of a stream that
/// just ends early (which would look like a complete, shorter result).
async fn forward_panic(
    produce: impl std::future::Future<Output = ()>,
    sender: &mpsc::Sender<Result<RecordBatch>>,
) {
    if let Err(payload) = std::panic::AssertUnwindSafe(produce).catch_unwind().await {
        let error = Error::from_panic(payload.as_ref());
        tracing::error!(error = %error.message, "query execution panicked");
        let _ = sender.send(Err(error)).await;
    }
}

/// One count in [`CpuRuntime::running_queries`], held by the query's producing task.
struct RunningQuery(Arc<AtomicUsize>);

impl RunningQuery {
    fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for RunningQuery {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The rows of one running query, batch by batch.
pub struct RowStream {
    schema: SchemaRef,
    receiver: mpsc::Receiver<Result<RecordBatch>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RowStream {
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Every remaining batch, read to the end.
    pub async fn collect_all(&mut self) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        while let Some(batch) = self.receiver.recv().await {
            batches.push(batch?);
        }
        Ok(batches)
    }

    /// Every remaining batch, each charged to `reservation` as it arrives (53200 when the
    /// pool has no room left for it).
    pub async fn collect_charged(
        &mut self,
        reservation: &mut datafusion::execution::memory_pool::MemoryReservation,
    ) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        while let Some(batch) = self.receiver.recv().await {
            let batch = batch?;
            reservation.try_grow(batch.get_array_memory_size())?;
            batches.push(batch);
        }
        Ok(batches)
    }

    /// Reads to the end, keeping nothing: how many rows there were.
    pub async fn count_rows(&mut self) -> Result<u64> {
        let mut rows = 0;
        while let Some(batch) = self.receiver.recv().await {
            rows += batch?.num_rows() as u64;
        }
        Ok(rows)
    }

    /// A stream over batches computed already (SHOW, FETCH, constant results).
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let (sender, receiver) = mpsc::channel(batches.len().max(1));
        for batch in batches {
            // The channel has room for every batch, so this cannot fail.
            let _ = sender.try_send(Ok(batch));
        }
        Self {
            schema,
            receiver,
            task: None,
        }
    }

    /// A stream fed by an arbitrary producer task on the caller's runtime.
    pub fn from_stream<S>(schema: SchemaRef, stream: S) -> Self
    where
        S: Stream<Item = Result<RecordBatch>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            let produce = async {
                let mut stream = std::pin::pin!(stream);
                while let Some(item) = stream.next().await {
                    if sender.send(item).await.is_err() {
                        return;
                    }
                }
            };
            forward_panic(produce, &sender).await;
        });
        Self {
            schema,
            receiver,
            task: Some(task),
        }
    }
}

impl RowStream {
    /// The same rows, failing with 54000 once more than `max_rows` would have been produced
    /// (exactly `max_rows` rows come before the error).
    pub fn capped(self, max_rows: u64) -> RowStream {
        enum Phase {
            Streaming(u64),
            Over,
            Done,
        }
        let schema = self.schema();
        let over = move || {
            Error::new(
                crate::error::ErrorKind::ProgramLimitExceeded,
                format!("the query returns more than engine.max_result_rows ({max_rows}) rows"),
            )
            .with_hint("add a LIMIT or a narrower WHERE clause")
        };
        let rows = futures::stream::unfold(
            (self, Phase::Streaming(0)),
            move |(mut inner, phase)| async move {
                let seen = match phase {
                    Phase::Done => return None,
                    Phase::Over => return Some((Err(over()), (inner, Phase::Done))),
                    Phase::Streaming(seen) => seen,
                };
                match inner.next().await? {
                    Err(error) => Some((Err(error), (inner, Phase::Done))),
                    Ok(batch) => {
                        let room = max_rows - seen;
                        let rows = batch.num_rows() as u64;
                        if rows <= room {
                            Some((Ok(batch), (inner, Phase::Streaming(seen + rows))))
                        } else if room == 0 {
                            Some((Err(over()), (inner, Phase::Done)))
                        } else {
                            Some((Ok(batch.slice(0, room as usize)), (inner, Phase::Over)))
                        }
                    }
                }
            },
        );
        RowStream::from_stream(schema, rows)
    }
}

impl Stream for RowStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Reads a [`RowStream`] in pieces of at most a given number of rows, keeping what is left of
/// a batch for the next read: the state behind portals and cursors.
pub struct RowCursor {
    schema: SchemaRef,
    stream: Option<RowStream>,
    pending: Option<RecordBatch>,
}

impl RowCursor {
    pub fn new(stream: RowStream) -> Self {
        Self {
            schema: stream.schema(),
            stream: Some(stream),
            pending: None,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Describes the rows with `schema` (same types, names as the client should see them).
    pub fn with_schema(mut self, schema: SchemaRef) -> Self {
        self.schema = schema;
        self
    }

    /// The next batch of at most `limit` rows (`limit` > 0), or `None` at the end.
    pub async fn next_batch(&mut self, limit: usize) -> Result<Option<RecordBatch>> {
        loop {
            let batch = match self.pending.take() {
                Some(batch) => batch,
                None => match self.stream.as_mut() {
                    None => return Ok(None),
                    Some(stream) => match stream.next().await {
                        Some(Ok(batch)) => batch,
                        Some(Err(e)) => {
                            self.stream = None;
                            return Err(e);
                        }
                        None => {
                            self.stream = None;
                            return Ok(None);
                        }
                    },
                },
            };
            if batch.num_rows() == 0 {
                continue;
            }
            if batch.num_rows() <= limit {
                return Ok(Some(batch));
            }
            self.pending = Some(batch.slice(limit, batch.num_rows() - limit));
            return Ok(Some(batch.slice(0, limit)));
        }
    }

    /// Skips up to `count` rows and returns how many were skipped (MOVE).
    pub async fn skip(&mut self, count: usize) -> Result<usize> {
        let mut skipped = 0;
        while skipped < count {
            match self.next_batch(count - skipped).await? {
                Some(batch) => skipped += batch.num_rows(),
                None => break,
            }
        }
        Ok(skipped)
    }

    pub fn is_finished(&self) -> bool {
        self.stream.is_none() && self.pending.is_none()
    }
}
