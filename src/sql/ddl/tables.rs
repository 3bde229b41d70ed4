//! Table statements: CREATE TABLE over new or existing files, DROP TABLE / VIEW, ALTER
//! TABLE, MSCK REPAIR TABLE (registering partition directories, forgetting vanished ones),
//! and temporary views over files.
//!
//! A table declared over existing files takes its columns from them when none are given
//! (Parquet metadata, CSV inference), its partition keys from `key=value` directories when
//! PARTITIONED BY names no types, and — unlike Spark, where they stay invisible until
//! `MSCK REPAIR TABLE` — the partitions already present.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::object_store::ObjectStoreExt;
use lakeport_catalog::{
    CatalogErrorKind, Column, Partition, Storage, StorageFormat, Table, TableKind,
};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::discovery::{self, Listing};
use crate::exec::catalog_bridge::types::arrow_type;
use crate::exec::catalog_bridge::{Relation, options};
use crate::session::Notice;
use crate::sql::ddl::ast::*;
use crate::sql::ddl::run::{
    Found, allowed_location, catalog, create_target, exists_or, find, find_table, local_directory,
    now, split_name,
};
use crate::sql::{Connection, Output};

pub async fn create_table(connection: &mut Connection, create: CreateTable) -> Result<Output> {
    let create = match create.like.clone() {
        Some(source) => copied_definition(connection, create, &source).await?,
        None => create,
    };
    if create.or_replace {
        return Err(
            Error::unsupported("CREATE OR REPLACE TABLE is not supported")
                .with_hint("DROP TABLE first"),
        );
    }
    let (database, name) = create_target(connection, &create.name).await?;
    let catalog = catalog(connection);
    if !table_name_free(connection, &database, &name, create.if_not_exists).await? {
        return Ok(Output::Command("CREATE TABLE".into()));
    }
    let mut options = create.options.clone();
    let path_option = options
        .keys()
        .find(|key| key.eq_ignore_ascii_case("path"))
        .cloned()
        .and_then(|key| options.remove(&key));
    let given_location = create.location.clone().or(path_option);
    if create.external && given_location.is_none() {
        return Err(Error::syntax("CREATE EXTERNAL TABLE needs a LOCATION"));
    }
    let external = given_location.is_some();
    let location =
        new_table_location(connection, &database, &name, given_location.as_deref()).await?;
    let storage = Storage {
        location,
        format: create.format.unwrap_or(StorageFormat::Parquet),
        options,
    };
    options::validate(&storage)?;
    let listing = if external {
        Some(list_existing(connection, &storage.location).await?)
    } else {
        prepare_managed_location(connection, &storage.location).await?;
        None
    };
    let read_storage = options::with_table_properties(&storage, &create.properties);
    let (columns, partition_keys) =
        table_columns(connection, &create, &read_storage, listing.as_ref()).await?;
    let table = Table {
        database: database.clone(),
        name: name.clone(),
        kind: if external {
            TableKind::External
        } else {
            TableKind::Managed
        },
        columns,
        partition_keys,
        storage: Some(storage),
        view_text: None,
        comment: create.comment.clone(),
        properties: create.properties.clone(),
        owner: Some(connection.session.user.clone()),
        create_time: now(),
        statistics: None,
    };
    let partitions = match &listing {
        Some(listing) if table.is_partitioned() => {
            discovered_partitions(connection, &table, listing)
        }
        _ => Vec::new(),
    };
    let result = catalog.metastore().create_table(&table, &partitions).await;
    catalog.invalidate_table(&database, &name);
    match result {
        Err(e) if e.kind == CatalogErrorKind::AlreadyExists => {
            duplicate_table(connection, create.if_not_exists, &database, &name)?;
        }
        other => other?,
    }
    Ok(Output::Command("CREATE TABLE".into()))
}

/// `CREATE TABLE t LIKE source`: the source's columns and partition keys, and its format and
/// storage options unless `USING` names a format; not its location, comment or properties
/// (as in Spark).
async fn copied_definition(
    connection: &Connection,
    mut create: CreateTable,
    source: &ObjectName,
) -> Result<CreateTable> {
    let table = find_table(connection, source).await?;
    let Some(storage) = &table.storage else {
        return Err(Error::unsupported(format!(
            "CREATE TABLE … LIKE a view is not supported: \"{source}\" is a view"
        )));
    };
    create.columns = Some(
        table
            .columns
            .iter()
            .map(|c| ColumnDefinition {
                name: c.name.clone(),
                data_type: c.data_type.clone(),
                comment: c.comment.clone(),
            })
            .collect(),
    );
    create.partitioned_by = table
        .partition_keys
        .iter()
        .map(|k| PartitionKeyDefinition {
            name: k.name.clone(),
            data_type: Some(k.data_type.clone()),
            comment: k.comment.clone(),
        })
        .collect();
    if create.format.is_none() {
        create.format = Some(storage.format);
        let mut options = storage.options.clone();
        options.extend(std::mem::take(&mut create.options));
        create.options = options;
    }
    Ok(create)
}

/// Whether `database.name` is free for a new table. When it is taken, IF NOT EXISTS makes
/// that a NOTICE (and `false`); otherwise it is error 42P07.
pub async fn table_name_free(
    connection: &mut Connection,
    database: &str,
    name: &str,
    if_not_exists: bool,
) -> Result<bool> {
    if catalog(connection)
        .table_names(database)
        .await?
        .contains(name)
    {
        duplicate_table(connection, if_not_exists, database, name)?;
        return Ok(false);
    }
    Ok(true)
}

fn duplicate_table(
    connection: &mut Connection,
    if_not_exists: bool,
    database: &str,
    name: &str,
) -> Result<()> {
    exists_or(
        connection,
        if_not_exists,
        format!("relation \"{database}.{name}\" already exists"),
        ErrorKind::DuplicateTable,
    )
}

/// Where a new table's files go: the location given, or a directory named after the
/// table under its database's location (a managed table).
pub async fn new_table_location(
    connection: &Connection,
    database: &str,
    name: &str,
    given: Option<&str>,
) -> Result<String> {
    match given {
        Some(location) => allowed_location(connection, location),
        None => {
            let database = catalog(connection)
                .metastore()
                .get_database(database)
                .await?;
            allowed_location(
                connection,
                &format!("{}{name}", with_slash(&database.location)),
            )
        }
    }
}

fn with_slash(location: &str) -> String {
    if location.ends_with('/') {
        location.to_string()
    } else {
        format!("{location}/")
    }
}

/// Lists the files of an external table's location, which must exist.
pub(super) async fn list_existing(connection: &Connection, location: &str) -> Result<Listing> {
    let state = connection
        .service
        .engine
        .state_for(&connection.session.query_context());
    discovery::list_existing(&state, location).await
}

/// A managed table's location starts empty: one that already holds files is refused
/// rather than adopted. A local directory is created.
pub async fn prepare_managed_location(connection: &Connection, location: &str) -> Result<()> {
    let local = local_directory(location);
    let occupied = match &local {
        Some(directory) => std::fs::read_dir(directory)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false),
        None => !list_existing(connection, location).await?.files.is_empty(),
    };
    if occupied {
        return Err(Error::new(
            ErrorKind::DuplicateObject,
            format!("the location of the new table, \"{location}\", already holds files"),
        )
        .with_hint("give LOCATION to declare an external table over them, or remove them"));
    }
    let Some(directory) = local else {
        return Ok(());
    };
    std::fs::create_dir_all(&directory).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot create \"{}\": {e}", directory.display()),
        )
    })
}

/// The data columns and partition keys of a new table, from its definition and — for
/// what it leaves out — from the files.
async fn table_columns(
    connection: &Connection,
    create: &CreateTable,
    storage: &Storage,
    listing: Option<&Listing>,
) -> Result<(Vec<Column>, Vec<Column>)> {
    let mut columns: Vec<Column> = create
        .columns
        .iter()
        .flatten()
        .map(|c| Column {
            name: c.name.clone(),
            data_type: c.data_type.clone(),
            comment: c.comment.clone(),
        })
        .collect();
    let mut key_names: Vec<String> = create
        .partitioned_by
        .iter()
        .map(|k| k.name.clone())
        .collect();
    if create.columns.is_none()
        && key_names.is_empty()
        && let Some(listing) = listing
    {
        key_names = discovery::infer_partition_key_names(listing);
    }
    let inferred_key_types = listing.map(|l| discovery::infer_partition_key_types(l, &key_names));
    let mut keys = Vec::new();
    for (index, name) in key_names.iter().enumerate() {
        let declared = create.partitioned_by.get(index);
        let key = match declared.and_then(|k| k.data_type.clone()) {
            Some(data_type) => Column {
                name: name.clone(),
                data_type,
                comment: declared.and_then(|k| k.comment.clone()),
            },
            None => match columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
            {
                Some(position) => columns.remove(position),
                None if create.columns.is_some() => {
                    return Err(Error::new(
                        ErrorKind::UndefinedColumn,
                        format!("partition column \"{name}\" is not among the table's columns"),
                    )
                    .with_hint("give its type in PARTITIONED BY, or list it among the columns"));
                }
                None => inferred_key_types
                    .as_ref()
                    .and_then(|types| types.get(index).cloned())
                    .ok_or_else(|| {
                        Error::invalid_parameter(format!(
                            "cannot tell the type of partition column \"{name}\""
                        ))
                        .with_hint("give its type in PARTITIONED BY")
                    })?,
            },
        };
        keys.push(key);
    }
    if create.columns.is_none() {
        let Some(listing) = listing else {
            return Err(Error::syntax(format!(
                "table \"{}\" needs a column list (or a LOCATION with files to read it from)",
                create.name
            )));
        };
        let state = connection
            .service
            .engine
            .state_for(&connection.session.query_context());
        columns = discovery::infer_columns(&state, storage, listing, &key_names).await?;
    }
    if columns.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidStatement,
            format!(
                "table \"{}\" needs at least one column besides its partition columns",
                create.name
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for column in columns.iter().chain(&keys) {
        if !seen.insert(column.name.to_lowercase()) {
            return Err(Error::new(
                ErrorKind::DuplicateObject,
                format!("column \"{}\" specified more than once", column.name),
            ));
        }
    }
    Ok((columns, keys))
}

/// The partitions under the table's location; a WARNING counts directories skipped for
/// values that do not fit their key's type.
fn discovered_partitions(
    connection: &mut Connection,
    table: &Table,
    listing: &Listing,
) -> Vec<Partition> {
    let (found, skipped) = discovery::discover_partitions(table, listing, now());
    if skipped > 0 {
        connection.session.notice(Notice::warning(
            "01000",
            format!(
                "{skipped} directories under \"{}\" were skipped: their values do not fit the partition column types",
                listing.location
            ),
        ));
    }
    found
}

/// `MSCK REPAIR TABLE`: registers the partition directories the catalog lacks (ADD), forgets
/// the partitions whose locations are gone (DROP), or both (SYNC).
pub async fn repair_table(
    connection: &mut Connection,
    name: &ObjectName,
    mode: RepairMode,
) -> Result<()> {
    let table = find_table(connection, name).await?;
    if !table.is_partitioned() {
        return Err(Error::new(
            ErrorKind::WrongObjectType,
            format!("table \"{name}\" is not partitioned"),
        ));
    }
    let location = storage_of(&table)?.location.clone();
    let listing = list_existing(connection, &location).await?;
    let found = discovered_partitions(connection, &table, &listing);
    let known = catalog(connection)
        .metastore()
        .list_partitions(&table.database, &table.name)
        .await?;
    let missing: Vec<Partition> = match mode {
        RepairMode::Add | RepairMode::Sync => {
            let known_values: std::collections::HashSet<&Vec<Option<String>>> =
                known.iter().map(|p| &p.values).collect();
            found
                .iter()
                .filter(|p| !known_values.contains(&p.values))
                .cloned()
                .collect()
        }
        RepairMode::Drop => Vec::new(),
    };
    let vanished = match mode {
        RepairMode::Drop | RepairMode::Sync => {
            vanished_partitions(connection, &found, known).await?
        }
        RepairMode::Add => Vec::new(),
    };
    let catalog = catalog(connection);
    let metastore = catalog.metastore();
    let mut result = Ok(());
    if !missing.is_empty() {
        result = metastore
            .add_partitions(&table.database, &table.name, &missing, true)
            .await;
    }
    if result.is_ok() && !vanished.is_empty() {
        result = metastore
            .drop_partitions(&table.database, &table.name, &vanished)
            .await;
    }
    catalog.invalidate_table(&table.database, &table.name);
    result?;
    tracing::info!(table = %name, added = missing.len(), dropped = vanished.len(), "partitions repaired");
    Ok(())
}

/// The values of the `known` partitions whose locations are gone: not among the `found`
/// directories, and a local directory that no longer exists or an object-store prefix with
/// no data files left under it.
async fn vanished_partitions(
    connection: &Connection,
    found: &[Partition],
    known: Vec<Partition>,
) -> Result<Vec<Vec<Option<String>>>> {
    let present: std::collections::HashSet<&str> = found
        .iter()
        .map(|p| p.location.trim_end_matches('/'))
        .collect();
    let mut vanished = Vec::new();
    for partition in known {
        let location = partition.location.trim_end_matches('/');
        if !present.contains(location) && !location_exists(connection, location).await? {
            vanished.push(partition.values);
        }
    }
    Ok(vanished)
}

async fn location_exists(connection: &Connection, location: &str) -> Result<bool> {
    match local_directory(location) {
        Some(directory) => Ok(directory.exists()),
        None => Ok(!list_existing(connection, location).await?.files.is_empty()),
    }
}

/// A temporary view over files: `CREATE TEMPORARY VIEW v USING parquet OPTIONS (path ...)`.
pub async fn files_relation(
    connection: &mut Connection,
    format: StorageFormat,
    options: &BTreeMap<String, String>,
) -> Result<Relation> {
    let mut options = options.clone();
    let path = options
        .keys()
        .find(|key| key.eq_ignore_ascii_case("path"))
        .cloned()
        .and_then(|key| options.remove(&key))
        .ok_or_else(|| Error::invalid_parameter("a view over files needs OPTIONS (path '...')"))?;
    let storage = Storage {
        location: allowed_location(connection, &path)?,
        format,
        options,
    };
    let state = connection
        .service
        .engine
        .state_for(&connection.session.query_context());
    crate::exec::catalog_bridge::files::files_relation(&state, storage).await
}

pub async fn drop_table(
    connection: &mut Connection,
    name: &ObjectName,
    if_exists: bool,
    view: bool,
) -> Result<()> {
    let what = if view { "view" } else { "table" };
    match find(connection, name).await? {
        Some(Found::Temp(object)) => {
            Arc::make_mut(&mut connection.session.temp_views).remove(&object);
            Ok(())
        }
        Some(Found::GlobalTemp(object)) => {
            catalog(connection).drop_global_temp_view(&object);
            Ok(())
        }
        Some(Found::Static(..)) => Err(Error::unsupported(format!(
            "\"{name}\" is declared in the server configuration; remove it there"
        ))),
        Some(Found::Catalog(table)) => {
            if table.is_view() != view {
                let hint = if view {
                    "Use DROP TABLE to remove a table."
                } else {
                    "Use DROP VIEW to remove a view."
                };
                return Err(Error::new(
                    ErrorKind::WrongObjectType,
                    format!("\"{name}\" is not a {what}"),
                )
                .with_hint(hint));
            }
            let catalog = catalog(connection);
            let result = catalog
                .metastore()
                .drop_table(&table.database, &table.name)
                .await;
            catalog.invalidate_table(&table.database, &table.name);
            catalog.invalidate_grants();
            match result {
                Err(e) if e.is_not_found() => {
                    return exists_or(
                        connection,
                        if_exists,
                        format!("{what} \"{name}\" does not exist"),
                        ErrorKind::UndefinedTable,
                    );
                }
                other => other?,
            }
            if table.kind == TableKind::Managed
                && let Some(storage) = &table.storage
            {
                delete_files(connection, storage).await;
            }
            Ok(())
        }
        None => {
            let (schema, _) = split_name(connection, name)?;
            if let Some(schema) = schema
                && !catalog(connection).schema_exists(&schema).await?
                && !if_exists
            {
                return Err(crate::sql::ddl::run::undefined_schema(&schema));
            }
            exists_or(
                connection,
                if_exists,
                format!("{what} \"{name}\" does not exist"),
                ErrorKind::UndefinedTable,
            )
        }
    }
}

/// Deletes a dropped managed table's files. The table is already gone from the catalog,
/// so a failure here leaves only unreferenced files: it is logged and reported as a
/// WARNING, not an error.
pub async fn delete_files(connection: &mut Connection, storage: &Storage) {
    let result: Result<()> = async {
        let state = connection
            .service
            .engine
            .state_for(&connection.session.query_context());
        let listing = discovery::list(&state, &storage.location).await?;
        let store = crate::exec::write::store_for(&state, &storage.location)?;
        for (meta, _) in &listing.files {
            store.delete(&meta.location).await.map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot delete \"{}\": {e}", meta.location),
                )
            })?;
        }
        if let Some(directory) = local_directory(&storage.location) {
            let _ = std::fs::remove_dir_all(directory);
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(location = %storage.location, error = %e, "dropped table's files remain");
        connection.session.notice(Notice::warning(
            "01000",
            format!(
                "the files at \"{}\" could not all be deleted: {}",
                storage.location, e.message
            ),
        ));
    }
}

pub fn storage_of(table: &Table) -> Result<&Storage> {
    table.storage.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::WrongObjectType,
            format!("\"{}.{}\" is a view", table.database, table.name),
        )
    })
}

pub async fn alter_table(
    connection: &mut Connection,
    name: &ObjectName,
    change: AlterTable,
) -> Result<()> {
    let table = find_table(connection, name).await?;
    let catalog = catalog(connection);
    let metastore = catalog.metastore().clone();
    let (database, object) = (table.database.clone(), table.name.clone());
    let result = match change {
        AlterTable::AddPartitions {
            if_not_exists,
            partitions,
        } => {
            let base = with_slash(&storage_of(&table)?.location);
            let mut added = Vec::new();
            for (spec, location) in partitions {
                let values = spec_values(&table, &spec)?;
                let mut partition = Partition {
                    values,
                    location: String::new(),
                    create_time: now(),
                };
                partition.location = match location {
                    Some(location) => allowed_location(connection, &location)?,
                    None => format!("{base}{}", partition.relative_path(&table.partition_keys)),
                };
                added.push(partition);
            }
            match metastore
                .add_partitions(&database, &object, &added, if_not_exists)
                .await
            {
                Err(e) if e.kind == CatalogErrorKind::AlreadyExists => {
                    Err(Error::new(ErrorKind::DuplicateObject, e.message))
                }
                other => other.map_err(Error::from),
            }
        }
        AlterTable::DropPartitions {
            if_exists,
            partitions,
        } => {
            let mut values = Vec::new();
            for spec in &partitions {
                values.push(spec_values(&table, spec)?);
            }
            if if_exists {
                let existing: std::collections::HashSet<Vec<Option<String>>> = metastore
                    .list_partitions(&database, &object)
                    .await?
                    .into_iter()
                    .map(|p| p.values)
                    .collect();
                values.retain(|v| existing.contains(v));
            }
            metastore
                .drop_partitions(&database, &object, &values)
                .await
                .map_err(Error::from)
        }
        AlterTable::RenameTo(target) => {
            let (schema, new_name) = split_name(connection, &target)?;
            let new_database = schema.unwrap_or_else(|| database.clone());
            if !catalog.is_database(&new_database).await? {
                return Err(crate::sql::ddl::run::undefined_schema(&new_database));
            }
            let mut renamed = table.clone();
            renamed.database = new_database.clone();
            renamed.name = new_name.clone();
            let result = metastore.alter_table(&database, &object, &renamed).await;
            catalog.invalidate_table(&new_database, &new_name);
            catalog.invalidate_grants();
            result.map_err(Error::from)
        }
        AlterTable::SetProperties(properties) => {
            let mut altered = table.clone();
            altered.properties.extend(properties);
            metastore
                .alter_table(&database, &object, &altered)
                .await
                .map_err(Error::from)
        }
        AlterTable::UnsetProperties { if_exists, keys } => {
            let mut altered = table.clone();
            for key in keys {
                if altered.properties.remove(&key).is_none() && !if_exists {
                    return Err(Error::new(
                        ErrorKind::UndefinedObject,
                        format!("table \"{name}\" has no property \"{key}\""),
                    ));
                }
            }
            metastore
                .alter_table(&database, &object, &altered)
                .await
                .map_err(Error::from)
        }
        AlterTable::SetLocation(location) => {
            let mut altered = table.clone();
            let mut storage = storage_of(&table)?.clone();
            storage.location = allowed_location(connection, &location)?;
            altered.storage = Some(storage);
            metastore
                .alter_table(&database, &object, &altered)
                .await
                .map_err(Error::from)
        }
        AlterTable::AddColumns(columns) => {
            let mut altered = table.clone();
            for column in columns {
                let exists = altered
                    .columns
                    .iter()
                    .chain(&altered.partition_keys)
                    .any(|c| c.name.eq_ignore_ascii_case(&column.name));
                if exists {
                    return Err(Error::new(
                        ErrorKind::DuplicateObject,
                        format!(
                            "column \"{}\" of relation \"{name}\" already exists",
                            column.name
                        ),
                    ));
                }
                altered.columns.push(Column {
                    name: column.name,
                    data_type: column.data_type,
                    comment: column.comment,
                });
            }
            metastore
                .alter_table(&database, &object, &altered)
                .await
                .map_err(Error::from)
        }
    };
    catalog.invalidate_table(&database, &object);
    result
}

/// The values of a full static partition spec, in key order, as the catalog stores them
/// (see [`discovery::canonical_value`]).
pub fn spec_values(table: &Table, spec: &PartitionSpec) -> Result<Vec<Option<String>>> {
    let keys = &table.partition_keys;
    let key_list = || {
        keys.iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
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
    let mismatch = || {
        Error::invalid_parameter(format!(
            "partition spec ({}) does not match the partition columns of \"{}.{}\"",
            spec.iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            table.database,
            table.name
        ))
        .with_hint(format!("give a value for each of ({})", key_list()))
    };
    if spec.len() != keys.len() {
        return Err(mismatch());
    }
    keys.iter()
        .map(|key| {
            let (_, value) = spec
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&key.name))
                .ok_or_else(mismatch)?;
            match value {
                None => Err(Error::unsupported(format!(
                    "partition column \"{}\" needs a value here",
                    key.name
                ))),
                Some(PartitionValue::Null) => Ok(None),
                Some(PartitionValue::Text(text)) => {
                    discovery::canonical_value(text, &arrow_type(&key.data_type))
                        .map(Some)
                        .ok_or_else(|| {
                            Error::new(
                                ErrorKind::InvalidTextRepresentation,
                                format!(
                                    "invalid input syntax for type {} of partition column \"{}\": \"{text}\"",
                                    key.data_type, key.name
                                ),
                            )
                        })
                }
            }
        })
        .collect()
}
