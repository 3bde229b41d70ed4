//! SHOW and DESCRIBE over the catalog, with the columns and rows Spark returns.

use datafusion::arrow::datatypes::Schema;
use lakeport_catalog::{Table, TableKind};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::GLOBAL_TEMP;
use crate::exec::catalog_bridge::types::hive_type;
use crate::sql::ddl::ast::*;
use crate::sql::ddl::run::{
    Found, catalog, find, find_table, pattern_matches, query_context, result_schema, rows_output,
    undefined_schema, undefined_table,
};
use crate::sql::ddl::tables::spec_values;
use crate::sql::{Connection, Output};

type Rows = Vec<Vec<Option<String>>>;

fn row<const N: usize>(values: [&str; N]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

pub async fn show(connection: &mut Connection, statement: CatalogStatement) -> Result<Output> {
    let schema = result_schema(&statement)
        .ok_or_else(|| Error::internal("a catalog statement without result columns"))?;
    let rows = match statement {
        CatalogStatement::ShowDatabases { pattern } => catalog(connection)
            .schema_names()
            .await?
            .into_iter()
            .filter(|name| pattern.as_deref().is_none_or(|p| pattern_matches(p, name)))
            .filter(|name| connection.session.privileges.sees_schema(name))
            .map(|name| vec![Some(name)])
            .collect(),
        CatalogStatement::ShowTables {
            database,
            pattern,
            views_only,
        } => show_tables(connection, database, pattern, views_only).await?,
        CatalogStatement::ShowPartitions { name, spec } => {
            show_partitions(connection, &name, spec).await?
        }
        CatalogStatement::ShowColumns(name) => columns_of(connection, &name)
            .await?
            .into_iter()
            .map(|(name, _, _)| vec![Some(name)])
            .collect(),
        CatalogStatement::ShowFunctions { pattern, user_only } => {
            function_names(connection, pattern.as_deref(), user_only)
        }
        CatalogStatement::DescribeFunction { name, extended } => {
            function_description(connection, &name, extended)?
        }
        CatalogStatement::ShowCreateTable(name) => {
            let table = find_table(connection, &name).await?;
            vec![vec![Some(create_statement(&table))]]
        }
        CatalogStatement::ShowProperties { name, key } => {
            let table = find_table(connection, &name).await?;
            match key {
                Some(key) => vec![vec![
                    Some(key.clone()),
                    Some(table.properties.get(&key).cloned().unwrap_or_else(|| {
                        format!("Table {} does not have property: {key}", name)
                    })),
                ]],
                None => table
                    .properties
                    .iter()
                    .map(|(k, v)| vec![Some(k.clone()), Some(v.clone())])
                    .collect(),
            }
        }
        CatalogStatement::DescribeTable { name, extended } => {
            describe_table(connection, &name, extended).await?
        }
        CatalogStatement::DescribeColumn {
            name,
            column,
            extended,
        } => describe_column(connection, &name, &column, extended).await?,
        CatalogStatement::DescribeDatabase { name, extended } => {
            describe_database(connection, &name, extended).await?
        }
        other => {
            return Err(Error::internal(format!(
                "{} is not a SHOW statement",
                other.tag()
            )));
        }
    };
    rows_output(schema, rows)
}

/// The functions a query can call, sorted, without the ones lakeport plans Spark's syntax with
/// (`lakeport_*`, `spark_*`).
fn function_names(connection: &Connection, pattern: Option<&str>, user_only: bool) -> Rows {
    if user_only {
        return Vec::new();
    }
    let state = connection
        .service
        .engine
        .state_for(&query_context(connection));
    let names: std::collections::BTreeSet<&String> = state
        .scalar_functions()
        .keys()
        .chain(state.aggregate_functions().keys())
        .chain(state.window_functions().keys())
        .chain(state.higher_order_functions().keys())
        .filter(|name| !name.starts_with("lakeport_") && !name.starts_with("spark_"))
        .filter(|name| pattern.is_none_or(|p| pattern_matches(p, name)))
        .collect();
    names
        .into_iter()
        .map(|name| vec![Some(name.clone())])
        .collect()
}

/// `DESCRIBE FUNCTION`'s rows, as Spark lays them out: the name, the kind of function, its
/// usage from the function's documentation, and with EXTENDED its arguments and example.
fn function_description(connection: &Connection, name: &str, extended: bool) -> Result<Rows> {
    let state = connection
        .service
        .engine
        .state_for(&query_context(connection));
    let key = name.to_ascii_lowercase();
    let (kind, documentation) = if let Some(f) = state.scalar_functions().get(&key) {
        ("scalar function", f.documentation())
    } else if let Some(f) = state.aggregate_functions().get(&key) {
        ("aggregate function", f.documentation())
    } else if let Some(f) = state.window_functions().get(&key) {
        ("window function", f.documentation())
    } else if state.higher_order_functions().contains_key(&key) {
        ("higher-order function", None)
    } else {
        return Err(Error::new(
            ErrorKind::UndefinedFunction,
            format!("function {name} does not exist"),
        )
        .with_hint("SHOW FUNCTIONS lists the functions there are"));
    };
    let usage = match documentation {
        Some(doc) => format!("Usage: {} - {}", doc.syntax_example, doc.description),
        None => "Usage: N/A.".to_string(),
    };
    let mut rows = vec![
        row([&format!("Function: {key}")]),
        row([&format!("Class: {kind}")]),
        row([&usage]),
    ];
    if extended {
        let mut text = String::from("Extended Usage:");
        if let Some(doc) = documentation {
            for (argument, meaning) in doc.arguments.iter().flatten() {
                text.push_str(&format!("\n    {argument}: {meaning}"));
            }
            if let Some(example) = &doc.sql_example {
                text.push_str("\n    Examples:\n");
                text.push_str(example.trim_end());
            }
        } else {
            text.push_str(" N/A.");
        }
        rows.push(row([&text]));
    }
    Ok(rows)
}

/// The schema SHOW TABLES lists without IN: the first on the search path that exists.
async fn current_schema(connection: &Connection) -> Result<String> {
    let catalog = catalog(connection);
    for schema in query_context(connection).search_path {
        if catalog.schema_exists(&schema).await? {
            return Ok(schema);
        }
    }
    Err(Error::new(
        ErrorKind::UndefinedSchema,
        "no schema has been selected",
    ))
}

async fn show_tables(
    connection: &Connection,
    database: Option<String>,
    pattern: Option<String>,
    views_only: bool,
) -> Result<Rows> {
    let catalog = catalog(connection);
    let database = match database {
        Some(database) => {
            if !catalog.schema_exists(&database).await? {
                return Err(undefined_schema(&database));
            }
            database
        }
        None => current_schema(connection).await?,
    };
    let privileges = connection.session.privileges.clone();
    let matches = |name: &str| {
        pattern.as_deref().is_none_or(|p| pattern_matches(p, name))
            && privileges.reads_table(&database, name)
    };
    let mut rows = Vec::new();
    let mut names: Vec<String> = catalog.table_names(&database).await?.into_iter().collect();
    names.extend(catalog.statics().table_names(&database));
    names.sort();
    for name in names.into_iter().filter(|n| matches(n)) {
        if views_only {
            match catalog.metastore().get_table(&database, &name).await {
                Ok(table) if table.is_view() => {}
                _ => continue,
            }
        }
        rows.push(row([database.as_str(), name.as_str(), "false"]));
    }
    if database == GLOBAL_TEMP {
        for name in catalog
            .global_temp_view_names()
            .into_iter()
            .filter(|n| matches(n))
        {
            rows.push(row([GLOBAL_TEMP, name.as_str(), "true"]));
        }
    }
    let matches_temporary =
        |name: &str| pattern.as_deref().is_none_or(|p| pattern_matches(p, name));
    for name in connection
        .session
        .temp_views
        .keys()
        .filter(|n| matches_temporary(n))
    {
        rows.push(row(["", name.as_str(), "true"]));
    }
    Ok(rows)
}

async fn show_partitions(
    connection: &Connection,
    name: &ObjectName,
    spec: Option<PartitionSpec>,
) -> Result<Rows> {
    let table = find_table(connection, name).await?;
    if !table.is_partitioned() {
        return Err(Error::new(
            ErrorKind::WrongObjectType,
            format!("table \"{name}\" is not partitioned"),
        ));
    }
    let filter: Vec<(usize, Option<String>)> = match &spec {
        None => Vec::new(),
        Some(spec) => {
            let mut filter = Vec::new();
            for (key, value) in spec {
                let index = table
                    .partition_keys
                    .iter()
                    .position(|k| k.name.eq_ignore_ascii_case(key))
                    .ok_or_else(|| {
                        Error::invalid_parameter(format!(
                            "\"{key}\" is not a partition column of \"{name}\""
                        ))
                    })?;
                let mut single = table.clone();
                single.partition_keys = vec![table.partition_keys[index].clone()];
                let value = spec_values(&single, &vec![(key.clone(), value.clone())])?;
                filter.push((index, value.into_iter().next().flatten()));
            }
            filter
        }
    };
    let partitions = catalog(connection)
        .metastore()
        .list_partitions(&table.database, &table.name)
        .await?;
    Ok(partitions
        .iter()
        .filter(|p| filter.iter().all(|(i, v)| p.values.get(*i) == Some(v)))
        .map(|p| vec![Some(p.relative_path(&table.partition_keys))])
        .collect())
}

/// (name, type, comment) of every column, partition keys last.
async fn columns_of(
    connection: &Connection,
    name: &ObjectName,
) -> Result<Vec<(String, String, Option<String>)>> {
    match find(connection, name).await? {
        Some(Found::Catalog(table)) => Ok(table
            .columns
            .iter()
            .chain(&table.partition_keys)
            .map(|c| (c.name.clone(), c.data_type.to_string(), c.comment.clone()))
            .collect()),
        Some(_) => {
            let schema = planned_schema(connection, name).await?;
            Ok(schema
                .fields()
                .iter()
                .map(|f| {
                    let data_type = hive_type(f.data_type(), f.name())
                        .map(|t| t.to_string())
                        .unwrap_or_else(|_| f.data_type().to_string());
                    (f.name().clone(), data_type, None)
                })
                .collect())
        }
        None => Err(undefined_table(name)),
    }
}

/// A column's name, type and comment, and with `extended` the statistics `ANALYZE … FOR
/// COLUMNS` measured (`NULL` where none), as Spark describes a column.
async fn describe_column(
    connection: &Connection,
    name: &ObjectName,
    column: &str,
    extended: bool,
) -> Result<Rows> {
    let (column, data_type, comment) = columns_of(connection, name)
        .await?
        .into_iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(column))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedColumn,
                format!("column \"{column}\" of relation \"{name}\" does not exist"),
            )
        })?;
    let text = |value: Option<String>| Some(value.unwrap_or_else(|| "NULL".into()));
    let mut rows = vec![
        row(["col_name", &column]),
        row(["data_type", &data_type]),
        vec![Some("comment".into()), text(comment)],
    ];
    if extended {
        let measured = match find(connection, name).await? {
            Some(Found::Catalog(table)) => table
                .statistics
                .and_then(|s| s.columns.get(&column).cloned()),
            _ => None,
        }
        .unwrap_or_default();
        let count = |n: Option<u64>| text(n.map(|n| n.to_string()));
        let statistics = [
            ("min", text(measured.min)),
            ("max", text(measured.max)),
            ("num_nulls", count(measured.nulls)),
            ("distinct_count", count(measured.distinct)),
            ("avg_col_len", count(measured.avg_len)),
            ("max_col_len", count(measured.max_len)),
            ("histogram", text(None)),
        ];
        rows.extend(
            statistics
                .into_iter()
                .map(|(info, value)| vec![Some(info.to_string()), value]),
        );
    }
    Ok(rows)
}

/// The columns of a temporary view or configured table, by planning `SELECT *` from it.
async fn planned_schema(connection: &Connection, name: &ObjectName) -> Result<Schema> {
    let quoted: Vec<String> = name
        .0
        .iter()
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect();
    let sql = format!("SELECT * FROM {}", quoted.join("."));
    let piece = crate::sql::split::StatementText {
        text: &sql,
        char_offset: 0,
    };
    let crate::sql::parse::Parsed::Sql(statement) = crate::sql::parse::parse_statement(&piece)?
    else {
        return Err(Error::internal("SELECT * did not parse as a query"));
    };
    let ctx = query_context(connection);
    let planned = connection
        .service
        .engine
        .plan(&ctx, *statement, &[])
        .await?;
    Ok(planned.plan.schema().as_arrow().clone())
}

async fn describe_table(
    connection: &Connection,
    name: &ObjectName,
    extended: bool,
) -> Result<Rows> {
    let columns = columns_of(connection, name).await?;
    let table = match find(connection, name).await? {
        Some(Found::Catalog(table)) => Some(*table),
        _ => None,
    };
    let keys = table.as_ref().map_or(0, |t| t.partition_keys.len());
    let mut rows: Rows = columns
        .iter()
        .map(|(n, t, c)| vec![Some(n.clone()), Some(t.clone()), c.clone()])
        .collect();
    if keys > 0 {
        rows.push(row(["# Partition Information", "", ""]));
        rows.push(row(["# col_name", "data_type", "comment"]));
        for (n, t, c) in &columns[columns.len() - keys..] {
            rows.push(vec![Some(n.clone()), Some(t.clone()), c.clone()]);
        }
    }
    if let (true, Some(table)) = (extended, &table) {
        rows.push(row(["", "", ""]));
        rows.push(row(["# Detailed Table Information", "", ""]));
        for (label, value) in table_details(table) {
            rows.push(vec![
                Some(label.to_string()),
                Some(value),
                Some(String::new()),
            ]);
        }
    }
    Ok(rows)
}

fn table_details(table: &Table) -> Vec<(&'static str, String)> {
    let mut details = vec![
        ("Catalog", "spark_catalog".to_string()),
        ("Database", table.database.clone()),
        ("Table", table.name.clone()),
    ];
    if let Some(owner) = &table.owner {
        details.push(("Owner", owner.clone()));
    }
    let created = chrono::DateTime::from_timestamp(table.create_time, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    details.push(("Created Time", created));
    let kind = match table.kind {
        TableKind::Managed => "MANAGED",
        TableKind::External => "EXTERNAL",
        TableKind::View => "VIEW",
    };
    details.push(("Type", kind.to_string()));
    if let Some(comment) = &table.comment {
        details.push(("Comment", comment.clone()));
    }
    if let Some(text) = &table.view_text {
        details.push(("View Text", text.clone()));
    }
    if let Some(storage) = &table.storage {
        details.push(("Provider", storage.format.name().to_string()));
        details.push(("Location", storage.location.clone()));
        if !storage.options.is_empty() {
            details.push(("Storage Properties", bracketed(&storage.options)));
        }
    }
    if !table.properties.is_empty() {
        details.push(("Table Properties", bracketed(&table.properties)));
    }
    if let Some(statistics) = &table.statistics {
        let rows = statistics
            .rows
            .map(|rows| format!(", {rows} rows"))
            .unwrap_or_default();
        details.push(("Statistics", format!("{} bytes{rows}", statistics.bytes)));
    }
    if table.is_partitioned() {
        details.push(("Partition Provider", "Catalog".to_string()));
    }
    details
}

fn bracketed(map: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("[{}]", pairs.join(", "))
}

async fn describe_database(connection: &Connection, name: &str, extended: bool) -> Result<Rows> {
    let database = match catalog(connection).metastore().get_database(name).await {
        Ok(database) => database,
        Err(e) if e.is_not_found() => return Err(undefined_schema(name)),
        Err(e) => return Err(e.into()),
    };
    let mut rows = vec![
        row(["Catalog Name", "spark_catalog"]),
        row(["Namespace Name", database.name.as_str()]),
        row(["Comment", database.comment.as_deref().unwrap_or("")]),
        row(["Location", database.location.as_str()]),
    ];
    if extended {
        let properties = if database.properties.is_empty() {
            String::new()
        } else {
            bracketed(&database.properties)
        };
        rows.push(row(["Properties", properties.as_str()]));
    }
    Ok(rows)
}

/// The table's definition as Spark SQL DDL.
fn create_statement(table: &Table) -> String {
    let quote = |name: &str| format!("`{}`", name.replace('`', "``"));
    let string = |text: &str| format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
    let column = |c: &lakeport_catalog::Column| {
        let mut text = format!(
            "{} {}",
            quote(&c.name),
            c.data_type.to_string().to_uppercase()
        );
        if let Some(comment) = &c.comment {
            text.push_str(&format!(" COMMENT {}", string(comment)));
        }
        text
    };
    let name = format!("{}.{}", quote(&table.database), quote(&table.name));
    if let Some(sql) = &table.view_text {
        let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
        return format!("CREATE VIEW {name} (\n  {})\nAS {sql}", names.join(",\n  "));
    }
    let columns: Vec<String> = table
        .columns
        .iter()
        .chain(&table.partition_keys)
        .map(column)
        .collect();
    let mut text = format!(
        "CREATE {}TABLE {name} (\n  {})\n",
        if table.kind == TableKind::External {
            "EXTERNAL "
        } else {
            ""
        },
        columns.join(",\n  ")
    );
    if let Some(storage) = &table.storage {
        text.push_str(&format!("USING {}\n", storage.format.name()));
        if !storage.options.is_empty() {
            let options: Vec<String> = storage
                .options
                .iter()
                .map(|(k, v)| format!("  {} = {}", string(k), string(v)))
                .collect();
            text.push_str(&format!("OPTIONS (\n{})\n", options.join(",\n")));
        }
    }
    if table.is_partitioned() {
        let keys: Vec<String> = table
            .partition_keys
            .iter()
            .map(|k| quote(&k.name))
            .collect();
        text.push_str(&format!("PARTITIONED BY ({})\n", keys.join(", ")));
    }
    if let Some(storage) = &table.storage
        && table.kind == TableKind::External
    {
        text.push_str(&format!("LOCATION {}\n", string(&storage.location)));
    }
    if let Some(comment) = &table.comment {
        text.push_str(&format!("COMMENT {}\n", string(comment)));
    }
    if !table.properties.is_empty() {
        let properties: Vec<String> = table
            .properties
            .iter()
            .map(|(k, v)| format!("  {} = {}", string(k), string(v)))
            .collect();
        text.push_str(&format!("TBLPROPERTIES (\n{})\n", properties.join(",\n")));
    }
    text.trim_end().to_string()
}
