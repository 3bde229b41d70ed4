//! `lakeport executor`: Ballista's executor, running tasks with lakeport's functions and the
//! object stores of its own configuration.
//!
//! It serves stage outputs (shuffle files in `cluster.work_dir`, and the final results the
//! server fetches) over Arrow Flight on `cluster.executor_listen`, and takes tasks from the
//! scheduler on the next port. Every task it starts is logged with its job and stage, so an
//! operator (and the tests) can see which executor ran what.

use std::sync::Arc;

use ballista_core::JobId;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;

use super::scheduler::ballista_config;
use super::{executor_memory, host_and_port, role_runtime, seconds};
use crate::config::Config;
use crate::error::{Error, Result};

/// Runs an executor that joins the scheduler at `scheduler` (`HOST:PORT`), until SIGINT or
/// SIGTERM (on which it finishes its running tasks first).
pub async fn run_executor(config: &Config, scheduler: &str) -> Result<()> {
    let (scheduler_host, scheduler_port) = host_and_port(scheduler)?;
    let listen = config.cluster.executor_listen;
    let heartbeat = config
        .cluster
        .heartbeat_interval()
        .map_err(|e| Error::invalid_parameter(e.0))?;
    let memory = executor_memory(config)?;
    let runtime = role_runtime(config, memory)?;
    let base = crate::exec::session_config(config);
    let functions = crate::exec::state_with_functions(base.clone(), runtime.clone())?;
    let work_dir = work_dir(config)?;
    let executor = ExecutorProcessConfig {
        bind_host: listen.ip().to_string(),
        port: listen.port(),
        grpc_port: listen.port() + 1,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: config.cluster.executor_slots,
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir: Some(work_dir.clone()),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: seconds(heartbeat),
        memory_pool_size: Some(memory as u64),
        override_execution_engine: Some(Arc::new(LoggedTasks(DefaultExecutionEngine::new()))),
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&functions))),
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| Ok(runtime.clone()))),
        override_config_producer: Some(Arc::new(move || ballista_config(&base))),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(%listen, scheduler, work_dir, "lakeport executor is starting");
    start_executor_process(Arc::new(executor))
        .await
        .map_err(|e| Error::internal(format!("executor on {listen} failed: {e}")))
}

/// `cluster.work_dir`, or a directory of this executor's own under the system's temporary
/// directory; created if missing.
fn work_dir(config: &Config) -> Result<String> {
    let dir = match config.cluster.work_dir.as_os_str().is_empty() {
        true => std::env::temp_dir().join(format!(
            "lakeport-executor-{}",
            config.cluster.executor_listen.port()
        )),
        false => config.cluster.work_dir.clone(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::invalid_parameter(format!(
            "cluster.work_dir: cannot create {}: {e}",
            dir.display()
        ))
    })?;
    dir.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid_parameter("cluster.work_dir is not valid UTF-8"))
}

/// Ballista's execution engine, logging each task it is given.
struct LoggedTasks(DefaultExecutionEngine);

impl ExecutionEngine for LoggedTasks {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        tracing::info!(job = %job_id, stage = stage_id, task = task_id, "running a task");
        self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )
    }
}
