//! Spark's table-valued functions in FROM: a generator (`FROM explode(…) AS e(c)`) becomes
//! a derived table selecting its columns; `FROM t, LATERAL explode(t.a) e` (also `CROSS
//! JOIN LATERAL`, and `LEFT JOIN LATERAL … ON true` for the `OUTER` form) becomes a
//! `LATERAL VIEW`; `range(…)` names its column `id`, as Spark does.

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, Ident, JoinConstraint, JoinOperator, LateralView, ObjectName,
    Select, SelectItem, SetExpr, TableAlias, TableFactor, Value,
};

use super::build::{derived, parse_query, plain_argument_list, select_query};
use super::is_generator;
use super::lateral::generator_columns;
use crate::error::Result;
use crate::exec::pg_syntax::function_call;

/// `FROM generator(…) [AS e(c, …)]` and `FROM range(…)`, rewritten; `None` for any other
/// FROM item.
pub(super) fn table_function(factor: &TableFactor) -> Option<Result<TableFactor>> {
    let TableFactor::Table {
        name,
        args: Some(args),
        alias,
        ..
    } = factor
    else {
        return None;
    };
    let function = last_name(name)?;
    if function == "range" {
        return Some(Ok(spark_range(factor, alias.clone())));
    }
    if !is_generator(&function) {
        return None;
    }
    Some(generator_table(name, &args.args, alias.as_ref()))
}

fn last_name(name: &ObjectName) -> Option<String> {
    match &name.0[..] {
        [part] => part.as_ident().map(|i| i.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// `(SELECT <the generator's columns, named by the alias's columns>) AS alias`.
fn generator_table(
    name: &ObjectName,
    args: &[FunctionArg],
    alias: Option<&TableAlias>,
) -> Result<TableFactor> {
    let function = generator_call(name, args)?;
    let mut query = parse_query("SELECT 1");
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = generator_columns(&function, alias_columns(alias), false, None)?;
    }
    let alias = alias.map(|a| TableAlias {
        columns: Vec::new(),
        ..a.clone()
    });
    Ok(derived(query, alias))
}

/// `(SELECT value AS id FROM range(…)) AS alias`; Spark's fourth argument, a partition
/// count, is dropped.
fn spark_range(factor: &TableFactor, alias: Option<TableAlias>) -> TableFactor {
    let mut range = factor.clone();
    if let TableFactor::Table {
        args: Some(args),
        alias,
        ..
    } = &mut range
    {
        args.args.truncate(3);
        *alias = None;
    }
    let id = SelectItem::ExprWithAlias {
        expr: Expr::Identifier(Ident::new("value")),
        alias: Ident::new("id"),
    };
    derived(select_query(vec![id], range), alias)
}

/// A generator call named `name` over `args`.
fn generator_call(name: &ObjectName, args: &[FunctionArg]) -> Result<Function> {
    let arguments = plain_argument_list(args, name)?
        .into_iter()
        .cloned()
        .collect();
    Ok(function_call(&name.to_string(), arguments))
}

/// The column names an alias gives (`AS e(a, b)`).
fn alias_columns(alias: Option<&TableAlias>) -> Vec<Ident> {
    alias
        .map(|a| a.columns.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

/// Moves the lateral generators that end `select`'s FROM into its `LATERAL VIEW`s, in order.
pub(super) fn lateral_generators(select: &mut Select) -> Result<()> {
    let mut views = Vec::new();
    loop {
        let items = select.from.len();
        let Some(last) = select.from.last_mut() else {
            break;
        };
        if let Some(join) = last.joins.last()
            && let Some(outer) = lateral_join(&join.join_operator)
            && let Some(view) = lateral_view(&join.relation, outer)
        {
            views.push(view?);
            last.joins.pop();
            continue;
        }
        if items > 1
            && last.joins.is_empty()
            && let Some(view) = lateral_view(&last.relation, false)
        {
            views.push(view?);
            select.from.pop();
            continue;
        }
        break;
    }
    views.reverse();
    views.append(&mut select.lateral_views);
    select.lateral_views = views;
    Ok(())
}

/// Whether a join to a lateral generator keeps rows without elements (`LEFT JOIN … ON
/// true`), or `None` for a join that cannot be a lateral view.
fn lateral_join(operator: &JoinOperator) -> Option<bool> {
    let unconditional = |constraint: &JoinConstraint| match constraint {
        JoinConstraint::None => true,
        JoinConstraint::On(Expr::Value(value)) => value.value == Value::Boolean(true),
        _ => false,
    };
    match operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c)
            if unconditional(c) =>
        {
            Some(false)
        }
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) if unconditional(c) => Some(true),
        _ => None,
    }
}

/// The `LATERAL VIEW` a `LATERAL generator(…) [AS e(c, …)]` FROM item stands for.
fn lateral_view(factor: &TableFactor, outer: bool) -> Option<Result<LateralView>> {
    let TableFactor::Function {
        lateral: true,
        name,
        args,
        alias,
        with_ordinality: false,
    } = factor
    else {
        return None;
    };
    if !last_name(name).is_some_and(|n| is_generator(&n)) {
        return None;
    }
    Some(generator_call(name, args).map(|function| LateralView {
        lateral_view: Expr::Function(function),
        lateral_view_name: ObjectName::from(vec![
            alias
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_else(|| Ident::new("lateral_generator")),
        ]),
        lateral_col_alias: alias_columns(alias.as_ref()),
        outer,
    }))
}
