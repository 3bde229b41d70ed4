//! `PIVOT` as filtered aggregates grouped by the other columns; `UNPIVOT` as a `UNION ALL`
//! of one branch per column.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, ExcludeSelectItem, Expr, ExprWithAlias, GroupByExpr, Ident, NullInclusion,
    ObjectName, PivotValueSource, Query, SelectItem, SetExpr, SetOperator, SetQuantifier,
    TableFactor, Value, WildcardAdditionalOptions, visit_expressions,
};

use super::build::{derived, placeholder_factor, plain_alias, select_query};
use crate::error::{Error, Result};

/// `PIVOT` as a grouped aggregation with one filtered aggregate per (value, aggregate).
pub(super) fn pivot(factor: &mut TableFactor) -> Result<TableFactor> {
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
pub(super) fn pivot_condition(columns: &[Expr], value: &Expr) -> Result<Expr> {
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
pub(super) fn value_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// `UNPIVOT` as a `UNION ALL` with one branch per unpivoted column (or group of columns,
/// `UNPIVOT ((a, b) FOR k IN ((a1, b1) AS x, …))`); a row whose values are all NULL is
/// dropped unless `INCLUDE NULLS`.
pub(super) fn unpivot(factor: &mut TableFactor) -> Result<TableFactor> {
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
    let value_names: Vec<Ident> = match value {
        Expr::Identifier(ident) => vec![ident.clone()],
        Expr::Tuple(values) => values
            .iter()
            .map(|v| match v {
                Expr::Identifier(ident) => Ok(ident.clone()),
                other => Err(Error::syntax(format!(
                    "UNPIVOT value columns are names, not {other}"
                ))),
            })
            .collect::<Result<_>>()?,
        other => {
            return Err(Error::syntax(format!(
                "UNPIVOT value columns are names, not {other}"
            )));
        }
    };
    let used: Vec<Ident> = columns.iter().flat_map(|c| column_names(&c.expr)).collect();
    let kept = other_columns(table, &used);
    let input = std::mem::replace(table.as_mut(), placeholder_factor());
    let branches: Vec<Box<SetExpr>> = columns
        .iter()
        .map(|column| {
            let ExprWithAlias { expr, alias } = column;
            let (values, label) = match expr {
                Expr::Tuple(values) => (values.clone(), joined_names(values)),
                single => (vec![single.clone()], single.to_string()),
            };
            if values.len() != value_names.len() {
                return Err(Error::syntax(format!(
                    "UNPIVOT names {} value columns, but {expr} gives {}",
                    value_names.len(),
                    values.len()
                )));
            }
            let label = alias.as_ref().map(|a| a.value.clone()).unwrap_or(label);
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
            projection.extend(values.into_iter().zip(&value_names).map(|(expr, alias)| {
                SelectItem::ExprWithAlias {
                    expr,
                    alias: alias.clone(),
                }
            }));
            Ok(select_query(projection, input.clone()).body)
        })
        .collect::<Result<_>>()?;
    let mut branches = branches.into_iter();
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
        select.selection = value_names
            .into_iter()
            .map(|name| Expr::IsNotNull(Box::new(Expr::Identifier(name))))
            .reduce(|left, right| Expr::BinaryOp {
                left: Box::new(left),
                op: BinaryOperator::Or,
                right: Box::new(right),
            });
    }
    Ok(derived(outer, alias.take()))
}

/// Spark's label for a group of columns without an alias: their names joined by `_`.
fn joined_names(values: &[Expr]) -> String {
    values
        .iter()
        .map(|v| match v {
            Expr::Identifier(ident) => ident.value.clone(),
            Expr::CompoundIdentifier(parts) => {
                parts.last().map(|p| p.value.clone()).unwrap_or_default()
            }
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Names of the columns an expression reads (the last part of each column reference).
pub(super) fn column_names(expr: &Expr) -> Vec<Ident> {
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
pub(super) fn other_columns(input: &TableFactor, used: &[Ident]) -> Option<Vec<Ident>> {
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

pub(super) fn same_name(a: &Ident, b: &Ident) -> bool {
    let fold = |i: &Ident| match i.quote_style {
        Some('"') => i.value.clone(),
        _ => i.value.to_lowercase(),
    };
    fold(a) == fold(b)
}

pub(super) fn wildcard_excluding(columns: &[Ident]) -> SelectItem {
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
