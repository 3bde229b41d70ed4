//! [`HiveMetastore`]: the [`Metastore`] trait over a Hive Metastore's Thrift service.
//!
//! Calls run on tokio's blocking pool over pooled connections, each with a timeout, so a
//! slow or dead metastore holds up only the statements that need it. A connection that
//! fails is dropped; a call on an idle pooled connection that turns out dead (the
//! metastore restarted) is retried once on a fresh one, so lakeport reconnects by itself.
//! An unreachable metastore is a [`CatalogErrorKind::Backend`] error naming it.
//!
//! The metastore's own rules differ from the contract in places, and this module makes up
//! the difference: which object a "no such object" is about, renames onto an existing name,
//! creators racing (the loser may get a MetaException from the store instead of
//! AlreadyExists), the default database. Grants are kept in the parameters of the object
//! they are on ([`convert::GRANTEES`]), so they go with it when it is renamed or dropped.
//! Creating a table with partitions is two calls; if the second fails the table is dropped
//! again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::client::{CallError, Connection};
use super::convert::{self, GRANTEES};
use super::thrift::Value;
use crate::error::{CatalogError, CatalogErrorKind, CatalogObject, CatalogResult};
use crate::metastore::Metastore;
use crate::model::{
    DEFAULT_DATABASE, Database, Grant, Partition, PartitionFilter, Table, TableKind,
};
use crate::validate::{normalize_name, normalize_table, partition_name};

/// Connections kept open between calls.
const MAX_IDLE: usize = 8;

/// A Hive Metastore reached over Thrift.
#[derive(Clone)]
pub struct HiveMetastore {
    address: Arc<str>,
    timeout: Duration,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// Held by every change: the metastore checks then acts in separate transactions, so
    /// two racing drops of one table could both succeed. One change at a time from this
    /// process makes the checks hold here; other clients race as they do with Spark.
    changes: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for HiveMetastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HiveMetastore(thrift://{})", self.address)
    }
}

impl HiveMetastore {
    /// A metastore at `uri` (`thrift://host:port`). Nothing is connected until the first call.
    pub fn new(uri: &str, timeout: Duration) -> CatalogResult<Self> {
        let address = uri.strip_prefix("thrift://").ok_or_else(|| {
            CatalogError::invalid(format!(
                "invalid metastore URI \"{uri}\": expected thrift://host:port"
            ))
        })?;
        let address = address.trim_end_matches('/');
        let valid = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(CatalogError::invalid(format!(
                "invalid metastore URI \"{uri}\": expected thrift://host:port"
            )));
        }
        Ok(Self {
            address: address.into(),
            timeout,
            idle: Arc::new(Mutex::new(Vec::new())),
            changes: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// `thrift://host:port`.
    pub fn uri(&self) -> String {
        format!("thrift://{}", self.address)
    }

    /// Calls `method`; the answer, or the declared exception (field and message).
    async fn call(&self, method: &'static str, args: Vec<(i16, Value)>) -> Result<Value, Failure> {
        let this = self.clone();
        let outcome = tokio::task::spawn_blocking(move || this.call_blocking(method, args))
            .await
            .map_err(|e| CallError::Protocol(format!("metastore call task failed: {e}")));
        match outcome.and_then(|result| result) {
            Ok(value) => Ok(value),
            Err(CallError::Declared { field, message }) => Err(Failure::Declared(field, message)),
            Err(other) => Err(Failure::Other(self.unavailable(method, &other))),
        }
    }

    fn call_blocking(&self, method: &str, args: Vec<(i16, Value)>) -> Result<Value, CallError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let reused = pooled.is_some();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => Connection::connect(&self.address, self.timeout)?,
        };
        let mut result = connection.call(method, args.clone());
        if reused && matches!(result, Err(CallError::Io(_))) {
            connection = Connection::connect(&self.address, self.timeout)?;
            result = connection.call(method, args);
        }
        let healthy = matches!(
            result,
            Ok(_) | Err(CallError::Declared { .. } | CallError::Application { .. })
        );
        if healthy {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
        result
    }

    fn unavailable(&self, method: &str, error: &CallError) -> CatalogError {
        match error {
            CallError::Application { message, .. } => CatalogError::backend(format!(
                "the Hive Metastore at thrift://{} could not run {method}: {message}",
                self.address
            )),
            other => CatalogError::backend(format!(
                "the Hive Metastore at thrift://{} is unavailable: {other}",
                self.address
            )),
        }
    }

    async fn raw_database(&self, name: &str) -> CatalogResult<Value> {
        self.call("get_database", arguments([Value::string(name)]))
            .await
            .map_err(|e| {
                e.classify(|field| (field == 1).then(|| CatalogError::database_not_found(name)))
            })
    }

    async fn database_exists(&self, name: &str) -> CatalogResult<bool> {
        found(self.raw_database(name).await)
    }

    /// `database.name` is missing: says whether the table or its database is.
    async fn missing_table(&self, database: &str, name: &str) -> CatalogError {
        match self.database_exists(database).await {
            Ok(true) => CatalogError::table_not_found(database, name),
            Ok(false) => CatalogError::database_not_found(database),
            Err(e) => e,
        }
    }

    async fn raw_table(&self, database: &str, name: &str) -> CatalogResult<Value> {
        let result = self
            .call(
                "get_table",
                arguments([Value::string(database), Value::string(name)]),
            )
            .await;
        match result {
            Ok(table) => Ok(table),
            Err(Failure::Declared(2, _)) => Err(self.missing_table(database, name).await),
            Err(other) => Err(other.classify(|_| None)),
        }
    }

    async fn table_exists(&self, database: &str, name: &str) -> CatalogResult<bool> {
        found(self.raw_table(database, name).await)
    }

    async fn alter_raw_table(&self, database: &str, name: &str, table: Value) -> CatalogResult<()> {
        self.call(
            "alter_table",
            arguments([Value::string(database), Value::string(name), table]),
        )
        .await
        .map(drop)
        .map_err(|e| {
            e.classify(|field| {
                (field == 1).then(|| CatalogError::new(CatalogErrorKind::Conflict, e.message()))
            })
        })
    }

    /// The named tables of `database` that exist, in one call.
    async fn raw_tables(&self, database: &str, names: &[String]) -> CatalogResult<Value> {
        if names.is_empty() {
            return Ok(Value::structs(Vec::new()));
        }
        let names = names.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>();
        self.call(
            "get_table_objects_by_name",
            arguments([
                Value::string(database),
                Value::strings(names.iter().map(String::as_str)),
            ]),
        )
        .await
        .map_err(|e| {
            e.classify(|field| (field == 3).then(|| CatalogError::database_not_found(database)))
        })
    }

    /// After a rename, the metastore has moved a managed table's directory and changed its
    /// descriptor's location, not Spark's `path`, which Spark reads: it gets the new one.
    async fn follow_moved_directory(&self, database: &str, name: &str) -> CatalogResult<()> {
        let mut table = self.raw_table(database, name).await?;
        let location = table
            .field(7)
            .and_then(|sd| sd.field(2))
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(serde) = table.field_mut(7).and_then(|sd| sd.field_mut(7)) else {
            return Ok(());
        };
        let mut serde_parameters = parameters(serde, 3);
        match (location, serde_parameters.get("path")) {
            (Some(location), Some(path)) if *path != location => {
                serde_parameters.insert("path".into(), location);
                serde.set_field(3, Value::string_map(&serde_parameters));
                self.alter_raw_table(database, name, table).await
            }
            _ => Ok(()),
        }
    }

    /// Every grant recorded on `database` and its tables.
    async fn database_grants(&self, database: &str) -> CatalogResult<Vec<Grant>> {
        let definition = self.raw_database(database).await?;
        let mut grants: Vec<Grant> = convert::grantees(&parameters(&definition, 4))
            .into_iter()
            .map(|grantee| Grant {
                grantee,
                database: database.to_string(),
                table: None,
            })
            .collect();
        let names = self.list_tables(database).await?;
        let tables = self.raw_tables(database, &names).await?;
        for table in tables.elements() {
            let name = table.field(1).and_then(Value::as_str).unwrap_or_default();
            grants.extend(
                convert::grantees(&parameters(table, 9))
                    .into_iter()
                    .map(|grantee| Grant {
                        grantee,
                        database: database.to_string(),
                        table: Some(name.to_string()),
                    }),
            );
        }
        Ok(grants)
    }

    /// Adds or removes a grant in its object's parameters; whether anything changed.
    async fn change_grant(&self, grant: &Grant, add: bool) -> CatalogResult<bool> {
        let database = grant.database.to_lowercase();
        let (mut object, field) = match &grant.table {
            Some(table) => (self.raw_table(&database, &table.to_lowercase()).await?, 9),
            None => (self.raw_database(&database).await?, 4),
        };
        let mut map = parameters(&object, field);
        let mut grantees = convert::grantees(&map);
        let present = grantees.contains(&grant.grantee);
        if present == add {
            return Ok(false);
        }
        if add {
            grantees.push(grant.grantee.clone());
            grantees.sort();
        } else {
            grantees.retain(|g| g != &grant.grantee);
        }
        if grantees.is_empty() {
            map.remove(GRANTEES);
        } else {
            let json = serde_json::to_string(&grantees)
                .map_err(|e| CatalogError::backend(format!("grants: {e}")))?;
            map.insert(GRANTEES.into(), json);
        }
        object.set_field(field, Value::string_map(&map));
        match &grant.table {
            Some(table) => {
                self.alter_raw_table(&database, &table.to_lowercase(), object)
                    .await?
            }
            None => {
                self.call(
                    "alter_database",
                    arguments([Value::string(&database), object]),
                )
                .await
                .map_err(|e| {
                    e.classify(|field| {
                        (field == 2).then(|| CatalogError::database_not_found(&database))
                    })
                })?;
            }
        }
        Ok(true)
    }

    /// Drops a table (its files stay); the caller holds `changes`.
    async fn remove_table(&self, database: &str, name: &str) -> CatalogResult<()> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        let dropped = self
            .call(
                "drop_table",
                arguments([
                    Value::string(&database),
                    Value::string(&name),
                    Value::Bool(false),
                ]),
            )
            .await;
        match dropped {
            Ok(_) => Ok(()),
            Err(Failure::Declared(1, _)) => Err(self.missing_table(&database, &name).await),
            Err(Failure::Declared(2, _)) if !self.table_exists(&database, &name).await? => {
                Err(CatalogError::table_not_found(&database, &name))
            }
            Err(e) => Err(e.classify(|_| None)),
        }
    }

    async fn add_partition_values(
        &self,
        table: &Table,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> CatalogResult<()> {
        for partition in partitions {
            partition_name(table, &partition.values)?;
        }
        let request = Value::Struct(vec![
            (1, Value::string(&table.database)),
            (2, Value::string(&table.name)),
            (
                3,
                Value::structs(
                    partitions
                        .iter()
                        .map(|p| convert::partition_to_thrift(table, p))
                        .collect(),
                ),
            ),
            (4, Value::Bool(if_not_exists)),
            (5, Value::Bool(false)),
        ]);
        self.call("add_partitions_req", arguments([request]))
            .await
            .map(drop)
            .map_err(|e| {
                e.classify(|field| match field {
                    2 => Some(
                        CatalogError::new(
                            CatalogErrorKind::AlreadyExists,
                            format!(
                                "a partition of \"{}.{}\" already exists",
                                table.database, table.name
                            ),
                        )
                        .about(CatalogObject::Partition),
                    ),
                    1 => Some(CatalogError::invalid(e.message()).about(CatalogObject::Partition)),
                    _ => None,
                })
            })
    }
}

/// How a call failed: with a declared exception (by its field in the result), or otherwise
/// (unreachable, or the metastore could not run it; already a catalog error).
enum Failure {
    Declared(i16, String),
    Other(CatalogError),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Failure::Declared(_, message) => message.clone(),
            Failure::Other(error) => error.message.clone(),
        }
    }

    /// A catalog error: what `known` makes of the exception's field, else a backend error
    /// carrying the metastore's message.
    fn classify(&self, known: impl FnOnce(i16) -> Option<CatalogError>) -> CatalogError {
        match self {
            Failure::Declared(field, message) => known(*field)
                .unwrap_or_else(|| CatalogError::backend(format!("Hive Metastore: {message}"))),
            Failure::Other(error) => error.clone(),
        }
    }
}

/// A call's arguments, numbered from 1 as the metastore's methods number them.
fn arguments<const N: usize>(values: [Value; N]) -> Vec<(i16, Value)> {
    (1..).zip(values).collect()
}

/// Whether a lookup found its object.
fn found<T>(lookup: CatalogResult<T>) -> CatalogResult<bool> {
    match lookup {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// A string map field of a struct.
fn parameters(value: &Value, field: i16) -> std::collections::BTreeMap<String, String> {
    value
        .field(field)
        .map(Value::as_string_map)
        .unwrap_or_default()
}

#[async_trait]
impl Metastore for HiveMetastore {
    async fn create_database(&self, database: &Database) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        let mut database = database.clone();
        database.name = normalize_name(&database.name, "database")?;
        let name = database.name.clone();
        self.call(
            "create_database",
            arguments([convert::database_to_thrift(&database)]),
        )
        .await
        .map(drop)
        .map_err(|e| {
            e.classify(|field| match field {
                1 => Some(CatalogError::database_exists(&name)),
                2 => Some(CatalogError::invalid(e.message())),
                _ => None,
            })
        })
    }

    async fn get_database(&self, name: &str) -> CatalogResult<Database> {
        let name = name.to_lowercase();
        Ok(convert::database_from_thrift(
            &self.raw_database(&name).await?,
        ))
    }

    async fn list_databases(&self) -> CatalogResult<Vec<String>> {
        let names = self
            .call("get_all_databases", Vec::new())
            .await
            .map_err(|e| e.classify(|_| None))?;
        Ok(sorted_strings(&names))
    }

    async fn drop_database(&self, name: &str, cascade: bool) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        let name = name.to_lowercase();
        if name == DEFAULT_DATABASE {
            return Err(
                CatalogError::invalid("the default database cannot be dropped")
                    .about(CatalogObject::Database),
            );
        }
        let dropped = self
            .call(
                "drop_database",
                arguments([
                    Value::string(&name),
                    Value::Bool(false),
                    Value::Bool(cascade),
                ]),
            )
            .await;
        // Hive 2.3 answers a missing database with a MetaException (a NullPointerException).
        let missing = match &dropped {
            Err(Failure::Declared(1 | 3, _)) => !self.database_exists(&name).await?,
            _ => false,
        };
        dropped.map(drop).map_err(|e| {
            e.classify(|field| match field {
                _ if missing => Some(CatalogError::database_not_found(&name)),
                2 => Some(
                    CatalogError::new(
                        CatalogErrorKind::Conflict,
                        format!("database \"{name}\" is not empty"),
                    )
                    .about(CatalogObject::Database),
                ),
                _ => None,
            })
        })
    }

    async fn create_table(&self, table: &Table, partitions: &[Partition]) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        let table = normalize_table(table)?;
        let (database, name) = (table.database.as_str(), table.name.as_str());
        let created = self
            .call(
                "create_table",
                arguments([convert::table_to_thrift(&table)]),
            )
            .await;
        if let Err(e) = created {
            let error = match &e {
                Failure::Declared(1, _) => CatalogError::table_exists(database, name),
                Failure::Declared(2 | 4, _) if !self.database_exists(database).await? => {
                    CatalogError::database_not_found(database)
                }
                Failure::Declared(3, _) if self.table_exists(database, name).await? => {
                    CatalogError::table_exists(database, name)
                }
                Failure::Declared(2, _) => CatalogError::invalid(e.message()),
                _ => e.classify(|_| None),
            };
            return Err(error);
        }
        if partitions.is_empty() {
            return Ok(());
        }
        if let Err(error) = self.add_partition_values(&table, partitions, false).await {
            let _ = self.remove_table(database, name).await;
            return Err(error);
        }
        Ok(())
    }

    async fn get_table(&self, database: &str, name: &str) -> CatalogResult<Table> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        convert::table_from_thrift(&self.raw_table(&database, &name).await?)
    }

    async fn get_tables(
        &self,
        database: &str,
        names: &[String],
    ) -> CatalogResult<Vec<CatalogResult<Table>>> {
        let database = database.to_lowercase();
        let tables = self.raw_tables(&database, names).await?;
        Ok(tables
            .elements()
            .iter()
            .map(convert::table_from_thrift)
            .collect())
    }

    async fn list_tables(&self, database: &str) -> CatalogResult<Vec<String>> {
        let database = database.to_lowercase();
        let names = self
            .call("get_all_tables", arguments([Value::string(&database)]))
            .await
            .map_err(|e| e.classify(|_| None))?;
        Ok(sorted_strings(&names))
    }

    async fn alter_table(&self, database: &str, name: &str, table: &Table) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        let table = normalize_table(table)?;
        let current = self.raw_table(&database, &name).await?;
        let renamed = table.database != database || table.name != name;
        if renamed {
            if !self.database_exists(&table.database).await? {
                return Err(CatalogError::database_not_found(&table.database));
            }
            if self.table_exists(&table.database, &table.name).await? {
                return Err(CatalogError::table_exists(&table.database, &table.name));
            }
        }
        let mut altered = convert::table_to_thrift(&table);
        let mut altered_parameters = parameters(&altered, 9);
        convert::carry_bookkeeping(&parameters(&current, 9), &mut altered_parameters);
        altered.set_field(9, Value::string_map(&altered_parameters));
        self.alter_raw_table(&database, &name, altered).await?;
        if renamed && table.kind == TableKind::Managed {
            self.follow_moved_directory(&table.database, &table.name)
                .await?;
        }
        Ok(())
    }

    async fn drop_table(&self, database: &str, name: &str) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        self.remove_table(database, name).await
    }

    async fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        let table = self.get_table(database, table).await?;
        self.add_partition_values(&table, partitions, if_not_exists)
            .await
    }

    async fn list_partitions(&self, database: &str, table: &str) -> CatalogResult<Vec<Partition>> {
        let table = self.get_table(database, table).await?;
        let listed = self
            .call(
                "get_partitions",
                arguments([
                    Value::string(&table.database),
                    Value::string(&table.name),
                    Value::I16(-1),
                ]),
            )
            .await
            .map_err(|e| {
                e.classify(|field| {
                    (field == 1)
                        .then(|| CatalogError::table_not_found(&table.database, &table.name))
                })
            })?;
        let mut partitions: Vec<(String, Partition)> = listed
            .elements()
            .iter()
            .map(convert::partition_from_thrift)
            .map(|p| (p.relative_path(&table.partition_keys), p))
            .collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(partitions.into_iter().map(|(_, p)| p).collect())
    }

    async fn list_partitions_by_filter(
        &self,
        database: &str,
        table: &str,
        filter: &PartitionFilter,
    ) -> CatalogResult<Vec<Partition>> {
        let Some(expression) = convert::filter_expression(filter) else {
            return self.list_partitions(database, table).await;
        };
        let (database, table) = (database.to_lowercase(), table.to_lowercase());
        let listed = self
            .call(
                "get_partitions_by_filter",
                arguments([
                    Value::string(&database),
                    Value::string(&table),
                    Value::string(&expression),
                    Value::I16(-1),
                ]),
            )
            .await;
        match listed {
            Ok(listed) => Ok(listed
                .elements()
                .iter()
                .map(convert::partition_from_thrift)
                .collect()),
            Err(Failure::Declared(2, _)) => Err(self.missing_table(&database, &table).await),
            // The metastore filters only what it can (in Hive 2.3: string keys, without
            // integral pushdown): anything else, list and filter here.
            Err(Failure::Declared(1, _)) => {
                crate::metastore::filter_locally(self, &database, &table, filter).await
            }
            Err(other) => Err(other.classify(|_| None)),
        }
    }

    fn filters_partitions(&self) -> bool {
        true
    }

    async fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<Option<String>>],
    ) -> CatalogResult<()> {
        let _change = self.changes.lock().await;
        let table = self.get_table(database, table).await?;
        let names = values
            .iter()
            .map(|v| partition_name(&table, v))
            .collect::<CatalogResult<Vec<_>>>()?;
        let request = Value::Struct(vec![
            (1, Value::string(&table.database)),
            (2, Value::string(&table.name)),
            (
                3,
                Value::Struct(vec![(1, Value::strings(names.iter().map(String::as_str)))]),
            ),
            (4, Value::Bool(false)),
            (5, Value::Bool(false)),
            (8, Value::Bool(false)),
        ]);
        self.call("drop_partitions_req", arguments([request]))
            .await
            .map(drop)
            .map_err(|e| {
                e.classify(|field| {
                    (field == 1).then(|| {
                        CatalogError::new(CatalogErrorKind::NotFound, e.message())
                            .about(CatalogObject::Partition)
                    })
                })
            })
    }

    async fn list_grants(&self) -> CatalogResult<Vec<Grant>> {
        let mut grants = Vec::new();
        for database in self.list_databases().await? {
            match self.database_grants(&database).await {
                Ok(found) => grants.extend(found),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        grants.sort();
        Ok(grants)
    }

    async fn grant(&self, grant: &Grant) -> CatalogResult<bool> {
        let _change = self.changes.lock().await;
        self.change_grant(grant, true).await
    }

    async fn revoke(&self, grant: &Grant) -> CatalogResult<bool> {
        let _change = self.changes.lock().await;
        self.change_grant(grant, false).await
    }
}

fn sorted_strings(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .elements()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    names.sort();
    names
}
