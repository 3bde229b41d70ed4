//! Spark's session windows: `session_window(time, gap)` in a select list, GROUP BY, HAVING
//! or SORT BY stands for the column `session_window` (`struct<start, end>`) of the select's
//! FROM item, which is wrapped so as to add it:
//!
//! - grouped by `session_window`, the events of each group (the other GROUP BY keys) form
//!   sessions: an event within the gap of an earlier one joins its session, which then
//!   lasts until the latest event's time plus its gap — Spark's merging of the events'
//!   windows (an event exactly at a session's end joins it, as in Spark);
//! - otherwise each event's own window, `[time, time + gap)`.
//!
//! Events whose time or gap is NULL, or whose gap is not positive, are dropped, and the
//! select's WHERE filters events before they form sessions, as in Spark.
//!
//! The sessions are found with window functions over the events in time order, in layers
//! that keep the FROM item's name, so that `e.k` still reads `e`'s column:
//!
//! 1. each event's window (`lakeport_session_window`, see `spark_functions`);
//! 2. the latest end among the earlier events of its group;
//! 3. the session number: how many events of the group up to this one started after the
//!    earlier events' latest end;
//! 4. the session's start and end, over the events of each group and session number.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Ident, Query, Select, SelectItem, SetExpr, TableAlias,
    TableFactor, Value, WindowType, visit_expressions_mut,
};

use super::build::{call, derived, parse_query, placeholder_factor, plain_arguments};
use super::reshape::wildcard_excluding;
use super::time_window::{one_row, take_window_call};
use crate::error::{Error, Result};
use crate::exec::spark_functions::SESSION_WINDOW;

/// The column a select's session window is read from.
const SESSION_COLUMN: &str = "session_window";

/// Each event's own window, while sessions are formed.
const EVENT_WINDOW: &str = "lakeport_event_window";
/// The latest end of the earlier events' windows.
const REACH: &str = "lakeport_session_reach";
/// The session's number within its group.
const SESSION_NUMBER: &str = "lakeport_session_number";
/// Stands for the group's keys in the layers' PARTITION BY.
const GROUP_KEYS: &str = "lakeport_group_keys";

/// Rewrites `select`'s `session_window(…)` into the column `session_window` of its FROM
/// item.
pub(super) fn session_windows(select: &mut Select) -> Result<()> {
    let Some(window) = take_window_call(select, "session_window", SESSION_COLUMN)? else {
        return Ok(());
    };
    let (time, gap) = arguments(&window)?;
    if select.from.is_empty() {
        select.from.push(one_row());
    }
    let keys = group_keys(select)?;
    let [from] = &mut select.from[..] else {
        return Err(single_input());
    };
    if !from.joins.is_empty() || !select.lateral_views.is_empty() {
        return Err(single_input());
    }
    let alias = factor_alias(&from.relation);
    let event_window = call(SESSION_WINDOW, [time, gap]);
    let opened = Expr::IsNotNull(Box::new(event_window.clone()));
    let filter = match select.selection.take() {
        Some(condition) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(condition))),
            op: BinaryOperator::And,
            right: Box::new(opened),
        },
        None => opened,
    };
    let column = if keys.is_some() {
        EVENT_WINDOW
    } else {
        SESSION_COLUMN
    };
    let mut events = parse_query(&format!("SELECT *, 1 AS {column} FROM t"));
    if let SetExpr::Select(select) = events.body.as_mut() {
        if let Some(SelectItem::ExprWithAlias { expr, .. }) = select.projection.get_mut(1) {
            *expr = event_window;
        }
        select.from[0].relation = std::mem::replace(&mut from.relation, placeholder_factor());
        select.selection = Some(filter);
    }
    from.relation = match keys {
        None => derived(events, alias),
        Some(keys) => sessions(events, &keys, alias),
    };
    Ok(())
}

/// The layers that merge the events' windows into sessions (see the module's docs).
fn sessions(events: Query, keys: &[Expr], alias: Option<TableAlias>) -> TableFactor {
    let layers = [
        format!(
            "SELECT *, max(get_field({EVENT_WINDOW}, 'end')) OVER (PARTITION BY {GROUP_KEYS} \
             ORDER BY get_field({EVENT_WINDOW}, 'start') ROWS BETWEEN UNBOUNDED PRECEDING AND \
             1 PRECEDING) AS {REACH} FROM t"
        ),
        format!(
            "SELECT *, sum(CASE WHEN get_field({EVENT_WINDOW}, 'start') <= {REACH} THEN 0 ELSE 1 \
             END) OVER (PARTITION BY {GROUP_KEYS} ORDER BY get_field({EVENT_WINDOW}, 'start') \
             RANGE UNBOUNDED PRECEDING) AS {SESSION_NUMBER} FROM t"
        ),
        format!(
            "SELECT *, named_struct(\
             'start', min(get_field({EVENT_WINDOW}, 'start')) OVER (PARTITION BY {GROUP_KEYS}, \
             {SESSION_NUMBER}), \
             'end', max(get_field({EVENT_WINDOW}, 'end')) OVER (PARTITION BY {GROUP_KEYS}, \
             {SESSION_NUMBER})) AS {SESSION_COLUMN} FROM t"
        ),
    ];
    let mut factor = derived(events, alias.clone());
    for (depth, layer) in layers.iter().enumerate() {
        let mut query = parse_query(layer);
        if let SetExpr::Select(select) = query.body.as_mut() {
            if depth == layers.len() - 1 {
                select.projection[0] = wildcard_excluding(&[
                    Ident::new(EVENT_WINDOW),
                    Ident::new(REACH),
                    Ident::new(SESSION_NUMBER),
                ]);
            }
            for item in &mut select.projection {
                if let SelectItem::ExprWithAlias { expr, .. } = item {
                    partition_by_keys(expr, keys);
                }
            }
            select.from[0].relation = factor;
        }
        factor = derived(query, alias.clone());
    }
    factor
}

/// Puts `keys` where a layer's PARTITION BY names `GROUP_KEYS`.
fn partition_by_keys(expr: &mut Expr, keys: &[Expr]) {
    let _ = visit_expressions_mut(expr, |e| {
        if let Expr::Function(function) = e
            && let Some(WindowType::WindowSpec(spec)) = &mut function.over
        {
            spec.partition_by = std::mem::take(&mut spec.partition_by)
                .into_iter()
                .flat_map(|e| match e {
                    Expr::Identifier(ident) if ident.value == GROUP_KEYS => keys.to_vec(),
                    other => vec![other],
                })
                .collect();
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The time and the gap of `session_window(time, gap)`.
fn arguments(window: &Expr) -> Result<(Expr, Expr)> {
    let Expr::Function(function) = window else {
        return Err(Error::internal("a session window that is not a call"));
    };
    match &plain_arguments(function)?[..] {
        [time, gap] => Ok(((*time).clone(), (*gap).clone())),
        _ => Err(Error::syntax(
            "session_window takes a time and a gap duration",
        )),
    }
}

/// The GROUP BY keys other than the session window when the select is grouped by it, None
/// when it is not (each event then keeps its own window).
fn group_keys(select: &Select) -> Result<Option<Vec<Expr>>> {
    let GroupByExpr::Expressions(exprs, modifiers) = &select.group_by else {
        return Err(
            Error::unsupported("session_window cannot be used with GROUP BY ALL")
                .with_hint("list the grouping keys"),
        );
    };
    let mut keys = Vec::new();
    let mut grouped = false;
    for expr in exprs {
        let key = match expr {
            Expr::Value(value) => match &value.value {
                Value::Number(n, _) => selected_expr(select, n)?,
                _ => expr,
            },
            _ => expr,
        };
        match key {
            Expr::Identifier(ident) if names_session(select, ident) => grouped = true,
            Expr::GroupingSets(_) | Expr::Rollup(_) | Expr::Cube(_) => {
                return Err(no_grouping_sets());
            }
            _ => keys.push(key.clone()),
        }
    }
    if grouped && !modifiers.is_empty() {
        return Err(no_grouping_sets());
    }
    Ok(grouped.then_some(keys))
}

/// Whether a GROUP BY key `name` is the session window: its column, or the alias given to
/// it in the select list.
fn names_session(select: &Select, name: &Ident) -> bool {
    name.value == SESSION_COLUMN
        || select.projection.iter().any(|item| {
            matches!(item, SelectItem::ExprWithAlias { expr: Expr::Identifier(column), alias }
                if column.value == SESSION_COLUMN && alias.value.eq_ignore_ascii_case(&name.value))
        })
}

/// The select-list expression `GROUP BY n` names.
fn selected_expr<'a>(select: &'a Select, position: &str) -> Result<&'a Expr> {
    let index = position
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| select.projection.get(i));
    match index {
        Some(SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) => Ok(expr),
        _ => Err(Error::syntax(format!(
            "GROUP BY position {position} is not in select list"
        ))),
    }
}

/// The name the FROM item's columns are qualified with, kept by every layer (the names of
/// its columns, if the alias gives them, were given inside).
fn factor_alias(factor: &TableFactor) -> Option<TableAlias> {
    let name = match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } => alias.name.clone(),
        TableFactor::Table { name, .. } => name.0.last()?.as_ident()?.clone(),
        _ => return None,
    };
    Some(TableAlias {
        explicit: true,
        name,
        columns: Vec::new(),
        at: None,
    })
}

fn single_input() -> Error {
    Error::unsupported("session_window reads the events of one table or subquery")
        .with_hint("join in a subquery first: FROM (SELECT … FROM a JOIN b …) AS events")
}

fn no_grouping_sets() -> Error {
    Error::unsupported("session_window cannot be grouped with GROUPING SETS, ROLLUP or CUBE")
}
