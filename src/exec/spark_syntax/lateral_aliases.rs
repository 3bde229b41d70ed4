//! Spark's lateral column aliases (on by default since Spark 3.4): a select item may use the
//! alias of an item before it — `SELECT price * qty AS total, total * 0.2 AS tax FROM t`.
//! A name that a column of the FROM tables has keeps meaning that column, as in Spark, so the
//! FROM's columns are learnt (through a probe) before an alias is replaced by its expression,
//! in parentheses. Names inside subqueries and lambdas are left alone.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Query, Select, SelectItem, VisitMut, VisitorMut,
};

use super::deferred::DeferredGenerator;
use crate::error::{Error, ErrorKind, Result};

/// Replaces the uses of earlier items' aliases in `select`'s items; `from_columns` gives the
/// names of the FROM's columns, and is asked only when an item uses such an alias.
pub(super) fn resolve_lateral_aliases(
    select: &mut Select,
    from_columns: impl FnOnce(&Select) -> Result<Vec<String>>,
) -> Result<()> {
    if !uses_earlier_alias(&mut select.projection) {
        return Ok(());
    }
    let columns: HashSet<String> = match select.from.is_empty() {
        true => HashSet::new(),
        false => match from_columns(select) {
            Ok(columns) => columns.into_iter().collect(),
            Err(_) => return Ok(()),
        },
    };
    let mut aliases: HashMap<String, Option<Expr>> = HashMap::new();
    for item in &mut select.projection {
        let source = match &*item {
            SelectItem::ExprWithAlias { alias, .. } if DeferredGenerator::of(item).is_none() => {
                Some(normalized(alias))
            }
            _ => None,
        };
        let Some(expr) = item_expr(item) else {
            continue;
        };
        let mut substitution = BareNames::new(&aliases);
        let _ = expr.visit(&mut substitution);
        if let Some(name) = substitution.ambiguous {
            return Err(Error::new(
                ErrorKind::AmbiguousColumn,
                format!("lateral column alias \"{name}\" is ambiguous: several items have it"),
            ));
        }
        if let Some(name) = source
            && !columns.contains(&name)
        {
            let aliased = expr.clone();
            aliases
                .entry(name)
                .and_modify(|held| *held = None)
                .or_insert(Some(aliased));
        }
    }
    Ok(())
}

/// The expression a select item computes, if it is one (not a wildcard).
fn item_expr(item: &mut SelectItem) -> Option<&mut Expr> {
    match item {
        SelectItem::UnnamedExpr(expr)
        | SelectItem::ExprWithAlias { expr, .. }
        | SelectItem::ExprWithAliases { expr, .. } => Some(expr),
        _ => None,
    }
}

/// The name an identifier stands for: unquoted names fold to lowercase.
fn normalized(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// Whether an item names an alias given by an item before it (the items are visited, not
/// changed).
fn uses_earlier_alias(items: &mut [SelectItem]) -> bool {
    let mut aliases = HashSet::new();
    let none = HashMap::new();
    for item in items {
        let Some(expr) = item_expr(item) else {
            continue;
        };
        if !aliases.is_empty() {
            let mut names = BareNames::new(&none);
            let _ = expr.visit(&mut names);
            if names.found.iter().any(|name| aliases.contains(name)) {
                return true;
            }
        }
        if let SelectItem::ExprWithAlias { alias, .. } = item {
            aliases.insert(normalized(alias));
        }
    }
    false
}

/// Whether names inside `expr` are out of an alias's reach (a lambda's parameters).
fn hides(expr: &Expr) -> bool {
    matches!(expr, Expr::Lambda(_))
}

/// Finds the bare names an expression uses outside subqueries and lambdas, replacing those
/// that name an alias with its expression; an alias given twice (`None`) is ambiguous.
struct BareNames<'a> {
    aliases: &'a HashMap<String, Option<Expr>>,
    hidden: usize,
    found: Vec<String>,
    ambiguous: Option<String>,
}

impl<'a> BareNames<'a> {
    fn new(aliases: &'a HashMap<String, Option<Expr>>) -> Self {
        Self {
            aliases,
            hidden: 0,
            found: Vec::new(),
            ambiguous: None,
        }
    }
}

impl VisitorMut for BareNames<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.hidden += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.hidden -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if hides(expr) {
            self.hidden += 1;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if hides(expr) {
            self.hidden -= 1;
            return ControlFlow::Continue(());
        }
        let Expr::Identifier(ident) = expr else {
            return ControlFlow::Continue(());
        };
        if self.hidden > 0 {
            return ControlFlow::Continue(());
        }
        let name = normalized(ident);
        match self.aliases.get(&name) {
            Some(Some(aliased)) => *expr = Expr::Nested(Box::new(aliased.clone())),
            Some(None) => {
                self.ambiguous = Some(name);
                return ControlFlow::Break(());
            }
            None => self.found.push(name),
        }
        ControlFlow::Continue(())
    }
}
