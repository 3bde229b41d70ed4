//! `TRUNCATE [TABLE] t [PARTITION (k = v, …)]`: deletes the data files of a managed table
//! (or of one of its partitions), keeping its definition and partitions. As in Spark, an
//! external table's files are not lakeport's to delete: truncating one is refused.

use datafusion::object_store::ObjectStoreExt;
use lakeport_catalog::{TableKind, TableStatistics};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::hive_table::directory_url;
use crate::exec::write::store_for;
use crate::sql::Connection;
use crate::sql::ddl::ast::{ObjectName, PartitionSpec};
use crate::sql::ddl::run::{catalog, find_table, query_context};
use crate::sql::ddl::tables::{spec_values, storage_of};
use crate::storage::listings::list_data_files;

pub async fn truncate_table(
    connection: &mut Connection,
    name: &ObjectName,
    partition: Option<&PartitionSpec>,
) -> Result<()> {
    let table = find_table(connection, name).await?;
    let storage = storage_of(&table)?;
    if table.kind == TableKind::External {
        return Err(Error::new(
            ErrorKind::WrongObjectType,
            format!("cannot truncate external table \"{name}\""),
        )
        .with_hint(
            "an external table's files are kept by DROP TABLE and TRUNCATE alike; \
             INSERT OVERWRITE replaces them",
        ));
    }
    let catalog = catalog(connection);
    let locations = match (partition, table.is_partitioned()) {
        (Some(spec), _) => {
            let values = spec_values(&table, spec)?;
            let partitions = catalog
                .metastore()
                .list_partitions(&table.database, &table.name)
                .await?;
            let found = partitions
                .into_iter()
                .find(|p| p.values == values)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedObject,
                        format!("partition of \"{name}\" not found"),
                    )
                })?;
            vec![found.location]
        }
        (None, true) => catalog
            .metastore()
            .list_partitions(&table.database, &table.name)
            .await?
            .into_iter()
            .map(|p| p.location)
            .collect(),
        (None, false) => vec![storage.location.clone()],
    };
    let state = connection
        .service
        .engine
        .state_for(&query_context(connection));
    let store = store_for(&state, &storage.location)?;
    let mut files = Vec::new();
    for location in &locations {
        files.extend(list_data_files(&store, &directory_url(location)?).await?);
    }
    let result = async {
        for file in files {
            store.delete(&file.location).await.map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot delete \"{}\": {e}", file.location),
                )
            })?;
        }
        if table.statistics.is_some() {
            let mut emptied = table.clone();
            emptied.statistics = partition
                .is_none()
                .then_some(TableStatistics::size(0, Some(0)));
            catalog
                .metastore()
                .alter_table(&table.database, &table.name, &emptied)
                .await?;
        }
        Ok(())
    }
    .await;
    catalog.invalidate_table(&table.database, &table.name);
    result
}
