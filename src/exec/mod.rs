//! The engine seam: SQL statement in, Arrow record batch stream out.
//!
//! [`Engine::plan`] resolves a statement's tables and plans it with DataFusion (logical plan,
//! parameter types inferred); [`Engine::execute`] binds parameters, optimises, and starts
//! execution on the [`runtime::CpuRuntime`], returning a [`RowStream`]. Everything above this
//! module sees plans and streams, never DataFusion sessions. In distributed mode
//! [`Engine::run`] sends large plans to the Ballista cluster ([`distributed`]) behind the
//! same calls.

pub mod catalog_bridge;
pub mod dialect;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod file_queries;
pub mod functions;
mod lambda_plans;
pub mod literals;
pub mod memory;
pub mod pg_syntax;
pub mod pg_text;
pub mod pg_to_char;
pub mod resolve;
pub mod runtime;
pub mod signal_functions;
pub mod single_value;
pub mod spark_functions;
pub mod spark_syntax;
pub mod subquery;
pub mod tables;
pub mod whole_numbers;
pub mod write;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::context::SessionState;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{FunctionRegistry, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::expr::{Cast, Placeholder, TryCast};
use datafusion::logical_expr::{AggregateUDF, Expr, LogicalPlan, ScalarUDF, TypeSignature};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion::sql::planner::{ParserOptions, PlannerContext, SqlToRel};
use datafusion::sql::sqlparser::ast::Statement;

pub use runtime::{RowCursor, RowStream};

use crate::config::{Config, parse_byte_size};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::Catalog;
use crate::exec::resolve::{Resolver, Sources, resolve_tables};
use crate::exec::runtime::CpuRuntime;
use crate::exec::tables::TableRegistry;
use crate::registry::activity::StatementProgress;
use crate::session::QueryContext;
use crate::storage::listings::ListingCache;
use crate::storage::metered::{MeteredRegistry, RequestCounts, Requests};
use crate::storage::{AllowedLocations, StoreRegistry};

/// A planned query with its parameters' types.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub plan: LogicalPlan,
    /// Type of `$1`, `$2`, ...: declared by the client or inferred; `None` when neither.
    pub param_types: Vec<Option<DataType>>,
}

pub struct Engine {
    /// The state every statement starts from; each statement plans on a copy carrying its
    /// session's options.
    state: SessionState,
    catalog: Arc<Catalog>,
    locations: AllowedLocations,
    storage_requests: Arc<Requests>,
    cpu: CpuRuntime,
    result_buffer: usize,
    /// Each query's memory budget inside the shared pool (`engine.query_memory_limit`).
    query_memory: usize,
    /// Where large queries run in distributed mode.
    #[cfg(feature = "distributed")]
    cluster: Option<Arc<distributed::Cluster>>,
}

impl Engine {
    pub fn try_new(
        config: &Config,
        metastore: Arc<dyn lakeport_catalog::Metastore>,
    ) -> Result<Self> {
        let threads = config.engine_threads();
        let memory = parse_byte_size(&config.engine.memory_limit)
            .map_err(|e| Error::invalid_parameter(e.0))?;
        let query_memory = parse_byte_size(&config.engine.query_memory_limit)
            .map_err(|e| Error::invalid_parameter(e.0))?;
        let stores = StoreRegistry::open(&config.storage)?;
        let limits = stores.limits();
        let storage_requests = stores.requests();
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
            .with_object_store_registry(Arc::new(stores))
            .with_cache_manager(
                CacheManagerConfig::default().with_metadata_cache_limit(limits.metadata_cache),
            )
            .build_arc()?;
        let state = session_state(config, runtime)?;
        let catalog_ttl = config
            .catalog
            .cache_ttl()
            .map_err(|e| Error::invalid_parameter(e.to_string()))?;
        // Files others add to a shared metastore's tables show up as new tables do.
        let listing_ttl = limits.listing_ttl.or(catalog_ttl);
        Ok(Self {
            state,
            catalog: Arc::new(Catalog::new(
                metastore,
                Arc::new(TableRegistry::default()),
                Arc::new(ListingCache::new(limits.listing_cache, listing_ttl)),
                catalog_ttl,
            )),
            locations: AllowedLocations::from_config(config)?,
            storage_requests,
            cpu: CpuRuntime::try_new(threads)?,
            result_buffer: config.engine.result_buffer_batches,
            query_memory,
            #[cfg(feature = "distributed")]
            cluster: distributed::Cluster::from_config(config)?,
        })
    }

    /// Bytes the running queries hold in the engine's memory pool.
    pub fn memory_reserved(&self) -> usize {
        self.state.runtime_env().memory_pool.reserved()
    }

    /// How many queries are executing now (their results not yet fully sent or dropped).
    pub fn running_queries(&self) -> usize {
        self.cpu.running_queries()
    }

    /// Tables declared in the configuration (and the demo data).
    pub fn tables(&self) -> &Arc<TableRegistry> {
        self.catalog.statics()
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// How many requests of each kind the object stores have made.
    pub fn storage_requests(&self) -> RequestCounts {
        self.storage_requests.counts()
    }

    /// The roots table and database locations must stay inside.
    pub fn allowed_locations(&self) -> &AllowedLocations {
        &self.locations
    }

    /// The DataFusion options a new session starts with.
    pub fn default_options(&self) -> ConfigOptions {
        self.state.config_options().as_ref().clone()
    }

    /// The base state, for work outside a session (table schema inference at startup).
    pub fn base_state(&self) -> &SessionState {
        &self.state
    }

    /// The DataFusion state a statement of this session runs with.
    pub fn state_for(&self, ctx: &QueryContext) -> SessionState {
        let mut state = self.state.clone();
        let options = state.config_mut().options_mut();
        *options = ctx.options.clone();
        options.execution.time_zone = Some(ctx.time_zone.clone());
        // The statement's clock: now() and current_timestamp read it.
        state.mark_start_execution();
        state
    }

    /// Plans a query statement. `declared` holds the parameter types the client gave, by
    /// position; the rest are inferred from how the statement uses them.
    pub async fn plan(
        &self,
        ctx: &QueryContext,
        statement: Statement,
        declared: &[Option<DataType>],
    ) -> Result<PlannedQuery> {
        let state = self.state_for(ctx);
        let mut statement = statement;
        rewrite_syntax(&mut statement)?;
        let with_files =
            file_queries::resolve(&state, &self.locations, ctx, &mut statement).await?;
        let ctx = with_files.as_ref().unwrap_or(ctx);
        let snapshot = if crate::pg_catalog::needs_snapshot(&statement) {
            Some(crate::pg_catalog::snapshot(&self.catalog, ctx).await?)
        } else {
            None
        };
        let sources = Sources {
            catalog: &self.catalog,
            locations: &self.locations,
        };
        let tables = resolve_tables(&state, sources, ctx, &statement, snapshot.as_ref(), 0).await?;
        let schemas = self.catalog.schema_names_for(&statement).await?;
        let resolver = Resolver::new(&state, tables, ctx, &schemas, snapshot.as_ref());
        let planner = SqlToRel::new_with_options(&resolver, parser_options(state.config_options()));
        complete_selects(&planner, &mut statement)?;
        let declared_fields: Vec<Option<FieldRef>> = declared
            .iter()
            .map(|t| {
                t.as_ref()
                    .map(|t| Arc::new(Field::new("", t.clone(), true)))
            })
            .collect();
        let mut context =
            PlannerContext::new().with_prepare_param_data_types(declared_fields.clone());
        let plan = match planner.sql_statement_to_plan_with_context(statement.clone(), &mut context)
        {
            Err(e) if e.to_string().contains("require unique expression names") => {
                let mut aliased = statement;
                pg_syntax::alias_outputs(&mut aliased);
                let mut context =
                    PlannerContext::new().with_prepare_param_data_types(declared_fields);
                planner.sql_statement_to_plan_with_context(aliased, &mut context)?
            }
            other => other?,
        };
        let param_types = parameter_types(&plan, declared)?;
        Ok(PlannedQuery { plan, param_types })
    }

    /// Binds parameter values and starts running the plan.
    pub async fn execute(
        &self,
        ctx: &QueryContext,
        plan: LogicalPlan,
        params: Vec<ScalarValue>,
    ) -> Result<RowStream> {
        let (physical, task) = self.physical_plan(ctx, plan, params).await?;
        Ok(self.run(physical, task))
    }

    /// Starts running a physical plan made by [`Engine::physical_plan`]: here, or in
    /// distributed mode on the cluster when it is large enough.
    pub fn run(&self, physical: Arc<dyn ExecutionPlan>, task: Arc<TaskContext>) -> RowStream {
        let physical = self.place(physical, &task);
        self.cpu.execute(physical, task, self.result_buffer)
    }

    /// `physical` as it will run: in distributed mode, wrapped in the cluster job that runs
    /// it when it goes there (what EXPLAIN shows).
    pub fn place(
        &self,
        physical: Arc<dyn ExecutionPlan>,
        task: &TaskContext,
    ) -> Arc<dyn ExecutionPlan> {
        #[cfg(feature = "distributed")]
        if let Some(cluster) = &self.cluster {
            return cluster.route(physical, task.session_config());
        }
        #[cfg(not(feature = "distributed"))]
        let _ = task;
        physical
    }

    /// Binds parameter values and makes the physical plan, attached to the statement's
    /// progress, with the task context (memory budget, metered storage) it must run in.
    pub async fn physical_plan(
        &self,
        ctx: &QueryContext,
        plan: LogicalPlan,
        params: Vec<ScalarValue>,
    ) -> Result<(Arc<dyn ExecutionPlan>, Arc<TaskContext>)> {
        let plan = if params.is_empty() {
            plan
        } else {
            plan.with_param_values(params)?
        };
        let mut state = self.state_for(ctx);
        if reads_only_catalog(&plan) {
            // Catalog relations are one small batch each: partitioning them buys nothing and
            // costs planning and task hand-offs on every statement.
            state.config_mut().options_mut().execution.target_partitions = 1;
        }
        let progress = ctx.backend.control.running();
        if let Some(progress) = &progress {
            state.config_mut().set_extension(progress.clone());
        }
        let state = match reads_only_catalog(&plan) {
            true => state,
            false => self.with_query_budget(state, progress.as_deref())?,
        };
        let physical = runtime::cooperative(subquery::physical_plan(&state, &plan).await?)?;
        if let Some(progress) = progress {
            progress.attach(&physical);
        }
        Ok((physical, state.task_ctx()))
    }
}

impl Engine {
    /// `state` with its own memory budget inside the shared pool, and its storage requests
    /// counted toward the statement's progress.
    fn with_query_budget(
        &self,
        state: SessionState,
        progress: Option<&StatementProgress>,
    ) -> Result<SessionState> {
        let budget = memory::QueryMemoryPool::new(
            state.runtime_env().memory_pool.clone(),
            self.query_memory,
        );
        let mut runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_pool(Arc::new(budget));
        if let Some(progress) = progress {
            let stores = MeteredRegistry::new(
                state.runtime_env().object_store_registry.clone(),
                progress.requests(),
            );
            runtime = runtime.with_object_store_registry(Arc::new(stores));
        }
        let runtime = runtime.build_arc()?;
        Ok(SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime)
            .build())
    }
}

/// The DataFusion state lakeport plans and runs with, over `runtime`.
/// Rewrites the Spark SQL clauses and the PostgreSQL syntax DataFusion does not plan into
/// SQL it does; every query and view body goes through here before planning.
pub fn rewrite_syntax(statement: &mut Statement) -> Result<()> {
    spark_syntax::rewrite(statement)?;
    pg_syntax::rewrite(statement);
    Ok(())
}

/// Completes what Spark's selects leave until the tables are resolved — lateral column
/// aliases, generators typed by their arguments (see `spark_syntax::complete_selects`) —
/// planning the probes with `planner`.
pub(crate) fn complete_selects(
    planner: &SqlToRel<'_, Resolver<'_>>,
    statement: &mut Statement,
) -> Result<()> {
    spark_syntax::complete_selects(statement, &|probe| {
        let plan = planner.sql_statement_to_plan(Statement::Query(Box::new(probe)))?;
        Ok(plan.schema().fields().to_vec())
    })
}

pub fn session_state(config: &Config, runtime: Arc<RuntimeEnv>) -> Result<SessionState> {
    state_with_functions(session_config(config), runtime)
}

/// The options every session starts from: PostgreSQL's dialect, UTC, the configured
/// partitions and batch size.
pub fn session_config(config: &Config) -> SessionConfig {
    let threads = config.engine_threads();
    let mut session_config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_batch_size(config.engine.batch_size)
        .with_information_schema(false)
        .with_create_default_catalog_and_schema(true);
    let options = session_config.options_mut();
    options.sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
    options.sql_parser.enable_ident_normalization = true;
    options.execution.time_zone = Some("UTC".into());
    // With two partitions or fewer, joins share one build side instead of repartitioning
    // both inputs: on 2 cores TPC-H SF10 q18 then completes in the default 2 GiB query
    // budget (repartitioned, its hash join runs out of it) and SF1 Parquet q07 runs 2×
    // faster; SF1 CSV q18/q21 are slower. `SET datafusion.optimizer.repartition_joins`
    // changes it per session.
    options.optimizer.repartition_joins = threads > 2;
    #[cfg(feature = "distributed")]
    if config.engine.mode == crate::config::EngineMode::Distributed {
        // What Ballista needs of a plan it splits into stages: no dynamic filters or
        // in-process scalar subqueries across them, no round-robin exchanges, no view
        // types. Joins partitioned, as hash joins: a build side collected whole is a
        // one-task stage, and Ballista's sort-merge default sorts both sides (TPC-H SF1 on
        // two executors: q18 15.0 s collected, 2.5 s sort-merge, 2.1 s hash; q09 0.9,
        // 3.5, 0.9 s). A hash join that outgrows a task's memory fails with 53200 where a
        // sort-merge join would spill.
        use ballista_core::extension::SessionConfigHelperExt;
        session_config = session_config.ballista_restricted_configuration();
        let optimizer = &mut session_config.options_mut().optimizer;
        optimizer.repartition_joins = true;
        optimizer.prefer_hash_join = true;
    }
    session_config
}

/// DataFusion's functions and lakeport's own (planning rules, `single_value`) over `runtime`.
/// A cluster's scheduler and executors build their states here too, so that a plan's
/// functions mean the same on each.
pub fn state_with_functions(
    session_config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionState> {
    let mut state = SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rules(lambda_plans::physical_optimizer_rules())
        .build();
    state.register_expr_planner(Arc::new(literals::UnknownLiterals))?;
    state.register_udaf(Arc::new(AggregateUDF::from(
        single_value::SingleValue::new(),
    )))?;
    for function in [
        datafusion::functions::math::floor(),
        datafusion::functions::math::ceil(),
        datafusion::functions::math::trunc(),
    ] {
        state.register_udf(Arc::new(ScalarUDF::new_from_impl(
            whole_numbers::WholeNumber::new(function),
        )))?;
    }
    spark_functions::register(&mut state)?;
    state.register_udf(Arc::new(ScalarUDF::new_from_impl(
        pg_to_char::ToChar::default(),
    )))?;
    let pg_text = Arc::new(ScalarUDF::new_from_impl(pg_text::PgText::new()));
    state.register_udf(pg_text.clone())?;
    state.add_analyzer_rule(Arc::new(pg_text::PgTextCasts::new(pg_text)));
    Ok(state)
}

/// Whether every table the plan reads (subqueries included) is a catalog relation.
fn reads_only_catalog(plan: &LogicalPlan) -> bool {
    let mut only_catalog = true;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && !crate::pg_catalog::is_catalog_scan(scan)
        {
            only_catalog = false;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    only_catalog
}

pub(crate) fn parser_options(options: &ConfigOptions) -> ParserOptions {
    let sql = &options.sql_parser;
    ParserOptions {
        parse_float_as_decimal: sql.parse_float_as_decimal,
        enable_ident_normalization: sql.enable_ident_normalization,
        enable_options_value_normalization: sql.enable_options_value_normalization,
        support_varchar_with_length: sql.support_varchar_with_length,
        map_string_types_to_utf8view: sql.map_string_types_to_utf8view,
        collect_spans: sql.collect_spans,
        default_null_ordering: sql.default_null_ordering.as_str().into(),
    }
}

/// The types of `$1..$n`: the declared ones, else what DataFusion inferred, else the type a
/// bare parameter is cast to (`$1::int2`) or a function takes there (`pg_cancel_backend($1)`),
/// as PostgreSQL infers it.
fn parameter_types(
    plan: &LogicalPlan,
    declared: &[Option<DataType>],
) -> Result<Vec<Option<DataType>>> {
    let inferred: HashMap<String, Option<DataType>> = plan.get_parameter_types()?;
    let cast_to = parameter_context_types(plan)?;
    let mut count = declared.len();
    for name in inferred.keys() {
        let index = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Syntax,
                    format!("invalid parameter name \"{name}\""),
                )
            })?;
        count = count.max(index);
    }
    Ok((1..=count)
        .map(|i| {
            declared
                .get(i - 1)
                .cloned()
                .flatten()
                .or_else(|| inferred.get(&format!("${i}")).cloned().flatten())
                .or_else(|| cast_to.get(&format!("${i}")).cloned())
        })
        .collect())
}

/// Parameters without a type that appear directly under a cast, with the cast's type, or as
/// an argument of a function whose signature names the type there (its first choice).
fn parameter_context_types(plan: &LogicalPlan) -> Result<HashMap<String, DataType>> {
    let mut found = HashMap::new();
    let untyped = |expr: &Expr| match expr {
        Expr::Placeholder(Placeholder { id, field: None }) => Some(id.clone()),
        _ => None,
    };
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|expr| {
                match expr {
                    Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                        if let Some(id) = untyped(expr) {
                            found.entry(id).or_insert_with(|| field.data_type().clone());
                        }
                    }
                    Expr::ScalarFunction(call) => {
                        for (position, arg) in call.args.iter().enumerate() {
                            let taken = match &call.func.signature().type_signature {
                                TypeSignature::Exact(types) => types.get(position),
                                TypeSignature::Uniform(_, types) => types.first(),
                                _ => None,
                            };
                            if let (Some(id), Some(taken)) = (untyped(arg), taken) {
                                found.entry(id).or_insert_with(|| taken.clone());
                            }
                        }
                    }
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(found)
}
