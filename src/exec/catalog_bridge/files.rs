//! Relations over the files at a location, with no catalog entry: Spark's file queries
//! (``SELECT * FROM parquet.`s3://bucket/dir` ``) and temporary views `USING parquet
//! OPTIONS (path …)`. Columns come from the files, partition keys from `key=value`
//! directories, as `CREATE TABLE … LOCATION` without columns infers them.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::Session;
use lakeport_catalog::{Storage, Table, TableKind};

use crate::error::Result;
use crate::exec::catalog_bridge::hive_table::HiveTableProvider;
use crate::exec::catalog_bridge::{Relation, discovery, now, options};
use crate::storage::listings::ListingCache;

/// The files of `storage` as a table. The location must already be allowed.
pub async fn files_relation(state: &dyn Session, storage: Storage) -> Result<Relation> {
    options::validate(&storage)?;
    let listing = discovery::list_existing(state, &storage.location).await?;
    let key_names = discovery::infer_partition_key_names(&listing);
    let partition_keys = discovery::infer_partition_key_types(&listing, &key_names);
    let columns = discovery::infer_columns(state, &storage, &listing, &key_names).await?;
    let now = now();
    let table = Table {
        database: String::new(),
        name: String::new(),
        kind: TableKind::External,
        columns,
        partition_keys,
        storage: Some(storage),
        view_text: None,
        comment: None,
        properties: BTreeMap::new(),
        owner: None,
        create_time: now,
        statistics: None,
    };
    let (partitions, _) = discovery::discover_partitions(&table, &listing, now);
    let listings = Arc::new(ListingCache::new(usize::MAX, None));
    let provider = HiveTableProvider::try_new(table, &partitions, listings)?;
    Ok(Relation::Table(Arc::new(provider)))
}
