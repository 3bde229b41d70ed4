//! Writing query results into a table's files, in the Hive directory layout.
//!
//! Files are written under unique names (`part-<uuid>-<n>.<ext>`), first as hidden files
//! (`.part-….inprogress`, which readers skip) in their partition directories, and are only
//! renamed into view by [`StagedFiles::publish`], once every file is complete; the caller
//! then commits the catalog change. A write that fails or is cancelled before publishing
//! leaves nothing readers can see, and its hidden files are deleted.
//!
//! Partitioned tables: the query's last columns are the dynamic partition columns, in key
//! order after any static ones; rows are routed to one file per partition directory.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::parsers::CompressionTypeVariant;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::object_store::buffered::BufWriter;
use datafusion::object_store::path::Path;
use datafusion::object_store::{ObjectStore, ObjectStoreExt};
use datafusion::parquet::arrow::AsyncArrowWriter;
use futures::StreamExt;
use lakeport_catalog::{Column, Partition, Storage, StorageFormat};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::RowStream;
use crate::exec::catalog_bridge::hive_table::directory_url;
use crate::exec::catalog_bridge::options::{CsvOptions, JsonOptions};
use crate::storage::listings::list_data_files;

/// Where and how a write puts its rows.
pub struct WriteTarget<'a> {
    pub storage: &'a Storage,
    /// Every partition key of the table, in order.
    pub partition_keys: &'a [Column],
    /// For each key, `Some(value)` when the statement fixes it (`PARTITION (k = v)`), where
    /// the value is as the catalog stores it; `None` when it comes from the query's rows.
    pub static_values: &'a [Option<Option<String>>],
}

/// Files written to staging, not yet visible.
pub struct StagedFiles {
    store: Arc<dyn ObjectStore>,
    /// The store's URL (`s3://bucket/`), for naming files in errors.
    store_url: String,
    /// (staged path, final path) of every file.
    files: Vec<(Path, Path)>,
    /// The partition (key values) of each directory written to, by its relative path.
    pub partitions: BTreeMap<String, Vec<Option<String>>>,
    pub rows: u64,
    /// Set once the files are published or discarded; otherwise dropping removes them.
    settled: bool,
}

/// Writes every row of `rows` into staging under the target's location.
pub async fn stage(
    store: Arc<dyn ObjectStore>,
    target: &WriteTarget<'_>,
    mut rows: RowStream,
) -> Result<StagedFiles> {
    let table_url = directory_url(&target.storage.location)?;
    let write_id = uuid_like();
    let store_url = table_url.object_store().as_str().to_string();
    let mut staged = StagedFiles {
        store: store.clone(),
        store_url: store_url.clone(),
        files: Vec::new(),
        partitions: BTreeMap::new(),
        rows: 0,
        settled: false,
    };
    let dynamic: Vec<usize> = (0..target.partition_keys.len())
        .filter(|i| target.static_values.get(*i).is_none_or(Option::is_none))
        .collect();
    let mut writers: BTreeMap<String, FileWriter> = BTreeMap::new();
    let extension = file_extension(target.storage)?;
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        let data_columns = batch.num_columns() - dynamic.len();
        for (directory, values, indices) in route_rows(&batch, data_columns, target, &dynamic)? {
            let data = project_rows(&batch, data_columns, &indices)?;
            staged.rows += data.num_rows() as u64;
            staged.partitions.entry(directory.clone()).or_insert(values);
            let writer = match writers.get_mut(&directory) {
                Some(writer) => writer,
                None => {
                    let name = format!("part-{write_id}-{:05}.{extension}", writers.len());
                    let parent = if directory.is_empty() {
                        table_url.prefix().to_string()
                    } else {
                        format!("{}/{directory}", table_url.prefix())
                    };
                    let staged_path = Path::from(format!("{parent}/.{name}.inprogress"));
                    let final_path = Path::from(format!("{parent}/{name}"));
                    staged.files.push((staged_path.clone(), final_path));
                    let writer = FileWriter::try_new(
                        store.clone(),
                        &store_url,
                        staged_path,
                        target.storage,
                        data.schema(),
                    )?;
                    writers.entry(directory.clone()).or_insert(writer)
                }
            };
            writer.write(&data).await?;
        }
    }
    for writer in writers.into_values() {
        writer.finish().await?;
    }
    Ok(staged)
}

impl StagedFiles {
    /// Deletes the files of `partitions` (their catalog locations) or, for an
    /// unpartitioned table, of `table_location`: what INSERT OVERWRITE replaces.
    pub async fn delete_replaced(&self, locations: &[String]) -> Result<()> {
        for location in locations {
            let url = directory_url(location)?;
            for meta in list_data_files(&self.store, &url).await? {
                self.store
                    .delete(&meta.location)
                    .await
                    .map_err(|e| storage_error("delete", &self.store_url, &meta.location, &e))?;
            }
        }
        Ok(())
    }

    /// Moves every staged file to its place; readers see them from now on. If a move
    /// fails, the files already moved are deleted again.
    pub async fn publish(mut self) -> Result<()> {
        let mut moved = Vec::new();
        for (staged, target) in &self.files {
            if let Err(e) = self.store.rename(staged, target).await {
                for done in &moved {
                    let _ = self.store.delete(done).await;
                }
                return Err(storage_error("publish", &self.store_url, target, &e));
            }
            moved.push(target.clone());
        }
        self.settled = true;
        Ok(())
    }

    /// The final paths, for removing published files when the catalog commit fails.
    pub fn final_paths(&self) -> Vec<Path> {
        self.files
            .iter()
            .map(|(_, target)| target.clone())
            .collect()
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

impl Drop for StagedFiles {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let store = self.store.clone();
        let files: Vec<Path> = self
            .files
            .iter()
            .map(|(staged, _)| staged.clone())
            .collect();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                for file in files {
                    let _ = store.delete(&file).await;
                }
            });
        }
    }
}

/// Rows of a batch bound for one partition directory: the directory (relative), the
/// partition key values, the row indices.
type RoutedRows = (String, Vec<Option<String>>, Vec<u32>);

/// Groups a batch's rows by partition directory.
fn route_rows(
    batch: &RecordBatch,
    data_columns: usize,
    target: &WriteTarget<'_>,
    dynamic: &[usize],
) -> Result<Vec<RoutedRows>> {
    if target.partition_keys.is_empty() {
        return Ok(vec![(
            String::new(),
            Vec::new(),
            (0..batch.num_rows() as u32).collect(),
        )]);
    }
    let dynamic_columns: Vec<&ArrayRef> = (0..dynamic.len())
        .map(|i| batch.column(data_columns + i))
        .collect();
    let mut groups: BTreeMap<String, (Vec<Option<String>>, Vec<u32>)> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let mut values = Vec::with_capacity(target.partition_keys.len());
        let mut next_dynamic = 0;
        for index in 0..target.partition_keys.len() {
            match target.static_values.get(index).cloned().flatten() {
                Some(value) => values.push(value),
                None => {
                    let column = dynamic_columns[next_dynamic];
                    next_dynamic += 1;
                    values.push(if column.is_null(row) {
                        None
                    } else {
                        Some(array_value_to_string(column, row)?)
                    });
                }
            }
        }
        let directory = Partition {
            values: values.clone(),
            location: String::new(),
            create_time: 0,
        }
        .relative_path(target.partition_keys);
        groups
            .entry(directory)
            .or_insert_with(|| (values, Vec::new()))
            .1
            .push(row as u32);
    }
    Ok(groups
        .into_iter()
        .map(|(directory, (values, rows))| (directory, values, rows))
        .collect())
}

fn project_rows(batch: &RecordBatch, data_columns: usize, rows: &[u32]) -> Result<RecordBatch> {
    let data = batch.project(&(0..data_columns).collect::<Vec<_>>())?;
    if rows.len() == batch.num_rows() {
        return Ok(data);
    }
    let indices = UInt32Array::from(rows.to_vec());
    let columns = data
        .columns()
        .iter()
        .map(|column| take(column, &indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(data.schema(), columns)?)
}

/// A random 128-bit id in hex, for file and staging names.
fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn write_error(location: &str, error: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Storage, format!("cannot write \"{location}\""))
        .with_detail(crate::storage::errors::scrub_configured(&error.to_string()))
}

fn storage_error(
    action: &str,
    store_url: &str,
    path: &Path,
    error: &datafusion::object_store::Error,
) -> Error {
    crate::storage::storage_error(action, &format!("{store_url}{path}"), error)
}

/// One data file being written.
enum FileWriter {
    Parquet {
        writer: Box<AsyncArrowWriter<BufWriter>>,
        location: String,
    },
    /// CSV or JSON: each batch encoded, then compressed as the table's options say.
    Text {
        writer: Box<dyn AsyncWrite + Send + Unpin>,
        encoding: TextEncoding,
        location: String,
    },
}

enum TextEncoding {
    Csv {
        options: CsvOptions,
        header_written: bool,
    },
    Json,
    /// One JSON array over the whole file (`multiLine` tables), an object per line.
    JsonArray {
        opened: bool,
    },
}

impl TextEncoding {
    fn new_json(options: &JsonOptions) -> Self {
        match options.multi_line {
            true => TextEncoding::JsonArray { opened: false },
            false => TextEncoding::Json,
        }
    }

    /// What ends the file: the array's closing bracket (an empty array if no row came).
    fn trailer(&self) -> &'static [u8] {
        match self {
            TextEncoding::JsonArray { opened: true } => b"\n]\n",
            TextEncoding::JsonArray { opened: false } => b"[]\n",
            TextEncoding::Csv { .. } | TextEncoding::Json => b"",
        }
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        match self {
            TextEncoding::Csv {
                options,
                header_written,
            } => {
                let mut builder = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(options.header && !*header_written)
                    .with_delimiter(options.delimiter)
                    .with_quote(options.quote);
                if let Some(null) = &options.null_value {
                    builder = builder.with_null(null.clone());
                }
                builder.build(&mut bytes).write(batch)?;
                *header_written = true;
            }
            TextEncoding::Json => {
                let mut writer = LineDelimitedWriter::new(&mut bytes);
                writer.write(batch)?;
                writer.finish()?;
            }
            TextEncoding::JsonArray { opened } => {
                let mut lines = Vec::new();
                let mut writer = LineDelimitedWriter::new(&mut lines);
                writer.write(batch)?;
                writer.finish()?;
                for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    bytes.extend_from_slice(if *opened { b",\n" } else { b"[\n" });
                    bytes.extend_from_slice(line);
                    *opened = true;
                }
            }
        }
        Ok(bytes)
    }
}

/// The extension of the table's data files: the format's, then the codec's (`.json.gz`), by
/// which Spark and Hive tell how to read them.
fn file_extension(storage: &Storage) -> Result<String> {
    let compression = match storage.format {
        StorageFormat::Parquet => return Ok("parquet".into()),
        StorageFormat::Csv => CsvOptions::from_storage(storage)?.compression,
        StorageFormat::Json => JsonOptions::from_storage(storage)?.compression,
    };
    let codec = match compression.get_variant() {
        CompressionTypeVariant::GZIP => ".gz",
        CompressionTypeVariant::BZIP2 => ".bz2",
        CompressionTypeVariant::XZ => ".xz",
        CompressionTypeVariant::ZSTD => ".zst",
        CompressionTypeVariant::UNCOMPRESSED => "",
    };
    Ok(format!("{}{codec}", storage.format.name()))
}

impl FileWriter {
    fn try_new(
        store: Arc<dyn ObjectStore>,
        store_url: &str,
        path: Path,
        storage: &Storage,
        schema: SchemaRef,
    ) -> Result<Self> {
        let location = format!("{store_url}{path}");
        let (encoding, compression) = match storage.format {
            StorageFormat::Parquet => {
                let writer = AsyncArrowWriter::try_new(BufWriter::new(store, path), schema, None)
                    .map_err(|e| write_error(&location, e))?;
                return Ok(FileWriter::Parquet {
                    writer: Box::new(writer),
                    location,
                });
            }
            StorageFormat::Csv => {
                let options = CsvOptions::from_storage(storage)?;
                let compression = options.compression;
                let encoding = TextEncoding::Csv {
                    options,
                    header_written: false,
                };
                (encoding, compression)
            }
            StorageFormat::Json => {
                let options = JsonOptions::from_storage(storage)?;
                (TextEncoding::new_json(&options), options.compression)
            }
        };
        Ok(FileWriter::Text {
            writer: compression.convert_async_writer(BufWriter::new(store, path))?,
            encoding,
            location,
        })
    }

    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            FileWriter::Parquet { writer, location } => writer
                .write(batch)
                .await
                .map_err(|e| write_error(location, e)),
            FileWriter::Text {
                writer,
                encoding,
                location,
            } => {
                let bytes = encoding.encode(batch)?;
                writer
                    .write_all(&bytes)
                    .await
                    .map_err(|e| write_error(location, e))
            }
        }
    }

    async fn finish(self) -> Result<()> {
        match self {
            FileWriter::Parquet { writer, location } => {
                writer
                    .close()
                    .await
                    .map_err(|e| write_error(&location, e))?;
            }
            FileWriter::Text {
                mut writer,
                encoding,
                location,
            } => {
                writer
                    .write_all(encoding.trailer())
                    .await
                    .map_err(|e| write_error(&location, e))?;
                writer
                    .shutdown()
                    .await
                    .map_err(|e| write_error(&location, e))?
            }
        }
        Ok(())
    }
}

/// The location URL a partition directory of the table has.
pub fn partition_location(table_location: &str, directory: &str) -> String {
    let mut location = table_location.to_string();
    if !location.ends_with('/') {
        location.push('/');
    }
    format!("{location}{directory}")
}

/// The URL's store, from the session's registry.
pub fn store_for(
    state: &datafusion::execution::context::SessionState,
    location: &str,
) -> Result<Arc<dyn ObjectStore>> {
    let url: ListingTableUrl = directory_url(location)?;
    Ok(state.runtime_env().object_store(url.object_store())?)
}
