//! Generators whose columns depend on their argument's type (`explode`, `posexplode`,
//! `inline`), held in the AST as calls to [`DEFERRED_GENERATOR`] until `completion`
//! learns the type, and a lateral view's `v.*` held as a call to [`VIEW_COLUMNS`] until its
//! generator's columns are known.

use datafusion::sql::sqlparser::ast::{Expr, Ident, SelectItem, Value};

use super::build::{call, plain_arguments};
use super::lateral::{or_one_null, positions};
use crate::error::{Error, Result};

/// `lakeport_deferred_generator('explode', outer, argument, 'view id')`, the generator's
/// names as the select item's aliases; the view id is empty outside a lateral view.
const DEFERRED_GENERATOR: &str = "lakeport_deferred_generator";

/// `lakeport_lateral_view_columns('view id')`: the columns of that lateral view.
const VIEW_COLUMNS: &str = "lakeport_lateral_view_columns";

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

/// A generator left for its argument's type: its name (without `_outer`), whether it is
/// `OUTER`, its argument, the names it was given and the lateral view it belongs to.
pub(super) struct DeferredGenerator {
    pub name: String,
    pub outer: bool,
    pub argument: Expr,
    pub names: Vec<Ident>,
    pub view: Option<String>,
}

impl DeferredGenerator {
    /// The select item that holds it.
    pub(super) fn into_item(self) -> SelectItem {
        let text = |text: String| Expr::value(Value::SingleQuotedString(text));
        let expr = call(
            DEFERRED_GENERATOR,
            [
                text(self.name),
                Expr::value(Value::Boolean(self.outer)),
                self.argument,
                text(self.view.unwrap_or_default()),
            ],
        );
        match <[Ident; 1]>::try_from(self.names) {
            Ok([alias]) => SelectItem::ExprWithAlias { expr, alias },
            Err(names) if names.is_empty() => SelectItem::UnnamedExpr(expr),
            Err(aliases) => SelectItem::ExprWithAliases { expr, aliases },
        }
    }

    /// The deferred generator `item` holds, if it holds one.
    pub(super) fn of(item: &SelectItem) -> Option<Self> {
        let (expr, names) = match item {
            SelectItem::UnnamedExpr(expr) => (expr, Vec::new()),
            SelectItem::ExprWithAlias { expr, alias } => (expr, vec![alias.clone()]),
            SelectItem::ExprWithAliases { expr, aliases } => (expr, aliases.clone()),
            _ => return None,
        };
        let [name, outer, argument, view] = &marker_arguments(expr, DEFERRED_GENERATOR)?[..] else {
            return None;
        };
        let view = text_value(view)?;
        Some(Self {
            name: text_value(name)?,
            outer: matches!(outer, Expr::Value(v) if v.value == Value::Boolean(true)),
            argument: argument.clone(),
            names,
            view: (!view.is_empty()).then_some(view),
        })
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

    /// The select-list items it adds, its argument holding `elements`: one `unnest` per
    /// column (of the array, of a map's keys and values, or of the array with a struct field
    /// taken from each element), `posexplode` adding zero-based positions first.
    pub(super) fn columns(self, elements: Elements) -> Result<Vec<SelectItem>> {
        let argument = self.argument;
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
        if self.name == "posexplode" {
            columns.insert(0, (positions(&argument), None, "pos".into()));
        }
        if !self.names.is_empty() && self.names.len() != columns.len() {
            return Err(names_mismatch(&self.name, columns.len(), self.names.len()));
        }
        let mut names = self.names.into_iter();
        Ok(columns
            .into_iter()
            .map(|(array, field, default_name)| {
                let array = if self.outer {
                    or_one_null(array)
                } else {
                    array
                };
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
}

/// The names the items give their columns.
pub(super) fn item_names(items: &[SelectItem]) -> Vec<Ident> {
    items
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.clone()),
            _ => None,
        })
        .collect()
}

/// Select-list items reading the columns `names`.
pub(super) fn column_items(names: &[Ident]) -> Vec<SelectItem> {
    names
        .iter()
        .map(|name| SelectItem::UnnamedExpr(Expr::Identifier(name.clone())))
        .collect()
}

/// The item standing for the columns of the lateral view `view` (its `v.*`).
pub(super) fn view_columns_item(view: &str) -> SelectItem {
    SelectItem::UnnamedExpr(call(
        VIEW_COLUMNS,
        [Expr::value(Value::SingleQuotedString(view.into()))],
    ))
}

/// The lateral view whose columns `item` stands for, if it stands for some.
pub(super) fn view_columns_of(item: &SelectItem) -> Option<String> {
    let SelectItem::UnnamedExpr(expr) = item else {
        return None;
    };
    match &marker_arguments(expr, VIEW_COLUMNS)?[..] {
        [view] => text_value(view),
        _ => None,
    }
}

fn marker_arguments(expr: &Expr, marker: &str) -> Option<Vec<Expr>> {
    match expr {
        Expr::Function(function) if function.name.to_string() == marker => Some(
            plain_arguments(function)
                .ok()?
                .into_iter()
                .cloned()
                .collect(),
        ),
        _ => None,
    }
}

fn text_value(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(text) => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A generator given another number of names than it has columns.
pub(super) fn names_mismatch(generator: &str, columns: usize, names: usize) -> Error {
    let counted =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    Error::syntax(format!(
        "{generator} produces {}, but {} given",
        counted(columns, "column", "columns"),
        counted(names, "alias was", "aliases were"),
    ))
}
