//! `LATERAL VIEW [OUTER] explode/posexplode(…) name AS columns`: the FROM item wrapped in a
//! derived table whose select list adds the generator's `unnest`s (`stack` too;
//! `json_tuple`: its columns, one row per row).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, Expr, Function, GroupByExpr, Ident, LateralView, Select, SelectItem,
    TableFactor, TableWithJoins, Value, WildcardAdditionalOptions, visit_expressions_mut,
};

use super::build::{call, derived, plain_alias, plain_arguments, select_query_from};
use super::reshape::same_name;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::pg_syntax::function_call;

/// Each `LATERAL VIEW` wraps the FROM item before it in a derived table that adds the
/// generator's columns with select-list `unnest`s (DataFusion does not run an `UNNEST` that
/// reads a preceding table). The derived table keeps the item's name when it is one table;
/// references qualified by a lateral view's name (or by the tables of a join it wraps) lose
/// their qualifier, as the columns now come from the one derived table.
pub(super) fn lateral_views(select: &mut Select) -> Result<()> {
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
        projection.extend(lateral_view_columns(view)?);
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

/// The select-list items of a `LATERAL VIEW`'s generator.
fn lateral_view_columns(view: LateralView) -> Result<Vec<SelectItem>> {
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
    generator_columns(&function, lateral_col_alias, outer)
}

/// The select-list items a generator adds, named `names` or as Spark names them. What
/// `explode`, `posexplode` and `inline` add depends on their argument's type: they are left
/// as deferred generators, completed once the type is known ([`DeferredGenerator`]).
/// `OUTER` (or a name ending `_outer`) keeps a row of NULLs for a NULL or empty input.
pub(super) fn generator_columns(
    function: &Function,
    names: Vec<Ident>,
    outer: bool,
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
        "explode" | "posexplode" | "inline" => {
            Ok(vec![deferred_generator(&generator, outer, argument, names)])
        }
        _ => Err(
            Error::unsupported(format!("the generator {generator} is not supported")).with_hint(
                "lakeport supports explode, posexplode, inline (and their _outer forms), \
                 json_tuple and stack",
            ),
        ),
    }
}

/// What the rows of an `explode`, `posexplode` or `inline` hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Elements {
    /// An array's elements: one column, `col`.
    Values,
    /// A map's entries: `key` and `value`.
    Entries,
    /// The fields of an array of structs (`inline`), one column each, named as the fields.
    Fields(Vec<String>),
}

/// The name of the call that stands for a generator until its argument's type is known:
/// `lakeport_deferred_generator('explode', outer, argument)`, with the generator's names as
/// the select item's aliases.
const DEFERRED_GENERATOR: &str = "lakeport_deferred_generator";

fn deferred_generator(
    generator: &str,
    outer: bool,
    argument: Expr,
    names: Vec<Ident>,
) -> SelectItem {
    let expr = call(
        DEFERRED_GENERATOR,
        [
            Expr::value(Value::SingleQuotedString(generator.into())),
            Expr::value(Value::Boolean(outer)),
            argument,
        ],
    );
    match <[Ident; 1]>::try_from(names) {
        Ok([alias]) => SelectItem::ExprWithAlias { expr, alias },
        Err(names) if names.is_empty() => SelectItem::UnnamedExpr(expr),
        Err(aliases) => SelectItem::ExprWithAliases { expr, aliases },
    }
}

/// A generator left for its argument's type: its name, whether it is `OUTER`, its argument
/// and the names it was given.
pub(super) struct DeferredGenerator {
    pub name: String,
    pub outer: bool,
    pub argument: Expr,
    pub names: Vec<Ident>,
}

impl DeferredGenerator {
    /// The deferred generator `item` stands for, if it is one.
    pub(super) fn of(item: &SelectItem) -> Option<Self> {
        let (expr, names) = match item {
            SelectItem::UnnamedExpr(expr) => (expr, Vec::new()),
            SelectItem::ExprWithAlias { expr, alias } => (expr, vec![alias.clone()]),
            SelectItem::ExprWithAliases { expr, aliases } => (expr, aliases.clone()),
            _ => return None,
        };
        let Expr::Function(function) = expr else {
            return None;
        };
        if function.name.to_string() != DEFERRED_GENERATOR {
            return None;
        }
        match plain_arguments(function).ok()?[..] {
            [Expr::Value(generator), Expr::Value(outer), argument] => {
                match (&generator.value, &outer.value) {
                    (Value::SingleQuotedString(name), Value::Boolean(outer)) => Some(Self {
                        name: name.clone(),
                        outer: *outer,
                        argument: argument.clone(),
                        names,
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// What its names suggest its argument holds, for when the type cannot be learnt (a
    /// map's entries take two names, three with `posexplode`); `inline` needs the type.
    pub(super) fn elements_by_names(&self) -> Option<Elements> {
        match (self.name.as_str(), self.names.len()) {
            ("explode", 2) | ("posexplode", 3) => Some(Elements::Entries),
            ("explode" | "posexplode", _) => Some(Elements::Values),
            _ => None,
        }
    }

    /// The select-list items it adds, its argument being `elements`.
    pub(super) fn columns(self, elements: Elements) -> Result<Vec<SelectItem>> {
        element_columns(&self.name, self.argument, elements, self.names, self.outer)
    }
}

/// The select-list items of `generator` over `argument`: one `unnest` per column (of the
/// array, of a map's keys and values, or of the array with a struct field taken from each
/// element), `posexplode` adding zero-based positions first.
fn element_columns(
    generator: &str,
    argument: Expr,
    elements: Elements,
    names: Vec<Ident>,
    outer: bool,
) -> Result<Vec<SelectItem>> {
    let mut columns: Vec<(Expr, Option<String>, String)> = match elements {
        Elements::Values => vec![(argument.clone(), None, "col".into())],
        Elements::Entries => vec![
            (call("map_keys", [argument.clone()]), None, "key".into()),
            (call("map_values", [argument.clone()]), None, "value".into()),
        ],
        Elements::Fields(fields) => fields
            .into_iter()
            .map(|field| (argument.clone(), Some(field.clone()), field))
            .collect(),
    };
    if generator == "posexplode" {
        columns.insert(0, (positions(&argument), None, "pos".into()));
    }
    if !names.is_empty() && names.len() != columns.len() {
        return Err(Error::syntax(format!(
            "{generator} produces {}, but {} given",
            counted(columns.len(), "column", "columns"),
            counted(names.len(), "alias was", "aliases were"),
        )));
    }
    let mut names = names.into_iter();
    Ok(columns
        .into_iter()
        .map(|(array, field, default_name)| {
            let array = if outer { or_one_null(array) } else { array };
            let element = call("unnest", [array]);
            let expr = match field {
                Some(field) => call(
                    "get_field",
                    [element, Expr::value(Value::SingleQuotedString(field))],
                ),
                None => element,
            };
            SelectItem::ExprWithAlias {
                expr,
                alias: names
                    .next()
                    .unwrap_or_else(|| Ident::with_quote('"', default_name)),
            }
        })
        .collect())
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
        return Err(Error::syntax(format!(
            "json_tuple produces {} columns, but {} aliases were given",
            keys.len(),
            names.len()
        )));
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
        return Err(Error::syntax(format!(
            "stack produces {columns} columns, but {} aliases were given",
            names.len()
        )));
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
