//! The embedded metastore: one SQLite file under the warehouse (`metastore.db`), the role
//! Derby plays for Hive and Spark.
//!
//! Durability: the database runs in WAL mode with `synchronous = FULL`, and every
//! [`Metastore`] call is one SQLite transaction (writes take the write lock up front with
//! `BEGIN IMMEDIATE`), so a call is either on disk whole or not at all, whatever kills the
//! process. Several processes may open the same file; SQLite serialises their writers and a
//! waiting writer retries for [`BUSY_TIMEOUT`].
//!
//! Layout: `databases`, `tables` and `partitions`, each keyed by name with the object's
//! definition as JSON beside the key. Foreign keys tie partitions to their table and tables
//! to their database, so a rename carries the partitions along and nothing can be orphaned.
//! `database_grants` and `table_grants` hold SELECT grants, tied to their objects by the same
//! foreign keys. `PRAGMA user_version` records the layout version; version 1 files gain the
//! grant tables when opened.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CatalogError, CatalogErrorKind, CatalogObject, CatalogResult};
use crate::metastore::Metastore;
use crate::model::{DEFAULT_DATABASE, Database, Grant, Partition, Table};
use crate::validate::{normalize_name, normalize_table, partition_name};

/// The file name of the embedded metastore inside the warehouse directory.
pub const FILE_NAME: &str = "metastore.db";

/// How long a writer waits for another process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The layout version this code reads and writes.
const LAYOUT_VERSION: i64 = 2;

const LAYOUT: &str = "
CREATE TABLE databases (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
CREATE TABLE tables (
    database   TEXT NOT NULL REFERENCES databases (name),
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (database, name)
);
CREATE TABLE partitions (
    database   TEXT NOT NULL,
    table_name TEXT NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (database, table_name, name),
    FOREIGN KEY (database, table_name) REFERENCES tables (database, name)
        ON DELETE CASCADE ON UPDATE CASCADE
);
";

/// Added in layout version 2.
const GRANTS_LAYOUT: &str = "
CREATE TABLE database_grants (
    grantee  TEXT NOT NULL,
    database TEXT NOT NULL REFERENCES databases (name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (grantee, database)
);
CREATE TABLE table_grants (
    grantee    TEXT NOT NULL,
    database   TEXT NOT NULL,
    table_name TEXT NOT NULL,
    PRIMARY KEY (grantee, database, table_name),
    FOREIGN KEY (database, table_name) REFERENCES tables (database, name)
        ON DELETE CASCADE ON UPDATE CASCADE
);
";

#[derive(Clone)]
pub struct EmbeddedMetastore {
    path: PathBuf,
    /// One connection per process. Each call holds the lock for its whole transaction and
    /// runs on tokio's blocking pool, so SQLite's file I/O never stalls a runtime worker.
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for EmbeddedMetastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedMetastore")
            .field("path", &self.path)
            .finish()
    }
}

impl EmbeddedMetastore {
    /// Opens (creating when missing) the metastore at `path`. A new metastore starts with
    /// Hive's `default` database at `default_location`.
    pub fn open(path: &Path, default_location: &str) -> CatalogResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                CatalogError::backend(format!(
                    "cannot create the metastore directory \"{}\": {e}",
                    parent.display()
                ))
            })?;
        }
        let mut connection = Connection::open(path).map_err(|e| {
            CatalogError::backend(format!(
                "cannot open the metastore \"{}\": {e}",
                path.display()
            ))
        })?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(backend_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(backend_error)?;
        initialize(&mut connection, default_location)?;
        Ok(Self {
            path: path.to_path_buf(),
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the file: SQLite's own integrity check, then every definition parses and
    /// belongs where its keys say. Returns what is wrong, or nothing.
    pub async fn check_integrity(&self) -> CatalogResult<Vec<String>> {
        self.call(|connection| {
            let mut problems = Vec::new();
            let verdict: String = connection
                .query_row("PRAGMA integrity_check", [], |row| row.get(0))
                .map_err(backend_error)?;
            if verdict != "ok" {
                problems.push(format!("integrity_check: {verdict}"));
            }
            let mut statement = connection
                .prepare("PRAGMA foreign_key_check")
                .map_err(backend_error)?;
            let dangling = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(backend_error)?
                .count();
            if dangling > 0 {
                problems.push(format!("{dangling} rows reference missing parents"));
            }
            for name in database_names(connection)? {
                let database: Database = read_definition(
                    connection,
                    "SELECT definition FROM databases WHERE name = ?1",
                    params![name],
                )?
                .ok_or_else(|| CatalogError::database_not_found(&name))?;
                if database.name != name {
                    problems.push(format!("database row \"{name}\" holds \"{}\"", database.name));
                }
                for table_name in table_names(connection, &name)? {
                    let table = read_table(connection, &name, &table_name)?;
                    let key_count = table.partition_keys.len();
                    for partition in read_partitions(connection, &name, &table_name)? {
                        if partition.values.len() != key_count {
                            problems.push(format!(
                                "partition of \"{name}.{table_name}\" has {} values for {key_count} keys",
                                partition.values.len()
                            ));
                        }
                    }
                }
            }
            Ok(problems)
        })
        .await
    }

    /// Runs `work` on the blocking pool with the connection locked.
    async fn call<T, F>(&self, work: F) -> CatalogResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> CatalogResult<T> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || work(&mut lock(&connection)))
            .await
            .map_err(|e| CatalogError::backend(format!("metastore call failed: {e}")))?
    }

    /// Runs `work` in one write transaction: committed when it returns `Ok`, rolled back
    /// otherwise.
    async fn write<T, F>(&self, work: F) -> CatalogResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> CatalogResult<T> + Send + 'static,
    {
        self.call(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend_error)?;
            let result = work(&transaction)?;
            transaction.commit().map_err(backend_error)?;
            Ok(result)
        })
        .await
    }
}

/// A panic while holding the lock leaves no transaction open (rusqlite rolls back on drop),
/// so a poisoned connection is still consistent.
fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(|e| e.into_inner())
}

fn initialize(connection: &mut Connection, default_location: &str) -> CatalogResult<()> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend_error)?;
    let version: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend_error)?;
    match version {
        0 | 1 => {
            if version == 0 {
                transaction.execute_batch(LAYOUT).map_err(backend_error)?;
            }
            transaction
                .execute_batch(GRANTS_LAYOUT)
                .map_err(backend_error)?;
            transaction
                .execute_batch(&format!("PRAGMA user_version = {LAYOUT_VERSION}"))
                .map_err(backend_error)?;
        }
        LAYOUT_VERSION => {}
        newer => {
            return Err(CatalogError::backend(format!(
                "the metastore has layout version {newer}, newer than this lakeport reads ({LAYOUT_VERSION})"
            )));
        }
    }
    let default = Database {
        name: DEFAULT_DATABASE.into(),
        location: default_location.into(),
        comment: Some("default database".into()),
        properties: Default::default(),
    };
    transaction
        .execute(
            "INSERT OR IGNORE INTO databases (name, definition) VALUES (?1, ?2)",
            params![default.name, to_json(&default)?],
        )
        .map_err(backend_error)?;
    transaction.commit().map_err(backend_error)
}

#[async_trait]
impl Metastore for EmbeddedMetastore {
    async fn list_grants(&self) -> CatalogResult<Vec<Grant>> {
        self.call(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT grantee, database, NULL FROM database_grants
                     UNION ALL SELECT grantee, database, table_name FROM table_grants
                     ORDER BY 1, 2, 3",
                )
                .map_err(backend_error)?;
            let rows = statement
                .query_map([], |row| {
                    Ok(Grant {
                        grantee: row.get(0)?,
                        database: row.get(1)?,
                        table: row.get(2)?,
                    })
                })
                .map_err(backend_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend_error)
        })
        .await
    }

    async fn grant(&self, grant: &Grant) -> CatalogResult<bool> {
        let grant = normalize_grant(grant);
        self.write(move |transaction| {
            require_database(transaction, &grant.database)?;
            let inserted = match &grant.table {
                None => transaction.execute(
                    "INSERT OR IGNORE INTO database_grants (grantee, database) VALUES (?1, ?2)",
                    params![grant.grantee, grant.database],
                ),
                Some(table) => {
                    if !table_exists(transaction, &grant.database, table)? {
                        return Err(CatalogError::table_not_found(&grant.database, table));
                    }
                    transaction.execute(
                        "INSERT OR IGNORE INTO table_grants (grantee, database, table_name)
                         VALUES (?1, ?2, ?3)",
                        params![grant.grantee, grant.database, table],
                    )
                }
            }
            .map_err(backend_error)?;
            Ok(inserted > 0)
        })
        .await
    }

    async fn revoke(&self, grant: &Grant) -> CatalogResult<bool> {
        let grant = normalize_grant(grant);
        self.write(move |transaction| {
            let deleted = match &grant.table {
                None => transaction.execute(
                    "DELETE FROM database_grants WHERE grantee = ?1 AND database = ?2",
                    params![grant.grantee, grant.database],
                ),
                Some(table) => transaction.execute(
                    "DELETE FROM table_grants WHERE grantee = ?1 AND database = ?2 AND table_name = ?3",
                    params![grant.grantee, grant.database, table],
                ),
            }
            .map_err(backend_error)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn create_database(&self, database: &Database) -> CatalogResult<()> {
        let mut database = database.clone();
        database.name = normalize_name(&database.name, "database")?;
        self.write(move |transaction| {
            let inserted = transaction
                .execute(
                    "INSERT OR IGNORE INTO databases (name, definition) VALUES (?1, ?2)",
                    params![database.name, to_json(&database)?],
                )
                .map_err(backend_error)?;
            if inserted == 0 {
                return Err(CatalogError::database_exists(&database.name));
            }
            Ok(())
        })
        .await
    }

    async fn get_database(&self, name: &str) -> CatalogResult<Database> {
        let name = name.to_lowercase();
        self.call(move |connection| {
            read_definition(
                connection,
                "SELECT definition FROM databases WHERE name = ?1",
                params![name],
            )?
            .ok_or_else(|| CatalogError::database_not_found(&name))
        })
        .await
    }

    async fn list_databases(&self) -> CatalogResult<Vec<String>> {
        self.call(|connection| database_names(connection)).await
    }

    async fn drop_database(&self, name: &str, cascade: bool) -> CatalogResult<()> {
        let name = name.to_lowercase();
        if name == DEFAULT_DATABASE {
            return Err(CatalogError::new(
                CatalogErrorKind::Unsupported,
                "cannot drop the default database",
            )
            .about(CatalogObject::Database));
        }
        self.write(move |transaction| {
            require_database(transaction, &name)?;
            let tables = table_names(transaction, &name)?;
            if !tables.is_empty() && !cascade {
                return Err(CatalogError::new(
                    CatalogErrorKind::Conflict,
                    format!(
                        "database \"{name}\" is not empty: it holds {}",
                        describe_count(tables.len(), "table or view", "tables or views")
                    ),
                )
                .about(CatalogObject::Database));
            }
            transaction
                .execute("DELETE FROM tables WHERE database = ?1", params![name])
                .map_err(backend_error)?;
            transaction
                .execute("DELETE FROM databases WHERE name = ?1", params![name])
                .map_err(backend_error)?;
            Ok(())
        })
        .await
    }

    async fn create_table(&self, table: &Table, partitions: &[Partition]) -> CatalogResult<()> {
        let table = normalize_table(table)?;
        let partitions = partitions.to_vec();
        self.write(move |transaction| {
            require_database(transaction, &table.database)?;
            let inserted = transaction
                .execute(
                    "INSERT OR IGNORE INTO tables (database, name, definition) VALUES (?1, ?2, ?3)",
                    params![table.database, table.name, to_json(&table)?],
                )
                .map_err(backend_error)?;
            if inserted == 0 {
                return Err(CatalogError::table_exists(&table.database, &table.name));
            }
            insert_partitions(transaction, &table, &partitions, false)
        })
        .await
    }

    async fn get_table(&self, database: &str, name: &str) -> CatalogResult<Table> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        self.call(move |connection| {
            require_database(connection, &database)?;
            read_table(connection, &database, &name)
        })
        .await
    }

    async fn list_tables(&self, database: &str) -> CatalogResult<Vec<String>> {
        let database = database.to_lowercase();
        self.call(move |connection| {
            require_database(connection, &database)?;
            table_names(connection, &database)
        })
        .await
    }

    async fn alter_table(&self, database: &str, name: &str, table: &Table) -> CatalogResult<()> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        let table = normalize_table(table)?;
        self.write(move |transaction| {
            let existing = read_table(transaction, &database, &name)?;
            let renamed = (table.database.as_str(), table.name.as_str())
                != (database.as_str(), name.as_str());
            if renamed {
                require_database(transaction, &table.database)?;
                if table_exists(transaction, &table.database, &table.name)? {
                    return Err(CatalogError::table_exists(&table.database, &table.name));
                }
            }
            if existing.partition_keys != table.partition_keys
                && !read_partitions(transaction, &database, &name)?.is_empty()
            {
                return Err(CatalogError::invalid(format!(
                    "cannot change the partition keys of \"{database}.{name}\" while it has partitions"
                ))
                .about(CatalogObject::Table));
            }
            transaction
                .execute(
                    "UPDATE tables SET database = ?1, name = ?2, definition = ?3
                     WHERE database = ?4 AND name = ?5",
                    params![table.database, table.name, to_json(&table)?, database, name],
                )
                .map_err(backend_error)?;
            Ok(())
        })
        .await
    }

    async fn drop_table(&self, database: &str, name: &str) -> CatalogResult<()> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        self.write(move |transaction| {
            require_database(transaction, &database)?;
            let deleted = transaction
                .execute(
                    "DELETE FROM tables WHERE database = ?1 AND name = ?2",
                    params![database, name],
                )
                .map_err(backend_error)?;
            if deleted == 0 {
                return Err(CatalogError::table_not_found(&database, &name));
            }
            Ok(())
        })
        .await
    }

    async fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> CatalogResult<()> {
        let (database, table_name) = (database.to_lowercase(), table.to_lowercase());
        let partitions = partitions.to_vec();
        self.write(move |transaction| {
            let table = read_table(transaction, &database, &table_name)?;
            insert_partitions(transaction, &table, &partitions, if_not_exists)
        })
        .await
    }

    async fn list_partitions(&self, database: &str, table: &str) -> CatalogResult<Vec<Partition>> {
        let (database, table) = (database.to_lowercase(), table.to_lowercase());
        self.call(move |connection| {
            read_table(connection, &database, &table)?;
            read_partitions(connection, &database, &table)
        })
        .await
    }

    async fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<Option<String>>],
    ) -> CatalogResult<()> {
        let (database, table_name) = (database.to_lowercase(), table.to_lowercase());
        let values = values.to_vec();
        self.write(move |transaction| {
            let table = read_table(transaction, &database, &table_name)?;
            for partition_values in &values {
                let name = partition_name(&table, partition_values)?;
                let deleted = transaction
                    .execute(
                        "DELETE FROM partitions WHERE database = ?1 AND table_name = ?2 AND name = ?3",
                        params![database, table_name, name],
                    )
                    .map_err(backend_error)?;
                if deleted == 0 {
                    return Err(CatalogError::new(
                        CatalogErrorKind::NotFound,
                        format!("partition ({name}) of \"{database}.{table_name}\" does not exist"),
                    )
                    .about(CatalogObject::Partition));
                }
            }
            Ok(())
        })
        .await
    }
}

/// Inserts partitions of `table`; one that exists is an error unless `if_not_exists`.
fn insert_partitions(
    transaction: &rusqlite::Transaction<'_>,
    table: &Table,
    partitions: &[Partition],
    if_not_exists: bool,
) -> CatalogResult<()> {
    let mut insert = transaction
        .prepare(
            "INSERT OR IGNORE INTO partitions (database, table_name, name, definition)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(backend_error)?;
    for partition in partitions {
        let name = partition_name(table, &partition.values)?;
        let inserted = insert
            .execute(params![
                table.database,
                table.name,
                name,
                to_json(partition)?
            ])
            .map_err(backend_error)?;
        if inserted == 0 && !if_not_exists {
            return Err(CatalogError::new(
                CatalogErrorKind::AlreadyExists,
                format!(
                    "partition ({name}) of \"{}.{}\" already exists",
                    table.database, table.name
                ),
            )
            .about(CatalogObject::Partition));
        }
    }
    Ok(())
}

fn normalize_grant(grant: &Grant) -> Grant {
    Grant {
        grantee: grant.grantee.clone(),
        database: grant.database.to_lowercase(),
        table: grant.table.as_ref().map(|t| t.to_lowercase()),
    }
}

fn require_database(connection: &Connection, name: &str) -> CatalogResult<()> {
    let found = connection
        .query_row(
            "SELECT 1 FROM databases WHERE name = ?1",
            params![name],
            |_| Ok(()),
        )
        .optional()
        .map_err(backend_error)?;
    found.ok_or_else(|| CatalogError::database_not_found(name))
}

fn table_exists(connection: &Connection, database: &str, name: &str) -> CatalogResult<bool> {
    connection
        .query_row(
            "SELECT 1 FROM tables WHERE database = ?1 AND name = ?2",
            params![database, name],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(backend_error)
}

fn read_table(connection: &Connection, database: &str, name: &str) -> CatalogResult<Table> {
    let mut table: Table = read_definition(
        connection,
        "SELECT definition FROM tables WHERE database = ?1 AND name = ?2",
        params![database, name],
    )?
    .ok_or_else(|| CatalogError::table_not_found(database, name))?;
    table.database = database.to_string();
    table.name = name.to_string();
    Ok(table)
}

fn read_partitions(
    connection: &Connection,
    database: &str,
    table: &str,
) -> CatalogResult<Vec<Partition>> {
    let mut statement = connection
        .prepare(
            "SELECT definition FROM partitions WHERE database = ?1 AND table_name = ?2
             ORDER BY name",
        )
        .map_err(backend_error)?;
    let rows = statement
        .query_map(params![database, table], |row| row.get::<_, String>(0))
        .map_err(backend_error)?;
    rows.map(|json| from_json(&json.map_err(backend_error)?))
        .collect()
}

fn database_names(connection: &Connection) -> CatalogResult<Vec<String>> {
    names(
        connection,
        "SELECT name FROM databases ORDER BY name",
        params![],
    )
}

fn table_names(connection: &Connection, database: &str) -> CatalogResult<Vec<String>> {
    names(
        connection,
        "SELECT name FROM tables WHERE database = ?1 ORDER BY name",
        params![database],
    )
}

fn names(
    connection: &Connection,
    sql: &str,
    parameters: &[&dyn rusqlite::ToSql],
) -> CatalogResult<Vec<String>> {
    let mut statement = connection.prepare(sql).map_err(backend_error)?;
    let rows = statement
        .query_map(parameters, |row| row.get::<_, String>(0))
        .map_err(backend_error)?;
    rows.map(|name| name.map_err(backend_error)).collect()
}

fn read_definition<T: DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    parameters: &[&dyn rusqlite::ToSql],
) -> CatalogResult<Option<T>> {
    let json: Option<String> = connection
        .query_row(sql, parameters, |row| row.get(0))
        .optional()
        .map_err(backend_error)?;
    json.map(|json| from_json(&json)).transpose()
}

fn to_json<T: Serialize>(value: &T) -> CatalogResult<String> {
    serde_json::to_string(value)
        .map_err(|e| CatalogError::backend(format!("cannot encode a catalog object: {e}")))
}

fn from_json<T: DeserializeOwned>(json: &str) -> CatalogResult<T> {
    serde_json::from_str(json)
        .map_err(|e| CatalogError::backend(format!("corrupt catalog object in the metastore: {e}")))
}

fn backend_error(error: rusqlite::Error) -> CatalogError {
    CatalogError::backend(format!("metastore: {error}"))
}

fn describe_count(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}
