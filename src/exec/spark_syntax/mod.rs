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
//!   is dropped. `ORDER BY ALL` orders by every select-list column, left to right.
//!
//! - Generators and `range` in FROM, `LATERAL` generators after the FROM items they read:
//!   see `table_functions`.
//! - Generators in a select list add the same columns as in `LATERAL VIEW`, named by
//!   `AS name` or `AS (name, …)`: `explode(a)` → `col`, `posexplode(a)` → `pos, col`, a map
//!   → `key, value` (after `pos`), `inline(structs)` → one column per field,
//!   `json_tuple(j, 'k1', …)` → `c0, …`, `stack(n, …)` → n rows of `col0, …`. Where the
//!   columns depend on the argument's type and the names do not tell, the generator is
//!   completed after table resolution (see `completion`).
//! - `x LIKE ANY | SOME | ALL (p1, p2)`: one LIKE per pattern, see `like`.
//! - `GROUP BY a, b WITH ROLLUP` / `WITH CUBE` / `GROUPING SETS (…)`: see `grouping`.
//! - Lateral column aliases (`SELECT a * 2 AS b, b + 1 FROM t`), resolved after table
//!   resolution too, since a FROM column of the same name wins: see `lateral_aliases`.
//! - `window(time, '1 hour')`: a lateral view of the time windows each row falls in, see
//!   `time_window`; `session_window(time, gap)`: the FROM item's events merged into
//!   sessions, see `session_window`.
//! - Calls and operators Spark spells differently (date parts, casts written as calls,
//!   `count_if`, `trunc(d, 'MM')`, `struct`, `DIV`, `RLIKE`, …): see `functions`.
//!
//! The input's "other columns" of PIVOT and UNPIVOT are listed when the input is a
//! subquery naming its columns, and otherwise taken as `* EXCLUDE (…)`.

mod build;
mod completion;
mod deferred;
mod functions;
mod grouping;
mod lateral;
mod lateral_aliases;
mod like;
mod reshape;
mod sample;
mod session_window;
mod table_functions;
mod time_window;

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, OrderBy, OrderByExpr, OrderByKind, OrderByOptions, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};

pub use self::completion::{Probe, complete_selects};
pub use self::functions::struct_field_name;
use self::functions::{
    complete_grouping_id, is_higher_order, lambda_field_access, rewrite_expr, stray_lambda,
};
use self::grouping::group_by_modifiers;
use self::lateral::{GENERATORS, generator_columns, lateral_views};
use self::like::quantified_like;
use self::reshape::{pivot, unpivot};
use self::sample::sample;
use self::session_window::session_windows;
use self::table_functions::{lateral_generators, table_function};
use self::time_window::time_windows;
use crate::error::{Error, Result};

/// Whether `name` is a Spark generator (`explode`, `inline`, `stack`, …), whose columns
/// are named by the rewrite rather than after the call.
pub fn is_generator(name: &str) -> bool {
    GENERATORS.contains(&name.to_ascii_lowercase().as_str())
}

/// Rewrites `statement` in place.
pub fn rewrite(statement: &mut Statement) -> Result<()> {
    match statement.visit(&mut SparkClauses::default()) {
        ControlFlow::Break(error) => Err(error),
        ControlFlow::Continue(()) => Ok(()),
    }
}

#[derive(Default)]
struct SparkClauses {
    /// How many higher-order calls enclose the expression being visited.
    higher_order_depth: usize,
    /// The parameters of the lambdas enclosing the expression being visited.
    lambda_params: Vec<Ident>,
    /// How many lateral views were rewritten so far (each is told apart by its number).
    lateral_views: usize,
}

impl VisitorMut for SparkClauses {
    type Break = Error;

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Error> {
        if let Some(likes) = quantified_like(expr) {
            *expr = likes;
        }
        match expr {
            Expr::Function(f) if is_higher_order(f) => self.higher_order_depth += 1,
            Expr::Lambda(lambda) if self.higher_order_depth > 0 => {
                self.lambda_params
                    .extend(lambda.params.iter().map(|param| param.name.clone()));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Error> {
        match expr {
            Expr::Function(function) if is_higher_order(function) => {
                self.higher_order_depth = self.higher_order_depth.saturating_sub(1);
            }
            Expr::Lambda(lambda) if self.higher_order_depth == 0 => match stray_lambda(lambda) {
                Ok(operator) => *expr = operator,
                Err(error) => return ControlFlow::Break(error),
            },
            Expr::Lambda(lambda) => {
                let enclosing = self.lambda_params.len().saturating_sub(lambda.params.len());
                self.lambda_params.truncate(enclosing);
            }
            Expr::CompoundIdentifier(names) => {
                if let Some(access) = lambda_field_access(names, &self.lambda_params) {
                    *expr = access;
                }
            }
            _ => {}
        }
        match rewrite_expr(expr) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => ControlFlow::Break(error),
        }
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<Error> {
        let windows = group_by_modifiers(select)
            .and_then(|()| lateral_generators(select))
            .and_then(|()| time_windows(select))
            .and_then(|()| session_windows(select));
        if let Err(error) = windows {
            return ControlFlow::Break(error);
        }
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in std::mem::take(&mut select.projection) {
            match generators_in_projection(item) {
                Ok(items) => projection.extend(items),
                Err(error) => return ControlFlow::Break(error),
            }
        }
        select.projection = projection;
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
        if let Err(error) = lateral_views(select, &mut self.lateral_views) {
            return ControlFlow::Break(error);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Error> {
        complete_grouping_id(query);
        order_by_all(query);
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
            _ => match table_function(factor) {
                Some(rewritten) => rewritten,
                None => return ControlFlow::Continue(()),
            },
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

/// A generator in a select list (`explode(a)`, `posexplode(a) AS (p, v)`, `stack(n, …) AS
/// (k, v)`, …) becomes the items it adds; several names belong to generators only.
fn generators_in_projection(item: SelectItem) -> Result<Vec<SelectItem>> {
    let (expr, names) = match &item {
        SelectItem::UnnamedExpr(expr) => (expr, Vec::new()),
        SelectItem::ExprWithAlias { expr, alias } => (expr, vec![alias.clone()]),
        SelectItem::ExprWithAliases { expr, aliases } => (expr, aliases.clone()),
        _ => return Ok(vec![item]),
    };
    match expr {
        Expr::Function(function) if is_generator(&function.name.to_string()) => {
            generator_columns(function, names, false, None)
        }
        _ if matches!(item, SelectItem::ExprWithAliases { .. }) => Err(Error::syntax(format!(
            "only a generator such as explode or stack takes several column names, not {expr}"
        ))),
        _ => Ok(vec![item]),
    }
}

/// `ORDER BY ALL [options]` as `ORDER BY 1, 2, …` with the options on each, when the select
/// list can be counted (no wildcard); otherwise DataFusion's own, which takes columns only.
fn order_by_all(query: &mut Query) {
    let Some(OrderBy {
        kind: OrderByKind::All(options),
        ..
    }) = &query.order_by
    else {
        return;
    };
    let options = *options;
    let mut body = query.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left;
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    let counted = select.projection.iter().all(|item| {
        matches!(
            item,
            SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
        )
    });
    if !counted {
        return;
    }
    let ordinals = (1..=select.projection.len())
        .map(|n| OrderByExpr {
            expr: Expr::value(Value::Number(n.to_string(), false)),
            options,
            with_fill: None,
        })
        .collect();
    query.order_by = Some(OrderBy {
        kind: OrderByKind::Expressions(ordinals),
        interpolate: None,
    });
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
