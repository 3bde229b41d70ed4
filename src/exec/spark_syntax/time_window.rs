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
    let Some(call) = take_window_call(select, "window", WINDOW_COLUMN)? else {
        return Ok(());
    };
    if select.from.is_empty() {
        select.from.push(one_row());
    }
    select.lateral_views.push(LateralView {
        lateral_view: Expr::Function(function_call("explode", vec![time_windows_call(&call)?])),
        lateral_view_name: ObjectName::from(vec![Ident::new("lakeport_time_window")]),
        lateral_col_alias: vec![Ident::new(WINDOW_COLUMN)],
        outer: false,
    });
    Ok(())
}

/// A FROM item of one row, for windows of a select without FROM.
pub(super) fn one_row() -> TableWithJoins {
    TableWithJoins {
        relation: derived(
            parse_query("SELECT 1 AS one_row"),
            Some(plain_alias("one_row")),
        ),
        joins: Vec::new(),
    }
}

/// Replaces the calls of `function` in `select` (its select list, GROUP BY, HAVING, QUALIFY
/// and SORT BY) with the column `column`, and returns the call. An unnamed call in the select
/// list becomes `column AS column`. One call per select, as Spark requires.
pub(super) fn take_window_call(
    select: &mut Select,
    function: &'static str,
    column: &'static str,
) -> Result<Option<Expr>> {
    let mut windows = WindowCalls::new(function, column);
    for item in &mut select.projection {
        match item {
            SelectItem::UnnamedExpr(expr) if windows.take(expr) => {
                *item = SelectItem::ExprWithAlias {
                    expr: windows.column(),
                    alias: Ident::new(column),
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
    if windows.found.is_some() {
        name_window_fields(&mut select.projection, column);
    }
    Ok(windows.found)
}

/// `window.start` is named `start` explicitly: DataFusion loses an unnamed field of a
/// grouping column when `ORDER BY 1` refers to it.
fn name_window_fields(projection: &mut [SelectItem], window_column: &str) {
    for item in projection {
        if let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item
            && let [column, field] = &parts[..]
            && column.value.eq_ignore_ascii_case(window_column)
        {
            let alias = field.clone();
            *item = SelectItem::ExprWithAlias {
                expr: Expr::CompoundIdentifier(parts.clone()),
                alias,
            };
        }
    }
}

/// The window call a select uses, and the first problem met.
struct WindowCalls {
    function: &'static str,
    column: &'static str,
    found: Option<Expr>,
    error: Option<Error>,
}

impl WindowCalls {
    fn new(function: &'static str, column: &'static str) -> Self {
        Self {
            function,
            column,
            found: None,
            error: None,
        }
    }

    fn column(&self) -> Expr {
        Expr::Identifier(Ident::new(self.column))
    }

    /// Whether `expr` is the select's window call (noting it).
    fn take(&mut self, expr: &Expr) -> bool {
        let is_call = matches!(expr, Expr::Function(f)
            if f.name.to_string().eq_ignore_ascii_case(self.function));
        if !is_call {
            return false;
        }
        match &self.found {
            None => self.found = Some(expr.clone()),
            Some(found) if found == expr => {}
            Some(_) => {
                let function = self.function;
                self.error.get_or_insert_with(|| {
                    Error::unsupported(format!("a query can use only one {function}(…)"))
                        .with_hint("Spark refuses several window expressions in a select too")
                });
            }
        }
        true
    }

    fn replace_in(&mut self, expr: &mut Expr) {
        let _ = visit_expressions_mut(expr, |e| {
            if self.take(e) {
                *e = self.column();
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
