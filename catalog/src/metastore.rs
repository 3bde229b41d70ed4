//! The `Metastore` trait: what every catalog backend does — the embedded store under the
//! warehouse now, a Hive Metastore over thrift later.
//!
//! Calls are whole and atomic: each either happens entirely or not at all, so a crash or a
//! racing connection never leaves half an object. Conditions such as `IF NOT EXISTS` are
//! the caller's: a backend reports [`CatalogErrorKind::AlreadyExists`] and
//! [`CatalogErrorKind::NotFound`] and the SQL layer decides what they mean.
//!
//! [`CatalogErrorKind::AlreadyExists`]: crate::error::CatalogErrorKind::AlreadyExists
//! [`CatalogErrorKind::NotFound`]: crate::error::CatalogErrorKind::NotFound

use async_trait::async_trait;

use crate::error::CatalogResult;
use crate::model::{Database, Grant, Partition, PartitionFilter, Table};

#[async_trait]
pub trait Metastore: Send + Sync + std::fmt::Debug {
    async fn create_database(&self, database: &Database) -> CatalogResult<()>;
    async fn get_database(&self, name: &str) -> CatalogResult<Database>;
    /// Every database name, sorted.
    async fn list_databases(&self) -> CatalogResult<Vec<String>>;
    /// Drops the database; with `cascade` its tables, views and partitions go too, without
    /// it a database that still holds any is a [`Conflict`](crate::error::CatalogErrorKind::Conflict).
    async fn drop_database(&self, name: &str, cascade: bool) -> CatalogResult<()>;

    /// Creates a table or a view, with the partitions it starts with (a table declared
    /// over existing partition directories), all in one step.
    async fn create_table(&self, table: &Table, partitions: &[Partition]) -> CatalogResult<()>;
    async fn get_table(&self, database: &str, name: &str) -> CatalogResult<Table>;
    /// The tables and views of `database` among `names` that exist, in no particular
    /// order; one that cannot be read (a format or type lakeport does not support) is an
    /// error in its place, not the call's.
    async fn get_tables(
        &self,
        database: &str,
        names: &[String],
    ) -> CatalogResult<Vec<CatalogResult<Table>>> {
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            match self.get_table(database, name).await {
                Err(e) if e.is_not_found() => {}
                read => tables.push(read),
            }
        }
        Ok(tables)
    }
    /// The names of the tables and views in `database`, sorted.
    async fn list_tables(&self, database: &str) -> CatalogResult<Vec<String>>;
    /// Replaces the definition of `database.name` with `table`, which may carry another
    /// name or database (a rename); partitions stay with the table.
    async fn alter_table(&self, database: &str, name: &str, table: &Table) -> CatalogResult<()>;
    /// Drops a table or view and its partitions; deleting a managed table's files is the
    /// caller's job, after this succeeds.
    async fn drop_table(&self, database: &str, name: &str) -> CatalogResult<()>;

    /// Adds partitions; all or none. One that exists already is
    /// [`AlreadyExists`](crate::error::CatalogErrorKind::AlreadyExists) unless
    /// `if_not_exists`, when it is skipped.
    async fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> CatalogResult<()>;
    /// Every partition of the table, ordered by its values.
    async fn list_partitions(&self, database: &str, table: &str) -> CatalogResult<Vec<Partition>>;
    /// The partitions that pass `filter` (and perhaps some that do not: the caller prunes
    /// again), in no particular order. A backend that evaluates filters itself says so in
    /// [`Metastore::filters_partitions`]; by default this lists them all and filters here.
    async fn list_partitions_by_filter(
        &self,
        database: &str,
        table: &str,
        filter: &PartitionFilter,
    ) -> CatalogResult<Vec<Partition>> {
        filter_locally(self, database, table, filter).await
    }
    /// Whether [`Metastore::list_partitions_by_filter`] filters in the metastore, so that a
    /// scan should ask it for the partitions it needs rather than hold every partition.
    fn filters_partitions(&self) -> bool {
        false
    }
    /// Drops the partitions with these values; all or none.
    async fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<Option<String>>],
    ) -> CatalogResult<()>;

    /// Every SELECT grant, sorted. Grants go with their object: dropping a database or
    /// table drops its grants, renaming a table carries them along.
    async fn list_grants(&self) -> CatalogResult<Vec<Grant>>;
    /// Records a grant on an existing database or table; `false` when it was there already.
    async fn grant(&self, grant: &Grant) -> CatalogResult<bool>;
    /// Removes a grant; `false` when there was none.
    async fn revoke(&self, grant: &Grant) -> CatalogResult<bool>;
}

/// Every partition of the table that passes `filter`, filtered here.
pub(crate) async fn filter_locally<M: Metastore + ?Sized>(
    metastore: &M,
    database: &str,
    table: &str,
    filter: &PartitionFilter,
) -> CatalogResult<Vec<Partition>> {
    let definition = metastore.get_table(database, table).await?;
    let mut partitions = metastore.list_partitions(database, table).await?;
    partitions.retain(|p| filter.matches(&definition.partition_keys, p));
    Ok(partitions)
}
