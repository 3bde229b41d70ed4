//! Runs catalog statements: dispatch, databases, views, and the name resolution and
//! result helpers the table statements (`tables`) and SHOW / DESCRIBE (`describe`) share.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use lakeport_catalog::model::DEFAULT_DATABASE;
use lakeport_catalog::{Column, Database, Storage, Table, TableKind};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::{
    Catalog, GLOBAL_TEMP, Relation, VIEW_DATABASE_PROPERTIES, VIEW_SEARCH_PATH_PROPERTY,
    ViewDefinition,
};
use crate::exec::{RowCursor, RowStream};
use crate::session::{Notice, QueryContext};
use crate::sql::ddl::ast::*;
use crate::sql::ddl::{analyze, cache, describe, insert, tables, truncate};
use crate::sql::{Connection, Output, RowsTag};

/// Runs one catalog statement.
pub async fn run(connection: &mut Connection, statement: CatalogStatement) -> Result<Output> {
    let tag = statement.tag();
    match statement {
        CatalogStatement::CreateDatabase {
            name,
            if_not_exists,
            comment,
            location,
            properties,
        } => {
            create_database(
                connection,
                name,
                if_not_exists,
                comment,
                location,
                properties,
            )
            .await?
        }
        CatalogStatement::DropDatabase {
            name,
            if_exists,
            cascade,
        } => drop_database(connection, &name, if_exists, cascade).await?,
        CatalogStatement::Use(name) => use_database(connection, &name).await?,
        CatalogStatement::CreateTable(create) if create.query.is_some() => {
            return insert::create_table_as(connection, *create).await;
        }
        CatalogStatement::CreateTable(create) => {
            return tables::create_table(connection, *create).await;
        }
        CatalogStatement::Insert(statement) => return insert::insert(connection, *statement).await,
        CatalogStatement::CreateView(create) => create_view(connection, *create).await?,
        CatalogStatement::DropTable {
            name,
            if_exists,
            view,
        } => tables::drop_table(connection, &name, if_exists, view).await?,
        CatalogStatement::AlterTable { name, change } => {
            tables::alter_table(connection, &name, change).await?
        }
        CatalogStatement::RepairTable { name, mode } => {
            tables::repair_table(connection, &name, mode).await?
        }
        CatalogStatement::RefreshTable(name) => match find(connection, &name).await? {
            Some(Found::Catalog(table)) => {
                catalog(connection).invalidate_table(&table.database, &table.name)
            }
            Some(_) => {}
            None => return Err(undefined_table(&name)),
        },
        CatalogStatement::AnalyzeTable { name, measure } => {
            analyze::analyze_table(connection, &name, &measure).await?
        }
        CatalogStatement::TruncateTable { name, partition } => {
            truncate::truncate_table(connection, &name, partition.as_ref()).await?
        }
        CatalogStatement::CacheTable { name, query } => {
            cache::cache_table(connection, &name, query).await?
        }
        CatalogStatement::UncacheTable { name, if_exists } => {
            cache::uncache_table(connection, &name, if_exists).await?
        }
        CatalogStatement::ClearCache => cache::clear_cache(connection),
        other => return describe::show(connection, other).await,
    }
    Ok(Output::Command(tag.to_string()))
}

/// The result columns of a statement that returns rows.
pub fn result_schema(statement: &CatalogStatement) -> Option<SchemaRef> {
    let names = statement.columns()?;
    Some(Arc::new(Schema::new(
        names
            .iter()
            .map(|name| {
                let data_type = if name.starts_with("is") {
                    DataType::Boolean
                } else {
                    DataType::Utf8
                };
                Field::new(*name, data_type, true)
            })
            .collect::<Vec<_>>(),
    )))
}

/// Rows of text (and boolean) columns as a result.
pub fn rows_output(schema: SchemaRef, rows: Vec<Vec<Option<String>>>) -> Result<Output> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| -> ArrayRef {
            let values = rows.iter().map(|row| row.get(i).cloned().flatten());
            match field.data_type() {
                DataType::Boolean => Arc::new(
                    values
                        .map(|v| v.map(|v| v == "true"))
                        .collect::<BooleanArray>(),
                ),
                _ => Arc::new(values.collect::<StringArray>()),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Output::Rows {
        cursor: RowCursor::new(RowStream::from_batches(schema, vec![batch])),
        tag: RowsTag::Show,
    })
}

pub fn catalog(connection: &Connection) -> Arc<Catalog> {
    connection.service.engine.catalog().clone()
}

pub fn query_context(connection: &Connection) -> QueryContext {
    connection.session.query_context()
}

/// Runs a query lakeport writes itself over names it quoted (`CACHE TABLE` reading a
/// table's rows, `ANALYZE TABLE` counting them), with the session's privileges.
pub async fn run_internal_query(connection: &Connection, sql: &str) -> Result<RowStream> {
    let statement = crate::exec::dialect::parse_sql(sql)
        .ok()
        .and_then(|statements| statements.into_iter().next())
        .ok_or_else(|| Error::internal(format!("lakeport wrote a query it cannot parse: {sql}")))?;
    let ctx = query_context(connection);
    let engine = &connection.service.engine;
    let planned = engine.plan(&ctx, statement, &[]).await?;
    engine.execute(&ctx, planned.plan, Vec::new()).await
}

/// `"database"."table"`, quoted for SQL.
pub fn quoted_table(table: &Table) -> String {
    use crate::pg_catalog::functions::quote_ident;
    format!(
        "{}.{}",
        quote_ident(&table.database),
        quote_ident(&table.name)
    )
}

pub use crate::exec::catalog_bridge::now;

/// A name's schema (if it gives one) and object name; a three-part name must start with
/// the connection's database.
pub fn split_name(connection: &Connection, name: &ObjectName) -> Result<(Option<String>, String)> {
    match name.0.as_slice() {
        [object] => Ok((None, object.clone())),
        [schema, object] => Ok((Some(schema.clone()), object.clone())),
        [database, schema, object] => {
            if *database != connection.session.database {
                return Err(Error::unsupported(format!(
                    "cross-database references are not implemented: {name}"
                )));
            }
            Ok((Some(schema.clone()), object.clone()))
        }
        _ => Err(Error::syntax(format!("improper qualified name: {name}"))),
    }
}

/// The database an unqualified CREATE goes to: the first schema on the search path that
/// is a database.
pub async fn current_database(connection: &Connection) -> Result<String> {
    let catalog = catalog(connection);
    for schema in query_context(connection).search_path {
        if catalog.is_database(&schema).await? {
            return Ok(schema);
        }
    }
    Err(Error::new(
        ErrorKind::UndefinedSchema,
        "no schema has been selected to create in",
    )
    .with_hint("create a schema with CREATE SCHEMA, or name one with USE or SET search_path"))
}

/// Where a new object named `name` goes: its database must exist.
pub async fn create_target(connection: &Connection, name: &ObjectName) -> Result<(String, String)> {
    let (schema, object) = split_name(connection, name)?;
    let database = match schema {
        Some(schema) if schema == GLOBAL_TEMP => {
            return Err(Error::unsupported(format!(
                "schema \"{GLOBAL_TEMP}\" holds global temporary views only"
            )));
        }
        Some(schema) => {
            if !catalog(connection).is_database(&schema).await? {
                return Err(undefined_schema(&schema));
            }
            schema
        }
        None => current_database(connection).await?,
    };
    Ok((database, object))
}

pub fn undefined_schema(name: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedSchema,
        format!("schema \"{name}\" does not exist"),
    )
}

pub fn undefined_table(name: &ObjectName) -> Error {
    Error::new(
        ErrorKind::UndefinedTable,
        format!("relation \"{name}\" does not exist"),
    )
}

/// What an existing name refers to.
pub enum Found {
    /// A temporary view of this connection.
    Temp(String),
    GlobalTemp(String),
    /// A table declared in the configuration.
    Static(String, String),
    Catalog(Box<Table>),
}

/// Looks up an existing table or view the way queries resolve names.
pub async fn find(connection: &Connection, name: &ObjectName) -> Result<Option<Found>> {
    let catalog = catalog(connection);
    let (schema, object) = split_name(connection, name)?;
    let schemas = match schema {
        None => {
            if connection.session.temp_views.contains_key(&object) {
                return Ok(Some(Found::Temp(object)));
            }
            query_context(connection).search_path
        }
        Some(schema) if schema == GLOBAL_TEMP => {
            return Ok(catalog
                .global_temp_view(&object)
                .map(|_| Found::GlobalTemp(object)));
        }
        Some(schema) => vec![schema],
    };
    for schema in schemas {
        if catalog.statics().table(&schema, &object).is_some() {
            return Ok(Some(Found::Static(schema, object)));
        }
        if catalog.table_names(&schema).await?.contains(&object) {
            match catalog.metastore().get_table(&schema, &object).await {
                Ok(table) => return Ok(Some(Found::Catalog(Box::new(table)))),
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(None)
}

/// A catalog table (not a view, temporary view or configured table) for statements that
/// change or read its definition.
pub async fn find_table(connection: &Connection, name: &ObjectName) -> Result<Table> {
    match find(connection, name).await? {
        Some(Found::Catalog(table)) => Ok(*table),
        Some(Found::Static(..)) => Err(Error::unsupported(format!(
            "\"{name}\" is declared in the server configuration; change it there"
        ))),
        Some(Found::Temp(_) | Found::GlobalTemp(_)) => Err(Error::new(
            ErrorKind::WrongObjectType,
            format!("\"{name}\" is a temporary view"),
        )),
        None => Err(undefined_table(name)),
    }
}

/// A location as written in DDL, canonical (see [`crate::storage::locations`]), once it is
/// known to lie inside the allowed roots (42501 otherwise).
pub fn allowed_location(connection: &Connection, text: &str) -> Result<String> {
    let location = crate::storage::locations::normalise(text)?;
    connection
        .service
        .engine
        .allowed_locations()
        .check(&location)?;
    Ok(location)
}

pub use crate::storage::locations::local_directory;

/// Spark's `LIKE` patterns of SHOW: `*` for any text, `|` between alternatives, case-
/// insensitive.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    pattern.split('|').any(|alternative| {
        let alternative = alternative.trim().to_lowercase();
        wildcard(alternative.as_bytes(), name.to_lowercase().as_bytes())
    })
}

fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard(rest, &text[skip..])),
        Some((c, rest)) => text.first() == Some(c) && wildcard(rest, &text[1..]),
    }
}

/// Where a new database without a LOCATION goes: under `catalog.managed_location`, else
/// (with a Hive Metastore) beside its `default` database, where Spark and Hive put it,
/// else in the warehouse directory.
async fn managed_root(connection: &Connection, catalog: &Catalog) -> Result<String> {
    let config = &connection.service.config.catalog;
    let root = if !config.managed_location.is_empty() {
        config.managed_location.clone()
    } else if config.backend == crate::config::CatalogBackend::Hive {
        catalog
            .metastore()
            .get_database(DEFAULT_DATABASE)
            .await?
            .location
    } else {
        config.warehouse.display().to_string()
    };
    let root = crate::storage::locations::normalise(&root)?;
    Ok(if root.ends_with('/') {
        root
    } else {
        format!("{root}/")
    })
}

async fn create_database(
    connection: &mut Connection,
    name: String,
    if_not_exists: bool,
    comment: Option<String>,
    location: Option<String>,
    properties: BTreeMap<String, String>,
) -> Result<()> {
    let catalog = catalog(connection);
    let name = name.to_lowercase();
    if name == GLOBAL_TEMP {
        return Err(Error::new(
            ErrorKind::DuplicateSchema,
            format!("schema \"{GLOBAL_TEMP}\" is reserved for global temporary views"),
        ));
    }
    if crate::pg_catalog::is_system_schema(&name) {
        return Err(Error::new(
            ErrorKind::DuplicateSchema,
            format!("schema \"{name}\" is reserved for system relations"),
        ));
    }
    if catalog.is_database(&name).await? {
        return exists_or(
            connection,
            if_not_exists,
            format!("schema \"{name}\" already exists"),
            ErrorKind::DuplicateSchema,
        );
    }
    let location = match location {
        Some(location) => allowed_location(connection, &location)?,
        None => {
            let root = managed_root(connection, &catalog).await?;
            allowed_location(connection, &format!("{root}{name}.db"))?
        }
    };
    let database = Database {
        name: name.clone(),
        location,
        comment,
        properties,
    };
    let result = catalog.metastore().create_database(&database).await;
    catalog.invalidate_database(&name);
    match result {
        Err(e) if e.kind == lakeport_catalog::CatalogErrorKind::AlreadyExists && if_not_exists => {
            exists_or(
                connection,
                true,
                format!("schema \"{name}\" already exists"),
                ErrorKind::DuplicateSchema,
            )
        }
        other => Ok(other?),
    }
}

/// With IF [NOT] EXISTS a NOTICE ending in ", skipping"; otherwise the error.
pub fn exists_or(
    connection: &mut Connection,
    skip: bool,
    message: String,
    kind: ErrorKind,
) -> Result<()> {
    if skip {
        connection
            .session
            .notice(Notice::plain(format!("{message}, skipping")));
        Ok(())
    } else {
        Err(Error::new(kind, message))
    }
}

async fn drop_database(
    connection: &mut Connection,
    name: &str,
    if_exists: bool,
    cascade: bool,
) -> Result<()> {
    let catalog = catalog(connection);
    if !catalog.is_database(name).await? {
        return exists_or(
            connection,
            if_exists,
            format!("schema \"{name}\" does not exist"),
            ErrorKind::UndefinedSchema,
        );
    }
    if name == DEFAULT_DATABASE {
        return Err(Error::unsupported(format!(
            "schema \"{DEFAULT_DATABASE}\" cannot be dropped"
        )));
    }
    let managed = if cascade {
        let mut managed = Vec::new();
        for table in catalog.table_names(name).await? {
            if let Ok(table) = catalog.metastore().get_table(name, &table).await
                && table.kind == TableKind::Managed
                && let Some(storage) = table.storage
            {
                managed.push(storage);
            }
        }
        managed
    } else {
        Vec::new()
    };
    let result = catalog.metastore().drop_database(name, cascade).await;
    catalog.invalidate_database(name);
    match result {
        Err(e) if e.kind == lakeport_catalog::CatalogErrorKind::Conflict => {
            return Err(Error::new(
                ErrorKind::DependentObjectsStillExist,
                format!("cannot drop schema \"{name}\" because other objects depend on it"),
            )
            .with_detail(e.message)
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        other => other?,
    }
    for storage in managed {
        tables::delete_files(connection, &storage).await;
    }
    Ok(())
}

async fn use_database(connection: &mut Connection, name: &str) -> Result<()> {
    if !catalog(connection).schema_exists(name).await? {
        return Err(undefined_schema(name));
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    connection.session.variables.set("search_path", &quoted)?;
    Ok(())
}

pub async fn create_view(connection: &mut Connection, create: CreateView) -> Result<()> {
    if create.kind == ViewKind::Persistent {
        let ViewBody::Query(sql) = &create.body else {
            return Err(Error::unsupported(
                "CREATE VIEW ... USING needs TEMPORARY; declare a table over the files instead",
            ));
        };
        let columns = plan_view_columns(connection, sql, false).await?;
        view_column_names(&create, &columns)?;
        return create_persistent_view(connection, &create, sql, columns).await;
    }
    let relation = match &create.body {
        ViewBody::Query(sql) => {
            let columns = plan_view_columns(connection, sql, true).await?;
            let names = view_column_names(&create, &columns)?;
            let mut output = columns.clone();
            for (column, name) in output.iter_mut().zip(&names) {
                column.name = name.clone();
            }
            Relation::View(Arc::new(ViewDefinition {
                sql: sql.clone(),
                sees_temp_views: true,
                search_path: query_context(connection).search_path,
                columns: names,
                output: Arc::new(crate::exec::catalog_bridge::types::arrow_schema(&output)),
            }))
        }
        ViewBody::Files { format, options } => {
            tables::files_relation(connection, *format, options).await?
        }
    };
    let (schema, name) = split_name(connection, &create.name)?;
    if create.kind == ViewKind::Temporary {
        if schema.is_some() {
            return Err(Error::syntax(format!(
                "temporary view name \"{}\" must not be qualified",
                create.name
            )));
        }
        if connection.session.temp_views.contains_key(&name) && !create.or_replace {
            return exists_or(
                connection,
                create.if_not_exists,
                format!("relation \"{name}\" already exists"),
                ErrorKind::DuplicateTable,
            );
        }
        Arc::make_mut(&mut connection.session.temp_views).insert(name, relation);
        return Ok(());
    }
    if schema.as_deref().is_some_and(|s| s != GLOBAL_TEMP) {
        return Err(Error::syntax(format!(
            "global temporary views live in schema \"{GLOBAL_TEMP}\""
        )));
    }
    if !catalog(connection).create_global_temp_view(&name, relation, create.or_replace) {
        return exists_or(
            connection,
            create.if_not_exists,
            format!("relation \"{GLOBAL_TEMP}.{name}\" already exists"),
            ErrorKind::DuplicateTable,
        );
    }
    Ok(())
}

/// Plans a view's query to check it and learn its columns; a persistent view's query does
/// not see temporary views.
async fn plan_view_columns(
    connection: &Connection,
    sql: &str,
    sees_temp_views: bool,
) -> Result<Vec<Column>> {
    let piece = crate::sql::split::StatementText {
        text: sql,
        char_offset: 0,
    };
    let statement = match crate::sql::parse::parse_statement(&piece)? {
        crate::sql::parse::Parsed::Sql(statement)
            if matches!(
                *statement,
                datafusion::sql::sqlparser::ast::Statement::Query(_)
            ) =>
        {
            *statement
        }
        _ => return Err(Error::syntax("a view's body must be a query")),
    };
    let mut ctx = query_context(connection);
    if !sees_temp_views {
        ctx.temp_views = Default::default();
    }
    let planned = connection.service.engine.plan(&ctx, statement, &[]).await?;
    if !planned.param_types.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidStatement,
            "a view's query cannot have parameters",
        ));
    }
    let schema = planned.plan.schema().as_arrow().clone();
    let mut seen = std::collections::HashSet::new();
    schema
        .fields()
        .iter()
        .map(|field| {
            if !seen.insert(field.name().to_lowercase()) {
                return Err(Error::new(
                    ErrorKind::DuplicateObject,
                    format!("column \"{}\" specified more than once", field.name()),
                )
                .with_hint("give the view's columns distinct names with AS"));
            }
            Ok(Column {
                name: field.name().clone(),
                data_type: crate::exec::catalog_bridge::types::hive_type(
                    field.data_type(),
                    field.name(),
                )?,
                comment: None,
            })
        })
        .collect()
}

fn view_column_names(create: &CreateView, columns: &[Column]) -> Result<Vec<String>> {
    if create.columns.is_empty() {
        return Ok(Vec::new());
    }
    if create.columns.len() != columns.len() {
        return Err(Error::new(
            ErrorKind::InvalidStatement,
            format!(
                "view \"{}\" names {} columns but its query returns {}",
                create.name,
                create.columns.len(),
                columns.len()
            ),
        ));
    }
    Ok(create
        .columns
        .iter()
        .map(|(name, _)| name.clone())
        .collect())
}

async fn create_persistent_view(
    connection: &mut Connection,
    create: &CreateView,
    sql: &str,
    mut columns: Vec<Column>,
) -> Result<()> {
    let (database, name) = create_target(connection, &create.name).await?;
    for (column, (given, comment)) in columns.iter_mut().zip(&create.columns) {
        column.name = given.clone();
        column.comment = comment.clone();
    }
    let search_path = query_context(connection).search_path;
    let mut properties = create.properties.clone();
    properties.insert(VIEW_DATABASE_PROPERTIES[0].into(), "2".into());
    properties.insert(VIEW_DATABASE_PROPERTIES[1].into(), "spark_catalog".into());
    properties.insert(VIEW_DATABASE_PROPERTIES[2].into(), database.clone());
    properties.insert(VIEW_SEARCH_PATH_PROPERTY.into(), search_path.join(","));
    let view = Table {
        database: database.clone(),
        name: name.clone(),
        kind: TableKind::View,
        columns,
        partition_keys: Vec::new(),
        storage: None::<Storage>,
        view_text: Some(sql.to_string()),
        comment: create.comment.clone(),
        properties,
        owner: Some(connection.session.user.clone()),
        create_time: now(),
        statistics: None,
    };
    let catalog = catalog(connection);
    let existing = find(
        connection,
        &ObjectName(vec![database.clone(), name.clone()]),
    )
    .await?;
    let result = match existing {
        Some(Found::Catalog(table)) if table.is_view() && create.or_replace => {
            catalog
                .metastore()
                .alter_table(&database, &name, &view)
                .await
        }
        Some(Found::Catalog(table)) if !table.is_view() => {
            return Err(Error::new(
                ErrorKind::WrongObjectType,
                format!("\"{database}.{name}\" is not a view"),
            ));
        }
        Some(_) => {
            return exists_or(
                connection,
                create.if_not_exists,
                format!("relation \"{database}.{name}\" already exists"),
                ErrorKind::DuplicateTable,
            );
        }
        None => catalog.metastore().create_table(&view, &[]).await,
    };
    catalog.invalidate_table(&database, &name);
    match result {
        Err(e) if e.kind == lakeport_catalog::CatalogErrorKind::AlreadyExists => exists_or(
            connection,
            create.if_not_exists,
            format!("relation \"{database}.{name}\" already exists"),
            ErrorKind::DuplicateTable,
        ),
        other => Ok(other?),
    }
}
