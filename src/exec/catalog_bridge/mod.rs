//! The live catalog as queries see it: the metastore's databases, tables and views, the
//! tables declared in the configuration, and the server's global temporary views —
//! resolved to DataFusion table providers and cached.
//!
//! Caching: the database names, each database's table names, and each resolved relation
//! (a table's provider with its partitions, or a view's definition) stay in memory until
//! DDL on them, an INSERT, or `REFRESH TABLE` invalidates them, so resolving a table for
//! planning costs no I/O once cached. With a metastore others change too (the Hive
//! Metastore backend), everything cached is also dropped once it is older than
//! `catalog.cache_ttl`. Tables' file listings live in the shared [`ListingCache`]
//! (bounded, optionally expiring) and are forgotten with their table. Invalidation bumps an
//! epoch; a load that started before an invalidation does not store its (possibly stale)
//! result.
//!
//! The catalog is shared by `sql::ddl` (which changes the metastore and then invalidates
//! here) and the resolver in `exec::resolve` (which reads).

pub mod analyzed;
pub mod discovery;
pub mod files;
pub mod hive_table;
pub mod json_arrays;
pub mod json_schema;
pub mod options;
pub mod partition_filter;
pub mod table_cache;
pub mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use datafusion::catalog::TableProvider;
use lakeport_catalog::{Database, Grant, Metastore, Table};

use crate::error::Result;
use crate::exec::catalog_bridge::hive_table::HiveTableProvider;
use crate::exec::tables::TableRegistry;
use crate::storage::listings::ListingCache;

static NEXT_CATALOG_ID: AtomicU64 = AtomicU64::new(1);

/// Spark's schema for global temporary views.
pub const GLOBAL_TEMP: &str = "global_temp";

/// What a name resolves to.
#[derive(Clone)]
pub enum Relation {
    Table(Arc<dyn TableProvider>),
    View(Arc<ViewDefinition>),
}

/// Seconds since the Unix epoch (catalog objects' creation times).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A view's query, planned where it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDefinition {
    pub sql: String,
    /// The schemas its unqualified names resolve in (those current when it was created).
    pub search_path: Vec<String>,
    /// Column names given at creation (`CREATE VIEW v (a, b) AS ...`), if any.
    pub columns: Vec<String>,
    /// Whether the query may see the session's temporary views: only temporary views'
    /// queries do; a persistent view means the same to every connection.
    pub sees_temp_views: bool,
    /// The view's columns as planned when it was created (for the catalog tables clients
    /// read; queries plan the view afresh).
    pub output: datafusion::arrow::datatypes::SchemaRef,
}

pub struct Catalog {
    metastore: Arc<dyn Metastore>,
    /// The file listings of catalog tables' directories.
    listings: Arc<ListingCache>,
    /// Tables from the configuration, `--table` flags and the demo data: not in the
    /// metastore, shadowing nothing (a catalog table of the same name is hidden by them).
    statics: Arc<TableRegistry>,
    global_temp_views: RwLock<BTreeMap<String, Relation>>,
    /// Tables `CACHE TABLE` holds in memory: read before the metastore, dropped with the
    /// rest of what is cached about a table.
    cached_tables: table_cache::TableCache,
    cache: Mutex<Cache>,
    /// How long cached definitions live; `None`: until invalidated.
    ttl: Option<std::time::Duration>,
    /// Bumped by every invalidation and global temporary view change; see the module docs.
    epoch: AtomicU64,
    /// Tells this catalog apart from others in the same process (tests run several
    /// servers), for caches keyed by catalog.
    id: u64,
}

#[derive(Default)]
struct Cache {
    databases: Option<BTreeSet<String>>,
    table_names: HashMap<String, BTreeSet<String>>,
    definitions: HashMap<(String, String), Arc<Table>>,
    database_definitions: HashMap<String, Arc<Database>>,
    relations: HashMap<(String, String), Relation>,
    grants: Option<Arc<Vec<Grant>>>,
    /// When the oldest entry was stored (for the TTL).
    started: Option<std::time::Instant>,
}

impl Catalog {
    pub fn new(
        metastore: Arc<dyn Metastore>,
        statics: Arc<TableRegistry>,
        listings: Arc<ListingCache>,
        ttl: Option<std::time::Duration>,
    ) -> Self {
        Self {
            metastore,
            listings,
            statics,
            global_temp_views: RwLock::new(BTreeMap::new()),
            cached_tables: table_cache::TableCache::default(),
            cache: Mutex::new(Cache::default()),
            ttl,
            epoch: AtomicU64::new(0),
            id: NEXT_CATALOG_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Changes whenever anything the catalog holds may have changed.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn metastore(&self) -> &Arc<dyn Metastore> {
        &self.metastore
    }

    pub fn statics(&self) -> &Arc<TableRegistry> {
        &self.statics
    }

    /// The cache of tables' file listings.
    pub fn listings(&self) -> &Arc<ListingCache> {
        &self.listings
    }

    /// Stores a loaded value unless the catalog changed since `epoch`, when the load began:
    /// a stale value must not outlive the invalidation that made it stale.
    fn remember(&self, epoch: u64, store: impl FnOnce(&mut Cache)) {
        let mut cache = self.cache();
        if self.epoch() == epoch {
            cache.started.get_or_insert_with(std::time::Instant::now);
            store(&mut cache);
        }
    }

    /// The cache, emptied first when its oldest entry has outlived the TTL.
    fn cache(&self) -> MutexGuard<'_, Cache> {
        // Entries are inserted whole, so a poisoned cache is still consistent.
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let expired = self
            .ttl
            .zip(cache.started)
            .is_some_and(|(ttl, started)| started.elapsed() >= ttl);
        if expired {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            *cache = Cache::default();
        }
        cache
    }

    /// Whether `name` is a database of the metastore.
    pub async fn is_database(&self, name: &str) -> Result<bool> {
        Ok(self.databases().await?.contains(name))
    }

    /// Whether `name` is a schema queries can name: a database, a schema of configured
    /// tables, or `global_temp`.
    pub async fn schema_exists(&self, name: &str) -> Result<bool> {
        Ok(name == GLOBAL_TEMP
            || self.statics.schema_exists(name)
            || self.is_database(name).await?)
    }

    /// Every schema: the databases and the schemas of configured tables, sorted.
    pub async fn schema_names(&self) -> Result<Vec<String>> {
        let mut names = self.databases().await?;
        names.extend(self.statics.schema_names());
        Ok(names.into_iter().collect())
    }

    /// The schema names planning `statement` needs: every one if it asks for them
    /// (`current_schema()`), else none.
    pub async fn schema_names_for(
        &self,
        statement: &datafusion::sql::sqlparser::ast::Statement,
    ) -> Result<Vec<String>> {
        if crate::exec::functions::needs_schema_names(statement) {
            self.schema_names().await
        } else {
            Ok(Vec::new())
        }
    }

    async fn databases(&self) -> Result<BTreeSet<String>> {
        if let Some(names) = &self.cache().databases {
            return Ok(names.clone());
        }
        let epoch = self.epoch();
        let names: BTreeSet<String> = self.metastore.list_databases().await?.into_iter().collect();
        self.remember(epoch, |cache| {
            cache.databases = Some(names.clone());
        });
        Ok(names)
    }

    /// The table and view names of a database (empty when it does not exist).
    pub async fn table_names(&self, database: &str) -> Result<BTreeSet<String>> {
        if let Some(names) = self.cache().table_names.get(database) {
            return Ok(names.clone());
        }
        if !self.is_database(database).await? {
            return Ok(BTreeSet::new());
        }
        let epoch = self.epoch();
        let names: BTreeSet<String> = match self.metastore.list_tables(database).await {
            Ok(names) => names.into_iter().collect(),
            Err(e) if e.is_not_found() => BTreeSet::new(),
            Err(e) => return Err(e.into()),
        };
        self.remember(epoch, |cache| {
            cache
                .table_names
                .insert(database.to_string(), names.clone());
        });
        Ok(names)
    }

    /// Resolves `schema.name`; `None` when nothing has that name.
    pub async fn relation(&self, schema: &str, name: &str) -> Result<Option<Relation>> {
        if schema == GLOBAL_TEMP {
            if let Some(provider) = self.cached_tables.get(schema, name) {
                return Ok(Some(Relation::Table(provider)));
            }
            return Ok(self.global_temp_view(name));
        }
        if let Some(provider) = self.statics.table(schema, name) {
            return Ok(Some(Relation::Table(provider)));
        }
        if let Some(provider) = self.cached_tables.get(schema, name) {
            return Ok(Some(Relation::Table(provider)));
        }
        let key = (schema.to_string(), name.to_string());
        if let Some(relation) = self.cache().relations.get(&key) {
            return Ok(Some(relation.clone()));
        }
        let epoch = self.epoch();
        let Some(table) = self.table_definition(schema, name).await? else {
            return Ok(None);
        };
        let relation = self.load(table.as_ref().clone()).await?;
        self.remember(epoch, |cache| {
            cache.relations.insert(key, relation.clone());
        });
        Ok(Some(relation))
    }

    /// The metastore's definition of a database, cached; `None` when there is none.
    pub async fn database_definition(&self, name: &str) -> Result<Option<Arc<Database>>> {
        if let Some(database) = self.cache().database_definitions.get(name) {
            return Ok(Some(database.clone()));
        }
        if !self.is_database(name).await? {
            return Ok(None);
        }
        let epoch = self.epoch();
        let database = match self.metastore.get_database(name).await {
            Ok(database) => Arc::new(database),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        self.remember(epoch, |cache| {
            cache
                .database_definitions
                .insert(name.to_string(), database.clone());
        });
        Ok(Some(database))
    }

    /// The metastore's definitions of every table and view of `database` lakeport can
    /// read (those in formats or with types it does not support are left out), cached
    /// like [`Catalog::table_definition`] and read in one call where the metastore allows.
    pub async fn table_definitions(&self, database: &str) -> Result<Vec<Arc<Table>>> {
        let names = self.table_names(database).await?;
        let (mut definitions, mut missing) = (Vec::new(), Vec::new());
        {
            let cache = self.cache();
            for name in names {
                match cache.definitions.get(&(database.to_string(), name.clone())) {
                    Some(table) => definitions.push(table.clone()),
                    None => missing.push(name),
                }
            }
        }
        if missing.is_empty() {
            return Ok(definitions);
        }
        let epoch = self.epoch();
        let mut read = Vec::new();
        for table in self.metastore.get_tables(database, &missing).await? {
            match table {
                Ok(table) => read.push(Arc::new(table)),
                Err(e) if e.kind == lakeport_catalog::CatalogErrorKind::Unsupported => {
                    tracing::debug!(database, error = %e, "table left out of the catalog");
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.remember(epoch, |cache| {
            for table in &read {
                cache
                    .definitions
                    .insert((database.to_string(), table.name.clone()), table.clone());
            }
        });
        definitions.extend(read);
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(definitions)
    }

    /// The metastore's definition of a table or view of a database, cached.
    pub async fn table_definition(&self, database: &str, name: &str) -> Result<Option<Arc<Table>>> {
        let key = (database.to_string(), name.to_string());
        if let Some(table) = self.cache().definitions.get(&key) {
            return Ok(Some(table.clone()));
        }
        if !self.table_names(database).await?.contains(name) {
            return Ok(None);
        }
        let epoch = self.epoch();
        let table = match self.metastore.get_table(database, name).await {
            Ok(table) => Arc::new(table),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        self.remember(epoch, |cache| {
            cache.definitions.insert(key, table.clone());
        });
        Ok(Some(table))
    }

    async fn load(&self, table: Table) -> Result<Relation> {
        if let Some(sql) = &table.view_text {
            return Ok(Relation::View(Arc::new(view_definition(&table, sql))));
        }
        let fetched_per_scan = self.metastore.filters_partitions();
        let partitions = if table.is_partitioned() && !fetched_per_scan {
            self.metastore
                .list_partitions(&table.database, &table.name)
                .await?
        } else {
            Vec::new()
        };
        let mut provider = HiveTableProvider::try_new(table, &partitions, self.listings.clone())?;
        if fetched_per_scan {
            provider = provider.with_partitions_from(self.metastore.clone());
        }
        Ok(Relation::Table(Arc::new(provider)))
    }

    /// Every SELECT grant in the metastore (cached until a GRANT, REVOKE or DDL).
    pub async fn grants(&self) -> Result<Arc<Vec<Grant>>> {
        if let Some(grants) = self.cache().grants.clone() {
            return Ok(grants);
        }
        let epoch = self.epoch();
        let grants = Arc::new(self.metastore.list_grants().await?);
        self.remember(epoch, |cache| cache.grants = Some(grants.clone()));
        Ok(grants)
    }

    /// Forgets the cached grants: after GRANT or REVOKE, and after dropping or renaming a
    /// table, which takes its grants along (dropping a database goes through
    /// [`Catalog::invalidate_database`], which forgets them too).
    pub fn invalidate_grants(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cache().grants = None;
    }

    /// Forgets what is cached about one table or view (after DDL, INSERT or REFRESH).
    pub fn invalidate_table(&self, database: &str, name: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut cache = self.cache();
        let key = (database.to_string(), name.to_string());
        self.cached_tables.remove(database, name);
        self.listings.invalidate(&key);
        cache.relations.remove(&key);
        cache.definitions.remove(&key);
        cache.table_names.remove(database);
    }

    /// Forgets what is cached about a database and everything in it.
    pub fn invalidate_database(&self, database: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut cache = self.cache();
        cache.grants = None;
        self.cached_tables.remove_schema(database);
        self.listings.invalidate_database(database);
        cache.databases = None;
        cache.database_definitions.remove(database);
        cache.table_names.remove(database);
        cache.relations.retain(|(db, _), _| db != database);
        cache.definitions.retain(|(db, _), _| db != database);
    }

    /// The tables `CACHE TABLE` keeps in memory.
    pub fn cached_tables(&self) -> &table_cache::TableCache {
        &self.cached_tables
    }

    pub fn global_temp_view(&self, name: &str) -> Option<Relation> {
        self.global_temp_views
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn global_temp_view_names(&self) -> Vec<String> {
        self.global_temp_views
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Creates (or with `replace`, replaces) a global temporary view; `false` when it
    /// exists and `replace` is not set.
    pub fn create_global_temp_view(&self, name: &str, relation: Relation, replace: bool) -> bool {
        let mut views = self
            .global_temp_views
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if views.contains_key(name) && !replace {
            return false;
        }
        views.insert(name.to_string(), relation);
        self.cached_tables.remove(GLOBAL_TEMP, name);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        true
    }

    pub fn drop_global_temp_view(&self, name: &str) -> bool {
        let dropped = self
            .global_temp_views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .is_some();
        self.cached_tables.remove(GLOBAL_TEMP, name);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        dropped
    }
}

/// Table properties recording a view's current database, as Spark writes them.
pub const VIEW_DATABASE_PROPERTIES: [&str; 3] = [
    "view.catalogAndNamespace.numParts",
    "view.catalogAndNamespace.part.0",
    "view.catalogAndNamespace.part.1",
];

/// A table property recording the search path a persistent view was created with.
pub const VIEW_SEARCH_PATH_PROPERTY: &str = "lakeport.view.search_path";

/// A view from the metastore: it resolves names along the search path it was created
/// with, or (for views Spark created) in its current database.
fn view_definition(table: &Table, sql: &str) -> ViewDefinition {
    let search_path = match table.properties.get(VIEW_SEARCH_PATH_PROPERTY) {
        Some(path) => path.split(',').map(str::to_string).collect(),
        None => vec![
            table
                .properties
                .get(VIEW_DATABASE_PROPERTIES[2])
                .cloned()
                .unwrap_or_else(|| table.database.clone()),
        ],
    };
    ViewDefinition {
        sql: sql.to_string(),
        sees_temp_views: false,
        search_path,
        columns: table.columns.iter().map(|c| c.name.clone()).collect(),
        output: Arc::new(types::arrow_schema(&table.columns)),
    }
}
