//! Keeps DataFusion's physical projection pushdown away from plans with lambdas.
//!
//! A lambda parameter is planned as a `LambdaVariable` indexed after its input's columns
//! (`x@1` over a one-column input). When DataFusion's `ProjectionPushdown` merges a
//! projection into a wider input, it renumbers the columns but not the lambda variables, so
//! `x@1` reads the input's second column and the query fails at run time
//! (apache/datafusion#24372: `SELECT id, transform(array(id), x -> x) FROM view`). Until
//! DataFusion rebases the variables, the rule is skipped for plans that hold a lambda; the
//! projections it would have merged stay as they are, which costs a copy of column
//! references, not a wrong result.

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_expr::expressions::LambdaExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::ExecutionPlan;

/// DataFusion's physical optimizer rules, projection pushdown made to skip plans with
/// lambdas.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    PhysicalOptimizer::new()
        .rules
        .into_iter()
        .map(|rule| match rule.name() {
            "ProjectionPushdown" => {
                Arc::new(UnlessLambdas(rule)) as Arc<dyn PhysicalOptimizerRule + Send + Sync>
            }
            _ => rule,
        })
        .collect()
}

/// A rule run only over plans without lambdas.
#[derive(Debug)]
struct UnlessLambdas(Arc<dyn PhysicalOptimizerRule + Send + Sync>);

impl PhysicalOptimizerRule for UnlessLambdas {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if has_lambda(&plan)? {
            return Ok(plan);
        }
        self.0.optimize(plan, config)
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn schema_check(&self) -> bool {
        self.0.schema_check()
    }
}

fn has_lambda(plan: &Arc<dyn ExecutionPlan>) -> DfResult<bool> {
    let mut found = false;
    plan.apply(|node| {
        node.apply_expressions(&mut |expr| {
            found = expr.exists(|e| Ok(e.downcast_ref::<LambdaExpr>().is_some()))?;
            Ok(match found {
                true => TreeNodeRecursion::Stop,
                false => TreeNodeRecursion::Continue,
            })
        })
    })?;
    Ok(found)
}
