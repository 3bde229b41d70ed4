//! `LATERAL VIEW [OUTER] explode/posexplode(…) name AS columns`: the FROM item wrapped in a
//! derived table whose select list adds the generator's `unnest`s (`stack` too;
//! `json_tuple`: its columns, one row per row).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, Expr, Function, GroupByExpr, Ident, LateralView, Select, SelectItem,
    SelectItemQualifiedWildcardKind, TableFactor, TableWithJoins, Value, WildcardAdditionalOptions,
    visit_expressions_mut,
};

use super::build::{call, derived, plain_alias, plain_arguments, select_query_from};
use super::deferred::{
    DeferredGenerator, column_items, item_names, names_mismatch, view_columns_item,
};
use super::reshape::same_name;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::pg_syntax::function_call;

/// Each `LATERAL VIEW` wraps the FROM item before it in a derived table that adds the
/// generator's columns with select-list `unnest`s (DataFusion does not run an `UNNEST` that
/// reads a preceding table). The derived table keeps the item's name when it is one table;
/// references qualified by a lateral view's name (or by the tables of a join it wraps) lose
/// their qualifier, as the columns now come from the one derived table.
pub(super) fn lateral_views(select: &mut Select, views_seen: &mut usize) -> Result<()> {
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
        *views_seen += 1;
        let id = views_seen.to_string();
        let view_name = view
            .lateral_view_name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .cloned();
        let columns = lateral_view_columns(view, &id)?;
        if let Some(view_name) = view_name {
            expand_view_wildcards(&mut select.projection, &view_name, &id, &columns);
            qualifiers.push(view_name);
        }
        let mut projection = vec![SelectItem::Wildcard(WildcardAdditionalOptions::default())];
        projection.extend(columns);
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

/// `v.*` of the lateral view `view` (`id`) becomes its columns: their names when `columns`
/// tells them, else an item completed with the generator (see `deferred`).
fn expand_view_wildcards(
    projection: &mut Vec<SelectItem>,
    view: &Ident,
    id: &str,
    columns: &[SelectItem],
) {
    let expansion = match columns.iter().any(|c| DeferredGenerator::of(c).is_some()) {
        true => vec![view_columns_item(id)],
        false => column_items(&item_names(columns)),
    };
    let mut expanded = Vec::with_capacity(projection.len());
    for item in std::mem::take(projection) {
        match &item {
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _)
                if name.0.len() == 1
                    && name.0[0].as_ident().is_some_and(|n| same_name(n, view)) =>
            {
                expanded.extend(expansion.iter().cloned());
            }
            _ => expanded.push(item),
        }
    }
    *projection = expanded;
}

/// The name a FROM item's columns are qualified by: its alias, or a table's own name.
pub(super) fn factor_name(factor: &TableFactor) -> Option<Ident> {
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
pub(super) fn strip_qualifiers(expr: &mut Expr, qualifiers: &[Ident]) {
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

/// The generators lakeport runs, in a select list and in `LATERAL VIEW`.
pub(super) const GENERATORS: &[&str] = &[
    "explode",
    "explode_outer",
    "posexplode",
    "posexplode_outer",
    "inline",
    "inline_outer",
    "json_tuple",
    "stack",
];

/// The select-list items of a `LATERAL VIEW`'s generator; `id` tells the view apart.
fn lateral_view_columns(view: LateralView, id: &str) -> Result<Vec<SelectItem>> {
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
    generator_columns(&function, lateral_col_alias, outer, Some(id))
}

/// The select-list items a generator adds, named `names` or as Spark names them. What
/// `explode`, `posexplode` and `inline` add depends on their argument's type: they are left
/// as deferred generators, completed once the type is known ([`DeferredGenerator`]).
/// `OUTER` (or a name ending `_outer`) keeps a row of NULLs for a NULL or empty input.
pub(super) fn generator_columns(
    function: &Function,
    names: Vec<Ident>,
    outer: bool,
    view: Option<&str>,
) -> Result<Vec<SelectItem>> {
    let name = function.name.to_string().to_ascii_lowercase();
    let (generator, outer) = match name.strip_suffix("_outer") {
        Some(base) => (base.to_string(), true),
        None => (name, outer),
    };
    if generator == "json_tuple" || generator == "stack" {
        let arguments: Vec<Expr> = plain_arguments(function)?.into_iter().cloned().collect();
        return match generator.as_str() {
            "stack" => stack(&arguments, names),
            _ => json_tuple(&arguments, names),
        };
    }
    let [argument] = plain_arguments(function)?[..] else {
        return Err(Error::syntax(format!("{generator} takes one argument")));
    };
    let argument = argument.clone();
    match generator.as_str() {
        "explode" | "posexplode" | "inline" => Ok(vec![
            DeferredGenerator {
                name: generator,
                outer,
                argument,
                names,
                view: view.map(str::to_string),
            }
            .into_item(),
        ]),
        _ => Err(
            Error::unsupported(format!("the generator {generator} is not supported")).with_hint(
                "lakeport supports explode, posexplode, inline (and their _outer forms), \
                 json_tuple and stack",
            ),
        ),
    }
}

/// `json_tuple(json, 'k1', 'k2', …)`: one column per key, the key's value as text (JSON
/// text for objects and arrays, NULL when missing or when `json` is not JSON), named by
/// `names` or Spark's `c0, c1, …`.
pub(super) fn json_tuple(arguments: &[Expr], names: Vec<Ident>) -> Result<Vec<SelectItem>> {
    let [json, keys @ ..] = arguments else {
        return Err(Error::syntax(
            "json_tuple needs a JSON text and at least one key",
        ));
    };
    if keys.is_empty() {
        return Err(Error::syntax("json_tuple needs at least one key"));
    }
    if !names.is_empty() && names.len() != keys.len() {
        return Err(names_mismatch("json_tuple", keys.len(), names.len()));
    }
    let quote = |text: &str| Expr::value(Value::SingleQuotedString(text.into()));
    Ok(keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let path = call("concat", [quote("$['"), key.clone(), quote("']")]);
            SelectItem::ExprWithAlias {
                expr: call("get_json_object", [json.clone(), path]),
                alias: names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Ident::new(format!("c{i}"))),
            }
        })
        .collect())
}

/// The most rows `stack` lays out beyond its values (each row is written into the query).
const STACK_ROWS_LIMIT: usize = 10_000;

/// `stack(n, v1, v2, …)`: the values laid out in `n` rows, filled row by row, the last row
/// padded with NULLs; column `j` is `unnest([v(j), v(j + columns), …])` (unnests in one select
/// list advance together). Named by `names` or Spark's `col0, col1, …`.
pub(super) fn stack(arguments: &[Expr], names: Vec<Ident>) -> Result<Vec<SelectItem>> {
    let usage = || Error::syntax("stack needs a positive integer row count and values");
    let [Expr::Value(count), values @ ..] = arguments else {
        return Err(usage());
    };
    let rows = match &count.value {
        Value::Number(n, _) => n.parse::<usize>().ok().filter(|n| *n > 0),
        _ => None,
    }
    .ok_or_else(usage)?;
    if values.is_empty() {
        return Err(usage());
    }
    if rows > STACK_ROWS_LIMIT.max(values.len()) {
        return Err(Error::new(
            ErrorKind::ProgramLimitExceeded,
            format!("stack of {rows} rows is more than the {STACK_ROWS_LIMIT} lakeport writes out"),
        ));
    }
    let columns = values.len().div_ceil(rows);
    if !names.is_empty() && names.len() != columns {
        return Err(names_mismatch("stack", columns, names.len()));
    }
    Ok((0..columns)
        .map(|column| {
            let cells: Vec<Expr> = (0..rows)
                .map(|row| {
                    values
                        .get(row * columns + column)
                        .cloned()
                        .unwrap_or_else(|| Expr::value(Value::Null))
                })
                .collect();
            SelectItem::ExprWithAlias {
                expr: call(
                    "unnest",
                    [Expr::Function(function_call("make_array", cells))],
                ),
                alias: names
                    .get(column)
                    .cloned()
                    .unwrap_or_else(|| Ident::new(format!("col{column}"))),
            }
        })
        .collect())
}

/// `CASE WHEN cardinality(a) > 0 THEN a ELSE [NULL] END`.
pub(super) fn or_one_null(array: Expr) -> Expr {
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
pub(super) fn positions(array: &Expr) -> Expr {
    call(
        "range",
        [
            Expr::value(Value::Number("0".into(), false)),
            call("cardinality", [array.clone()]),
        ],
    )
}
