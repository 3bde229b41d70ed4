//! Subqueries DataFusion cannot turn into joins, run once per distinct set of outer values.
//!
//! DataFusion decorrelates the common shapes (equality correlations in a subquery's WHERE)
//! into joins. The catalog queries clients send use others: an outer column compared with
//! `<>`, passed to `unnest()` or `generate_series()`, used in the subquery's SELECT list, or
//! an `IN (SELECT …)` inside `ORDER BY`. Such a subquery becomes a call of a volatile function
//! whose arguments are the outer columns it reads; for each distinct set of values the
//! function substitutes them into the subquery, plans and runs it to completion, and keeps
//! the answer for the rest of the statement.
//!
//! [`physical_plan`] is the entry point for every statement: before analysis it replaces the
//! subqueries DataFusion would reject or mis-plan, after optimisation whatever the optimiser
//! left in place, and then plans the rest as DataFusion always does. When the optimiser
//! fails on a plan with subqueries (its decorrelation has gaps of its own), every subquery
//! is replaced and the plan optimised again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_empty_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::expr::{Exists, InSubquery, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Subquery, Volatility,
};
use datafusion::physical_plan::ExecutionPlan;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error::{Error, ErrorKind};

/// Plans `plan` for execution, running the subqueries DataFusion cannot decorrelate row by
/// row (see the module documentation).
pub async fn physical_plan(
    state: &SessionState,
    plan: &LogicalPlan,
) -> Result<Arc<dyn ExecutionPlan>> {
    let mut replacer = Replacer::new(state);
    let prepared = replacer.replace(plan.clone(), Stage::BeforeAnalysis)?.data;
    let optimized = match state.optimize(&prepared) {
        Ok(optimized) => optimized,
        // A decorrelation DataFusion attempts and gets wrong: run every subquery by row.
        Err(error) => match replacer.replace(plan.clone(), Stage::AfterOptimization) {
            Ok(replaced) if replaced.transformed => {
                state.optimize(&replaced.data).map_err(|_| error)?
            }
            _ => return Err(error),
        },
    };
    let optimized = replacer.replace(optimized, Stage::AfterOptimization)?.data;
    state
        .query_planner()
        .create_physical_plan(&optimized, state)
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Subqueries the analyzer rejects (correlated ones outside a projection or filter, any
    /// in a sort) or that DataFusion cannot pull up (outer columns read outside the
    /// subquery's filters).
    BeforeAnalysis,
    /// Every subquery the optimiser did not turn into a join.
    AfterOptimization,
}

struct Replacer<'a> {
    state: &'a SessionState,
    /// The state the replaced subqueries run with, cloned on first need.
    runner: Option<Arc<SessionState>>,
}

impl<'a> Replacer<'a> {
    fn new(state: &'a SessionState) -> Self {
        Self {
            state,
            runner: None,
        }
    }

    fn replace(&mut self, plan: LogicalPlan, stage: Stage) -> Result<Transformed<LogicalPlan>> {
        plan.transform_down(|node| self.replace_in_node(node, stage))
    }

    fn replace_in_node(
        &mut self,
        node: LogicalPlan,
        stage: Stage,
    ) -> Result<Transformed<LogicalPlan>> {
        if !node.expressions().iter().any(contains_subquery) {
            return Ok(Transformed::no(node));
        }
        let outer = outer_schema(&node);
        let allows_subqueries = matches!(
            node,
            LogicalPlan::Projection(_)
                | LogicalPlan::Filter(_)
                | LogicalPlan::Aggregate(_)
                | LogicalPlan::Window(_)
                | LogicalPlan::Join(_)
                | LogicalPlan::TableScan(_)
        );
        let allows_correlated = matches!(node, LogicalPlan::Projection(_) | LogicalPlan::Filter(_));
        let must_replace = |subquery: &Subquery| match stage {
            Stage::AfterOptimization => true,
            Stage::BeforeAnalysis => {
                let correlated = !subquery.outer_ref_columns.is_empty();
                !allows_subqueries
                    || (correlated
                        && (!allows_correlated
                            || reads_outer_columns_outside_filters(&subquery.subquery)))
            }
        };
        let preserver = NamePreserver::new(&node);
        node.map_expressions(|expr| {
            if !contains_subquery(&expr) {
                return Ok(Transformed::no(expr));
            }
            let name = preserver.save(&expr);
            let rewritten = expr.transform_down(|expr| match expr {
                Expr::ScalarSubquery(subquery) if must_replace(&subquery) => self
                    .call(Kind::Scalar, subquery, None, &outer)
                    .map(Transformed::yes),
                Expr::Exists(Exists { subquery, negated }) if must_replace(&subquery) => self
                    .call(Kind::Exists { negated }, subquery, None, &outer)
                    .map(Transformed::yes),
                Expr::InSubquery(InSubquery {
                    expr,
                    subquery,
                    negated,
                }) if must_replace(&subquery) => self
                    .call(Kind::In { negated }, subquery, Some(*expr), &outer)
                    .map(Transformed::yes),
                other => Ok(Transformed::no(other)),
            })?;
            Ok(rewritten.update_data(|expr| name.restore(expr)))
        })
    }

    /// The call replacing `subquery`: the outer columns it reads become its arguments, after
    /// the tested value of an `IN`.
    fn call(
        &mut self,
        kind: Kind,
        subquery: Subquery,
        probe: Option<Expr>,
        outer: &DFSchema,
    ) -> Result<Expr> {
        let mut columns = Vec::new();
        for reference in &subquery.outer_ref_columns {
            if let Expr::OuterReferenceColumn(_, column) = reference
                && !columns.contains(column)
            {
                if !outer.has_column(column) {
                    return Err(Error::unsupported(format!(
                        "correlated subquery reading {column} is not supported here"
                    ))
                    .into_datafusion());
                }
                columns.push(column.clone());
            }
        }
        let mut arguments: Vec<Expr> = probe.into_iter().collect();
        arguments.extend(columns.iter().cloned().map(Expr::Column));
        let runner = Arc::clone(
            self.runner
                .get_or_insert_with(|| Arc::new(self.state.clone())),
        );
        let function =
            SubqueryFunction::new(kind, subquery.subquery, columns, arguments.len(), runner);
        Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(function)),
            arguments,
        )))
    }
}

fn is_subquery(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
    )
}

fn contains_subquery(expr: &Expr) -> bool {
    expr.exists(|e| Ok(is_subquery(e))).unwrap_or(false)
}

fn contains_outer_reference(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::OuterReferenceColumn(..))))
        .unwrap_or(false)
}

/// Whether the subquery reads an outer column anywhere but a filter, where DataFusion's
/// decorrelation does not look.
fn reads_outer_columns_outside_filters(plan: &LogicalPlan) -> bool {
    plan.exists(|node| {
        Ok(!matches!(node, LogicalPlan::Filter(_))
            && node.expressions().iter().any(contains_outer_reference))
    })
    .unwrap_or(false)
}

/// The columns a node's expressions can read: its inputs' (its own for a table scan).
fn outer_schema(node: &LogicalPlan) -> DFSchema {
    let inputs = node.inputs();
    if inputs.is_empty() {
        return node.schema().as_ref().clone();
    }
    let mut schema = DFSchema::empty();
    for input in inputs {
        schema.merge(input.schema());
    }
    schema
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `(SELECT x …)`: the first column of its only row, NULL without rows.
    Scalar,
    /// `[NOT] EXISTS (SELECT …)`
    Exists { negated: bool },
    /// `v [NOT] IN (SELECT …)`, with SQL's NULL rules.
    In { negated: bool },
}

/// What a subquery returned for one set of outer values.
#[derive(Debug, Clone)]
enum Answer {
    Value(ScalarValue),
    Rows(bool),
    Set(Vec<ScalarValue>),
}

/// A replaced subquery: a volatile function of the outer columns it reads.
#[derive(Debug)]
struct SubqueryFunction {
    /// Identity for DataFusion's expression equality: no two replacements are the same.
    id: u64,
    kind: Kind,
    subquery: Arc<LogicalPlan>,
    outer: Vec<Column>,
    return_type: DataType,
    signature: Signature,
    runner: Arc<SessionState>,
    answers: Mutex<HashMap<Vec<ScalarValue>, Answer>>,
}

impl SubqueryFunction {
    fn new(
        kind: Kind,
        subquery: Arc<LogicalPlan>,
        outer: Vec<Column>,
        arguments: usize,
        runner: Arc<SessionState>,
    ) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let return_type = match kind {
            Kind::Scalar => subquery
                .schema()
                .fields()
                .first()
                .map(|f| f.data_type().clone())
                .unwrap_or(DataType::Null),
            Kind::Exists { .. } | Kind::In { .. } => DataType::Boolean,
        };
        let signature = if arguments == 0 {
            Signature::nullary(Volatility::Volatile)
        } else {
            Signature::any(arguments, Volatility::Volatile)
        };
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind,
            subquery,
            outer,
            return_type,
            signature,
            runner,
            answers: Mutex::new(HashMap::new()),
        }
    }

    fn answer(&self, values: &[ScalarValue]) -> Result<Answer> {
        let known = self
            .answers
            .lock()
            .map_err(|_| DataFusionError::Internal("subquery answers poisoned".into()))?
            .get(values)
            .cloned();
        if let Some(answer) = known {
            return Ok(answer);
        }
        let plan = substitute(&self.subquery, &self.outer, values)?;
        let answer = match self.kind {
            Kind::Scalar => {
                let rows = first_column(run(&self.runner, plan, Some(2))?)?;
                if rows.len() > 1 {
                    return Err(Error::new(
                        ErrorKind::CardinalityViolation,
                        "more than one row returned by a subquery used as an expression",
                    )
                    .into_datafusion());
                }
                match rows.first() {
                    Some(value) => Answer::Value(value.cast_to(&self.return_type)?),
                    None => Answer::Value(ScalarValue::try_from(&self.return_type)?),
                }
            }
            Kind::Exists { .. } => {
                let batches = run(&self.runner, plan, Some(1))?;
                Answer::Rows(batches.iter().any(|b| b.num_rows() > 0))
            }
            Kind::In { .. } => Answer::Set(first_column(run(&self.runner, plan, None)?)?),
        };
        self.answers
            .lock()
            .map_err(|_| DataFusionError::Internal("subquery answers poisoned".into()))?
            .insert(values.to_vec(), answer.clone());
        Ok(answer)
    }

    fn value(&self, answer: &Answer, probe: Option<ScalarValue>) -> Result<ScalarValue> {
        Ok(match (self.kind, answer) {
            (Kind::Scalar, Answer::Value(value)) => value.clone(),
            (Kind::Exists { negated }, Answer::Rows(found)) => {
                ScalarValue::Boolean(Some(*found != negated))
            }
            (Kind::In { negated }, Answer::Set(set)) => {
                let found = membership(probe.unwrap_or(ScalarValue::Null), set)?;
                ScalarValue::Boolean(found.map(|found| found != negated))
            }
            _ => {
                return Err(DataFusionError::Internal(
                    "subquery answer of the wrong kind".into(),
                ));
            }
        })
    }
}

/// SQL's `IN`: true when found, false when absent from a set without NULLs (or empty),
/// unknown otherwise.
fn membership(probe: ScalarValue, set: &[ScalarValue]) -> Result<Option<bool>> {
    if set.is_empty() {
        return Ok(Some(false));
    }
    if probe.is_null() {
        return Ok(None);
    }
    let mut saw_null = false;
    for value in set {
        if value.is_null() {
            saw_null = true;
            continue;
        }
        let probe = if probe.data_type() == value.data_type() {
            probe.clone()
        } else {
            probe.cast_to(&value.data_type())?
        };
        if probe == *value {
            return Ok(Some(true));
        }
    }
    Ok(if saw_null { None } else { Some(false) })
}

/// The first column of every row.
fn first_column(batches: Vec<RecordBatch>) -> Result<Vec<ScalarValue>> {
    let mut values = Vec::new();
    for batch in &batches {
        let Some(column) = batch.columns().first() else {
            continue;
        };
        for row in 0..batch.num_rows() {
            values.push(ScalarValue::try_from_array(column, row)?);
        }
    }
    Ok(values)
}

/// The subquery with the outer columns' values in place of the references to them; nested
/// subqueries learn which outer references they still have, and a correlated relation (such
/// as `unnest(outer.column)` in FROM) left without any becomes a plain one.
fn substitute(
    subquery: &LogicalPlan,
    outer: &[Column],
    values: &[ScalarValue],
) -> Result<LogicalPlan> {
    let literal = |field: &datafusion::arrow::datatypes::FieldRef, column: &Column| {
        outer
            .iter()
            .position(|c| c == column)
            .and_then(|i| values.get(i))
            .map(|value| value.cast_to(field.data_type()))
            .transpose()
    };
    subquery
        .clone()
        .transform_up_with_subqueries(|node| {
            if let LogicalPlan::Subquery(relation) = &node
                && relation.subquery.all_out_ref_exprs().is_empty()
            {
                return Ok(Transformed::yes(relation.subquery.as_ref().clone()));
            }
            let preserver = NamePreserver::new(&node);
            node.map_expressions(|expr| {
                if !contains_outer_reference(&expr) && !contains_subquery(&expr) {
                    return Ok(Transformed::no(expr));
                }
                let name = preserver.save(&expr);
                let rewritten = expr.transform_up(|expr| match expr {
                    Expr::OuterReferenceColumn(field, column) => match literal(&field, &column)? {
                        Some(value) => Ok(Transformed::yes(Expr::Literal(value, None))),
                        None => Ok(Transformed::no(Expr::OuterReferenceColumn(field, column))),
                    },
                    Expr::ScalarSubquery(subquery) => {
                        Ok(Transformed::yes(Expr::ScalarSubquery(refreshed(subquery))))
                    }
                    Expr::Exists(Exists { subquery, negated }) => {
                        Ok(Transformed::yes(Expr::Exists(Exists {
                            subquery: refreshed(subquery),
                            negated,
                        })))
                    }
                    Expr::InSubquery(InSubquery {
                        expr,
                        subquery,
                        negated,
                    }) => Ok(Transformed::yes(Expr::InSubquery(InSubquery {
                        expr,
                        subquery: refreshed(subquery),
                        negated,
                    }))),
                    other => Ok(Transformed::no(other)),
                })?;
                Ok(rewritten.update_data(|expr| name.restore(expr)))
            })
        })
        .map(|t| t.data)
}

fn refreshed(mut subquery: Subquery) -> Subquery {
    subquery.outer_ref_columns = subquery.subquery.all_out_ref_exprs();
    subquery
}

/// Plans and runs a substituted subquery to completion from inside a running query: the
/// worker thread hands its other tasks over while it waits.
fn run(
    state: &Arc<SessionState>,
    plan: LogicalPlan,
    limit: Option<usize>,
) -> Result<Vec<RecordBatch>> {
    let plan = match limit {
        Some(limit) => LogicalPlanBuilder::from(plan)
            .limit(0, Some(limit))?
            .build()?,
        None => plan,
    };
    let handle = Handle::try_current()
        .ok()
        .filter(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
        .ok_or_else(|| {
            DataFusionError::Internal("a subquery ran outside the query runtime".into())
        })?;
    let state = Arc::clone(state);
    tokio::task::block_in_place(move || {
        handle.block_on(async move {
            let physical = physical_plan(&state, &plan).await?;
            datafusion::physical_plan::collect(physical, state.task_ctx()).await
        })
    })
}

impl PartialEq for SubqueryFunction {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for SubqueryFunction {}

impl Hash for SubqueryFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl ScalarUDFImpl for SubqueryFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Scalar => "subquery",
            Kind::Exists { negated: false } => "exists",
            Kind::Exists { negated: true } => "not_exists",
            Kind::In { negated: false } => "in_subquery",
            Kind::In { negated: true } => "not_in_subquery",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        if rows == 0 {
            return Ok(ColumnarValue::Array(new_empty_array(&self.return_type)));
        }
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let (probe, outer) = match self.kind {
            Kind::In { .. } => match arrays.split_first() {
                Some((probe, outer)) => (Some(probe), outer),
                None => return Err(DataFusionError::Internal("IN without a value".into())),
            },
            _ => (None, arrays.as_slice()),
        };
        let mut results = Vec::with_capacity(rows);
        for row in 0..rows {
            let values: Vec<ScalarValue> = outer
                .iter()
                .map(|a| ScalarValue::try_from_array(a, row))
                .collect::<Result<_>>()?;
            let answer = self.answer(&values)?;
            let probe = probe
                .map(|p| ScalarValue::try_from_array(p, row))
                .transpose()?;
            results.push(self.value(&answer, probe)?);
        }
        ScalarValue::iter_to_array(results).map(ColumnarValue::Array)
    }
}
