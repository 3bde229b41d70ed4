//! Tables of JSON documents spanning several lines (Spark's `multiLine` option): each file
//! holds one JSON array of objects, one row per object, laid out as the writer pleased.
//! DataFusion's JSON reader reads such arrays, but only whole: a file cannot be split into
//! byte ranges the way JSON Lines are split to scan one large file in parallel, and its
//! column inference reads one object per line. This format is DataFusion's JSON format in
//! array mode whose scans never split a file, and whose columns are inferred from the first
//! objects of each file's array, whatever their layout. Each file is read whole into memory
//! to infer its columns, as Spark reads a multiLine file whole.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Buf;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::reader::infer_json_schema_from_iterator;
use datafusion::catalog::Session;
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, Statistics};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExprs;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion_datasource::PartitionedFile;
use datafusion_datasource::TableSchema;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use serde::Deserializer;
use serde::de::{Error as _, SeqAccess, Visitor};
use serde_json::Value;

/// DataFusion's JSON format reading whole files of JSON arrays.
#[derive(Debug)]
pub struct JsonArrayFormat {
    inner: JsonFormat,
}

impl JsonArrayFormat {
    pub fn new(compression: FileCompressionType) -> Self {
        Self {
            inner: JsonFormat::default()
                .with_file_compression_type(compression)
                .with_newline_delimited(false),
        }
    }
}

#[async_trait]
impl FileFormat for JsonArrayFormat {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> Result<String> {
        self.inner.get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.inner.compression_type()
    }

    async fn infer_schema(
        &self,
        _state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        let compression = self
            .compression_type()
            .unwrap_or(FileCompressionType::UNCOMPRESSED);
        let mut objects_read = Vec::new();
        for object in objects {
            let bytes = store.get(&object.location).await?.bytes().await?;
            let reader = compression.convert_read(bytes.reader())?;
            objects_read.extend(leading_objects(reader, INFERENCE_RECORDS)?);
        }
        let schema = infer_json_schema_from_iterator(objects_read.into_iter().map(Ok))?;
        Ok(Arc::new(schema))
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        self.inner
            .infer_stats(state, store, table_schema, object)
            .await
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.create_physical_plan(state, conf).await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(WholeFiles(self.inner.file_source(table_schema)))
    }
}

/// How many objects of a file its columns are inferred from.
const INFERENCE_RECORDS: usize = 1000;

/// The first `limit` elements of the JSON array `reader` holds, however it is laid out. The
/// rest of the file is not parsed.
fn leading_objects(reader: impl Read, limit: usize) -> Result<Vec<Value>> {
    let mut leading = Leading {
        limit,
        values: Vec::new(),
        stopped: false,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    match deserializer.deserialize_seq(&mut leading) {
        Err(_) if leading.stopped => Ok(leading.values),
        Ok(()) => Ok(leading.values),
        Err(error) => Err(DataFusionError::Execution(format!(
            "a multiLine JSON file holds one JSON array of objects: {error}"
        ))),
    }
}

/// Collects an array's elements up to a limit, then stops the parse.
struct Leading {
    limit: usize,
    values: Vec<Value>,
    stopped: bool,
}

impl<'de> Visitor<'de> for &mut Leading {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> std::result::Result<(), A::Error> {
        while let Some(value) = items.next_element::<Value>()? {
            self.values.push(value);
            if self.values.len() >= self.limit {
                self.stopped = true;
                return Err(A::Error::custom("enough elements read"));
            }
        }
        Ok(())
    }
}

/// A file source that reads each file whole: what the JSON source in array mode needs.
struct WholeFiles(Arc<dyn FileSource>);

impl WholeFiles {
    fn wrap(source: Arc<dyn FileSource>) -> Arc<dyn FileSource> {
        Arc::new(WholeFiles(source))
    }
}

impl FileSource for WholeFiles {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let inner = self
            .0
            .create_file_opener(Arc::clone(&object_store), base_config, partition)?;
        Ok(Arc::new(ArrayFilesOpener {
            inner,
            store: object_store,
            compression: base_config.file_compression_type,
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        self.0.table_schema()
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        Self::wrap(self.0.with_batch_size(batch_size))
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        self.0.projection()
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        Ok(self.0.try_pushdown_projection(projection)?.map(Self::wrap))
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        self.0.metrics()
    }

    fn file_type(&self) -> &str {
        self.0.file_type()
    }

    fn supports_repartitioning(&self) -> bool {
        false
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.0.apply_expressions(f)
    }

    fn fmt_extra(
        &self,
        t: datafusion::physical_plan::DisplayFormatType,
        f: &mut fmt::Formatter,
    ) -> fmt::Result {
        self.0.fmt_extra(t, f)?;
        write!(f, ", whole files")
    }
}

/// Opens a file after checking that it holds an array: DataFusion's reader in array mode
/// reads anything else as no rows at all.
struct ArrayFilesOpener {
    inner: Arc<dyn FileOpener>,
    store: Arc<dyn ObjectStore>,
    compression: FileCompressionType,
}

/// How much of a file is read to see how it starts.
const HEAD_BYTES: u64 = 4096;

impl FileOpener for ArrayFilesOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let inner = Arc::clone(&self.inner);
        let store = Arc::clone(&self.store);
        let compression = self.compression;
        Ok(Box::pin(async move {
            let location = file.object_meta.location.clone();
            let head_end = file.object_meta.size.min(HEAD_BYTES);
            let head = match head_end {
                0 => bytes::Bytes::new(),
                _ => store.get_range(&location, 0..head_end).await?,
            };
            if let Some(first) = first_character(head, compression)
                && first != b'['
            {
                return Err(DataFusionError::Execution(format!(
                    "a multiLine JSON file holds one JSON array of objects, but {location} \
                     starts with '{}'",
                    char::from(first)
                )));
            }
            inner.open(file)?.await
        }))
    }
}

/// The first character of a file, from its first bytes (decompressed as far as they go);
/// None when they do not tell.
fn first_character(head: bytes::Bytes, compression: FileCompressionType) -> Option<u8> {
    let mut reader = compression.convert_read(head.reader()).ok()?;
    let mut text = [0u8; 256];
    let read = reader.read(&mut text).ok()?;
    let text = text[..read]
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&text[..read]);
    text.iter().copied().find(|b| !b.is_ascii_whitespace())
}

impl fmt::Debug for WholeFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WholeFiles")
            .field(&self.0.file_type())
            .finish()
    }
}
