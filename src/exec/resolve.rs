//! Name resolution for planning: DataFusion's `ContextProvider` over lakeport's catalog, the
//! session's temporary views and search path, and the session functions.
//!
//! Tables are resolved before planning (the statement's references are collected, looked up
//! — a bare name first among the session's temporary views, then along the search path —
//! and handed to the planner), so planning itself never waits on a catalog. A view
//! resolves to its query, planned here in turn with the search path it was created with.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{DFSchema, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::datasource::cte_worktable::CteWorkTable;
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::planner::{ExprPlanner, RelationPlanner};
use datafusion::logical_expr::{
    AggregateUDF, Expr, HigherOrderUDF, LogicalPlanBuilder, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::{ContextProvider, SqlToRel};
use datafusion::sql::sqlparser::ast::Statement;
use futures::future::BoxFuture;

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::{Catalog, Relation, ViewDefinition};
use crate::exec::file_queries;
use crate::exec::functions::session_functions;
use crate::pg_catalog;
use crate::pg_catalog::snapshot::Snapshot;
use crate::session::QueryContext;
use crate::storage::AllowedLocations;

/// Views within views deeper than this are refused (and a view that reaches itself stops).
const VIEW_DEPTH_LIMIT: usize = 32;

pub type ResolvedTables = HashMap<TableReference, Arc<dyn TableSource>>;

/// Where a statement's relations come from: the catalog, and the files file queries may
/// read (in a view's query too).
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub catalog: &'a Catalog,
    pub locations: &'a AllowedLocations,
}

/// Looks up every table `statement` names; views are planned into their queries.
pub fn resolve_tables<'a>(
    state: &'a SessionState,
    sources: Sources<'a>,
    ctx: &'a QueryContext,
    statement: &'a Statement,
    snapshot: Option<&'a Arc<Snapshot>>,
    depth: usize,
) -> BoxFuture<'a, Result<ResolvedTables>> {
    Box::pin(async move {
        let (references, _ctes) = datafusion::sql::resolve::resolve_table_references(
            &DFStatement::Statement(Box::new(statement.clone())),
            true,
        )?;
        let mut tables = HashMap::with_capacity(references.len());
        for reference in references {
            let source = match lookup(sources.catalog, ctx, &reference, snapshot).await? {
                Some(Relation::Table(provider)) => provider_as_source(provider),
                Some(Relation::View(view)) => {
                    let plan =
                        plan_view(state, sources, ctx, &reference, &view, snapshot, depth).await?;
                    provider_as_source(Arc::new(ViewTable::new(plan, Some(view.sql.clone()))))
                }
                None => continue,
            };
            tables.insert(reference, source);
        }
        Ok(tables)
    })
}

/// Finds what a reference names: qualified names directly, bare names among the session's
/// temporary views and then along the search path. `Ok(None)` when nothing matches; the
/// planner then reports the missing relation.
async fn lookup(
    catalog: &Catalog,
    ctx: &QueryContext,
    reference: &TableReference,
    snapshot: Option<&Arc<Snapshot>>,
) -> Result<Option<Relation>> {
    // A table the user may not read is skipped along the search path and refused by name.
    let in_schema = |schema: String, table: String, qualified: bool| async move {
        if pg_catalog::is_system_schema(&schema) {
            let snapshot = match snapshot {
                Some(snapshot) => snapshot.clone(),
                None => pg_catalog::snapshot(catalog, ctx).await?,
            };
            return Ok(pg_catalog::relation(&snapshot, ctx, &schema, &table)?.map(Relation::Table));
        }
        if !ctx.privileges.reads_table(&schema, &table) {
            return match qualified {
                true => ctx.privileges.check_read(&schema, &table).map(|()| None),
                false => Ok(None),
            };
        }
        catalog.relation(&schema, &table).await
    };
    match reference {
        TableReference::Bare { table } => {
            if let Some(view) = ctx.temp_views.get(table.as_ref()) {
                return Ok(Some(view.clone()));
            }
            let implicit = std::iter::once(pg_catalog::PG_CATALOG.to_string())
                .filter(|_| !ctx.search_path.iter().any(|s| s == pg_catalog::PG_CATALOG));
            for schema in implicit.chain(ctx.search_path.iter().cloned()) {
                if let Some(relation) = in_schema(schema, table.to_string(), false).await? {
                    return Ok(Some(relation));
                }
            }
            Ok(None)
        }
        TableReference::Partial { schema, table } => {
            in_schema(schema.to_string(), table.to_string(), true).await
        }
        TableReference::Full {
            catalog: database,
            schema,
            table,
        } => {
            if **database != *ctx.database {
                return Err(Error::unsupported(format!(
                    "cross-database references are not implemented: {reference}"
                )));
            }
            in_schema(schema.to_string(), table.to_string(), true).await
        }
    }
}

async fn plan_view(
    state: &SessionState,
    sources: Sources<'_>,
    ctx: &QueryContext,
    reference: &TableReference,
    view: &ViewDefinition,
    snapshot: Option<&Arc<Snapshot>>,
    depth: usize,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    if depth >= VIEW_DEPTH_LIMIT {
        return Err(Error::new(
            ErrorKind::InvalidStatement,
            format!("view \"{reference}\" nests more than {VIEW_DEPTH_LIMIT} views deep"),
        )
        .with_hint("a view may refer to itself through another view"));
    }
    let broken = |e: Error| {
        Error::new(
            e.kind,
            format!("view \"{reference}\" cannot be used: {}", e.message),
        )
    };
    let mut statements = crate::exec::dialect::parse_sql(&view.sql)
        .map_err(|e| broken(Error::syntax(e.to_string())))?;
    let mut statement = match (statements.pop(), statements.is_empty()) {
        (Some(statement), true) => statement,
        _ => return Err(broken(Error::syntax("the view's text is not one query"))),
    };
    crate::exec::rewrite_syntax(&mut statement).map_err(broken)?;
    let mut view_ctx = ctx.clone();
    view_ctx.search_path = view.search_path.clone();
    if !view.sees_temp_views {
        view_ctx.temp_views = Default::default();
    }
    let with_files = file_queries::resolve(state, sources.locations, &view_ctx, &mut statement)
        .await
        .map_err(broken)?;
    let view_ctx = with_files.unwrap_or(view_ctx);
    let tables = resolve_tables(state, sources, &view_ctx, &statement, snapshot, depth + 1).await?;
    let resolver = Resolver::new(
        state,
        tables,
        &view_ctx,
        &sources.catalog.schema_names_for(&statement).await?,
        snapshot,
    );
    let planner =
        SqlToRel::new_with_options(&resolver, super::parser_options(state.config_options()));
    super::complete_selects(&planner, &mut statement).map_err(broken)?;
    let plan = planner
        .sql_statement_to_plan(statement)
        .map_err(|e| broken(e.into()))?;
    if view.columns.is_empty() {
        return Ok(plan);
    }
    let fields = plan.schema().fields().len();
    if fields != view.columns.len() {
        return Err(broken(Error::new(
            ErrorKind::InvalidStatement,
            format!(
                "its query now returns {fields} columns, but it was created with {}",
                view.columns.len()
            ),
        )));
    }
    let aliased = plan
        .schema()
        .columns()
        .into_iter()
        .zip(&view.columns)
        .map(|(column, name)| Expr::Column(column).alias(name))
        .collect::<Vec<_>>();
    Ok(LogicalPlanBuilder::from(plan).project(aliased)?.build()?)
}

/// What the planner may see while planning one statement.
pub struct Resolver<'a> {
    state: &'a SessionState,
    tables: ResolvedTables,
    functions: HashMap<String, Arc<ScalarUDF>>,
}

impl<'a> Resolver<'a> {
    pub fn new(
        state: &'a SessionState,
        tables: ResolvedTables,
        ctx: &QueryContext,
        existing_schemas: &[String],
        snapshot: Option<&Arc<Snapshot>>,
    ) -> Self {
        let mut functions = session_functions(ctx, existing_schemas);
        if let Some(snapshot) = snapshot {
            for function in pg_catalog::functions::catalog_functions(snapshot.clone()) {
                functions.insert(function.name().to_string(), function);
            }
        }
        Self {
            state,
            tables,
            functions,
        }
    }
}

fn undefined_table(reference: &TableReference) -> Error {
    Error::new(
        ErrorKind::UndefinedTable,
        format!("relation \"{reference}\" does not exist"),
    )
}

/// PostgreSQL allows `pg_catalog.` before built-in function names (and clients call
/// information_schema's helpers by their qualified names).
fn function_name(name: &str) -> &str {
    name.strip_prefix("pg_catalog.")
        .or_else(|| name.strip_prefix("information_schema."))
        .unwrap_or(name)
}

/// DataFusion's table functions (`generate_series`, `range`) take int8 arguments only;
/// PostgreSQL's accept any integer, so narrower integer constants are widened.
fn widen_integer_literal(expr: Expr) -> Expr {
    match expr {
        Expr::Literal(value, metadata) if value.data_type().is_integer() && !value.is_null() => {
            match value.cast_to(&DataType::Int64) {
                Ok(wide) => Expr::Literal(wide, metadata),
                Err(_) => Expr::Literal(value, metadata),
            }
        }
        other => other,
    }
}

impl ContextProvider for Resolver<'_> {
    fn get_table_source(
        &self,
        name: TableReference,
    ) -> datafusion::common::Result<Arc<dyn TableSource>> {
        self.tables
            .get(&name)
            .cloned()
            .ok_or_else(|| undefined_table(&name).into_datafusion())
    }

    fn get_table_function_source(
        &self,
        name: &str,
        args: Vec<Expr>,
    ) -> datafusion::common::Result<Arc<dyn TableSource>> {
        let function = self
            .state
            .table_functions()
            .get(function_name(name))
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedFunction,
                    format!("function {name} does not exist"),
                )
                .into_datafusion()
            })?;
        let simplify_context = SimplifyContext::builder()
            .with_config_options(Arc::clone(self.state.config_options()))
            .with_query_execution_start_time(
                self.state.execution_props().query_execution_start_time,
            )
            .build();
        let simplifier = ExprSimplifier::new(simplify_context);
        let schema = DFSchema::empty();
        let args = args
            .into_iter()
            .map(|arg| {
                simplifier
                    .coerce(arg, &schema)
                    .and_then(|e| simplifier.simplify(e))
                    .map(widen_integer_literal)
            })
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let provider =
            function.create_table_provider_with_args(TableFunctionArgs::new(&args, self.state))?;
        Ok(provider_as_source(provider))
    }

    fn create_cte_work_table(
        &self,
        name: &str,
        schema: SchemaRef,
    ) -> datafusion::common::Result<Arc<dyn TableSource>> {
        Ok(provider_as_source(Arc::new(CteWorkTable::new(
            name, schema,
        ))))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_relation_planners(&self) -> &[Arc<dyn RelationPlanner>] {
        self.state.relation_planners()
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        let name = function_name(name);
        self.functions
            .get(name)
            .or_else(|| self.state.scalar_functions().get(name))
            .cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.state
            .higher_order_functions()
            .get(function_name(name))
            .cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.state
            .aggregate_functions()
            .get(function_name(name))
            .cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state
            .window_functions()
            .get(function_name(name))
            .cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.state.scalar_functions().keys().cloned().collect();
        names.extend(self.functions.keys().cloned());
        names
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }
}
