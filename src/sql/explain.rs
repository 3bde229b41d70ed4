//! EXPLAIN as PostgreSQL answers it: one text column, `QUERY PLAN`, one row per line of the
//! physical plan (with each operator's metrics after ANALYZE, which runs the query and
//! ends with its execution time), or with FORMAT JSON one row holding the plan as JSON.
//!
//! Options come in PostgreSQL's two spellings, `EXPLAIN ANALYZE VERBOSE q` and
//! `EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) q`; COSTS, BUFFERS, TIMING, SUMMARY, SETTINGS
//! and WAL are accepted and change nothing.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::sql::sqlparser::ast::{AnalyzeFormatKind, Expr, Statement, Value};
use serde_json::json;

use crate::error::{Error, ErrorKind, Result};

/// What an EXPLAIN asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExplainOptions {
    pub analyze: bool,
    pub verbose: bool,
    pub json: bool,
}

/// The statement an EXPLAIN explains, and its options.
pub fn parse(statement: Statement) -> Result<(Statement, ExplainOptions)> {
    let Statement::Explain {
        analyze,
        verbose,
        statement,
        format,
        options,
        ..
    } = statement
    else {
        return Err(Error::internal("not an EXPLAIN statement"));
    };
    let mut explain = ExplainOptions {
        analyze,
        verbose,
        json: false,
    };
    if let Some(format) = format {
        let (AnalyzeFormatKind::Keyword(format) | AnalyzeFormatKind::Assignment(format)) = format;
        explain.json = json_format(&format.to_string())?;
    }
    for option in options.unwrap_or_default() {
        let name = option.name.value.to_ascii_lowercase();
        let argument = option.arg.as_ref().map(argument_text);
        match name.as_str() {
            "analyze" => explain.analyze = boolean(&name, argument.as_deref())?,
            "verbose" => explain.verbose = boolean(&name, argument.as_deref())?,
            "format" => explain.json = json_format(argument.as_deref().unwrap_or(""))?,
            "costs" | "buffers" | "timing" | "summary" | "settings" | "wal" => {
                boolean(&name, argument.as_deref())?;
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Syntax,
                    format!("unrecognized EXPLAIN option \"{name}\""),
                ));
            }
        }
    }
    match *statement {
        query @ Statement::Query(_) => Ok((query, explain)),
        other => Err(Error::unsupported(format!(
            "EXPLAIN of this statement is not supported: {}",
            first_words(&other.to_string())
        ))),
    }
}

fn argument_text(argument: &Expr) -> String {
    match argument {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(text) => text.clone(),
            Value::Boolean(flag) => flag.to_string(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

fn boolean(option: &str, argument: Option<&str>) -> Result<bool> {
    match argument.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "on" | "1" | "yes") => Ok(true),
        Some("false" | "off" | "0" | "no") => Ok(false),
        Some(other) => Err(Error::new(
            ErrorKind::Syntax,
            format!("{option} requires a Boolean value"),
        )
        .with_detail(format!("got \"{other}\""))),
    }
}

/// Whether `format` is JSON (true) or TEXT (false).
fn json_format(format: &str) -> Result<bool> {
    match format.to_ascii_lowercase().as_str() {
        "text" => Ok(false),
        "json" => Ok(true),
        "xml" | "yaml" => Err(Error::unsupported(format!(
            "EXPLAIN format \"{}\" is not supported",
            format.to_ascii_lowercase()
        ))
        .with_hint("use FORMAT TEXT or FORMAT JSON")),
        other => Err(Error::new(
            ErrorKind::InvalidParameterValue,
            format!("unrecognized value for EXPLAIN option \"format\": \"{other}\""),
        )),
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The one column EXPLAIN answers with.
pub fn columns() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "QUERY PLAN",
        DataType::Utf8,
        false,
    )]))
}

/// Runs what `options` asks of `plan`: nothing for a plain EXPLAIN; for ANALYZE the
/// query to its end (rows are counted, not kept), timed.
pub async fn explain(
    plan: Arc<dyn ExecutionPlan>,
    run: impl std::future::Future<Output = Result<u64>>,
    options: ExplainOptions,
) -> Result<RecordBatch> {
    let executed = match options.analyze {
        true => {
            let started = Instant::now();
            let rows = run.await?;
            Some((rows, started.elapsed().as_secs_f64() * 1000.0))
        }
        false => None,
    };
    let lines = match options.json {
        true => vec![plan_json(&plan, options, executed)],
        false => plan_text(&plan, options, executed),
    };
    Ok(RecordBatch::try_new(
        columns(),
        vec![Arc::new(StringArray::from(lines))],
    )?)
}

fn plan_text(
    plan: &Arc<dyn ExecutionPlan>,
    options: ExplainOptions,
    executed: Option<(u64, f64)>,
) -> Vec<String> {
    let mut lines = Vec::new();
    indented(plan, 0, options.verbose, executed.is_some(), &mut lines);
    if let Some((rows, milliseconds)) = executed {
        lines.push(format!("Rows: {rows}"));
        lines.push(format!("Execution Time: {milliseconds:.3} ms"));
    }
    lines
}

/// The operators lakeport wraps around every node of a plan so that long scans yield to
/// the runtime: not shown.
fn is_plumbing(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.name() == "CooperativeExec"
}

/// The operators under `plan` (itself included), shown one per line, indented by depth.
fn indented(
    plan: &Arc<dyn ExecutionPlan>,
    depth: usize,
    verbose: bool,
    metrics: bool,
    lines: &mut Vec<String>,
) {
    if is_plumbing(plan) {
        for child in plan.children() {
            indented(child, depth, verbose, metrics, lines);
        }
        return;
    }
    let display = match metrics {
        true => DisplayableExecutionPlan::with_metrics(plan.as_ref()),
        false => DisplayableExecutionPlan::new(plan.as_ref()),
    }
    .set_show_schema(verbose)
    .set_show_statistics(verbose);
    let line = display.one_line().to_string();
    lines.push(format!("{}{}", "  ".repeat(depth), line.trim_end()));
    for child in plan.children() {
        indented(child, depth + 1, verbose, metrics, lines);
    }
}

/// PostgreSQL's JSON shape: `[{"Plan": {...}, "Execution Time": ms}]`, each node with its
/// type, its one-line description, its metrics after ANALYZE, and its children in "Plans".
fn plan_json(
    plan: &Arc<dyn ExecutionPlan>,
    options: ExplainOptions,
    executed: Option<(u64, f64)>,
) -> String {
    let mut document = json!({ "Plan": node_json(plan, options, executed.is_some()) });
    if let Some((rows, milliseconds)) = executed {
        document["Actual Rows"] = json!(rows);
        document["Execution Time"] = json!((milliseconds * 1000.0).round() / 1000.0);
    }
    serde_json::to_string_pretty(&json!([document])).unwrap_or_default()
}

/// The longest operator description [`plans_json`] keeps (a scan over many files lists
/// them all, and the history keeps a thousand plans).
const KEPT_DETAILS: usize = 2000;

/// The plans a statement ran (or is running), as JSON trees with their metrics so far;
/// `None` for none. What the query history keeps and the monitoring UI draws.
pub fn plans_json(plans: &[Arc<dyn ExecutionPlan>]) -> Option<Arc<serde_json::Value>> {
    if plans.is_empty() {
        return None;
    }
    let trees = plans
        .iter()
        .map(|plan| {
            let mut tree = node_json(plan, ExplainOptions::default(), true);
            shorten_details(&mut tree);
            tree
        })
        .collect();
    Some(Arc::new(serde_json::Value::Array(trees)))
}

fn shorten_details(node: &mut serde_json::Value) {
    if let Some(serde_json::Value::String(details)) = node.get_mut("Details")
        && details.len() > KEPT_DETAILS
    {
        let mut end = KEPT_DETAILS;
        while !details.is_char_boundary(end) {
            end -= 1;
        }
        details.truncate(end);
        details.push('…');
    }
    if let Some(serde_json::Value::Array(children)) = node.get_mut("Plans") {
        children.iter_mut().for_each(shorten_details);
    }
}

/// One plan node as JSON, with its children.
pub fn node_json(
    plan: &Arc<dyn ExecutionPlan>,
    options: ExplainOptions,
    metrics: bool,
) -> serde_json::Value {
    if is_plumbing(plan)
        && let [child] = plan.children().as_slice()
    {
        return node_json(child, options, metrics);
    }
    let mut node = json!({
        "Node Type": plan.name(),
        "Details": DisplayableExecutionPlan::new(plan.as_ref()).one_line().to_string().trim_end(),
        "Partitions": plan.properties().output_partitioning().partition_count(),
    });
    if options.verbose {
        node["Output"] = json!(
            plan.schema()
                .fields()
                .iter()
                .map(|field| field.name().clone())
                .collect::<Vec<_>>()
        );
    }
    if metrics && let Some(set) = plan.metrics() {
        let mut values = serde_json::Map::new();
        for metric in set.aggregate_by_name().sorted_for_display().iter() {
            let value = metric.value();
            values.insert(value.name().to_string(), json!(value.to_string()));
        }
        node["Metrics"] = serde_json::Value::Object(values);
    }
    let children: Vec<serde_json::Value> = plan
        .children()
        .into_iter()
        .map(|child| node_json(child, options, metrics))
        .collect();
    if !children.is_empty() {
        node["Plans"] = json!(children);
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_plans_shorten_long_descriptions_at_every_depth() {
        let long = "é".repeat(KEPT_DETAILS);
        let mut tree = json!({
            "Details": "short",
            "Plans": [{ "Details": long, "Plans": [{ "Details": long }] }],
        });
        shorten_details(&mut tree);
        assert_eq!(tree["Details"], "short");
        for node in [&tree["Plans"][0], &tree["Plans"][0]["Plans"][0]] {
            let details = node["Details"].as_str().unwrap();
            assert!(details.ends_with('…'), "{details}");
            assert!(details.len() <= KEPT_DETAILS + '…'.len_utf8());
        }
    }
}
