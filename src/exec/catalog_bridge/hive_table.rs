//! A catalog table as a DataFusion table provider.
//!
//! The partitions come from the catalog, not from listing directories: a query prunes
//! them by evaluating its partition-column filters over the partition values (one small
//! batch, no I/O), then lists only the surviving partitions' directories. With a
//! metastore that filters partitions itself (the Hive Metastore), each scan asks it for
//! the partitions its filters on string keys let through, then prunes those. Listings are
//! cached in the shared [`ListingCache`] under the table's name, and the provider itself is
//! cached by [`super::Catalog`]; DDL, INSERT and `REFRESH TABLE` forget both.
//!
//! Like DataFusion's `ListingTable`, a scan gives the planner each file's statistics (row
//! counts, column min/max/nulls from Parquet footers, read once per file and kept by the
//! provider) when `datafusion.execution.collect_statistics` is on, so that joins build on
//! their smaller side; and Parquet files are read with the session's
//! `datafusion.execution.parquet.*` options.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue, Statistics, project_schema};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::listing::{ListingTableUrl, PartitionedFile};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType, cast, lit, when};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{ObjectMeta, ObjectStore};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion_datasource::compute_all_files_statistics;

use crate::exec::catalog_bridge::analyzed::with_analyzed;
use futures::{StreamExt, TryStreamExt};
use lakeport_catalog::{Metastore, Partition, Storage, StorageFormat, Table, TableStatistics};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::json_arrays::JsonArrayFormat;
use crate::exec::catalog_bridge::options::{CsvOptions, JsonOptions, with_table_properties};
use crate::exec::catalog_bridge::partition_filter::partition_filter;
use crate::exec::catalog_bridge::types::arrow_field;
use crate::registry::activity::StatementProgress;
use crate::storage::listings::{ListingCache, TableKey};

/// How many directories a scan lists at once.
const LISTING_CONCURRENCY: usize = 16;

#[derive(Debug)]
pub struct HiveTableProvider {
    /// Data columns, then partition keys.
    schema: SchemaRef,
    file_schema: SchemaRef,
    /// What the files are read as: the file schema, or all text when the table has a null
    /// string (see [`HiveTableProvider::convert_null_text`]).
    read_schema: SchemaRef,
    /// The text standing for NULL in a CSV table, when it is not the empty field.
    null_text: Option<String>,
    partition_fields: Vec<FieldRef>,
    format: Arc<dyn FileFormat>,
    /// Parquet scans take their reader options from the session (see `format_for`).
    reads_parquet: bool,
    store_url: ObjectStoreUrl,
    partitions: PartitionSource,
    /// Whose listings these are, in `listings`.
    table_key: TableKey,
    listings: Arc<ListingCache>,
    /// Each file's statistics as last read, with the size they were read at. The provider
    /// lives until the table changes, so entries are dropped with it.
    statistics: Mutex<HashMap<ObjectPath, (u64, Arc<Statistics>)>>,
    /// Rows and bytes `ANALYZE TABLE` recorded, for scans whose files give no row count.
    analyzed: Option<TableStatistics>,
}

/// Parquet string and binary columns are read as views, as DataFusion reads its own Parquet
/// tables (`schema_force_view_types`): decoding skips a copy of every value, and comparing
/// and hashing short strings is cheaper (TPC-H q12, q16, q19 and q22 ran 1.2–1.5 × slower
/// through catalog tables than in-process before).
fn with_view_type(field: Field) -> Field {
    let view = match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
        DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
        _ => return field,
    };
    field.with_data_type(view)
}

/// One directory of data files: a partition, or the whole unpartitioned table.
#[derive(Debug, Clone)]
struct Directory {
    values: Vec<ScalarValue>,
    url: ListingTableUrl,
}

/// Directories with their partition values as columns (one row per directory), for
/// pruning.
#[derive(Debug, Clone)]
struct PartitionSet {
    directories: Vec<Directory>,
    values: Option<RecordBatch>,
}

/// Where a scan's directories come from.
#[derive(Debug)]
enum PartitionSource {
    /// Held since the provider was made: the partitions, or an unpartitioned table's one
    /// directory.
    Held(PartitionSet),
    /// Asked of a metastore that filters partitions itself, at each scan, with the scan's
    /// filters on string keys (tables with very many partitions hold none of them here).
    /// Scans with no such filter share one listing of them all, kept as long as the
    /// provider.
    Metastore {
        metastore: Arc<dyn Metastore>,
        unfiltered: tokio::sync::OnceCell<PartitionSet>,
    },
}

impl HiveTableProvider {
    pub fn try_new(
        table: Table,
        partitions: &[Partition],
        listings: Arc<ListingCache>,
    ) -> Result<Self> {
        let storage = table.storage.as_ref().ok_or_else(|| {
            Error::internal(format!(
                "\"{}.{}\" is a view, not a table",
                table.database, table.name
            ))
        })?;
        let storage = &with_table_properties(storage, &table.properties);
        let file_schema = Arc::new(Schema::new(
            table
                .columns
                .iter()
                .map(|column| match storage.format {
                    StorageFormat::Parquet => with_view_type(arrow_field(column)),
                    StorageFormat::Csv | StorageFormat::Json => arrow_field(column),
                })
                .collect::<Vec<_>>(),
        ));
        let partition_fields: Vec<FieldRef> = table
            .partition_keys
            .iter()
            .map(|key| Arc::new(arrow_field(key)))
            .collect();
        let schema = Arc::new(Schema::new(
            file_schema
                .fields()
                .iter()
                .cloned()
                .chain(partition_fields.iter().cloned())
                .collect::<Vec<_>>(),
        ));
        let table_url = directory_url(&storage.location)?;
        let store_url = table_url.object_store();
        let partitions = if table.is_partitioned() {
            PartitionSource::Held(partition_set(
                &(table.database.clone(), table.name.clone()),
                partitions,
                &partition_fields,
                &store_url,
            )?)
        } else {
            PartitionSource::Held(PartitionSet {
                directories: vec![Directory {
                    values: Vec::new(),
                    url: table_url,
                }],
                values: None,
            })
        };
        let (format, null_text): (Arc<dyn FileFormat>, _) = match storage.format {
            StorageFormat::Csv => {
                let options = CsvOptions::from_storage(storage)?;
                let null_text = options.null_value.clone().filter(|text| !text.is_empty());
                (Arc::new(csv_format(options)), null_text)
            }
            StorageFormat::Parquet | StorageFormat::Json => (file_format(storage)?, None),
        };
        let read_schema = match &null_text {
            Some(_) => Arc::new(Schema::new(
                file_schema
                    .fields()
                    .iter()
                    .map(|f| Field::new(f.name(), DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            )),
            None => file_schema.clone(),
        };
        Ok(Self {
            format,
            reads_parquet: storage.format == StorageFormat::Parquet,
            schema,
            file_schema,
            read_schema,
            null_text,
            partition_fields,
            store_url,
            partitions,
            table_key: (table.database.clone(), table.name.clone()),
            listings,
            statistics: Mutex::default(),
            analyzed: table.statistics.clone(),
        })
    }

    /// Asks `metastore` for the partitions at each scan instead of holding them (for a
    /// partitioned table of a metastore that filters partitions itself).
    pub fn with_partitions_from(mut self, metastore: Arc<dyn Metastore>) -> Self {
        if !self.partition_fields.is_empty() {
            self.partitions = PartitionSource::Metastore {
                metastore,
                unfiltered: tokio::sync::OnceCell::new(),
            };
        }
        self
    }

    /// The partitions a scan with `filters` starts from: those held, or those the
    /// metastore lets through the filters on string keys.
    async fn partitions_for(&self, filters: &[Expr]) -> Result<Cow<'_, PartitionSet>> {
        let (metastore, unfiltered) = match &self.partitions {
            PartitionSource::Held(set) => return Ok(Cow::Borrowed(set)),
            PartitionSource::Metastore {
                metastore,
                unfiltered,
            } => (metastore, unfiltered),
        };
        let filter = partition_filter(filters, &self.partition_fields);
        let (database, name) = &self.table_key;
        let list = || async {
            let listed = metastore
                .list_partitions_by_filter(database, name, &filter)
                .await?;
            partition_set(
                &self.table_key,
                &listed,
                &self.partition_fields,
                &self.store_url,
            )
        };
        if filter.terms.is_empty() {
            return Ok(Cow::Borrowed(unfiltered.get_or_try_init(list).await?));
        }
        Ok(Cow::Owned(list().await?))
    }

    fn partition_names(&self) -> Vec<&str> {
        self.partition_fields
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// The directories of `set` whose partition values pass every filter.
    fn prune(
        &self,
        set: &PartitionSet,
        state: &dyn Session,
        filters: &[Expr],
    ) -> datafusion::common::Result<Vec<usize>> {
        let (Some(batch), Some(filter)) = (&set.values, conjunction(filters.to_vec())) else {
            return Ok((0..set.directories.len()).collect());
        };
        let df_schema = DFSchema::try_from(batch.schema())?;
        let predicate = state.create_physical_expr(filter, &df_schema)?;
        let result = predicate.evaluate(batch)?.into_array(batch.num_rows())?;
        let keep = result
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| {
                Error::internal("a partition filter did not evaluate to booleans").into_datafusion()
            })?;
        Ok((0..keep.len())
            .filter(|&i| keep.is_valid(i) && keep.value(i))
            .collect())
    }

    async fn files(
        &self,
        directory: &Directory,
        store: &Arc<dyn ObjectStore>,
    ) -> datafusion::common::Result<Arc<[ObjectMeta]>> {
        self.listings
            .files(&self.table_key, store, &directory.url)
            .await
            .map_err(Error::into_datafusion)
    }
}

#[async_trait]
impl TableProvider for HiveTableProvider {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        let partition_names = self.partition_names();
        Ok(filters
            .iter()
            .map(|filter| {
                if !partition_names.is_empty() && expr_applicable_for_cols(&partition_names, filter)
                {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let set = self
            .partitions_for(filters)
            .await
            .map_err(Error::into_datafusion)?;
        let keep = self.prune(&set, state, filters)?;
        if !self.partition_fields.is_empty()
            && let Some(progress) = state.config().get_extension::<StatementProgress>()
        {
            progress.partitions_scanned(set.directories.len(), keep.len());
        }
        let store = state.runtime_env().object_store(&self.store_url)?;
        let listed: Vec<(usize, Arc<[ObjectMeta]>)> = futures::stream::iter(keep)
            .map(|index| {
                let (store, set) = (&store, &set);
                async move {
                    let files = self.files(&set.directories[index], store).await?;
                    Ok::<_, datafusion::error::DataFusionError>((index, files))
                }
            })
            .buffered(LISTING_CONCURRENCY)
            .try_collect()
            .await?;
        let mut files: Vec<PartitionedFile> = listed
            .iter()
            .flat_map(|(index, files)| {
                let values = &set.directories[*index].values;
                files.iter().map(move |meta| {
                    PartitionedFile::new_from_meta(meta.clone())
                        .with_partition_values(values.clone())
                })
            })
            .collect();
        if files.is_empty() {
            let schema = project_schema(&self.schema, projection)?;
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let format = self.format_for(state);
        let collect = state.config().collect_statistics() && self.null_text.is_none();
        if collect {
            files = self.with_statistics(state, &store, &format, files).await?;
        }
        files.sort_by_key(|file| std::cmp::Reverse(file.object_meta.size));
        let groups = balanced_groups(files, state.config().target_partitions());
        let (groups, mut statistics) =
            compute_all_files_statistics(groups, self.schema.clone(), collect, false)?;
        if let Some(analyzed) = self.analyzed.as_ref().filter(|a| a.rows.is_some()) {
            let scanned_bytes = groups
                .iter()
                .flat_map(|group| group.iter())
                .map(|file| file.object_meta.size)
                .sum();
            statistics = with_analyzed(analyzed, statistics, scanned_bytes, &self.schema);
        }
        let table_schema = TableSchema::builder(self.read_schema.clone())
            .with_table_partition_cols(self.partition_fields.clone())
            .build();
        let source = format.file_source(table_schema);
        let config = FileScanConfigBuilder::new(self.store_url.clone(), source)
            .with_file_groups(groups)
            .with_statistics(statistics)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        let plan = format.create_physical_plan(state, config).await?;
        match &self.null_text {
            Some(null_text) => self.convert_null_text(state, plan, null_text),
            None => Ok(plan),
        }
    }
}

impl HiveTableProvider {
    /// The reader for this scan: Parquet with the session's Parquet options.
    fn format_for(&self, state: &dyn Session) -> Arc<dyn FileFormat> {
        if self.reads_parquet {
            Arc::new(ParquetFormat::default().with_options(state.default_table_options().parquet))
        } else {
            self.format.clone()
        }
    }

    /// `files` with their statistics: kept ones while a file keeps its size, the others
    /// read (Parquet: from the footer, through the runtime's metadata cache).
    async fn with_statistics(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        format: &Arc<dyn FileFormat>,
        files: Vec<PartitionedFile>,
    ) -> datafusion::common::Result<Vec<PartitionedFile>> {
        let concurrency = state
            .config_options()
            .execution
            .meta_fetch_concurrency
            .get();
        futures::stream::iter(files)
            .map(|file| async move {
                let meta = &file.object_meta;
                let statistics = match self.kept_statistics(meta) {
                    Some(statistics) => statistics,
                    None => {
                        let read = Arc::new(
                            format
                                .infer_stats(state, store, self.file_schema.clone(), meta)
                                .await?,
                        );
                        self.statistics
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(meta.location.clone(), (meta.size, read.clone()));
                        read
                    }
                };
                Ok(file.with_statistics(statistics))
            })
            .buffered(concurrency)
            .try_collect()
            .await
    }

    fn kept_statistics(&self, meta: &ObjectMeta) -> Option<Arc<Statistics>> {
        let kept = self.statistics.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&meta.location)
            .filter(|(size, _)| *size == meta.size)
            .map(|(_, statistics)| statistics.clone())
    }

    /// DataFusion's CSV reader takes only empty fields as NULL, so a table with another
    /// null string reads its data columns as text, and this projection turns that string
    /// into NULL and the rest into the columns' types.
    fn convert_null_text(
        &self,
        state: &dyn Session,
        plan: Arc<dyn ExecutionPlan>,
        null_text: &str,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let scanned = plan.schema();
        let df_schema = DFSchema::try_from(scanned.clone())?;
        let mut expressions = Vec::with_capacity(scanned.fields().len());
        for field in scanned.fields() {
            let column = Expr::Column(datafusion::common::Column::new_unqualified(field.name()));
            let expression = match self.file_schema.field_with_name(field.name()) {
                Ok(target) => when(
                    column.clone().eq(lit(null_text)),
                    lit(ScalarValue::try_from(target.data_type())?),
                )
                .otherwise(cast(column, target.data_type().clone()))?,
                Err(_) => column,
            };
            expressions.push(ProjectionExpr {
                expr: state.create_physical_expr(expression, &df_schema)?,
                alias: field.name().clone(),
            });
        }
        Ok(Arc::new(ProjectionExec::try_new(expressions, plan)?))
    }
}

/// The directories of a partitioned table's `partitions`, with their typed values.
fn partition_set(
    (database, name): &TableKey,
    partitions: &[Partition],
    fields: &[FieldRef],
    store_url: &ObjectStoreUrl,
) -> Result<PartitionSet> {
    let directories = partitions
        .iter()
        .map(|partition| {
            let url = directory_url(&partition.location)?;
            if url.object_store() != *store_url {
                return Err(Error::unsupported(format!(
                    "partition at \"{}\" is in another object store than its table \"{database}.{name}\"",
                    partition.location
                )));
            }
            Ok(Directory {
                values: typed_values(partition, fields)?,
                url,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let values = Some(values_batch(&directories, fields)?);
    Ok(PartitionSet {
        directories,
        values,
    })
}

/// Spreads files (largest first) over at most `count` groups, each to the lightest group.
fn balanced_groups(files: Vec<PartitionedFile>, count: usize) -> Vec<FileGroup> {
    let count = count.clamp(1, files.len().max(1));
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> =
        (0..count).map(|_| (0, Vec::new())).collect();
    for file in files {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(size, _)| *size) {
            lightest.0 += file.object_meta.size;
            lightest.1.push(file);
        }
    }
    groups
        .into_iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(_, files)| FileGroup::new(files))
        .collect()
}

/// A location as a directory URL (with its trailing slash).
pub fn directory_url(location: &str) -> Result<ListingTableUrl> {
    let mut location = location.to_string();
    if !location.ends_with('/') {
        location.push('/');
    }
    ListingTableUrl::parse(&location)
        .map_err(|e| Error::invalid_parameter(format!("invalid location \"{location}\": {e}")))
}

fn typed_values(partition: &Partition, fields: &[FieldRef]) -> Result<Vec<ScalarValue>> {
    partition
        .values
        .iter()
        .zip(fields)
        .map(|(value, field)| match value {
            None => ScalarValue::try_from(field.data_type()).map_err(Error::from),
            Some(text) => {
                ScalarValue::try_from_string(text.clone(), field.data_type()).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidTextRepresentation,
                        format!(
                            "partition value \"{text}\" of \"{}\" is not a valid {}",
                            field.name(),
                            field.data_type()
                        ),
                    )
                })
            }
        })
        .collect()
}

fn values_batch(directories: &[Directory], fields: &[FieldRef]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(fields.to_vec()));
    if directories.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let columns = (0..fields.len())
        .map(|column| {
            ScalarValue::iter_to_array(directories.iter().map(|d| d.values[column].clone()))
        })
        .collect::<datafusion::common::Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The reader for a table's storage, from its format and options.
pub fn file_format(storage: &Storage) -> Result<Arc<dyn FileFormat>> {
    match storage.format {
        StorageFormat::Parquet => Ok(Arc::new(ParquetFormat::default())),
        StorageFormat::Csv => Ok(Arc::new(csv_format(CsvOptions::from_storage(storage)?))),
        StorageFormat::Json => {
            let options = JsonOptions::from_storage(storage)?;
            Ok(match options.multi_line {
                true => Arc::new(JsonArrayFormat::new(options.compression)),
                false => {
                    Arc::new(JsonFormat::default().with_file_compression_type(options.compression))
                }
            })
        }
    }
}

fn csv_format(options: CsvOptions) -> CsvFormat {
    let mut format = CsvFormat::default()
        .with_has_header(options.header)
        .with_delimiter(options.delimiter)
        .with_quote(options.quote)
        .with_escape(options.escape)
        .with_file_compression_type(options.compression);
    if let Some(null_value) = options.null_value {
        format = format.with_null_regex(Some(format!("^{}$", regex_escape(&null_value))));
    }
    format
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
