//! What existing files say about a table: its columns (from Parquet metadata, CSV or JSON
//! inference), its partition keys and their types (from `key=value` directories), and its
//! partitions (for `MSCK REPAIR TABLE` and for declaring a table over existing data).

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::object_store::ObjectMeta;
use lakeport_catalog::model::HIVE_DEFAULT_PARTITION;
use lakeport_catalog::{Column, HiveType, Partition, Storage, StorageFormat, Table};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::hive_table::{directory_url, file_format};
use crate::exec::catalog_bridge::json_schema;
use crate::exec::catalog_bridge::types::{arrow_type, hive_columns};
use crate::storage::listings::list_data_files;
use crate::storage::locations::local_directory;

/// Schema inference reads at most this many files.
const INFERENCE_SAMPLE: usize = 16;

/// The data files under a table's location, with the path of each below it.
pub struct Listing {
    pub location: String,
    pub files: Vec<(ObjectMeta, Vec<String>)>,
}

/// The files at a location that must exist: a missing local directory is an error (an
/// object store has no directories: there, nothing is there).
pub async fn list_existing(state: &dyn Session, location: &str) -> Result<Listing> {
    if let Some(directory) = local_directory(location)
        && !directory.exists()
    {
        return Err(Error::new(
            ErrorKind::Storage,
            format!("location \"{location}\" does not exist"),
        ));
    }
    list(state, location).await
}

pub async fn list(state: &dyn Session, location: &str) -> Result<Listing> {
    let url = directory_url(location)?;
    let store = state.runtime_env().object_store(url.object_store())?;
    let files = list_data_files(&store, &url).await?;
    let prefix = url.prefix().clone();
    let files = files
        .into_iter()
        .map(|meta| {
            let parts = meta
                .location
                .prefix_match(&prefix)
                .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            (meta, parts)
        })
        .collect();
    let mut location = url.as_str().to_string();
    if !location.ends_with('/') {
        location.push('/');
    }
    Ok(Listing { location, files })
}

fn unreadable(listing: &Listing, error: datafusion::error::DataFusionError) -> Error {
    let e = Error::from(error);
    Error::new(
        e.kind,
        format!(
            "cannot read the files at \"{}\": {}",
            listing.location, e.message
        ),
    )
}

/// The data columns of the files, from a sample of them; partition directories excluded.
pub async fn infer_columns(
    state: &dyn Session,
    storage: &Storage,
    listing: &Listing,
    partition_keys: &[String],
) -> Result<Vec<Column>> {
    if listing.files.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "cannot infer the columns of \"{}\": it holds no data files",
            listing.location
        ))
        .with_hint("give the columns in the CREATE TABLE statement"));
    }
    let url = directory_url(&storage.location)?;
    let store = state.runtime_env().object_store(url.object_store())?;
    let sample: Vec<ObjectMeta> = listing
        .files
        .iter()
        .take(INFERENCE_SAMPLE)
        .map(|(meta, _)| meta.clone())
        .collect();
    let format = file_format(storage)?;
    let schema = match storage.format {
        // Spark widens what the files disagree on (a long and a double: a double; anything
        // else: a string) where DataFusion refuses to merge.
        StorageFormat::Json => {
            let mut schemas = Vec::with_capacity(sample.len());
            for file in &sample {
                let schema = format
                    .infer_schema(state, &store, std::slice::from_ref(file))
                    .await
                    .map_err(|e| unreadable(listing, e))?;
                schemas.push(schema);
            }
            json_schema::as_spark_infers(&schemas)
        }
        StorageFormat::Parquet | StorageFormat::Csv => format
            .infer_schema(state, &store, &sample)
            .await
            .map_err(|e| unreadable(listing, e))?
            .as_ref()
            .clone(),
    };
    let mut columns = hive_columns(&schema)?;
    let unnamed = |(i, c): (usize, &Column)| c.name == format!("column_{}", i + 1);
    if storage.format == StorageFormat::Csv && columns.iter().enumerate().all(unnamed) {
        // A CSV file without a header: Spark's names for its columns.
        for (i, column) in columns.iter_mut().enumerate() {
            column.name = format!("_c{i}");
        }
    }
    Ok(columns
        .into_iter()
        .filter(|c| {
            !partition_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&c.name))
        })
        .collect())
}

/// The `key=value` directory names leading to a file, when they are exactly `keys`.
fn partition_path<'a>(parts: &'a [String], keys: &[String]) -> Option<Vec<(&'a str, &'a str)>> {
    if parts.len() <= keys.len() {
        return None;
    }
    parts[..keys.len()]
        .iter()
        .zip(keys)
        .map(|(part, key)| {
            let (name, value) = part.split_once('=')?;
            name.eq_ignore_ascii_case(key).then_some((name, value))
        })
        .collect()
}

/// Partition keys read from the first file's `key=value` directories, for a table
/// declared without them.
pub fn infer_partition_key_names(listing: &Listing) -> Vec<String> {
    let Some((_, parts)) = listing.files.first() else {
        return Vec::new();
    };
    parts[..parts.len().saturating_sub(1)]
        .iter()
        .map_while(|part| part.split_once('=').map(|(name, _)| name.to_string()))
        .collect()
}

/// The type of each partition key from its values, as Spark infers it: int, bigint,
/// double, date, else string. NULL values do not count.
pub fn infer_partition_key_types(listing: &Listing, keys: &[String]) -> Vec<Column> {
    let mut values: Vec<BTreeSet<String>> = vec![BTreeSet::new(); keys.len()];
    for (_, parts) in &listing.files {
        if let Some(path) = partition_path(parts, keys) {
            for (slot, (_, value)) in values.iter_mut().zip(path) {
                let value = unescape(value);
                if value != HIVE_DEFAULT_PARTITION {
                    slot.insert(value);
                }
            }
        }
    }
    keys.iter()
        .zip(values)
        .map(|(key, values)| {
            let fits = |t: &DataType| {
                !values.is_empty()
                    && values.iter().all(|v| {
                        ScalarValue::try_from_string(v.clone(), t).is_ok_and(|s| !s.is_null())
                    })
            };
            let data_type = if fits(&DataType::Int32) {
                HiveType::Int
            } else if fits(&DataType::Int64) {
                HiveType::BigInt
            } else if values.iter().all(|v| v.parse::<f64>().is_ok()) && !values.is_empty() {
                HiveType::Double
            } else if values.iter().all(|v| is_iso_date(v)) && !values.is_empty() {
                HiveType::Date
            } else {
                HiveType::String
            };
            Column {
                name: key.clone(),
                data_type,
                comment: None,
            }
        })
        .collect()
}

fn is_iso_date(value: &str) -> bool {
    value.len() == 10 && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
}

/// The partitions present under the table's location: directories `key=value/...` in
/// key order that hold at least one data file and whose values fit the key types.
/// Returns them and the number of directories skipped for values that do not fit.
pub fn discover_partitions(table: &Table, listing: &Listing, now: i64) -> (Vec<Partition>, usize) {
    let keys: Vec<String> = table
        .partition_keys
        .iter()
        .map(|k| k.name.clone())
        .collect();
    let types: Vec<DataType> = table
        .partition_keys
        .iter()
        .map(|k| arrow_type(&k.data_type))
        .collect();
    let mut found: BTreeMap<String, Partition> = BTreeMap::new();
    let mut skipped = BTreeSet::new();
    for (_, parts) in &listing.files {
        let Some(path) = partition_path(parts, &keys) else {
            continue;
        };
        let directory = parts[..keys.len()].join("/");
        if found.contains_key(&directory) || skipped.contains(&directory) {
            continue;
        }
        let values: Option<Vec<Option<String>>> = path
            .iter()
            .zip(&types)
            .map(|((_, value), data_type)| {
                let value = unescape(value);
                if value == HIVE_DEFAULT_PARTITION {
                    Some(None)
                } else {
                    canonical_value(&value, data_type).map(Some)
                }
            })
            .collect();
        let Some(values) = values else {
            skipped.insert(directory);
            continue;
        };
        let location = format!("{}{directory}", listing.location);
        found.insert(
            directory,
            Partition {
                values,
                location,
                create_time: now,
            },
        );
    }
    (found.into_values().collect(), skipped.len())
}

/// A partition value as the catalog stores it: integers in canonical form (`01` → `1`, as
/// Spark normalises them), other values as written. `None` when the text is not a value
/// of the type.
pub fn canonical_value(text: &str, data_type: &DataType) -> Option<String> {
    let typed = ScalarValue::try_from_string(text.to_string(), data_type).ok()?;
    if typed.is_null() {
        return None;
    }
    Some(if data_type.is_integer() {
        typed.to_string()
    } else {
        text.to_string()
    })
}

/// Hive's `%XX` escapes in a directory name, decoded.
pub fn unescape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            decoded.push(hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]));
            i += 3;
            continue;
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode() {
        assert_eq!(unescape("a%2Fb%3Dc"), "a/b=c");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%é%2"), "%é%2");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn partition_paths_need_every_key_in_order() {
        let parts: Vec<String> = ["year=2024", "month=01", "f.parquet"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let keys = vec!["year".to_string(), "month".to_string()];
        assert_eq!(
            partition_path(&parts, &keys),
            Some(vec![("year", "2024"), ("month", "01")])
        );
        let swapped = vec!["month".to_string(), "year".to_string()];
        assert_eq!(partition_path(&parts, &swapped), None);
    }
}
