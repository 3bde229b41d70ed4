//! Distributed execution: the server's side of a Ballista cluster (`engine.mode =
//! "distributed"`, feature `distributed`).
//!
//! Planning stays on the server: catalog, pg_catalog, session commands and every statement
//! plan here as in local mode. [`Cluster::route`] then decides where a physical plan runs.
//! It goes to the cluster when it scans files adding up to at least
//! `engine.distributed_min_input` and everything in it can be encoded for the executors (no
//! session functions, see `codec.rs`); it is then wrapped in a [`ClusterQueryExec`], which
//! the engine runs like any plan, so results stream back through the same bounded channel
//! and dropping the stream (cancel, statement timeout, a client gone) cancels the job.
//! Everything else runs here.

mod codec;
mod job;
mod query_exec;

use std::sync::Arc;

use ballista_core::serde::protobuf::KeyValuePair;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;

pub use codec::SharedFunctionsCodec;
pub use query_exec::ClusterQueryExec;

use crate::config::{Config, DistributedFallback, EngineMode, parse_byte_size};
use crate::error::{Error, Result};
use job::SchedulerAddress;

/// The cluster a distributed server sends its large queries to.
#[derive(Debug)]
pub struct Cluster {
    scheduler: SchedulerAddress,
    /// Scans smaller than this stay on the server.
    min_input: u64,
    fallback_local: bool,
    codec: SharedFunctionsCodec,
    /// One Ballista session for this server: executors keep a runtime per session.
    session_id: String,
}

impl Cluster {
    /// The configured cluster, or `None` in local mode.
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>> {
        if config.engine.mode != EngineMode::Distributed {
            return Ok(None);
        }
        let invalid = |e: crate::config::ConfigError| Error::invalid_parameter(e.0);
        let functions = crate::exec::state_with_functions(
            crate::exec::session_config(config),
            Arc::new(RuntimeEnv::default()),
        )?;
        Ok(Some(Arc::new(Self {
            scheduler: SchedulerAddress {
                address: config.engine.scheduler.clone(),
                url: crate::cluster::scheduler_url(&config.engine.scheduler)?,
                connect_timeout: config.cluster.connect_timeout().map_err(invalid)?,
            },
            min_input: parse_byte_size(&config.engine.distributed_min_input).map_err(invalid)?
                as u64,
            fallback_local: config.engine.distributed_fallback == DistributedFallback::Local,
            codec: SharedFunctionsCodec::new(&functions),
            session_id: format!("lakeport-{}-{}", std::process::id(), rand::random::<u32>()),
        })))
    }

    /// `plan` as a job of the cluster if it should run there, else `plan` itself.
    pub fn route(
        self: &Arc<Self>,
        plan: Arc<dyn ExecutionPlan>,
        options: &SessionConfig,
    ) -> Arc<dyn ExecutionPlan> {
        if plan.is::<ClusterQueryExec>() || depth(&plan) > MAX_DEPTH {
            return plan;
        }
        match input_bytes(&plan) {
            Some(bytes) if bytes >= self.min_input => {}
            _ => return plan,
        }
        match self.encode(&plan) {
            Ok(encoded) => Arc::new(ClusterQueryExec::new(
                plan,
                encoded,
                settings(options),
                self.clone(),
            )),
            Err(reason) => {
                tracing::debug!(%reason, "running a query on the server: the cluster cannot run it");
                plan
            }
        }
    }

    fn encode(&self, plan: &Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Vec<u8>> {
        let node = PhysicalPlanNode::try_from_physical_plan(plan.clone(), &self.codec)?;
        let mut encoded = Vec::new();
        node.try_encode(&mut encoded)?;
        Ok(encoded)
    }
}

/// The deepest plan sent to the cluster. Encoding and decoding a plan recurse through it on
/// the server, the scheduler and the executors; a plan nested deeper (a join of dozens of
/// tables) runs on the server. TPC-H's deepest, q21, is about 50 operators deep.
const MAX_DEPTH: usize = 120;

/// How many operators deep `plan` is.
fn depth(plan: &Arc<dyn ExecutionPlan>) -> usize {
    1 + plan.children().into_iter().map(depth).max().unwrap_or(0)
}

/// Bytes of the files `plan` scans, or `None` when it scans no file.
fn input_bytes(plan: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    let mut total: Option<u64> = None;
    let _ = plan.apply(|node| {
        if let Some(source) = node.downcast_ref::<DataSourceExec>()
            && let Some(scan) = source.data_source().downcast_ref::<FileScanConfig>()
        {
            let bytes: u64 = scan
                .file_groups
                .iter()
                .flat_map(|group| group.iter())
                .map(|file| file.object_meta.size)
                .sum();
            *total.get_or_insert(0) += bytes;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    total
}

/// The statement's DataFusion options, for the scheduler and executors to run it with.
fn settings(options: &SessionConfig) -> Vec<KeyValuePair> {
    options
        .options()
        .entries()
        .into_iter()
        .map(|entry| KeyValuePair {
            key: entry.key,
            value: entry.value,
        })
        .collect()
}
