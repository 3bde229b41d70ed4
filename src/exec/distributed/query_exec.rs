//! [`ClusterQueryExec`]: a plan the cluster runs, as one node the server's engine executes.

use std::fmt;
use std::sync::Arc;

use ballista_core::serde::protobuf::KeyValuePair;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, execute_stream,
};
use futures::{StreamExt, TryStreamExt};

use super::Cluster;
use super::job::{self, JobError};
use crate::error::{Error, ErrorKind};

/// Runs `plan` as a job of the cluster and streams its rows. When the scheduler cannot be
/// reached and `engine.distributed_fallback = "local"`, runs `plan` here instead.
#[derive(Debug)]
pub struct ClusterQueryExec {
    plan: Arc<dyn ExecutionPlan>,
    encoded: Arc<Vec<u8>>,
    settings: Vec<KeyValuePair>,
    cluster: Arc<Cluster>,
    properties: Arc<PlanProperties>,
}

impl ClusterQueryExec {
    pub fn new(
        plan: Arc<dyn ExecutionPlan>,
        encoded: Vec<u8>,
        settings: Vec<KeyValuePair>,
        cluster: Arc<Cluster>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(plan.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            plan,
            encoded: Arc::new(encoded),
            settings,
            cluster,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for ClusterQueryExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ClusterQueryExec: scheduler={}",
            self.cluster.scheduler.address
        )
    }
}

impl ExecutionPlan for ClusterQueryExec {
    fn name(&self) -> &str {
        "ClusterQueryExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// The plan the cluster runs, for EXPLAIN to show; this node never executes it here
    /// except as the fallback.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.plan]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// Children are for display: a new one is not sent to the cluster.
    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (cluster, plan) = (self.cluster.clone(), self.plan.clone());
        let (encoded, settings) = (self.encoded.clone(), self.settings.clone());
        let rows = async move {
            let submitted = job::run(
                &cluster.scheduler,
                &cluster.session_id,
                encoded.as_ref().clone(),
                settings,
            )
            .await;
            match submitted {
                Ok(rows) => Ok(rows.boxed()),
                Err(JobError::Unreachable(why)) if cluster.fallback_local => {
                    tracing::warn!(%why, "running the query on the server instead");
                    Ok(execute_stream(plan, context)?.boxed())
                }
                Err(JobError::Unreachable(why)) => {
                    Err(Error::new(ErrorKind::Storage, why).into_datafusion())
                }
                Err(JobError::Failed(error)) => Err(error),
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.plan.schema(),
            futures::stream::once(rows).try_flatten(),
        )))
    }
}
