//! lakeport's catalog model to and from the metastore's Thrift structs (Hive 2.3 field ids),
//! written the way Spark writes a table and read the way Spark and Hive read one.
//!
//! Writing: a table is a Spark data source table (`spark.sql.sources.provider`, its schema
//! as JSON, options as serde parameters with `path`) whose storage descriptor is also what
//! Hive writes for that format (ParquetHiveSerDe with the Mapred Parquet formats, or
//! LazySimpleSerDe over text), so Spark, Hive and Trino all read it. Where Spark and Hive
//! name an option differently (`delimiter` / `field.delim`, `header` /
//! `skip.header.line.count`, `nullValue` / `serialization.null.format`) the missing name is
//! added and remembered in [`SYNONYMS`], so reading gives back exactly the options given.
//!
//! Reading: Spark's schema JSON when there is one (it keeps names' case), else the storage
//! descriptor's columns; the provider, else the serde, says the format; the descriptor's
//! location says where (the metastore moves it when it renames a managed table), else
//! Spark's `path`. Bookkeeping properties of Hive and Spark are not
//! shown as the table's properties.

use std::collections::BTreeMap;

use super::spark;
use super::thrift::Value;
use crate::error::{CatalogError, CatalogErrorKind, CatalogResult};
use crate::model::{
    Column, ColumnStatistics, Comparison, Database, HIVE_DEFAULT_PARTITION, Partition,
    PartitionFilter, Storage, StorageFormat, Table, TableKind, TableStatistics,
};
use crate::types::HiveType;

/// The table property listing option names lakeport added as synonyms (comma-separated).
pub const SYNONYMS: &str = "lakeport.storage.synonyms";
/// The table property holding the users granted SELECT on a table (or, on a database, on
/// all of it), as a JSON array.
pub const GRANTEES: &str = "lakeport.select.grantees";

const PROVIDER: &str = "spark.sql.sources.provider";
const PARTITION_COLUMNS: &str = "spark.sql.sources.schema.numPartCols";
const PARTITION_COLUMN: &str = "spark.sql.sources.schema.partCol.";
const PARTITION_PROVIDER: &str = "spark.sql.partitionProvider";
const SPARK_BYTES: &str = "spark.sql.statistics.totalSize";
const SPARK_ROWS: &str = "spark.sql.statistics.numRows";
/// Spark's column statistics: `spark.sql.statistics.colStats.<column>.<key>`.
const SPARK_COLUMN_STATS: &str = "spark.sql.statistics.colStats.";
/// The version of Spark's column statistics format lakeport writes (min and max as text).
const COLUMN_STATS_VERSION: &str = "2";
const HIVE_BYTES: &str = "totalSize";
const HIVE_ROWS: &str = "numRows";

const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
const PARQUET_INPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const PARQUET_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
const TEXT_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
const TEXT_INPUT: &str = "org.apache.hadoop.mapred.TextInputFormat";
const TEXT_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
/// Hive's own JSON serde (JSONFILE), and HCatalog's older one, both over text files.
const JSON_SERDE: &str = "org.apache.hadoop.hive.serde2.JsonSerDe";
const HCATALOG_JSON_SERDE: &str = "org.apache.hive.hcatalog.data.JsonSerDe";

/// What Spark 2 wrote as the descriptor's location of tables Hive cannot read (the real one
/// is in `path`).
const SPARK_PLACEHOLDER: &str = "__PLACEHOLDER__";

const MANAGED_TABLE: &str = "MANAGED_TABLE";
const EXTERNAL_TABLE: &str = "EXTERNAL_TABLE";
const VIRTUAL_VIEW: &str = "VIRTUAL_VIEW";

/// Table properties Hive and Spark keep for themselves.
const BOOKKEEPING: &[&str] = &[
    "comment",
    "EXTERNAL",
    "transient_lastDdlTime",
    "numFiles",
    "numFilesErasureCoded",
    HIVE_ROWS,
    "rawDataSize",
    HIVE_BYTES,
    "COLUMN_STATS_ACCURATE",
    SYNONYMS,
    GRANTEES,
];

/// Whether a table parameter is Hive's, Spark's or lakeport's bookkeeping rather than a
/// property the user set.
fn is_bookkeeping(key: &str) -> bool {
    BOOKKEEPING.contains(&key) || key.starts_with("spark.sql.")
}

/// Carries into `altered` (a table's parameters as lakeport writes them) the bookkeeping
/// of `current` that lakeport does not write itself (Spark's statistics, Hive's counters,
/// the grants), so that altering a table from lakeport keeps what others keep on it.
pub fn carry_bookkeeping(
    current: &BTreeMap<String, String>,
    altered: &mut BTreeMap<String, String>,
) {
    let written_here = |key: &str| {
        matches!(
            key,
            "comment" | "EXTERNAL" | SYNONYMS | PARTITION_PROVIDER | SPARK_BYTES | SPARK_ROWS
        ) || key.starts_with("spark.sql.sources.")
            || key.starts_with(SPARK_COLUMN_STATS)
    };
    for (key, value) in current {
        if is_bookkeeping(key) && !written_here(key) && !altered.contains_key(key) {
            altered.insert(key.clone(), value.clone());
        }
    }
}

/// A table's statistics as Spark reads them: its own keys first, else Hive's counters when
/// they give a size.
fn statistics_from(parameters: &BTreeMap<String, String>) -> Option<TableStatistics> {
    let number = |key: &str| parameters.get(key)?.trim().parse::<i64>().ok();
    let counted = |key: &str| number(key).and_then(|n| u64::try_from(n).ok());
    if let Some(bytes) = counted(SPARK_BYTES) {
        return Some(TableStatistics {
            bytes,
            rows: counted(SPARK_ROWS),
            columns: column_statistics_from(parameters),
        });
    }
    let bytes = counted(HIVE_BYTES).filter(|bytes| *bytes > 0)?;
    Some(TableStatistics::size(bytes, counted(HIVE_ROWS)))
}

/// Spark's column statistics (format version 2; older ones, whose min and max Spark wrote
/// differently, are skipped).
fn column_statistics_from(
    parameters: &BTreeMap<String, String>,
) -> BTreeMap<String, ColumnStatistics> {
    let mut columns: BTreeMap<String, ColumnStatistics> = BTreeMap::new();
    let stats = parameters.iter().filter_map(|(key, value)| {
        Some((
            key.strip_prefix(SPARK_COLUMN_STATS)?.rsplit_once('.')?,
            value,
        ))
    });
    let current = |column: &str| {
        parameters
            .get(&format!("{SPARK_COLUMN_STATS}{column}.version"))
            .map(String::as_str)
            == Some(COLUMN_STATS_VERSION)
    };
    for ((column, key), value) in stats {
        if !current(column) {
            continue;
        }
        let entry = columns.entry(column.to_string()).or_default();
        let count = || value.trim().parse::<u64>().ok();
        match key {
            "distinctCount" => entry.distinct = count(),
            "nullCount" => entry.nulls = count(),
            "avgLen" => entry.avg_len = count(),
            "maxLen" => entry.max_len = count(),
            "min" => entry.min = Some(value.clone()),
            "max" => entry.max = Some(value.clone()),
            _ => {}
        }
    }
    columns
}

fn statistics_to(statistics: &TableStatistics, parameters: &mut BTreeMap<String, String>) {
    parameters.insert(SPARK_BYTES.into(), statistics.bytes.to_string());
    if let Some(rows) = statistics.rows {
        parameters.insert(SPARK_ROWS.into(), rows.to_string());
    }
    for (column, stats) in &statistics.columns {
        let mut put = |key: &str, value: String| {
            parameters.insert(format!("{SPARK_COLUMN_STATS}{column}.{key}"), value);
        };
        put("version", COLUMN_STATS_VERSION.into());
        let counts = [
            ("distinctCount", stats.distinct),
            ("nullCount", stats.nulls),
            ("avgLen", stats.avg_len),
            ("maxLen", stats.max_len),
        ];
        for (key, count) in counts {
            if let Some(count) = count {
                put(key, count.to_string());
            }
        }
        for (key, bound) in [("min", &stats.min), ("max", &stats.max)] {
            if let Some(bound) = bound {
                put(key, bound.clone());
            }
        }
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

fn non_empty(value: Option<&Value>) -> Option<String> {
    text(value).filter(|s| !s.is_empty())
}

/// A metastore location as lakeport writes locations: Hadoop's `file:/x` is `file:///x`.
pub fn from_hive_location(location: &str) -> String {
    match location.strip_prefix("file:") {
        Some(path) if path.starts_with('/') && !path.starts_with("//") => {
            format!("file://{path}")
        }
        _ => location.to_string(),
    }
}

pub fn database_to_thrift(database: &Database) -> Value {
    let mut fields = vec![
        (1, Value::string(&database.name)),
        (3, Value::string(&database.location)),
        (4, Value::string_map(&database.properties)),
    ];
    if let Some(comment) = &database.comment {
        fields.push((2, Value::string(comment)));
    }
    fields.sort_by_key(|(id, _)| *id);
    Value::Struct(fields)
}

pub fn database_from_thrift(value: &Value) -> Database {
    let mut properties = value.field(4).map(Value::as_string_map).unwrap_or_default();
    properties.remove(GRANTEES);
    Database {
        name: text(value.field(1)).unwrap_or_default(),
        location: from_hive_location(&text(value.field(3)).unwrap_or_default()),
        comment: non_empty(value.field(2)),
        properties,
    }
}

fn column_to_thrift(column: &Column) -> Value {
    let mut fields = vec![
        (1, Value::string(&column.name.to_lowercase())),
        (2, Value::string(&column.data_type.to_string())),
    ];
    if let Some(comment) = &column.comment {
        fields.push((3, Value::string(comment)));
    }
    Value::Struct(fields)
}

fn column_from_thrift(value: &Value) -> CatalogResult<Column> {
    Ok(Column {
        name: text(value.field(1)).unwrap_or_default(),
        data_type: HiveType::parse(value.field(2).and_then(Value::as_str).unwrap_or(""))?,
        comment: non_empty(value.field(3)),
    })
}

fn columns_to_thrift(columns: &[Column]) -> Value {
    Value::structs(columns.iter().map(column_to_thrift).collect())
}

/// A storage descriptor: where, in which format, with which serde parameters.
fn descriptor(
    columns: &[Column],
    location: Option<&str>,
    format: Option<StorageFormat>,
    serde_parameters: &BTreeMap<String, String>,
) -> Value {
    let (serde, input, output) = match format {
        Some(StorageFormat::Parquet) => (PARQUET_SERDE, PARQUET_INPUT, PARQUET_OUTPUT),
        Some(StorageFormat::Csv) | None => (TEXT_SERDE, TEXT_INPUT, TEXT_OUTPUT),
        Some(StorageFormat::Json) => (JSON_SERDE, TEXT_INPUT, TEXT_OUTPUT),
    };
    let mut fields = vec![(1, columns_to_thrift(columns))];
    if let Some(location) = location {
        fields.push((2, Value::string(location)));
    }
    fields.extend([
        (3, Value::string(input)),
        (4, Value::string(output)),
        (5, Value::Bool(false)),
        (6, Value::I32(-1)),
        (
            7,
            Value::Struct(vec![
                (2, Value::string(serde)),
                (3, Value::string_map(serde_parameters)),
            ]),
        ),
        (8, Value::strings([])),
        (9, Value::structs(Vec::new())),
        (10, Value::string_map(&BTreeMap::new())),
    ]);
    Value::Struct(fields)
}

/// Serde parameters being written: the options given, plus the names added for other
/// readers.
struct SerdeParameters {
    map: BTreeMap<String, String>,
    added: Vec<String>,
}

impl SerdeParameters {
    /// The first of `keys` present (case-insensitively), with its value.
    fn get(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|key| {
            self.map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        })
    }

    fn add(&mut self, key: &str, value: &str) {
        if self.get(&[key]).is_none() {
            self.map.insert(key.to_string(), value.to_string());
            self.added.push(key.to_string());
        }
    }
}

/// The serde parameters of a table's storage, with the synonyms added for the other
/// readers, and the names of those synonyms.
fn serde_parameters(storage: &Storage) -> (BTreeMap<String, String>, Vec<String>) {
    let mut parameters = SerdeParameters {
        map: storage.options.clone(),
        added: Vec::new(),
    };
    match storage.format {
        StorageFormat::Parquet => parameters.add("serialization.format", "1"),
        StorageFormat::Csv => {
            let delimiter = parameters
                .get(&["sep", "delimiter", "field.delim"])
                .unwrap_or_else(|| ",".into());
            if parameters.get(&["sep"]).is_none() {
                parameters.add("delimiter", &delimiter);
            }
            parameters.add("field.delim", &delimiter);
            parameters.add("serialization.format", &delimiter);
            let null = parameters
                .get(&["nullValue", "serialization.null.format"])
                .unwrap_or_default();
            parameters.add("nullValue", &null);
            parameters.add("serialization.null.format", &null);
            let header = parameters
                .get(&["header"])
                .is_some_and(|h| h.eq_ignore_ascii_case("true"))
                || parameters.get(&["skip.header.line.count"]).as_deref() == Some("1");
            if header {
                parameters.add("header", "true");
                parameters.add("skip.header.line.count", "1");
            }
        }
        StorageFormat::Json => parameters.add("serialization.format", "1"),
    }
    parameters.add("path", &storage.location);
    (parameters.map, parameters.added)
}

pub fn table_to_thrift(table: &Table) -> Value {
    let mut parameters = table.properties.clone();
    if let Some(comment) = &table.comment {
        parameters.insert("comment".into(), comment.clone());
    }
    if let Some(statistics) = &table.statistics {
        statistics_to(statistics, &mut parameters);
    }
    let table_type = match table.kind {
        TableKind::Managed => MANAGED_TABLE,
        TableKind::External => {
            parameters.insert("EXTERNAL".into(), "TRUE".into());
            EXTERNAL_TABLE
        }
        TableKind::View => VIRTUAL_VIEW,
    };
    let sd = match &table.storage {
        Some(storage) => {
            let (serde, added) = serde_parameters(storage);
            if !added.is_empty() {
                parameters.insert(SYNONYMS.into(), added.join(","));
            }
            parameters.insert(PROVIDER.into(), storage.format.name().into());
            parameters.insert(
                spark::SCHEMA.into(),
                spark::json_from_columns(table.columns.iter().chain(&table.partition_keys)),
            );
            if table.is_partitioned() {
                parameters.insert(PARTITION_PROVIDER.into(), "catalog".into());
                parameters.insert(
                    PARTITION_COLUMNS.into(),
                    table.partition_keys.len().to_string(),
                );
                for (i, key) in table.partition_keys.iter().enumerate() {
                    parameters.insert(format!("{PARTITION_COLUMN}{i}"), key.name.clone());
                }
            }
            descriptor(
                &table.columns,
                Some(&storage.location),
                Some(storage.format),
                &serde,
            )
        }
        None => descriptor(&table.columns, None, None, &BTreeMap::new()),
    };
    let mut fields = vec![
        (1, Value::string(&table.name)),
        (2, Value::string(&table.database)),
    ];
    if let Some(owner) = &table.owner {
        fields.push((3, Value::string(owner)));
    }
    fields.extend([
        (4, Value::I32(epoch_seconds(table.create_time))),
        (5, Value::I32(0)),
        (6, Value::I32(0)),
        (7, sd),
        (8, columns_to_thrift(&table.partition_keys)),
        (9, Value::string_map(&parameters)),
    ]);
    if let Some(sql) = &table.view_text {
        fields.push((10, Value::string(sql)));
        fields.push((11, Value::string(sql)));
    }
    fields.push((12, Value::string(table_type)));
    Value::Struct(fields)
}

fn epoch_seconds(seconds: i64) -> i32 {
    i32::try_from(seconds).unwrap_or(if seconds < 0 { 0 } else { i32::MAX })
}

/// The format a table's provider names, or (without one) its serde and input format.
fn storage_format(
    provider: Option<&str>,
    serde: &str,
    input: &str,
    name: &str,
) -> CatalogResult<StorageFormat> {
    let unsupported = |what: &str| {
        CatalogError::new(
            CatalogErrorKind::Unsupported,
            format!("table \"{name}\" is stored as {what}, which lakeport does not read"),
        )
    };
    match provider.map(str::to_ascii_lowercase).as_deref() {
        None | Some("hive") => {
            if serde.contains("Parquet") || input.contains("Parquet") {
                Ok(StorageFormat::Parquet)
            } else if serde == TEXT_SERDE && input == TEXT_INPUT {
                Ok(StorageFormat::Csv)
            } else if (serde == JSON_SERDE || serde == HCATALOG_JSON_SERDE) && input == TEXT_INPUT {
                Ok(StorageFormat::Json)
            } else {
                Err(unsupported(serde))
            }
        }
        Some(p)
            if p == "parquet" || p.ends_with(".parquet") || p.ends_with("parquetfileformat") =>
        {
            Ok(StorageFormat::Parquet)
        }
        Some(p) if p == "csv" || p.ends_with(".csv") || p.ends_with("csvfileformat") => {
            Ok(StorageFormat::Csv)
        }
        Some(p) if p == "json" || p.ends_with(".json") || p.ends_with("jsonfileformat") => {
            Ok(StorageFormat::Json)
        }
        Some(other) => Err(unsupported(other)),
    }
}

/// A Hive text table's serde parameters as CSV options: its delimiter (`field.delim`, else
/// `serialization.format`, a character or its code, else Ctrl-A), NULL as `\N`, no quote
/// character (NUL stands for none), and the header line count from the table's properties.
fn hive_text_options(
    options: &mut BTreeMap<String, String>,
    serialization_format: Option<String>,
    table_properties: &BTreeMap<String, String>,
) {
    if !options.contains_key("field.delim") {
        let delimiter = match serialization_format {
            Some(format) => match format.parse::<u8>() {
                Ok(code) => char::from(code).to_string(),
                Err(_) if !format.is_empty() => format,
                Err(_) => "\u{1}".to_string(),
            },
            None => "\u{1}".to_string(),
        };
        options.insert("field.delim".into(), delimiter);
    }
    options
        .entry("serialization.null.format".into())
        .or_insert_with(|| "\\N".into());
    options
        .entry("quote".into())
        .or_insert_with(|| "\u{0}".into());
    if let Some(count) = table_properties.get("skip.header.line.count") {
        options
            .entry("skip.header.line.count".into())
            .or_insert_with(|| count.clone());
    }
}

/// Splits Spark's schema into data columns and partition keys (named in `keys`).
fn split_partition_keys(columns: Vec<Column>, keys: &[String]) -> (Vec<Column>, Vec<Column>) {
    let (mut partition, data): (Vec<Column>, Vec<Column>) = columns
        .into_iter()
        .partition(|c| keys.iter().any(|k| k.eq_ignore_ascii_case(&c.name)));
    partition.sort_by_key(|c| {
        keys.iter()
            .position(|k| k.eq_ignore_ascii_case(&c.name))
            .unwrap_or(usize::MAX)
    });
    (data, partition)
}

pub fn table_from_thrift(value: &Value) -> CatalogResult<Table> {
    let database = text(value.field(2)).unwrap_or_default();
    let name = text(value.field(1)).unwrap_or_default();
    let qualified = format!("{database}.{name}");
    let empty = Value::Struct(Vec::new());
    let sd = value.field(7).unwrap_or(&empty);
    let serde = sd.field(7).unwrap_or(&empty);
    let mut parameters = value.field(9).map(Value::as_string_map).unwrap_or_default();
    let table_type = text(value.field(12)).unwrap_or_default();
    let kind = if table_type == VIRTUAL_VIEW {
        TableKind::View
    } else if table_type == EXTERNAL_TABLE
        || parameters
            .get("EXTERNAL")
            .is_some_and(|e| e.eq_ignore_ascii_case("true"))
    {
        TableKind::External
    } else {
        TableKind::Managed
    };

    let hive_keys = value
        .field(8)
        .map(Value::elements)
        .unwrap_or_default()
        .iter()
        .map(column_from_thrift)
        .collect::<CatalogResult<Vec<_>>>()?;
    let (columns, partition_keys) = match spark::schema_json(&parameters) {
        Some(json) => {
            let keys: Vec<String> = hive_keys.iter().map(|k| k.name.clone()).collect();
            split_partition_keys(spark::columns_from_json(&json)?, &keys)
        }
        None => (
            sd.field(1)
                .map(Value::elements)
                .unwrap_or_default()
                .iter()
                .map(column_from_thrift)
                .collect::<CatalogResult<Vec<_>>>()?,
            hive_keys,
        ),
    };

    let storage = if kind == TableKind::View {
        None
    } else {
        let mut options = serde.field(3).map(Value::as_string_map).unwrap_or_default();
        let provider = parameters.get(PROVIDER).cloned();
        let format = storage_format(
            provider.as_deref(),
            serde.field(2).and_then(Value::as_str).unwrap_or(""),
            sd.field(3).and_then(Value::as_str).unwrap_or(""),
            &qualified,
        )?;
        let path = options.remove("path");
        let location = non_empty(sd.field(2))
            .filter(|l| !l.contains(SPARK_PLACEHOLDER))
            .or(path)
            .unwrap_or_default();
        let serialization_format = options.remove("serialization.format");
        if let Some(added) = parameters.get(SYNONYMS) {
            for key in added.split(',') {
                options.remove(key);
            }
        }
        if provider.is_none() && format == StorageFormat::Csv {
            hive_text_options(&mut options, serialization_format, &parameters);
        }
        Some(Storage {
            location: from_hive_location(&location),
            format,
            options,
        })
    };

    let comment = parameters.remove("comment");
    let statistics = statistics_from(&parameters);
    parameters.retain(|key, _| !is_bookkeeping(key));
    let view_text = (kind == TableKind::View)
        .then(|| non_empty(value.field(10)).or_else(|| non_empty(value.field(11))))
        .flatten();
    Ok(Table {
        database,
        name,
        kind,
        columns,
        partition_keys,
        storage,
        view_text,
        comment,
        properties: parameters,
        owner: non_empty(value.field(3)),
        create_time: value.field(4).and_then(Value::as_i32).unwrap_or(0).into(),
        statistics,
    })
}

/// The grantees recorded in an object's parameters.
pub fn grantees(parameters: &BTreeMap<String, String>) -> Vec<String> {
    parameters
        .get(GRANTEES)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

pub fn partition_to_thrift(table: &Table, partition: &Partition) -> Value {
    let values = partition
        .values
        .iter()
        .map(|v| v.as_deref().unwrap_or(HIVE_DEFAULT_PARTITION));
    let (format, serde) = match &table.storage {
        Some(storage) => (Some(storage.format), serde_parameters(storage).0),
        None => (None, BTreeMap::new()),
    };
    Value::Struct(vec![
        (1, Value::strings(values)),
        (2, Value::string(&table.database)),
        (3, Value::string(&table.name)),
        (4, Value::I32(epoch_seconds(partition.create_time))),
        (5, Value::I32(0)),
        (
            6,
            descriptor(&table.columns, Some(&partition.location), format, &serde),
        ),
        (7, Value::string_map(&BTreeMap::new())),
    ])
}

pub fn partition_from_thrift(value: &Value) -> Partition {
    let values = value
        .field(1)
        .map(Value::elements)
        .unwrap_or_default()
        .iter()
        .map(|v| {
            v.as_str()
                .filter(|v| *v != HIVE_DEFAULT_PARTITION)
                .map(str::to_string)
        })
        .collect();
    let location = value
        .field(6)
        .and_then(|sd| text(sd.field(2)))
        .unwrap_or_default();
    Partition {
        values,
        location: from_hive_location(&location),
        create_time: value.field(4).and_then(Value::as_i32).unwrap_or(0).into(),
    }
}

/// `filter` in the metastore's filter language (`region = "eu" and (day = "1" or day =
/// "2")`); `None` when it has no terms. Terms whose key or values the language cannot
/// quote are left out: the filter may only let more partitions through.
pub fn filter_expression(filter: &PartitionFilter) -> Option<String> {
    let quotable = |text: &str| !text.contains(['"', '\\']);
    let plain_key =
        |key: &str| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let terms: Vec<String> = filter
        .terms
        .iter()
        .filter(|t| {
            plain_key(&t.key) && !t.values.is_empty() && t.values.iter().all(|v| quotable(v))
        })
        .map(|term| {
            let compare =
                |operator: &str, value: &str| format!("{} {operator} \"{value}\"", term.key);
            let first = &term.values[0];
            match term.comparison {
                Comparison::Eq => compare("=", first),
                Comparison::NotEq => compare("<>", first),
                Comparison::Lt => compare("<", first),
                Comparison::LtEq => compare("<=", first),
                Comparison::Gt => compare(">", first),
                Comparison::GtEq => compare(">=", first),
                Comparison::In => format!(
                    "({})",
                    term.values
                        .iter()
                        .map(|v| compare("=", v))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    #[test]
    fn filters_are_written_in_the_metastore_language() {
        use crate::model::PartitionTerm;
        let term = |key: &str, comparison, values: &[&str]| PartitionTerm {
            key: key.into(),
            comparison,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let filter = PartitionFilter {
            terms: vec![
                term("region", Comparison::Eq, &["eu"]),
                term("day", Comparison::In, &["1", "2"]),
                term("tag", Comparison::GtEq, &["say \"hi\""]),
                term("odd name", Comparison::Eq, &["x"]),
            ],
        };
        assert_eq!(
            filter_expression(&filter).as_deref(),
            Some("region = \"eu\" and (day = \"1\" or day = \"2\")")
        );
        assert_eq!(filter_expression(&PartitionFilter::default()), None);
    }

    #[test]
    fn hadoop_local_paths_become_file_urls() {
        assert_eq!(from_hive_location("file:/tmp/w/x.db"), "file:///tmp/w/x.db");
        assert_eq!(from_hive_location("file:///tmp/w"), "file:///tmp/w");
        assert_eq!(from_hive_location("s3a://bucket/t"), "s3a://bucket/t");
    }

    #[test]
    fn tables_round_trip_and_carry_what_spark_and_hive_read() {
        let mut table = contract::table("sales", "orders", &["year", "region"]);
        table.columns[0].name = "orderId".into();
        let thrift = table_to_thrift(&table);
        assert_eq!(table_from_thrift(&thrift).unwrap(), table);

        let parameters = thrift.field(9).unwrap().as_string_map();
        assert_eq!(parameters[PROVIDER], "csv");
        assert_eq!(parameters["EXTERNAL"], "TRUE");
        assert_eq!(parameters[PARTITION_COLUMNS], "2");
        let serde = thrift.field(7).unwrap().field(7).unwrap();
        let serde_parameters = serde.field(3).unwrap().as_string_map();
        assert_eq!(serde_parameters["field.delim"], "|");
        assert_eq!(serde_parameters["delimiter"], "|", "Spark's name too");
        assert_eq!(serde_parameters["skip.header.line.count"], "1");
        assert_eq!(
            serde_parameters["path"],
            "file:///warehouse/lake/sales/orders"
        );
        assert_eq!(serde.field(2).unwrap().as_str(), Some(TEXT_SERDE));
    }

    #[test]
    fn statistics_are_read_as_spark_reads_them() {
        let parameters = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let spark_and_hive = parameters(&[
            (SPARK_BYTES, "100"),
            (SPARK_ROWS, "7"),
            (HIVE_BYTES, "999"),
            (HIVE_ROWS, "999"),
        ]);
        assert_eq!(
            statistics_from(&spark_and_hive),
            Some(TableStatistics::size(100, Some(7))),
            "Spark's keys win"
        );
        let hive = parameters(&[(HIVE_BYTES, "300"), (HIVE_ROWS, "-1")]);
        assert_eq!(
            statistics_from(&hive),
            Some(TableStatistics::size(300, None)),
            "Hive's -1 is an unknown count"
        );
        assert_eq!(statistics_from(&parameters(&[(HIVE_BYTES, "0")])), None);

        let mut current = spark_and_hive.clone();
        current.insert("spark.sql.create.version".into(), "4.0.0".into());
        current.insert(
            "spark.sql.statistics.colStats.id.nullCount".into(),
            "0".into(),
        );
        let mut altered = BTreeMap::new();
        carry_bookkeeping(&current, &mut altered);
        assert!(!altered.contains_key(SPARK_ROWS), "lakeport writes its own");
        assert!(
            !altered.contains_key("spark.sql.statistics.colStats.id.nullCount"),
            "and the column statistics it read"
        );
        assert_eq!(altered[HIVE_ROWS], "999");
        assert_eq!(altered["spark.sql.create.version"], "4.0.0");
    }

    #[test]
    fn column_statistics_round_trip_through_sparks_keys() {
        let mut statistics = TableStatistics::size(100, Some(7));
        statistics.columns.insert(
            "day.of".into(),
            ColumnStatistics {
                distinct: Some(3),
                nulls: Some(1),
                min: Some("2024-01-01".into()),
                max: Some("2024-02-01".into()),
                avg_len: Some(4),
                max_len: Some(4),
            },
        );
        let mut parameters = BTreeMap::new();
        statistics_to(&statistics, &mut parameters);
        assert_eq!(
            parameters["spark.sql.statistics.colStats.day.of.min"],
            "2024-01-01"
        );
        assert_eq!(
            parameters["spark.sql.statistics.colStats.day.of.version"],
            "2"
        );
        assert_eq!(statistics_from(&parameters), Some(statistics));
        parameters.insert(
            "spark.sql.statistics.colStats.day.of.version".into(),
            "1".into(),
        );
        assert!(
            statistics_from(&parameters).is_some_and(|s| s.columns.is_empty()),
            "an older format is skipped"
        );
    }

    #[test]
    fn hive_text_tables_keep_hive_defaults() {
        let mut table = contract::table("sales", "raw", &[]);
        table.storage.as_mut().unwrap().options = BTreeMap::new();
        let mut thrift = table_to_thrift(&table);
        // As Hive writes `ROW FORMAT DELIMITED` without a delimiter: no provider, no options.
        thrift.set_field(
            9,
            Value::string_map(&BTreeMap::from([(
                "skip.header.line.count".to_string(),
                "1".to_string(),
            )])),
        );
        thrift.set_field(
            7,
            descriptor(
                &table.columns,
                Some("file:/lake/raw"),
                None,
                &BTreeMap::new(),
            ),
        );
        let read = table_from_thrift(&thrift).unwrap();
        let storage = read.storage.unwrap();
        assert_eq!(storage.location, "file:///lake/raw");
        assert_eq!(storage.options["field.delim"], "\u{1}");
        assert_eq!(storage.options["serialization.null.format"], "\\N");
        assert_eq!(
            storage.options["quote"], "\u{0}",
            "Hive text has no quoting"
        );
        assert_eq!(storage.options["skip.header.line.count"], "1");
    }

    #[test]
    fn json_tables_are_json_to_spark_and_to_hive() {
        let mut table = contract::table("sales", "events", &[]);
        let storage = table.storage.as_mut().unwrap();
        storage.format = StorageFormat::Json;
        storage.options = BTreeMap::from([("compression".into(), "gzip".into())]);
        let mut thrift = table_to_thrift(&table);
        assert_eq!(table_from_thrift(&thrift).unwrap(), table);
        assert_eq!(thrift.field(9).unwrap().as_string_map()[PROVIDER], "json");
        let sd = thrift.field(7).unwrap();
        assert_eq!(
            sd.field(7).unwrap().field(2).unwrap().as_str(),
            Some(JSON_SERDE)
        );
        assert_eq!(sd.field(3).unwrap().as_str(), Some(TEXT_INPUT));

        for serde in [JSON_SERDE, HCATALOG_JSON_SERDE] {
            // As Hive writes `STORED AS JSONFILE` or `ROW FORMAT SERDE '…JsonSerDe'`.
            thrift.set_field(9, Value::string_map(&BTreeMap::new()));
            let mut sd = descriptor(
                &table.columns,
                Some("file:/lake/events"),
                None,
                &BTreeMap::new(),
            );
            sd.set_field(
                7,
                Value::Struct(vec![
                    (2, Value::string(serde)),
                    (3, Value::string_map(&BTreeMap::new())),
                ]),
            );
            thrift.set_field(7, sd);
            let read = table_from_thrift(&thrift).unwrap().storage.unwrap();
            assert_eq!(read.format, StorageFormat::Json, "{serde}");
            assert!(read.options.is_empty(), "{:?}", read.options);
        }
    }
}
