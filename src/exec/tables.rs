//! The tables queries can see: schemas of named DataFusion table providers.
//!
//! For now tables come from the config file, `--table` flags and the demo data; the Hive
//! catalog will feed this same registry through `exec::catalog_bridge`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionState;

use crate::config::{FileFormat, TableConfig};
use crate::error::{Error, ErrorKind, Result};

/// Schema name → table name → table.
type Schemas = BTreeMap<String, BTreeMap<String, Arc<dyn TableProvider>>>;

/// Schemas → tables. Names are stored as PostgreSQL folds them (lowercase unless quoted).
#[derive(Default)]
pub struct TableRegistry {
    schemas: RwLock<Schemas>,
}

impl TableRegistry {
    pub fn create_schema(&self, schema: &str) {
        self.write().entry(schema.to_string()).or_default();
    }

    pub fn register(&self, schema: &str, table: &str, provider: Arc<dyn TableProvider>) {
        self.write()
            .entry(schema.to_string())
            .or_default()
            .insert(table.to_string(), provider);
    }

    pub fn table(&self, schema: &str, table: &str) -> Option<Arc<dyn TableProvider>> {
        self.read().get(schema)?.get(table).cloned()
    }

    pub fn schema_exists(&self, schema: &str) -> bool {
        self.read().contains_key(schema)
    }

    pub fn schema_names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub fn table_names(&self, schema: &str) -> Vec<String> {
        self.read()
            .get(schema)
            .map(|tables| tables.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Schemas> {
        // Writers only insert whole entries, so a poisoned lock still holds consistent data.
        self.schemas.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Schemas> {
        self.schemas.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Builds a table over the Parquet or CSV files at `table.path`, inferring its schema.
pub async fn listing_table(
    state: &SessionState,
    table: &TableConfig,
) -> Result<Arc<dyn TableProvider>> {
    let path = &table.path;
    let metadata = std::fs::metadata(path).map_err(|e| {
        Error::new(
            ErrorKind::Storage,
            format!(
                "table {}: cannot read \"{}\": {e}",
                table.name,
                path.display()
            ),
        )
    })?;
    let format = match table.format {
        Some(format) => format,
        None => guess_format(path, metadata.is_dir()).ok_or_else(|| {
            Error::invalid_parameter(format!(
                "table {}: cannot tell the file format of \"{}\"",
                table.name,
                path.display()
            ))
            .with_hint("add format = \"parquet\", \"csv\" or \"json\" to its [[tables]] entry")
        })?,
    };
    let absolute = std::path::absolute(path)
        .map_err(|e| Error::new(ErrorKind::Storage, format!("table {}: {e}", table.name)))?;
    let mut location = absolute.to_string_lossy().to_string();
    if metadata.is_dir() && !location.ends_with('/') {
        location.push('/');
    }
    let url = ListingTableUrl::parse(&location).map_err(Error::from)?;
    let options = match format {
        FileFormat::Parquet => {
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet")
        }
        FileFormat::Csv => {
            let delimiter = table.delimiter.as_bytes().first().copied().unwrap_or(b',');
            let csv = CsvFormat::default()
                .with_has_header(table.header)
                .with_delimiter(delimiter);
            let extension = if metadata.is_dir() { ".csv" } else { "" };
            ListingOptions::new(Arc::new(csv)).with_file_extension(extension)
        }
        FileFormat::Json => {
            let extension = if metadata.is_dir() { ".json" } else { "" };
            ListingOptions::new(Arc::new(JsonFormat::default())).with_file_extension(extension)
        }
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_schema(state)
        .await
        .map_err(|e| {
            let e = Error::from(e);
            Error::new(e.kind, format!("table {}: {}", table.name, e.message))
        })?;
    Ok(Arc::new(ListingTable::try_new(config)?))
}

fn guess_format(path: &Path, is_dir: bool) -> Option<FileFormat> {
    let from_extension = |p: &Path| match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "parquet" | "parq" => Some(FileFormat::Parquet),
        "csv" | "tsv" => Some(FileFormat::Csv),
        "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
        _ => None,
    };
    if !is_dir {
        return from_extension(path);
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries.iter().find_map(|p| from_extension(p))
}
