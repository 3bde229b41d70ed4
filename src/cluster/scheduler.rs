//! `lakeport scheduler`: Ballista's scheduler, deciding plans with lakeport's functions.
//!
//! Jobs arrive as physical plans the server made; the scheduler splits them into stages at
//! their exchanges and pushes the tasks to executors (push scheduling, so that a cancelled
//! job's running tasks are stopped too). Its state is in memory: jobs running when it stops
//! are lost (their queries fail), executors register again on their next heartbeat.

use std::future::Future;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::start_server;
use datafusion::prelude::SessionConfig;

use super::{role_runtime, seconds};
use crate::config::Config;
use crate::error::{Error, Result};

/// Runs a scheduler on `cluster.scheduler_listen` until `shutdown` completes.
pub async fn run_scheduler(config: &Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let address = config.cluster.scheduler_listen;
    let executor_timeout = config
        .cluster
        .executor_timeout()
        .map_err(|e| Error::invalid_parameter(e.0))?;
    // The scheduler decodes plans but reads no data: a small pool is enough.
    let runtime = role_runtime(config, 64 << 20)?;
    let base = crate::exec::session_config(config);
    let producer_base = base.clone();
    let scheduler = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: address.ip().to_string(),
        scheduling_policy: TaskSchedulingPolicy::PushStaged,
        // One scheduler: spread each stage's tasks over the executors rather than filling one.
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: seconds(executor_timeout),
        expire_dead_executor_interval_seconds: seconds(executor_timeout / 3),
        no_executors_grace_period_seconds: seconds(executor_timeout),
        override_config_producer: Some(Arc::new(move || ballista_config(&producer_base))),
        override_session_builder: Some(Arc::new(move |session: SessionConfig| {
            crate::exec::state_with_functions(session, runtime.clone())
                .map_err(Error::into_datafusion)
        })),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&scheduler)
        .await
        .map_err(|e| Error::internal(format!("cannot start the scheduler: {e}")))?;
    tracing::info!(%address, "lakeport scheduler is ready: executors join with `lakeport executor --scheduler {address}`");
    tokio::select! {
        served = start_server(cluster, address, Arc::new(scheduler)) => served
            .map_err(|e| Error::internal(format!("scheduler on {address} failed: {e}"))),
        () = shutdown => Ok(()),
    }
}

/// lakeport's session options with Ballista's own settings beside them, which a job's
/// settings then update.
pub(super) fn ballista_config(base: &SessionConfig) -> SessionConfig {
    use ballista_core::config::BallistaConfig;
    base.clone()
        .with_option_extension(BallistaConfig::default())
}
