//! Writes: `INSERT INTO` / `INSERT OVERWRITE` (whole tables, static and dynamic
//! partitions) and `CREATE TABLE ... AS SELECT`.
//!
//! Order of a write, so that a failure at any step leaves readers a consistent table: plan
//! the query (columns matched by position and cast to the table's types) → write every file
//! hidden ([`crate::exec::write`]) → for OVERWRITE, note the files being replaced → publish
//! the new files → delete the replaced ones → commit the catalog (new partitions, a new
//! table) → invalidate the cache. INSERT OVERWRITE with dynamic partitions replaces only the
//! partitions that receive rows, as Hive does (Spark's default replaces every partition
//! matching the static part of the spec).

use std::collections::HashSet;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use datafusion::object_store::ObjectStoreExt;
use datafusion::sql::sqlparser::ast::Statement;
use lakeport_catalog::{Column, Partition, Storage, StorageFormat, Table, TableKind};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::discovery::canonical_value;
use crate::exec::catalog_bridge::hive_table::directory_url;
use crate::exec::catalog_bridge::options;
use crate::exec::catalog_bridge::types::{arrow_type, hive_type};
use crate::exec::write::{StagedFiles, WriteTarget, partition_location, stage, store_for};
use crate::sql::ddl::ast::*;
use crate::sql::ddl::run::{
    catalog, create_target, find_table, local_directory, now, query_context,
};
use crate::sql::ddl::tables::{new_table_location, prepare_managed_location, table_name_free};
use crate::sql::{Connection, Output};
use crate::storage::listings::list_data_files;

pub async fn insert(connection: &mut Connection, insert: Insert) -> Result<Output> {
    let table = find_table(connection, &insert.name).await?;
    let Some(storage) = table.storage.clone() else {
        return Err(Error::new(
            ErrorKind::WrongObjectType,
            format!("cannot insert into view \"{}\"", insert.name),
        ));
    };
    let static_values = static_values(&table, insert.partition.as_ref())?;
    let dynamic_keys: Vec<&Column> = table
        .partition_keys
        .iter()
        .zip(&static_values)
        .filter(|(_, value)| value.is_none())
        .map(|(key, _)| key)
        .collect();
    let targets: Vec<&Column> = table.columns.iter().chain(dynamic_keys).collect();
    let plan = plan_query(connection, &insert.query).await?;
    let named: Vec<String> = match insert.by_name {
        true => plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        false => insert.columns.clone(),
    };
    let plan = fit_to_columns(plan, &targets, &named)?;
    let staged = write(
        connection,
        plan,
        &options::with_table_properties(&storage, &table.properties),
        &table.partition_keys,
        &static_values,
    )
    .await?;
    let rows = staged.rows;

    let catalog = catalog(connection);
    let known: Vec<Partition> = if table.is_partitioned() {
        catalog
            .metastore()
            .list_partitions(&table.database, &table.name)
            .await?
    } else {
        Vec::new()
    };
    let replaced = if insert.overwrite {
        replaced_files(&staged, &table, &storage, &known, &static_values).await?
    } else {
        Vec::new()
    };
    let new_partitions: Vec<Partition> = staged
        .partitions
        .iter()
        .filter(|_| table.is_partitioned())
        .filter(|(_, values)| !known.iter().any(|p| &p.values == *values))
        .map(|(directory, values)| Partition {
            values: values.clone(),
            location: partition_location(&storage.location, directory),
            create_time: now(),
        })
        .collect();
    let (database, name) = (table.database.clone(), table.name.clone());
    finish(async move {
        let store = staged.store().clone();
        staged.publish().await?;
        for path in replaced {
            store.delete(&path).await.map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot delete replaced file \"{path}\": {e}"),
                )
            })?;
        }
        let result = if new_partitions.is_empty() {
            Ok(())
        } else {
            catalog
                .metastore()
                .add_partitions(&database, &name, &new_partitions, true)
                .await
        };
        catalog.invalidate_table(&database, &name);
        Ok(result?)
    })
    .await?;
    Ok(Output::Command(format!("INSERT 0 {rows}")))
}

/// Runs the commit of a write (publishing files, then the catalog change) to its end even
/// when the statement is cancelled meanwhile: it runs as its own task, which dropping the
/// statement's future does not stop.
async fn finish(
    commit: impl std::future::Future<Output = Result<()>> + Send + 'static,
) -> Result<()> {
    tokio::spawn(commit)
        .await
        .map_err(|e| Error::internal(format!("the write's commit failed: {e}")))?
}

/// For each partition key: `Some(value)` when the PARTITION clause fixes it, `None` when
/// the query's rows give it.
fn static_values(
    table: &Table,
    spec: Option<&PartitionSpec>,
) -> Result<Vec<Option<Option<String>>>> {
    let Some(spec) = spec else {
        return Ok(vec![None; table.partition_keys.len()]);
    };
    if !table.is_partitioned() {
        return Err(Error::new(
            ErrorKind::WrongObjectType,
            format!(
                "table \"{}.{}\" is not partitioned",
                table.database, table.name
            ),
        ));
    }
    for (key, _) in spec {
        if !table
            .partition_keys
            .iter()
            .any(|k| k.name.eq_ignore_ascii_case(key))
        {
            return Err(Error::invalid_parameter(format!(
                "\"{key}\" is not a partition column of \"{}.{}\"",
                table.database, table.name
            )));
        }
    }
    let mut values = Vec::new();
    let mut seen_dynamic = false;
    for key in &table.partition_keys {
        let given = spec
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&key.name))
            .map(|(_, value)| value.clone());
        let value = match given {
            None => {
                return Err(Error::invalid_parameter(format!(
                    "the PARTITION clause must name every partition column; \"{}\" is missing",
                    key.name
                )));
            }
            Some(None) => {
                seen_dynamic = true;
                None
            }
            Some(Some(PartitionValue::Null)) => Some(None),
            Some(Some(PartitionValue::Text(text))) => {
                if seen_dynamic {
                    return Err(Error::invalid_parameter(format!(
                        "static partition column \"{}\" follows a dynamic one",
                        key.name
                    )));
                }
                let value = canonical_value(&text, &arrow_type(&key.data_type)).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidTextRepresentation,
                        format!(
                            "invalid input syntax for type {} of partition column \"{}\": \"{text}\"",
                            key.data_type, key.name
                        ),
                    )
                })?;
                Some(Some(value))
            }
        };
        values.push(value);
    }
    Ok(values)
}

async fn plan_query(connection: &Connection, sql: &str) -> Result<LogicalPlan> {
    let piece = crate::sql::split::StatementText {
        text: sql,
        char_offset: 0,
    };
    let statement = match crate::sql::parse::parse_statement(&piece)? {
        crate::sql::parse::Parsed::Sql(statement) if matches!(*statement, Statement::Query(_)) => {
            *statement
        }
        _ => return Err(Error::syntax("the rows to write must come from a query")),
    };
    let ctx = query_context(connection);
    let planned = connection.service.engine.plan(&ctx, statement, &[]).await?;
    if !planned.param_types.is_empty() {
        return Err(Error::unsupported(
            "parameters in INSERT and CREATE TABLE AS are not supported",
        ));
    }
    Ok(planned.plan)
}

/// The query's columns matched to `targets` by position (or by the statement's column
/// list, missing columns NULL) and cast to their types, as an assignment in PostgreSQL.
fn fit_to_columns(plan: LogicalPlan, targets: &[&Column], named: &[String]) -> Result<LogicalPlan> {
    let produced = plan.schema().columns();
    let sources: Vec<Option<usize>> = if named.is_empty() {
        if produced.len() > targets.len() {
            return Err(Error::syntax(
                "INSERT has more expressions than target columns",
            ));
        }
        (0..targets.len())
            .map(|i| (i < produced.len()).then_some(i))
            .collect()
    } else {
        let mut seen = HashSet::new();
        for name in named {
            if !seen.insert(name.to_lowercase()) {
                return Err(Error::new(
                    ErrorKind::DuplicateObject,
                    format!("column \"{name}\" specified more than once"),
                ));
            }
            if !targets.iter().any(|t| t.name.eq_ignore_ascii_case(name)) {
                return Err(Error::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{name}\" does not exist"),
                ));
            }
        }
        if produced.len() != named.len() {
            return Err(Error::syntax(if produced.len() > named.len() {
                "INSERT has more expressions than target columns"
            } else {
                "INSERT has more target columns than expressions"
            }));
        }
        targets
            .iter()
            .map(|t| named.iter().position(|n| n.eq_ignore_ascii_case(&t.name)))
            .collect()
    };
    let schema = plan.schema().clone();
    let mut expressions = Vec::with_capacity(targets.len());
    for (target, source) in targets.iter().zip(sources) {
        let data_type = arrow_type(&target.data_type);
        let expression = match source {
            Some(index) => {
                let from = schema.field(index).data_type();
                if !assignable(from, &data_type) {
                    let from = hive_type(from, &target.name)
                        .map(|t| t.to_string())
                        .unwrap_or_else(|_| from.to_string());
                    return Err(Error::new(
                        ErrorKind::DatatypeMismatch,
                        format!(
                            "column \"{}\" is of type {} but expression is of type {from}",
                            target.name, target.data_type
                        ),
                    )
                    .with_hint("You will need to rewrite or cast the expression."));
                }
                cast(Expr::Column(produced[index].clone()), data_type)
            }
            None => cast(lit(ScalarValue::Null), data_type),
        };
        expressions.push(expression.alias(&target.name));
    }
    Ok(LogicalPlanBuilder::from(plan)
        .project(expressions)?
        .build()?)
}

/// Whether a value of `from` may be stored in a column of `to` without an explicit cast:
/// numbers into numbers, anything into text, text only into text; NULLs anywhere.
fn assignable(from: &DataType, to: &DataType) -> bool {
    let texty =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    if from == to || from.is_null() || texty(to) {
        return true;
    }
    if texty(from) {
        return false;
    }
    datafusion::arrow::compute::can_cast_types(from, to)
}

/// Runs the plan and writes its rows, hidden until published.
async fn write(
    connection: &Connection,
    plan: LogicalPlan,
    storage: &Storage,
    partition_keys: &[Column],
    static_values: &[Option<Option<String>>],
) -> Result<StagedFiles> {
    let ctx = query_context(connection);
    let engine = &connection.service.engine;
    let state = engine.state_for(&ctx);
    let store = store_for(&state, &storage.location)?;
    let rows = engine.execute(&ctx, plan, Vec::new()).await?;
    let target = WriteTarget {
        storage,
        partition_keys,
        static_values,
    };
    stage(store, &target, rows).await
}

/// The files an INSERT OVERWRITE replaces: the whole table's when unpartitioned, else those
/// of each partition it writes (and of a fully static partition even when no row arrives).
async fn replaced_files(
    staged: &StagedFiles,
    table: &Table,
    storage: &Storage,
    known: &[Partition],
    static_values: &[Option<Option<String>>],
) -> Result<Vec<datafusion::object_store::path::Path>> {
    let mut locations = Vec::new();
    if !table.is_partitioned() {
        locations.push(storage.location.clone());
    } else {
        let fully_static: Option<Vec<Option<String>>> =
            static_values.iter().cloned().collect::<Option<Vec<_>>>();
        for partition in known {
            let written = staged.partitions.values().any(|v| *v == partition.values);
            if written || fully_static.as_ref() == Some(&partition.values) {
                locations.push(partition.location.clone());
            }
        }
    }
    let published: HashSet<_> = staged.final_paths().into_iter().collect();
    let mut files = Vec::new();
    for location in locations {
        let url = directory_url(&location)?;
        for meta in list_data_files(staged.store(), &url).await? {
            if !published.contains(&meta.location) {
                files.push(meta.location);
            }
        }
    }
    Ok(files)
}

/// `CREATE TABLE ... AS SELECT`: the table's columns are the query's (partition columns
/// moved last); the table appears, with its files and partitions, in one catalog step.
pub async fn create_table_as(connection: &mut Connection, create: CreateTable) -> Result<Output> {
    let query = create.query.clone().unwrap_or_default();
    if create.columns.is_some() {
        return Err(Error::syntax(
            "CREATE TABLE ... AS SELECT takes its columns from the query; drop the column list",
        ));
    }
    let (database, name) = create_target(connection, &create.name).await?;
    let catalog = catalog(connection);
    if !table_name_free(connection, &database, &name, create.if_not_exists).await? {
        return Ok(Output::Command("SELECT 0".into()));
    }
    let plan = plan_query(connection, &query).await?;
    let produced = plan.schema().as_arrow().clone();
    let mut columns = Vec::new();
    let mut keys = Vec::new();
    for field in produced.fields() {
        let column = Column {
            name: field.name().clone(),
            data_type: hive_type(field.data_type(), field.name())?,
            comment: None,
        };
        if create
            .partitioned_by
            .iter()
            .any(|k| k.name.eq_ignore_ascii_case(field.name()))
        {
            keys.push(column);
        } else {
            columns.push(column);
        }
    }
    for key in &create.partitioned_by {
        if !keys.iter().any(|k| k.name.eq_ignore_ascii_case(&key.name)) {
            return Err(Error::new(
                ErrorKind::UndefinedColumn,
                format!(
                    "partition column \"{}\" is not among the query's columns",
                    key.name
                ),
            ));
        }
    }
    keys.sort_by_key(|k| {
        create
            .partitioned_by
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(&k.name))
    });
    if columns.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidStatement,
            format!(
                "table \"{}\" needs at least one column besides its partition columns",
                create.name
            ),
        ));
    }
    let external = create.location.is_some();
    let location =
        new_table_location(connection, &database, &name, create.location.as_deref()).await?;
    let storage = Storage {
        location,
        format: create.format.unwrap_or(StorageFormat::Parquet),
        options: create.options.clone(),
    };
    options::validate(&storage)?;
    prepare_managed_location(connection, &storage.location).await?;
    let targets: Vec<&Column> = columns.iter().chain(&keys).collect();
    let produced_names: Vec<String> = produced.fields().iter().map(|f| f.name().clone()).collect();
    let plan = fit_to_columns(plan, &targets, &produced_names)?;
    let static_values = vec![None; keys.len()];
    let staged = match write(connection, plan, &storage, &keys, &static_values).await {
        Ok(staged) => staged,
        Err(e) => {
            if !external && let Some(directory) = local_directory(&storage.location) {
                let _ = std::fs::remove_dir(directory);
            }
            return Err(e);
        }
    };
    let rows = staged.rows;
    let partitions: Vec<Partition> = staged
        .partitions
        .iter()
        .filter(|_| !keys.is_empty())
        .map(|(directory, values)| Partition {
            values: values.clone(),
            location: partition_location(&storage.location, directory),
            create_time: now(),
        })
        .collect();
    let table = Table {
        database: database.clone(),
        name: name.clone(),
        kind: if external {
            TableKind::External
        } else {
            TableKind::Managed
        },
        columns,
        partition_keys: keys,
        storage: Some(storage.clone()),
        view_text: None,
        comment: create.comment.clone(),
        properties: create.properties.clone(),
        owner: Some(connection.session.user.clone()),
        create_time: now(),
        statistics: None,
    };
    finish(async move {
        let published = staged.final_paths();
        let store = staged.store().clone();
        staged.publish().await?;
        let result = catalog.metastore().create_table(&table, &partitions).await;
        catalog.invalidate_table(&table.database, &table.name);
        if let Err(e) = result {
            for path in published {
                let _ = store.delete(&path).await;
            }
            if !external && let Some(directory) = local_directory(&storage.location) {
                let _ = std::fs::remove_dir_all(directory);
            }
            return Err(e.into());
        }
        Ok(())
    })
    .await?;
    Ok(Output::Command(format!("SELECT {rows}")))
}
