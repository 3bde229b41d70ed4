//! What Spark's selects leave until the tables are resolved, completed through probes —
//! queries over a select's own FROM, planned in the scope of the enclosing queries' CTEs:
//! - lateral column aliases (`SELECT a * 2 AS b, b + 1 FROM t`, see `lateral_aliases`), which
//!   need the FROM's column names (`SELECT * FROM <the same FROM>`);
//! - the generators whose columns depend on their argument's type — `explode` and
//!   `posexplode` of a map add `key, value`, of an array `col`; `inline` adds one column per
//!   struct field — which need the arguments' types
//!   (`SELECT <arguments> FROM <the same FROM> [GROUP BY …]`).

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::sql::sqlparser::ast::{
    GroupByExpr, Ident, Query, Select, SelectItem, SetExpr, Statement, VisitMut, VisitorMut, With,
};

use super::build::{derived, parse_query, plain_alias};
use super::deferred::{DeferredGenerator, Elements, column_items, item_names, view_columns_of};
use super::lateral_aliases::resolve_lateral_aliases;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::types::hive_type;

/// Plans a probe query and returns its columns.
pub type Probe<'a> = dyn Fn(Query) -> Result<Vec<FieldRef>> + 'a;

/// Resolves the lateral column aliases in `statement` and replaces each deferred generator
/// with the columns its argument's type gives, learning columns and types through `probe`.
pub fn complete_selects(statement: &mut Statement, probe: &Probe<'_>) -> Result<()> {
    let mut visitor = Completion {
        probe,
        scopes: Vec::new(),
        view_columns: HashMap::new(),
    };
    match statement.visit(&mut visitor) {
        ControlFlow::Break(error) => Err(error),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Completion<'p, 'a> {
    probe: &'p Probe<'a>,
    /// The CTEs each enclosing query defines, outermost first, already completed.
    scopes: Vec<Option<With>>,
    /// The columns of each completed lateral view's generator, by the view's id, for `v.*`.
    view_columns: HashMap<String, Vec<Ident>>,
}

impl VisitorMut for Completion<'_, '_> {
    type Break = Error;

    /// A query's CTEs are completed first, each in the scope of those before it, so that the
    /// scope a probe carries holds no deferred generator.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Error> {
        if let Some(with) = &mut query.with {
            for i in 0..with.cte_tables.len() {
                let mut preceding = with.clone();
                preceding.cte_tables.truncate(i);
                self.scopes.push(Some(preceding));
                let flow = with.cte_tables[i].query.visit(self);
                self.scopes.pop();
                flow?;
            }
        }
        self.scopes.push(query.with.clone());
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<Error> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<Error> {
        let completed = resolve_lateral_aliases(select, |select| self.columns_of_from(select))
            .and_then(|()| self.complete_generators(select));
        match completed {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => ControlFlow::Break(error),
        }
    }
}

impl Completion<'_, '_> {
    /// The names of the columns `select`'s FROM gives.
    fn columns_of_from(&self, select: &Select) -> Result<Vec<String>> {
        let mut from = select.clone();
        from.group_by = GroupByExpr::Expressions(Vec::new(), Vec::new());
        let probe = self.probe_query(from, vec![SelectItem::Wildcard(Default::default())]);
        let columns = (self.probe)(probe)?;
        Ok(columns.iter().map(|c| c.name().clone()).collect())
    }

    fn complete_generators(&mut self, select: &mut Select) -> Result<()> {
        let deferred: Vec<Option<DeferredGenerator>> = select
            .projection
            .iter()
            .map(DeferredGenerator::of)
            .collect();
        let views: Vec<Option<String>> = select.projection.iter().map(view_columns_of).collect();
        if deferred.iter().all(Option::is_none) && views.iter().all(Option::is_none) {
            return Ok(());
        }
        let arguments: Vec<SelectItem> = deferred
            .iter()
            .flatten()
            .map(|g| SelectItem::UnnamedExpr(g.argument.clone()))
            .collect();
        let probed = match arguments.is_empty() {
            true => Ok(Vec::new()),
            false => (self.probe)(self.probe_query(select.clone(), arguments)),
        };
        let types: Vec<DataType> = probed
            .as_ref()
            .map(|fields| fields.iter().map(|f| f.data_type().clone()).collect())
            .unwrap_or_default();
        let mut types = types.iter();
        let mut projection = Vec::with_capacity(select.projection.len());
        let items = std::mem::take(&mut select.projection).into_iter();
        for ((item, generator), view) in items.zip(deferred).zip(views) {
            if let Some(view) = view {
                let columns = self.view_columns.get(&view).ok_or_else(|| {
                    Error::internal(format!("the columns of lateral view {view} are not known"))
                })?;
                projection.extend(column_items(columns));
                continue;
            }
            let Some(generator) = generator else {
                projection.push(item);
                continue;
            };
            let elements = match (types.next(), &probed) {
                (Some(data_type), _) => elements(&generator.name, data_type)?,
                (None, Err(error)) => generator.elements_by_names().ok_or_else(|| error.clone())?,
                (None, Ok(_)) => return Err(Error::internal("a generator's probe lost a column")),
            };
            let view = generator.view.clone();
            let columns = generator.columns(elements)?;
            if let Some(view) = view {
                self.view_columns.insert(view, item_names(&columns));
            }
            projection.extend(columns);
        }
        select.projection = projection;
        Ok(())
    }

    /// `SELECT <items> FROM … [GROUP BY …]` of `select`, inside the enclosing queries'
    /// CTEs (each scope a query of its own, so inner CTEs shadow outer ones).
    fn probe_query(&self, mut probe: Select, items: Vec<SelectItem>) -> Query {
        probe.projection = items;
        probe.distinct = None;
        probe.selection = None;
        probe.having = None;
        probe.qualify = None;
        probe.sort_by.clear();
        let mut query = parse_query("SELECT 1");
        query.body = Box::new(SetExpr::Select(Box::new(probe)));
        for scope in self.scopes.iter().rev().flatten() {
            if query.with.is_some() {
                let mut outer = parse_query("SELECT * FROM probe");
                if let SetExpr::Select(select) = outer.body.as_mut()
                    && let Some(from) = select.from.first_mut()
                {
                    from.relation = derived(query, Some(plain_alias("probe")));
                }
                query = outer;
            }
            query.with = Some(scope.clone());
        }
        query
    }
}

/// What `generator`'s rows hold for an argument of `data_type`.
fn elements(generator: &str, data_type: &DataType) -> Result<Elements> {
    let element = match data_type {
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            Some(field.data_type())
        }
        _ => None,
    };
    match (generator, data_type, element) {
        ("inline", _, Some(DataType::Struct(fields))) => Ok(Elements::Fields(
            fields.iter().map(|f| f.name().clone()).collect(),
        )),
        ("inline", _, _) => Err(mismatch(generator, "an array of structs", data_type)),
        (_, DataType::Map(..), _) => Ok(Elements::Entries),
        (_, DataType::Null, _) | (_, _, Some(_)) => Ok(Elements::Values),
        _ => Err(mismatch(generator, "an array or a map", data_type)),
    }
}

fn mismatch(generator: &str, expected: &str, got: &DataType) -> Error {
    let got = match hive_type(got, generator) {
        Ok(name) => name.to_string(),
        Err(_) => got.to_string(),
    };
    Error::new(
        ErrorKind::DatatypeMismatch,
        format!("{generator} expects {expected}, not {got}"),
    )
}
