//! The codec plans are sent to the cluster with: Ballista's own, refusing functions the
//! executors do not have.
//!
//! A plan names its functions; executors find them by name in the functions every lakeport
//! state has ([`crate::exec::state_with_functions`]). Session functions (`current_user`,
//! `current_setting`, catalog lookups, ...) are built per statement on the server and mean
//! nothing elsewhere: a plan calling one cannot be encoded, so it runs on the server.

use std::collections::HashMap;
use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::{Result, plan_err};
use datafusion::execution::{SessionState, TaskContext};
use datafusion::logical_expr::{AggregateUDF, HigherOrderUDF, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

/// Ballista's codec, encoding only the functions executors share with the server.
#[derive(Debug)]
pub struct SharedFunctionsCodec {
    ballista: BallistaPhysicalExtensionCodec,
    scalar: HashMap<String, Arc<ScalarUDF>>,
    aggregate: HashMap<String, Arc<AggregateUDF>>,
    window: HashMap<String, Arc<WindowUDF>>,
    higher_order: HashMap<String, Arc<HigherOrderUDF>>,
}

impl SharedFunctionsCodec {
    /// The functions of `state`, which is built as every executor's is.
    pub fn new(state: &SessionState) -> Self {
        Self {
            ballista: BallistaPhysicalExtensionCodec::default(),
            scalar: state.scalar_functions().clone(),
            aggregate: state.aggregate_functions().clone(),
            window: state.window_functions().clone(),
            higher_order: state.higher_order_functions().clone(),
        }
    }
}

/// Whether `function` is the one executors find under its name.
fn shared<F: PartialEq + ?Sized>(
    known: &HashMap<String, Arc<F>>,
    name: &str,
    function: &F,
) -> Result<()> {
    match known.get(name) {
        Some(theirs) if **theirs == *function => Ok(()),
        _ => plan_err!("{name}() is evaluated on the server only"),
    }
}

impl PhysicalExtensionCodec for SharedFunctionsCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.ballista.try_encode(node, buf, converter)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, _buf: &mut Vec<u8>) -> Result<()> {
        shared(&self.scalar, node.name(), node)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, _buf: &mut Vec<u8>) -> Result<()> {
        shared(&self.aggregate, node.name(), node)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, _buf: &mut Vec<u8>) -> Result<()> {
        shared(&self.window, node.name(), node)
    }

    fn try_encode_higher_order_function(
        &self,
        node: &HigherOrderUDF,
        _buf: &mut Vec<u8>,
    ) -> Result<()> {
        shared(&self.higher_order, node.name(), node)
    }
}
