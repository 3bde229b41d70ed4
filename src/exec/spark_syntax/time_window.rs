//! Spark's time windows: `window(time, '10 minutes' [, slide [, start]])` in a select list,
//! GROUP BY, HAVING or SORT BY stands for the column `window` (`struct<start, end>`, so
//! `window.start` reads as in Spark) of a lateral view exploding the windows each row falls
//! in (`lakeport_time_windows`): one per row for tumbling windows, several for sliding
//! ones, none for a NULL time — the rows Spark's windowing keeps.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, LateralView, ObjectName, Select, SelectItem, TableWithJoins, Value,
    visit_expressions_mut,
};

use super::build::{call, derived, parse_query, plain_alias, plain_arguments};
use crate::error::{Error, Result};
use crate::exec::pg_syntax::function_call;
use crate::exec::spark_functions::TIME_WINDOWS;

/// The column a select's time window is read from.
const WINDOW_COLUMN: &str = "window";

/// Replaces `select`'s `window(…)` calls with the column `window` of a lateral view added
/// for them; Spark's single window per select is required.
pub(super) fn time_windows(select: &mut Select) -> Result<()> {
    let mut windows = WindowCalls::default();
    for item in &mut select.projection {
        match item {
            SelectItem::UnnamedExpr(expr) if windows.take(expr) => {
                *item = SelectItem::ExprWithAlias {
                    expr: column(),
                    alias: Ident::new(WINDOW_COLUMN),
                };
            }
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                windows.replace_in(expr)
            }
            _ => {}
        }
    }
    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        exprs.iter_mut().for_each(|e| windows.replace_in(e));
    }
    for expr in [&mut select.having, &mut select.qualify]
        .into_iter()
        .flatten()
    {
        windows.replace_in(expr);
    }
    select
        .sort_by
        .iter_mut()
        .for_each(|o| windows.replace_in(&mut o.expr));
    if let Some(error) = windows.error {
        return Err(error);
    }
    let Some(call) = windows.found else {
        return Ok(());
    };
    name_window_fields(&mut select.projection);
    if select.from.is_empty() {
        select.from.push(TableWithJoins {
            relation: derived(
                parse_query("SELECT 1 AS one_row"),
                Some(plain_alias("one_row")),
            ),
            joins: Vec::new(),
        });
    }
    select.lateral_views.push(LateralView {
        lateral_view: Expr::Function(function_call("explode", vec![time_windows_call(&call)?])),
        lateral_view_name: ObjectName::from(vec![Ident::new("lakeport_time_window")]),
        lateral_col_alias: vec![Ident::new(WINDOW_COLUMN)],
        outer: false,
    });
    Ok(())
}

/// `window.start` is named `start` explicitly: DataFusion loses an unnamed field of a
/// grouping column when `ORDER BY 1` refers to it.
fn name_window_fields(projection: &mut [SelectItem]) {
    for item in projection {
        if let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item
            && let [column, field] = &parts[..]
            && column.value.eq_ignore_ascii_case(WINDOW_COLUMN)
        {
            let alias = field.clone();
            *item = SelectItem::ExprWithAlias {
                expr: Expr::CompoundIdentifier(parts.clone()),
                alias,
            };
        }
    }
}

fn column() -> Expr {
    Expr::Identifier(Ident::new(WINDOW_COLUMN))
}

fn is_window_call(expr: &Expr) -> bool {
    matches!(expr, Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("window"))
}

/// The window call a select uses, and the first problem met.
#[derive(Default)]
struct WindowCalls {
    found: Option<Expr>,
    error: Option<Error>,
}

impl WindowCalls {
    /// Whether `expr` is the select's window call (noting it).
    fn take(&mut self, expr: &Expr) -> bool {
        if !is_window_call(expr) {
            return false;
        }
        match &self.found {
            None => self.found = Some(expr.clone()),
            Some(found) if found == expr => {}
            Some(_) => {
                self.error.get_or_insert_with(|| {
                    Error::unsupported("a query can use only one time window")
                        .with_hint("Spark refuses several window(…) expressions in a select too")
                });
            }
        }
        true
    }

    fn replace_in(&mut self, expr: &mut Expr) {
        let _ = visit_expressions_mut(expr, |e| {
            if self.take(e) {
                *e = column();
            }
            ControlFlow::<()>::Continue(())
        });
    }
}

/// `lakeport_time_windows(time, duration, slide, start)` for `window(time, duration [,
/// slide [, start]])`: the slide defaults to the duration (tumbling windows), the start
/// to none.
fn time_windows_call(window: &Expr) -> Result<Expr> {
    let Expr::Function(function) = window else {
        return Err(Error::internal("a time window that is not a call"));
    };
    let arguments: Vec<Expr> = plain_arguments(function)?.into_iter().cloned().collect();
    let (time, duration, slide, start) = match &arguments[..] {
        [time, duration] => (time, duration, duration, None),
        [time, duration, slide] => (time, duration, slide, None),
        [time, duration, slide, start] => (time, duration, slide, Some(start)),
        _ => {
            return Err(Error::syntax(
                "window takes a time, a duration and optionally a slide and a start time",
            ));
        }
    };
    let no_offset = Expr::value(Value::SingleQuotedString("0 seconds".into()));
    Ok(call(
        TIME_WINDOWS,
        [
            time.clone(),
            duration.clone(),
            slide.clone(),
            start.cloned().unwrap_or(no_offset),
        ],
    ))
}
