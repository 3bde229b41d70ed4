//! One query as a job of the cluster: submit its plan to the scheduler, follow the job's
//! status, then stream the result partitions from the executors that hold them.
//!
//! Ballista's own client does this too, but keeps the job id to itself and leaves the job
//! running when its stream is dropped. Here the job is submitted with the call that answers
//! with its id, a [`JobGuard`] holds the id, and the job is cancelled on the scheduler if the
//! query is dropped before the job finished: the client cancelled, the statement timed out,
//! or the connection went away. The status is then polled: after 2 ms, and twice as long each
//! time up to every 25 ms (a finished job waits at most that long to be noticed).

use std::time::Duration;

use ballista_core::client::BallistaClient;
use ballista_core::serde::protobuf::execute_query_params::Query;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    CancelJobParams, ExecuteQueryParams, GetJobStatusParams, KeyValuePair, PartitionLocation,
    SuccessfulJob, execute_query_result, job_status,
};
use ballista_core::utils::{GrpcClientConfig, create_grpc_client_endpoint};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt, TryStreamExt};
use tonic::transport::Channel;

use crate::error::{Error, ErrorKind};

/// How often the job's status is asked for: soon after submitting, then less often.
const FIRST_POLL: Duration = Duration::from_millis(2);
const LAST_POLL: Duration = Duration::from_millis(25);

/// The largest gRPC message either side sends (plans with many files, result batches).
const MAX_MESSAGE: usize = 64 << 20;

/// Where the scheduler is and how long to try reaching it.
#[derive(Debug, Clone)]
pub struct SchedulerAddress {
    /// `HOST:PORT`, for messages.
    pub address: String,
    pub url: String,
    pub connect_timeout: Duration,
}

/// Why a job did not give rows.
#[derive(Debug)]
pub enum JobError {
    /// The scheduler could not be reached: nothing was submitted.
    Unreachable(String),
    /// The job was submitted and failed, or its results could not be read.
    Failed(DataFusionError),
}

/// Submits `plan` (an encoded physical plan) and, once the job succeeds, returns its rows.
pub async fn run(
    scheduler: &SchedulerAddress,
    session_id: &str,
    plan: Vec<u8>,
    settings: Vec<KeyValuePair>,
) -> Result<impl Stream<Item = datafusion::error::Result<RecordBatch>> + Send + use<>, JobError> {
    let mut client = connect(scheduler).await?;
    let mut request = tonic::Request::new(ExecuteQueryParams {
        query: Some(Query::PhysicalPlan(plan)),
        settings,
        session_id: session_id.to_string(),
        operation_id: String::new(),
    });
    ballista_core::version::insert_version_header(request.metadata_mut());
    let submitted = match client.execute_query(request).await {
        Ok(response) => response.into_inner().result,
        Err(status) if status.code() == tonic::Code::Unavailable => {
            return Err(unreachable(scheduler, status.message()));
        }
        Err(status) => {
            return Err(failed(format!(
                "the scheduler refused the job: {}",
                status.message()
            )));
        }
    };
    let job_id = match submitted {
        Some(execute_query_result::Result::Success(success)) => success.job_id,
        Some(execute_query_result::Result::Failure(failure)) => {
            return Err(failed(format!(
                "the scheduler refused the job: {failure:?}"
            )));
        }
        None => return Err(failed("the scheduler answered without a job".into())),
    };
    let mut guard = JobGuard {
        client: client.clone(),
        job_id: Some(job_id.clone()),
    };
    let mut wait = FIRST_POLL;
    // Whether the scheduler has reported the job queued or running: after that, a job it no
    // longer knows was lost with it.
    let mut seen = false;
    let success = loop {
        let status = client
            .get_job_status(GetJobStatusParams {
                job_id: job_id.clone(),
            })
            .await
            .map_err(|status| {
                unavailable(format!(
                    "lost the Ballista scheduler at {} while the job ran: {}",
                    scheduler.address,
                    status.message()
                ))
            })?
            .into_inner()
            .status
            .and_then(|status| status.status);
        match status {
            Some(job_status::Status::Failed(failure)) => {
                guard.job_id = None;
                return Err(JobError::Failed(job_failure(&failure.error)));
            }
            Some(job_status::Status::Successful(success)) => break success,
            None if seen => {
                return Err(unavailable(format!(
                    "the Ballista scheduler at {} no longer knows the job (was it restarted?)",
                    scheduler.address
                )));
            }
            // Queued or running; no status yet while the scheduler sets the job up.
            other => {
                seen |= other.is_some();
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LAST_POLL);
            }
        }
    };
    guard.job_id = None;
    Ok(results(success))
}

/// The job's result partitions, one after another.
fn results(
    success: SuccessfulJob,
) -> impl Stream<Item = datafusion::error::Result<RecordBatch>> + Send {
    futures::stream::iter(success.partition_location)
        .map(|location| futures::stream::once(fetch(location)).try_flatten())
        .flatten()
}

async fn fetch(
    location: PartitionLocation,
) -> datafusion::error::Result<datafusion::physical_plan::SendableRecordBatchStream> {
    let layout = location.layout();
    let (Some(executor), Some(partition)) = (location.executor_meta, location.partition_id) else {
        return Err(DataFusionError::Internal(
            "the scheduler named a result partition without its executor".into(),
        ));
    };
    let unreadable = |e: ballista_core::error::BallistaError| {
        Error::new(
            ErrorKind::Storage,
            format!(
                "cannot read results from the executor at {}:{}: {e}",
                executor.host, executor.port
            ),
        )
        .into_datafusion()
    };
    let mut client = BallistaClient::try_new(
        &executor.host,
        executor.port as u16,
        MAX_MESSAGE,
        false,
        None,
        3,
        500,
        0,
        0,
    )
    .await
    .map_err(unreadable)?;
    client
        .fetch_partition(
            &executor.id,
            &partition.into(),
            location.file_id,
            layout,
            true,
        )
        .await
        .map_err(unreadable)
}

async fn connect(scheduler: &SchedulerAddress) -> Result<SchedulerGrpcClient<Channel>, JobError> {
    let config = GrpcClientConfig {
        connect_timeout_seconds: scheduler.connect_timeout.as_secs().max(1),
        max_message_size: MAX_MESSAGE,
        ..GrpcClientConfig::default()
    };
    let endpoint = create_grpc_client_endpoint(scheduler.url.clone(), Some(&config))
        .map_err(|e| unreachable(scheduler, &e.to_string()))?;
    let channel = match tokio::time::timeout(scheduler.connect_timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => return Err(unreachable(scheduler, &error_chain(&e))),
        Err(_) => return Err(unreachable(scheduler, "timed out")),
    };
    Ok(SchedulerGrpcClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

fn unreachable(scheduler: &SchedulerAddress, why: &str) -> JobError {
    JobError::Unreachable(format!(
        "the Ballista scheduler at {} is unavailable: {why}",
        scheduler.address
    ))
}

/// A failed job's error as the server would have reported it running the plan itself.
///
/// Ballista sends a task's error as text, in Rust's debug form:
/// `job failed due to stage 1 failed: Task failed due to runtime execution error:
/// DataFusionError(Shared(External(ArrowError(DivideByZero))))`. The cause is its first
/// quoted message, or else its innermost name in words (`divide by zero`), classified as a
/// local error's text is; what cannot be classified keeps the whole text.
fn job_failure(text: &str) -> DataFusionError {
    let cause = text
        .rsplit_once("execution error: ")
        .map_or(text, |(_, cause)| cause);
    let message = match cause.split_once('"') {
        Some((_, quoted)) => quoted
            .split_once('"')
            .map_or(quoted, |(message, _)| message)
            .to_string(),
        None => words(
            cause
                .trim_end_matches(')')
                .rsplit('(')
                .next()
                .unwrap_or(cause),
        ),
    };
    let error = match cause.contains("ResourcesExhausted") {
        true => DataFusionError::ResourcesExhausted(message),
        false => DataFusionError::Execution(message),
    };
    let error = Error::from_datafusion(error);
    match error.kind {
        ErrorKind::Internal => Error::internal(format!("the cluster job failed: {text}")),
        _ => error,
    }
    .into_datafusion()
}

/// `DivideByZero` as `divide by zero`.
fn words(name: &str) -> String {
    let mut text = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() && !text.is_empty() {
            text.push(' ');
        }
        text.push(c.to_ascii_lowercase());
    }
    text
}

/// The cluster failed the query rather than the query failing (58030, as for a scheduler
/// that cannot be reached).
fn unavailable(message: String) -> JobError {
    JobError::Failed(Error::new(ErrorKind::Storage, message).into_datafusion())
}

fn failed(message: String) -> JobError {
    JobError::Failed(DataFusionError::Execution(message))
}

/// An error with its causes, which tonic keeps apart (`transport error` alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Cancels the job it holds when dropped; cleared once the job has ended.
struct JobGuard {
    client: SchedulerGrpcClient<Channel>,
    job_id: Option<String>,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let Some(job_id) = self.job_id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut client = self.client.clone();
        runtime.spawn(async move {
            match client
                .cancel_job(CancelJobParams {
                    job_id: job_id.clone(),
                })
                .await
            {
                Ok(_) => tracing::info!(job = %job_id, "cancelled the cluster job of a stopped query"),
                Err(e) => tracing::warn!(job = %job_id, error = %e.message(), "could not cancel a cluster job"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_and_message(text: &str) -> (ErrorKind, String) {
        let error = Error::from_datafusion(job_failure(text));
        (error.kind, error.message)
    }

    #[test]
    fn job_failures_read_as_local_errors() {
        let prefix =
            "job failed due to stage 1 failed: Task failed due to runtime execution error: ";
        assert_eq!(
            kind_and_message(&format!(
                "{prefix}DataFusionError(Shared(External(ArrowError(DivideByZero))))"
            )),
            (ErrorKind::DivisionByZero, "division by zero".into())
        );
        let (kind, _) = kind_and_message(&format!(
            "{prefix}DataFusionError(ResourcesExhausted(\"Failed to allocate 10 MB\"))"
        ));
        assert_eq!(kind, ErrorKind::ResourcesExhausted);
        let (kind, message) = kind_and_message("something new went wrong");
        assert_eq!(kind, ErrorKind::Internal);
        assert!(message.contains("something new went wrong"), "{message}");
    }
}
