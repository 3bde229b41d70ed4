//! Spark SQL clauses that sqlparser reads but DataFusion does not plan, rewritten on the AST
//! into SQL it does, with Spark's results:
//!
//! - `LATERAL VIEW [OUTER] explode(a) t AS x` (and `posexplode`, `explode` of a map into
//!   `key, value`) becomes a derived table adding `unnest(a) AS x` to the FROM item's
//!   columns; `OUTER` unnests `[NULL]` for a NULL or empty array.
//! - `PIVOT (agg AS a FOR col IN (v AS n, …))` becomes one `agg FILTER (WHERE col IS NOT
//!   DISTINCT FROM v)` per value and aggregate, grouped by the input's other columns, named
//!   as Spark names them (`n`, or `n_a` with several aggregates).
//! - `UNPIVOT [INCLUDE | EXCLUDE NULLS] (value FOR name IN (c1, c2 AS n))` becomes a
//!   `UNION ALL` of one branch per column, NULL values dropped unless `INCLUDE NULLS`.
//! - `TABLESAMPLE (p PERCENT)` and `(BUCKET x OUT OF y)` keep each row with that probability
//!   (Spark samples rows the same way); `(n ROWS)` keeps the first n rows.
//! - `SORT BY` and `CLUSTER BY` sort the result (Spark sorts each partition; one sorted
//!   result is one of the outcomes Spark allows); `DISTRIBUTE BY` has no visible effect and
//!   is dropped.
//!
//! - `a DIV b` is `spark_div(a, b)`: the quotient truncated toward zero, as a bigint.
//! - Functions: `trunc(d, 'MM')` (a format as text) is Spark's `trunc`, planned as
//!   `spark_trunc`; `struct(a, b)` names its fields after the columns as Spark does
//!   (`named_struct('a', a, 'b', b)`, `colN` for other expressions); `approx_count_distinct`
//!   is DataFusion's `approx_distinct` as a bigint; `size` is `cardinality` as an int; `first(x, true)` and
//!   `last(x, true)` ignore NULLs; `explode(a)` and `posexplode(a)` in a select list unnest
//!   into columns `col` and `pos, col`.
//!
//! The input's "other columns" of PIVOT and UNPIVOT are listed when the input is a
//! subquery naming its columns, and otherwise taken as `* EXCLUDE (…)`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::DataType as SqlType;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, CastKind, ExcludeSelectItem, Expr, ExprWithAlias, Function,
    FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, LateralView,
    NullInclusion, NullTreatment, ObjectName, OrderBy, OrderByExpr, OrderByKind, OrderByOptions,
    PivotValueSource, Query, Select, SelectItem, SetExpr, SetOperator, SetQuantifier, Statement,
    TableAlias, TableFactor, TableSample, TableSampleKind, TableSampleUnit, TableWithJoins, Value,
    VisitMut, VisitorMut, WildcardAdditionalOptions, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{Error, Result};
use crate::exec::dialect::LakeportDialect;
use crate::exec::pg_syntax::function_call;
use crate::exec::spark_functions::{SPARK_DIV, SPARK_TRUNC};

/// Rewrites `statement` in place.
pub fn rewrite(statement: &mut Statement) -> Result<()> {
    match statement.visit(&mut SparkClauses) {
        ControlFlow::Break(error) => Err(error),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct SparkClauses;

impl VisitorMut for SparkClauses {
    type Break = Error;

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Error> {
        match expr {
            Expr::Function(function) if is_named(function, "approx_count_distinct") => {
                *expr = approx_count_distinct(function);
            }
            Expr::Function(function) if is_named(function, "size") => {
                *expr = size(function);
            }
            Expr::Function(function) => rewrite_function(function),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::MyIntegerDivide,
                right,
            } => {
                let (left, right) = (
                    std::mem::replace(left.as_mut(), Expr::value(Value::Null)),
                    std::mem::replace(right.as_mut(), Expr::value(Value::Null)),
                );
                *expr = call(SPARK_DIV, [left, right]);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<Error> {
        select.projection = std::mem::take(&mut select.projection)
            .into_iter()
            .flat_map(explode_in_projection)
            .collect();
        select.distribute_by.clear();
        if !select.cluster_by.is_empty() {
            if !select.sort_by.is_empty() {
                return ControlFlow::Break(Error::syntax(
                    "CLUSTER BY cannot be combined with SORT BY",
                ));
            }
            select.sort_by = std::mem::take(&mut select.cluster_by)
                .into_iter()
                .map(ascending)
                .collect();
        }
        if let Err(error) = lateral_views(select) {
            return ControlFlow::Break(error);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Error> {
        let sort_by = match query.body.as_mut() {
            SetExpr::Select(select) => std::mem::take(&mut select.sort_by),
            other => {
                drop_sort_by(other);
                Vec::new()
            }
        };
        if !sort_by.is_empty() {
            if query.order_by.is_some() {
                return ControlFlow::Break(Error::syntax(
                    "SORT BY and CLUSTER BY cannot be combined with ORDER BY",
                ));
            }
            query.order_by = Some(OrderBy {
                kind: OrderByKind::Expressions(sort_by),
                interpolate: None,
            });
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<Error> {
        let rewritten = match factor {
            TableFactor::Pivot { .. } => pivot(factor),
            TableFactor::Unpivot { .. } => unpivot(factor),
            TableFactor::Table {
                sample: Some(_), ..
            }
            | TableFactor::Derived {
                sample: Some(_), ..
            } => sample(factor),
            _ => return ControlFlow::Continue(()),
        };
        match rewritten {
            Ok(new) => {
                *factor = new;
                ControlFlow::Continue(())
            }
            Err(error) => ControlFlow::Break(error),
        }
    }
}

fn is_named(function: &Function, name: &str) -> bool {
    function.name.to_string().eq_ignore_ascii_case(name)
}

/// `approx_count_distinct(x [, relative_sd])` → `CAST(approx_distinct(x) AS BIGINT)`:
/// DataFusion's HyperLogLog has one precision, and counts as an unsigned integer.
fn approx_count_distinct(function: &Function) -> Expr {
    let mut distinct = function.clone();
    distinct.name = ObjectName::from(vec![Ident::new("approx_distinct")]);
    if let FunctionArguments::List(list) = &mut distinct.args {
        list.args.truncate(1);
    }
    cast(Expr::Function(distinct), SqlType::BigInt(None))
}

fn cast(expr: Expr, data_type: SqlType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    }
}

/// `size(a)` → `CAST(cardinality(a) AS INT)`: Spark's element count of an array or map,
/// NULL for NULL (Spark's ANSI mode; its legacy mode said -1).
fn size(function: &Function) -> Expr {
    let mut cardinality = function.clone();
    cardinality.name = ObjectName::from(vec![Ident::new("cardinality")]);
    cast(Expr::Function(cardinality), SqlType::Int(None))
}

/// Spark's forms of functions whose names DataFusion or PostgreSQL use differently.
fn rewrite_function(function: &mut Function) {
    let name = function.name.to_string().to_ascii_lowercase();
    let Ok(args) = plain_arguments(function) else {
        return;
    };
    match (name.as_str(), args.as_slice()) {
        ("trunc", [_, Expr::Value(format)])
            if matches!(format.value, Value::SingleQuotedString(_)) =>
        {
            function.name = ObjectName::from(vec![Ident::new(SPARK_TRUNC)]);
        }
        ("struct", fields) if !fields.is_empty() => {
            let named: Vec<Expr> = fields
                .iter()
                .enumerate()
                .flat_map(|(i, field)| {
                    let name = match field {
                        Expr::Identifier(ident) => ident.value.clone(),
                        Expr::CompoundIdentifier(parts) => {
                            parts.last().map(|p| p.value.clone()).unwrap_or_default()
                        }
                        _ => format!("col{}", i + 1),
                    };
                    [
                        Expr::value(Value::SingleQuotedString(name)),
                        (*field).clone(),
                    ]
                })
                .collect();
            *function = function_call("named_struct", named);
        }
        ("first" | "last", [value, Expr::Value(flag)])
            if matches!(flag.value, Value::Boolean(true)) =>
        {
            let value = (*value).clone();
            let mut call = function_call(&format!("{name}_value"), vec![value]);
            call.null_treatment = Some(NullTreatment::IgnoreNulls);
            call.over = function.over.take();
            *function = call;
        }
        _ => {}
    }
}

/// `explode(a)` → `unnest(a) AS col`; `posexplode(a)` → `unnest(range(0, cardinality(a)))
/// AS pos, unnest(a) AS col`.
fn explode_in_projection(item: SelectItem) -> Vec<SelectItem> {
    let (expr, alias) = match &item {
        SelectItem::UnnamedExpr(expr) => (expr, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
        _ => return vec![item],
    };
    let Expr::Function(function) = expr else {
        return vec![item];
    };
    let name = function.name.to_string().to_ascii_lowercase();
    let argument = match plain_arguments(function).as_deref() {
        Ok([argument]) => (*argument).clone(),
        _ => return vec![item],
    };
    let unnest = |e: Expr, name: Ident| SelectItem::ExprWithAlias {
        expr: call("unnest", [e]),
        alias: name,
    };
    match name.as_str() {
        "explode" => vec![unnest(argument, alias.unwrap_or_else(|| Ident::new("col")))],
        "posexplode" => vec![
            unnest(positions(&argument), Ident::new("pos")),
            unnest(argument, alias.unwrap_or_else(|| Ident::new("col"))),
        ],
        _ => vec![item],
    }
}

/// `SORT BY` inside a set operation's arms orders nothing visible.
fn drop_sort_by(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => select.sort_by.clear(),
        SetExpr::SetOperation { left, right, .. } => {
            drop_sort_by(left);
            drop_sort_by(right);
        }
        _ => {}
    }
}

fn ascending(expr: Expr) -> OrderByExpr {
    OrderByExpr {
        expr,
        options: OrderByOptions {
            asc: None,
            nulls_first: None,
        },
        with_fill: None,
    }
}

/// Each `LATERAL VIEW` wraps the FROM item before it in a derived table that adds the
/// generator's columns with select-list `unnest`s (DataFusion does not run an `UNNEST` that
/// reads a preceding table). The derived table keeps the item's name when it is one table;
/// references qualified by a lateral view's name (or by the tables of a join it wraps) lose
/// their qualifier, as the columns now come from the one derived table.
fn lateral_views(select: &mut Select) -> Result<()> {
    if select.lateral_views.is_empty() {
        return Ok(());
    }
    let mut from = select
        .from
        .pop()
        .ok_or_else(|| Error::syntax("LATERAL VIEW needs a FROM clause"))?;
    let mut qualifiers: Vec<Ident> = Vec::new();
    let name = match from.joins.is_empty() {
        true => factor_name(&from.relation),
        false => None,
    };
    if name.is_none() {
        qualifiers.push(factor_name(&from.relation).unwrap_or_else(|| Ident::new("")));
        qualifiers.extend(from.joins.iter().filter_map(|j| factor_name(&j.relation)));
    }
    let name = name.unwrap_or_else(|| Ident::new("lateral_view_input"));
    for view in std::mem::take(&mut select.lateral_views) {
        let mut view = view;
        strip_qualifiers(&mut view.lateral_view, &qualifiers);
        if let Some(alias) = view.lateral_view_name.0.last().and_then(|p| p.as_ident()) {
            qualifiers.push(alias.clone());
        }
        let mut projection = vec![SelectItem::Wildcard(WildcardAdditionalOptions::default())];
        projection.extend(generator_columns(view)?);
        let query = select_query_from(projection, from);
        from = TableWithJoins {
            relation: derived(query, Some(plain_alias(&name.value))),
            joins: Vec::new(),
        };
    }
    select.from.push(from);
    let _ = visit_expressions_mut(&mut select.projection, |e| {
        strip_qualifiers(e, &qualifiers);
        ControlFlow::<()>::Continue(())
    });
    for expr in [
        &mut select.selection,
        &mut select.having,
        &mut select.qualify,
    ]
    .into_iter()
    .flatten()
    {
        strip_qualifiers(expr, &qualifiers);
    }
    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        exprs
            .iter_mut()
            .for_each(|e| strip_qualifiers(e, &qualifiers));
    }
    select
        .sort_by
        .iter_mut()
        .for_each(|o| strip_qualifiers(&mut o.expr, &qualifiers));
    select
        .cluster_by
        .iter_mut()
        .for_each(|e| strip_qualifiers(e, &qualifiers));
    Ok(())
}

/// The name a FROM item's columns are qualified by: its alias, or a table's own name.
fn factor_name(factor: &TableFactor) -> Option<Ident> {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } => Some(alias.name.clone()),
        TableFactor::Table { name, .. } => name.0.last().and_then(|p| p.as_ident()).cloned(),
        _ => None,
    }
}

/// `q.column` → `column` for each qualifier `q` (nested subqueries included).
fn strip_qualifiers(expr: &mut Expr, qualifiers: &[Ident]) {
    let _ = visit_expressions_mut(expr, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() >= 2
            && qualifiers
                .iter()
                .any(|q| same_name(q, &parts[parts.len() - 2]))
            && let Some(column) = parts.last().cloned()
        {
            *e = Expr::Identifier(column);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The select-list items a generator adds: `explode` one column (or `key, value` of a map
/// when given two names), `posexplode` a position first; `OUTER` keeps a row of NULLs for a
/// NULL or empty input.
fn generator_columns(view: LateralView) -> Result<Vec<SelectItem>> {
    let LateralView {
        lateral_view,
        lateral_col_alias,
        outer,
        ..
    } = view;
    let Expr::Function(function) = lateral_view else {
        return Err(Error::syntax(format!(
            "LATERAL VIEW needs a generator function, not {lateral_view}"
        )));
    };
    let name = function.name.to_string().to_ascii_lowercase();
    let (generator, outer) = match name.strip_suffix("_outer") {
        Some(base) => (base.to_string(), true),
        None => (name, outer),
    };
    let [argument] = plain_arguments(&function)?[..] else {
        return Err(Error::syntax(format!(
            "{generator} takes one argument in LATERAL VIEW"
        )));
    };
    let argument = argument.clone();
    let aliases = lateral_col_alias.len();
    let (arrays, default_columns): (Vec<Expr>, &[&str]) = match (generator.as_str(), aliases) {
        ("explode", 2) => (
            vec![
                call("map_keys", [argument.clone()]),
                call("map_values", [argument]),
            ],
            &["key", "value"],
        ),
        ("explode", _) => (vec![argument], &["col"]),
        ("posexplode", 3) => (
            vec![
                positions(&argument),
                call("map_keys", [argument.clone()]),
                call("map_values", [argument]),
            ],
            &["pos", "key", "value"],
        ),
        ("posexplode", _) => (vec![positions(&argument), argument], &["pos", "col"]),
        _ => {
            return Err(
                Error::unsupported(format!("LATERAL VIEW {generator} is not supported")).with_hint(
                    "lakeport supports explode, explode_outer, posexplode and posexplode_outer",
                ),
            );
        }
    };
    let names: Vec<Ident> = match aliases {
        0 => default_columns.iter().map(|c| Ident::new(*c)).collect(),
        n if n == default_columns.len() => lateral_col_alias,
        n => {
            return Err(Error::syntax(format!(
                "{generator} in LATERAL VIEW produces {} columns, but {n} aliases were given",
                default_columns.len()
            )));
        }
    };
    Ok(arrays
        .into_iter()
        .zip(names)
        .map(|(array, name)| {
            let array = if outer { or_one_null(array) } else { array };
            SelectItem::ExprWithAlias {
                expr: call("unnest", [array]),
                alias: name,
            }
        })
        .collect())
}

/// `CASE WHEN cardinality(a) > 0 THEN a ELSE [NULL] END`.
fn or_one_null(array: Expr) -> Expr {
    Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen {
            condition: Expr::BinaryOp {
                left: Box::new(call("cardinality", [array.clone()])),
                op: BinaryOperator::Gt,
                right: Box::new(Expr::value(Value::Number("0".into(), false))),
            },
            result: array,
        }],
        else_result: Some(Box::new(call("make_array", [Expr::value(Value::Null)]))),
    }
}

/// Zero-based positions of an array's elements: `range(0, cardinality(a))`.
fn positions(array: &Expr) -> Expr {
    call(
        "range",
        [
            Expr::value(Value::Number("0".into(), false)),
            call("cardinality", [array.clone()]),
        ],
    )
}

fn plain_arguments(function: &Function) -> Result<Vec<&Expr>> {
    let FunctionArguments::List(list) = &function.args else {
        return Ok(Vec::new());
    };
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Ok(expr),
            other => Err(Error::syntax(format!(
                "unexpected argument {other} to {}",
                function.name
            ))),
        })
        .collect()
}

fn call<const N: usize>(name: &str, args: [Expr; N]) -> Expr {
    Expr::Function(function_call(name, args.into()))
}

/// `PIVOT` as a grouped aggregation with one filtered aggregate per (value, aggregate).
fn pivot(factor: &mut TableFactor) -> Result<TableFactor> {
    let TableFactor::Pivot {
        table,
        aggregate_functions,
        value_column,
        value_source,
        default_on_null,
        alias,
    } = factor
    else {
        return Err(Error::internal("pivot called on another table factor"));
    };
    if default_on_null.is_some() {
        return Err(Error::unsupported(
            "PIVOT … DEFAULT ON NULL is not supported",
        ));
    }
    let PivotValueSource::List(values) = value_source else {
        return Err(Error::unsupported(
            "PIVOT needs a list of values: IN (value [AS name], …)",
        ));
    };
    let mut used = Vec::new();
    for expr in aggregate_functions
        .iter()
        .map(|a| &a.expr)
        .chain(value_column.iter())
    {
        used.extend(column_names(expr));
    }
    let mut projection = Vec::new();
    let group_columns = other_columns(table, &used);
    match &group_columns {
        Some(columns) => projection.extend(
            columns
                .iter()
                .map(|c| SelectItem::UnnamedExpr(Expr::Identifier(c.clone()))),
        ),
        None => projection.push(wildcard_excluding(&used)),
    }
    for value in values.iter() {
        let condition = pivot_condition(value_column, &value.expr)?;
        let value_name = value
            .alias
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_else(|| value_text(&value.expr));
        for aggregate in aggregate_functions.iter() {
            let Expr::Function(function) = &aggregate.expr else {
                return Err(Error::syntax(format!(
                    "PIVOT needs aggregate functions, not {}",
                    aggregate.expr
                )));
            };
            let mut filtered = function.clone();
            filtered.filter = Some(Box::new(condition.clone()));
            let name = if aggregate_functions.len() == 1 {
                value_name.clone()
            } else {
                let aggregate_name = aggregate
                    .alias
                    .as_ref()
                    .map(|a| a.value.clone())
                    .unwrap_or_else(|| aggregate.expr.to_string());
                format!("{value_name}_{aggregate_name}")
            };
            projection.push(SelectItem::ExprWithAlias {
                expr: Expr::Function(filtered),
                alias: Ident::with_quote('"', name),
            });
        }
    }
    let group_by = match group_columns {
        Some(columns) => {
            GroupByExpr::Expressions(columns.into_iter().map(Expr::Identifier).collect(), vec![])
        }
        None => GroupByExpr::All(vec![]),
    };
    let input = std::mem::replace(table.as_mut(), placeholder_factor());
    let mut query = select_query(projection, input);
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.group_by = group_by;
    }
    Ok(derived(query, alias.take()))
}

/// `value_column IS NOT DISTINCT FROM value`, or one such test per column of a tuple.
fn pivot_condition(columns: &[Expr], value: &Expr) -> Result<Expr> {
    let values: Vec<&Expr> = match (columns.len(), value) {
        (1, _) => vec![value],
        (n, Expr::Tuple(items)) if items.len() == n => items.iter().collect(),
        (n, _) => {
            return Err(Error::syntax(format!(
                "PIVOT value {value} must list {n} values, one per pivot column"
            )));
        }
    };
    columns
        .iter()
        .zip(values)
        .map(|(column, value)| {
            Expr::IsNotDistinctFrom(Box::new(column.clone()), Box::new(value.clone()))
        })
        .reduce(|left, right| Expr::BinaryOp {
            left: Box::new(left),
            op: BinaryOperator::And,
            right: Box::new(right),
        })
        .ok_or_else(|| Error::syntax("PIVOT needs a column after FOR"))
}

/// How Spark names a pivot column after a value without an alias: its text.
fn value_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// `UNPIVOT` as a `UNION ALL` with one branch per unpivoted column.
fn unpivot(factor: &mut TableFactor) -> Result<TableFactor> {
    let TableFactor::Unpivot {
        table,
        value,
        name,
        columns,
        null_inclusion,
        alias,
    } = factor
    else {
        return Err(Error::internal("unpivot called on another table factor"));
    };
    let value_name = match value {
        Expr::Identifier(ident) => ident.clone(),
        other => {
            return Err(Error::unsupported(format!(
                "UNPIVOT into {other} is not supported: name one value column"
            )));
        }
    };
    let used: Vec<Ident> = columns.iter().flat_map(|c| column_names(&c.expr)).collect();
    let kept = other_columns(table, &used);
    let input = std::mem::replace(table.as_mut(), placeholder_factor());
    let mut branches = columns.iter().map(|column| {
        let ExprWithAlias { expr, alias } = column;
        let label = alias
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_else(|| expr.to_string());
        let mut projection: Vec<SelectItem> = match &kept {
            Some(kept) => kept
                .iter()
                .map(|c| SelectItem::UnnamedExpr(Expr::Identifier(c.clone())))
                .collect(),
            None => vec![wildcard_excluding(&used)],
        };
        projection.push(SelectItem::ExprWithAlias {
            expr: Expr::value(Value::SingleQuotedString(label)),
            alias: name.clone(),
        });
        projection.push(SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: value_name.clone(),
        });
        select_query(projection, input.clone()).body
    });
    let first = branches
        .next()
        .ok_or_else(|| Error::syntax("UNPIVOT needs at least one column"))?;
    let union = branches.fold(first, |left, right| {
        Box::new(SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier: SetQuantifier::All,
            left,
            right,
        })
    });
    let union = Query {
        body: union,
        ..select_query(Vec::new(), placeholder_factor())
    };
    let include_nulls = matches!(null_inclusion, Some(NullInclusion::IncludeNulls));
    let mut outer = select_query(
        vec![SelectItem::Wildcard(WildcardAdditionalOptions::default())],
        derived(union, Some(plain_alias("unpivoted"))),
    );
    if !include_nulls && let SetExpr::Select(select) = outer.body.as_mut() {
        select.selection = Some(Expr::IsNotNull(Box::new(Expr::Identifier(value_name))));
    }
    Ok(derived(outer, alias.take()))
}

/// `TABLESAMPLE` as a filter on `random()` or a `LIMIT`.
fn sample(factor: &mut TableFactor) -> Result<TableFactor> {
    let (sample, alias) = match factor {
        TableFactor::Table { sample, alias, .. } | TableFactor::Derived { sample, alias, .. } => {
            (sample.take(), alias.take())
        }
        _ => return Err(Error::internal("sample called on another table factor")),
    };
    let (TableSampleKind::BeforeTableAlias(sample) | TableSampleKind::AfterTableAlias(sample)) =
        sample.ok_or_else(|| Error::internal("sample without TABLESAMPLE"))?;
    let TableSample {
        quantity,
        seed,
        bucket,
        offset,
        ..
    } = *sample;
    if seed.is_some() || offset.is_some() {
        return Err(Error::unsupported(
            "TABLESAMPLE with REPEATABLE, SEED or OFFSET is not supported",
        ));
    }
    let alias = alias.or_else(|| match factor {
        TableFactor::Table { name, .. } => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|ident| plain_alias(&ident.value)),
        _ => None,
    });
    let input = std::mem::replace(factor, placeholder_factor());
    let mut query = select_query(
        vec![SelectItem::Wildcard(WildcardAdditionalOptions::default())],
        input,
    );
    let fraction = match (quantity, bucket) {
        (_, Some(bucket)) => {
            if bucket.on.is_some() {
                return Err(Error::unsupported(
                    "TABLESAMPLE (BUCKET … ON …) is not supported",
                ));
            }
            parse_expr(&format!("{} / {}.0", bucket.bucket, bucket.total))?
        }
        (Some(quantity), None) if quantity.unit == Some(TableSampleUnit::Rows) => {
            query.limit_clause = Some(datafusion::sql::sqlparser::ast::LimitClause::LimitOffset {
                limit: Some(quantity.value),
                offset: None,
                limit_by: Vec::new(),
            });
            return Ok(derived(query, alias));
        }
        (Some(quantity), None) => parse_expr(&format!("({}) / 100.0", quantity.value))?,
        (None, None) => return Err(Error::syntax("TABLESAMPLE needs a sample size")),
    };
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.selection = Some(Expr::BinaryOp {
            left: Box::new(call("random", [])),
            op: BinaryOperator::Lt,
            right: Box::new(fraction),
        });
    }
    Ok(derived(query, alias))
}

/// Names of the columns an expression reads (the last part of each column reference).
fn column_names(expr: &Expr) -> Vec<Ident> {
    let mut names = Vec::new();
    let _ = visit_expressions(expr, |e| {
        match e {
            Expr::Identifier(ident) => names.push(ident.clone()),
            Expr::CompoundIdentifier(parts) => names.extend(parts.last().cloned()),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

/// The input's columns other than `used`, when the input is a subquery that names them all.
fn other_columns(input: &TableFactor, used: &[Ident]) -> Option<Vec<Ident>> {
    let TableFactor::Derived {
        subquery, alias, ..
    } = input
    else {
        return None;
    };
    let names: Vec<Ident> = match alias {
        Some(alias) if !alias.columns.is_empty() => {
            alias.columns.iter().map(|c| c.name.clone()).collect()
        }
        _ => {
            let SetExpr::Select(select) = subquery.body.as_ref() else {
                return None;
            };
            select
                .projection
                .iter()
                .map(|item| match item {
                    SelectItem::UnnamedExpr(Expr::Identifier(ident))
                    | SelectItem::ExprWithAlias { alias: ident, .. } => Some(ident.clone()),
                    SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                        parts.last().cloned()
                    }
                    _ => None,
                })
                .collect::<Option<_>>()?
        }
    };
    let is_used = |name: &Ident| used.iter().any(|u| same_name(u, name));
    Some(names.into_iter().filter(|n| !is_used(n)).collect())
}

fn same_name(a: &Ident, b: &Ident) -> bool {
    let fold = |i: &Ident| match i.quote_style {
        Some('"') => i.value.clone(),
        _ => i.value.to_lowercase(),
    };
    fold(a) == fold(b)
}

fn wildcard_excluding(columns: &[Ident]) -> SelectItem {
    SelectItem::Wildcard(WildcardAdditionalOptions {
        opt_exclude: Some(ExcludeSelectItem::Multiple(
            columns
                .iter()
                .map(|c| ObjectName::from(vec![c.clone()]))
                .collect(),
        )),
        ..Default::default()
    })
}

/// `SELECT <projection> FROM <input>`.
fn select_query(projection: Vec<SelectItem>, input: TableFactor) -> Query {
    select_query_from(
        projection,
        TableWithJoins {
            relation: input,
            joins: Vec::new(),
        },
    )
}

fn select_query_from(projection: Vec<SelectItem>, from: TableWithJoins) -> Query {
    let mut query = parse_query("SELECT 1 FROM t");
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = projection;
        select.from = vec![from];
    }
    query
}

fn derived(query: Query, alias: Option<TableAlias>) -> TableFactor {
    TableFactor::Derived {
        lateral: false,
        subquery: Box::new(query),
        alias,
        sample: None,
    }
}

fn plain_alias(name: &str) -> TableAlias {
    TableAlias {
        explicit: true,
        name: Ident::new(name),
        columns: Vec::new(),
        at: None,
    }
}

/// Stands in for a factor while it is moved into its replacement.
fn placeholder_factor() -> TableFactor {
    TableFactor::Table {
        name: ObjectName::from(vec![Ident::new("t")]),
        alias: None,
        args: None,
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_hints: Vec::new(),
    }
}

fn parse_query(sql: &str) -> Query {
    let parsed = Parser::new(&LakeportDialect::default())
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_query());
    match parsed {
        Ok(query) => *query,
        Err(error) => unreachable!("template query {sql:?} must parse: {error}"),
    }
}

fn parse_expr(sql: &str) -> Result<Expr> {
    Parser::new(&LakeportDialect::default())
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::syntax(format!("invalid TABLESAMPLE size: {e}")))
}
