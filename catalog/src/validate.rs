//! Rules every backend applies before storing: names are lower case and not empty, a table
//! has storage and a view its SQL, no column is named twice, a partition spec matches the
//! table's keys.

use crate::error::{CatalogError, CatalogObject, CatalogResult};
use crate::model::{Partition, Table, TableKind};

pub(crate) fn normalize_name(name: &str, what: &str) -> CatalogResult<String> {
    if name.trim().is_empty() {
        return Err(CatalogError::invalid(format!(
            "{what} name must not be empty"
        )));
    }
    Ok(name.to_lowercase())
}

pub(crate) fn normalize_table(table: &Table) -> CatalogResult<Table> {
    let mut table = table.clone();
    table.database = normalize_name(&table.database, "database")?;
    table.name = normalize_name(&table.name, "table")?;
    match table.kind {
        TableKind::View if table.view_text.is_none() => {
            return Err(CatalogError::invalid(format!(
                "view \"{}.{}\" has no SQL text",
                table.database, table.name
            )));
        }
        TableKind::Managed | TableKind::External if table.storage.is_none() => {
            return Err(CatalogError::invalid(format!(
                "table \"{}.{}\" has no storage",
                table.database, table.name
            )));
        }
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    for column in table.columns.iter().chain(&table.partition_keys) {
        if !seen.insert(column.name.to_lowercase()) {
            return Err(CatalogError::invalid(format!(
                "column \"{}\" of \"{}.{}\" is specified more than once",
                column.name, table.database, table.name
            )));
        }
    }
    Ok(table)
}

/// The partition's key in the store: its directory name under the table.
pub(crate) fn partition_name(table: &Table, values: &[Option<String>]) -> CatalogResult<String> {
    if !table.is_partitioned() {
        return Err(CatalogError::invalid(format!(
            "table \"{}.{}\" is not partitioned",
            table.database, table.name
        ))
        .about(CatalogObject::Partition));
    }
    if values.len() != table.partition_keys.len() {
        let keys: Vec<&str> = table
            .partition_keys
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        return Err(CatalogError::invalid(format!(
            "partition spec has {} values but \"{}.{}\" is partitioned by ({})",
            values.len(),
            table.database,
            table.name,
            keys.join(", ")
        ))
        .about(CatalogObject::Partition));
    }
    let partition = Partition {
        values: values.to_vec(),
        location: String::new(),
        create_time: 0,
    };
    Ok(partition.relative_path(&table.partition_keys))
}
