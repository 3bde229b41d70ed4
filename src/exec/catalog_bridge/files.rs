//! Relations over the files at a location, with no catalog entry: Spark's file queries
//! (``SELECT * FROM parquet.`s3://bucket/dir` ``) and temporary views `USING parquet
//! OPTIONS (path …)`. Columns come from the files, partition keys from `key=value`
//! directories, as `CREATE TABLE … LOCATION` without columns infers them; text files
//! compressed as their extension says.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::Session;
use lakeport_catalog::{Storage, StorageFormat, Table, TableKind};

use crate::error::Result;
use crate::exec::catalog_bridge::discovery::Listing;
use crate::exec::catalog_bridge::hive_table::HiveTableProvider;
use crate::exec::catalog_bridge::{Relation, discovery, now, options};
use crate::storage::listings::ListingCache;

/// The files of `storage` as a table. The location must already be allowed.
pub async fn files_relation(state: &dyn Session, storage: Storage) -> Result<Relation> {
    options::validate(&storage)?;
    let listing = discovery::list_existing(state, &storage.location).await?;
    let storage = with_codec_of_files(storage, &listing);
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

/// Text files compressed as their extension says (`.json.gz`, `.csv.bz2`), as Spark tells
/// them; the first file's codec stands for the location's.
fn with_codec_of_files(mut storage: Storage, listing: &Listing) -> Storage {
    let has_codec = options::option(&storage, &["compression", "codec"]).is_some();
    if storage.format == StorageFormat::Parquet || has_codec {
        return storage;
    }
    let Some((first, _)) = listing.files.first() else {
        return storage;
    };
    let codec = match first.location.extension() {
        Some("gz") => "gzip",
        Some("bz2") => "bzip2",
        Some("xz") => "xz",
        Some("zst") => "zstd",
        _ => return storage,
    };
    storage
        .options
        .insert("compression".to_string(), codec.to_string());
    storage
}
