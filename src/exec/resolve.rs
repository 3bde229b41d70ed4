//! Name resolution for planning: DataFusion's `ContextProvider` over lakeport's tables, the
//! session's search path and the session functions.
//!
//! Tables are resolved before planning (the statement's references are collected, looked up
//! along the search path, and handed to the planner), so planning itself never waits on a
//! catalog.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{DFSchema, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::datasource::cte_worktable::CteWorkTable;
use datafusion::datasource::provider_as_source;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::planner::{ExprPlanner, RelationPlanner};
use datafusion::logical_expr::{
    AggregateUDF, Expr, HigherOrderUDF, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::ContextProvider;
use datafusion::sql::sqlparser::ast::Statement;

use crate::error::{Error, ErrorKind, Result};
use crate::exec::functions::session_functions;
use crate::exec::tables::TableRegistry;
use crate::session::QueryContext;

/// What the planner may see while planning one statement.
pub struct Resolver<'a> {
    state: &'a SessionState,
    tables: HashMap<TableReference, Arc<dyn TableSource>>,
    functions: HashMap<String, Arc<ScalarUDF>>,
}

impl<'a> Resolver<'a> {
    /// Looks up every table `statement` names.
    pub fn try_new(
        state: &'a SessionState,
        registry: &TableRegistry,
        ctx: &QueryContext,
        statement: &Statement,
    ) -> Result<Self> {
        let (references, _ctes) = datafusion::sql::resolve::resolve_table_references(
            &DFStatement::Statement(Box::new(statement.clone())),
            true,
        )?;
        let mut tables = HashMap::with_capacity(references.len());
        for reference in references {
            if let Some(provider) = resolve_table(registry, ctx, &reference)? {
                tables.insert(reference, provider_as_source(provider));
            }
        }
        let existing = registry.schema_names();
        Ok(Self {
            state,
            tables,
            functions: session_functions(ctx, &existing),
        })
    }
}

/// Finds the table a reference names: qualified names directly, bare names along the search
/// path. `Ok(None)` when nothing matches; the planner then reports the missing relation.
fn resolve_table(
    registry: &TableRegistry,
    ctx: &QueryContext,
    reference: &TableReference,
) -> Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
    match reference {
        TableReference::Bare { table } => Ok(ctx
            .search_path
            .iter()
            .find_map(|schema| registry.table(schema, table))),
        TableReference::Partial { schema, table } => Ok(registry.table(schema, table)),
        TableReference::Full {
            catalog,
            schema,
            table,
        } => {
            if **catalog != *ctx.database {
                return Err(Error::unsupported(format!(
                    "cross-database references are not implemented: {reference}"
                )));
            }
            Ok(registry.table(schema, table))
        }
    }
}

fn undefined_table(reference: &TableReference) -> Error {
    Error::new(
        ErrorKind::UndefinedTable,
        format!("relation \"{reference}\" does not exist"),
    )
}

/// PostgreSQL allows `pg_catalog.` before built-in function names.
fn function_name(name: &str) -> &str {
    name.strip_prefix("pg_catalog.").unwrap_or(name)
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
