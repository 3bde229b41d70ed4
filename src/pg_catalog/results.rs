//! Answers to catalog-only statements, reused while the catalog snapshot they were computed
//! from is current.
//!
//! psql, drivers and BI tools send the same catalog queries over and over (psql's `\d` alone
//! is eight statements); planning and running one through DataFusion costs milliseconds, a
//! kept answer microseconds. A statement qualifies when it reads only pg_catalog and
//! information_schema relations whose rows depend on nothing but the snapshot, and calls only
//! functions whose answers do too; so do statements computed from literals alone (`SELECT 1`,
//! the check connection pools and pgbench send all day), which would otherwise pay for
//! DataFusion's planning on every call. Its rows are kept under (statement text, snapshot key,
//! parameter values) — the key holds the catalog's epoch, so any DDL retires them — and
//! sessions with temporary views never share them. A parameterless statement found here is
//! not even planned; one with parameters is planned (its Describe needs that) but not run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};

use crate::exec::catalog_bridge::Catalog;
use crate::pg_catalog::{SnapshotKey, functions, is_catalog_scan, session_dependent};
use crate::session::QueryContext;

/// Kept answers, by statement text, snapshot and parameter values.
type Answers = HashMap<(String, SnapshotKey, Vec<ScalarValue>), Arc<Answer>>;
static RESULTS: Mutex<Option<Answers>> = Mutex::new(None);
const ANSWERS_KEPT: usize = 512;
/// An answer larger than this is not kept.
const LARGEST_KEPT_BYTES: usize = 4 << 20;

/// The rows of one statement, with the columns as they were described to the client.
#[derive(Debug)]
pub struct Answer {
    pub columns: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Where a statement's answer is kept: its text under the snapshot it was planned against.
#[derive(Debug, Clone)]
pub struct Slot {
    sql: String,
    key: SnapshotKey,
}

/// The slot for `sql` in this session as the catalog is now; `None` for sessions whose
/// catalog view is their own (temporary views).
pub fn slot(catalog: &Catalog, ctx: &QueryContext, sql: &str) -> Option<Slot> {
    Some(Slot {
        sql: sql.to_string(),
        key: super::snapshot_key(catalog, ctx)?,
    })
}

impl Slot {
    /// Whether the catalog is still as it was when the slot was taken.
    pub fn is_current(&self, catalog: &Catalog, ctx: &QueryContext) -> bool {
        super::snapshot_key(catalog, ctx).is_some_and(|key| key == self.key)
    }
}

/// The kept answer for the slot and parameter values, if any.
pub fn lookup(slot: &Slot, params: &[ScalarValue]) -> Option<Arc<Answer>> {
    let results = results();
    results
        .as_ref()?
        .get(&(slot.sql.clone(), slot.key.clone(), params.to_vec()))
        .cloned()
}

/// Keeps an answer; answers of older epochs of the same catalog go.
pub fn store(slot: Slot, params: Vec<ScalarValue>, answer: Answer) {
    let Some(answer) = compacted(answer) else {
        return;
    };
    let bytes: usize = answer
        .batches
        .iter()
        .map(RecordBatch::get_array_memory_size)
        .sum();
    if bytes > LARGEST_KEPT_BYTES {
        return;
    }
    let mut results = results();
    let kept = results.get_or_insert_with(HashMap::new);
    kept.retain(|(_, key, _), _| !key.superseded_by(&slot.key));
    if kept.len() >= ANSWERS_KEPT {
        kept.clear();
    }
    kept.insert((slot.sql, slot.key, params), Arc::new(answer));
}

/// The answer in one batch of its own: result batches often slice arrays of a whole catalog
/// relation, which keeping them would keep too.
fn compacted(answer: Answer) -> Option<Answer> {
    let Some(first) = answer.batches.first() else {
        return Some(answer);
    };
    let batch = concat_batches(&first.schema(), &answer.batches).ok()?;
    let rows = UInt32Array::from_iter_values(0..u32::try_from(batch.num_rows()).ok()?);
    let batch = take_record_batch(&batch, &rows).ok()?;
    Some(Answer {
        columns: answer.columns,
        batches: vec![batch],
    })
}

fn results() -> std::sync::MutexGuard<'static, Option<Answers>> {
    // Entries are inserted whole, so a poisoned map is still consistent.
    RESULTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Table functions whose rows depend on their (constant) arguments only.
const SERIES: &[&str] = &["generate_series()", "range()"];

/// Functions whose answers depend on more than the snapshot and the key's session fields.
const UNKEPT_FUNCTIONS: &[&str] = &[
    "txid_current",
    "inet_client_addr",
    "pg_backend_pid",
    "current_setting",
    "set_config",
];

/// Session constants determined by the snapshot key (database, user, search path).
const KEY_CONSTANTS: &[&str] = &[
    "version",
    "current_database",
    "current_catalog",
    "current_schema",
    "current_schemas",
    "current_user",
    "session_user",
    "user",
    "current_role",
];

/// `current_setting('search_path')`: part of the snapshot key (Grafana's table list asks).
fn reads_search_path(call: &ScalarFunction) -> bool {
    call.func.name() == "current_setting"
        && matches!(
            call.args.first(),
            Some(Expr::Literal(ScalarValue::Utf8(Some(name)), _)) if name.eq_ignore_ascii_case("search_path")
        )
}

/// Whether the planned statement's answer depends only on the catalog snapshot. Statements
/// reading other relations are not kept: their answers change without the catalog's epoch.
///
/// So are statements computing their one row from literals: no input relation, nothing that
/// multiplies rows (VALUES lists, unnest) and nothing that reads data. (One row is within
/// any `engine.max_result_rows`, which kept answers do not pass through.)
pub fn keepable(plan: &LogicalPlan) -> bool {
    let mut keepable = true;
    let mut reads_catalog = false;
    let mut from_literals = true;
    let _ = plan.apply_with_subqueries(|node| {
        from_literals &= matches!(
            node,
            LogicalPlan::Projection(_)
                | LogicalPlan::EmptyRelation(_)
                | LogicalPlan::SubqueryAlias(_)
        );
        if let LogicalPlan::TableScan(scan) = node {
            let table = scan.table_name.table();
            let system = is_catalog_scan(scan);
            let series = scan.table_name.schema().is_none() && SERIES.contains(&table);
            if !(system || series) || session_dependent(table) {
                keepable = false;
            }
            reads_catalog |= system;
        }
        let _ = node.apply_expressions(|expr| {
            expr.apply(|expr| {
                if let Expr::ScalarFunction(call) = expr {
                    let name = call.func.name();
                    let immutable = call.func.signature().volatility == Volatility::Immutable;
                    let snapshot_only = reads_search_path(call)
                        || ((functions::is_catalog_function(name)
                            || KEY_CONSTANTS.contains(&name))
                            && !UNKEPT_FUNCTIONS.contains(&name));
                    keepable &= immutable || snapshot_only;
                }
                Ok(if keepable {
                    TreeNodeRecursion::Continue
                } else {
                    TreeNodeRecursion::Stop
                })
            })
        });
        Ok(if keepable {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    keepable && (reads_catalog || from_literals)
}
