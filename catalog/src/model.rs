//! The Hive metastore model: databases, tables (and views, which Hive stores as tables),
//! their storage, and partitions. Plain data: what a backend stores and returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::HiveType;

/// The value Hive writes for a NULL partition value, as a directory name and in the
/// metastore.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Hive's `default` database, which always exists.
pub const DEFAULT_DATABASE: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Lower case, as Hive stores names.
    pub name: String,
    /// Where managed tables of the database are created (a URL or a local path).
    pub location: String,
    pub comment: Option<String>,
    pub properties: BTreeMap<String, String>,
}

/// A SELECT grant: `grantee` may read every table and view of `database`, or only `table`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: String,
    /// Lower case.
    pub database: String,
    /// Lower case; `None`: the whole database.
    pub table: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data_type: HiveType,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// lakeport owns the files: DROP TABLE deletes them.
    Managed,
    /// The files belong to someone else: DROP TABLE forgets the table only.
    External,
    /// A persistent view: `view_text` holds its SQL, there is no storage.
    View,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageFormat {
    Parquet,
    /// Delimited text (Hive's TEXTFILE, Spark's `USING csv`).
    Csv,
    /// JSON Lines: one object per line (Spark's `USING json`, Hive's JSONFILE).
    Json,
}

impl StorageFormat {
    pub const ALL: [StorageFormat; 3] = [
        StorageFormat::Parquet,
        StorageFormat::Csv,
        StorageFormat::Json,
    ];

    /// The format Spark names `name` (case-insensitively), as in ``parquet.`path` ``.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(name))
    }

    /// Spark's name of the format (`USING parquet`), also the files' extension.
    pub fn name(self) -> &'static str {
        match self {
            StorageFormat::Parquet => "parquet",
            StorageFormat::Csv => "csv",
            StorageFormat::Json => "json",
        }
    }
}

/// Where and how a table's files are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    pub location: String,
    pub format: StorageFormat,
    /// Format options and Hive serde properties as given: `header`, `delimiter`,
    /// `quote`, `escape`, `nullValue`, `compression`, `field.delim`,
    /// `skip.header.line.count`, ... Interpreting them is the reader's job.
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Lower case, as Hive stores names.
    pub database: String,
    pub name: String,
    pub kind: TableKind,
    /// The data columns, without the partition keys.
    pub columns: Vec<Column>,
    /// Partition keys in directory order (`year=2024/month=01`).
    pub partition_keys: Vec<Column>,
    /// `None` for views.
    pub storage: Option<Storage>,
    /// The SQL of a view; `None` for tables.
    pub view_text: Option<String>,
    pub comment: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub owner: Option<String>,
    /// Seconds since the Unix epoch.
    pub create_time: i64,
    /// What `ANALYZE TABLE` (lakeport's, Spark's or Hive's) last measured; `None` when never
    /// analyzed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<TableStatistics>,
}

/// A table's size as last analyzed, as Spark keeps it: the bytes of its files always, the
/// rows only when they were counted (`NOSCAN` measures the bytes alone), and the columns
/// analyzed `FOR COLUMNS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStatistics {
    pub bytes: u64,
    pub rows: Option<u64>,
    /// By column name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, ColumnStatistics>,
}

impl TableStatistics {
    /// The size alone, no column analyzed.
    pub fn size(bytes: u64, rows: Option<u64>) -> Self {
        Self {
            bytes,
            rows,
            columns: BTreeMap::new(),
        }
    }
}

/// A column's statistics as Spark keeps them: the smallest and largest values in Spark's
/// text form (numbers, `yyyy-MM-dd` dates, `yyyy-MM-dd HH:mm:ss.SSSSSS` UTC timestamps; none
/// for text and binary), the average and largest lengths in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnStatistics {
    pub distinct: Option<u64>,
    pub nulls: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub avg_len: Option<u64>,
    pub max_len: Option<u64>,
}

impl Table {
    pub fn is_view(&self) -> bool {
        self.kind == TableKind::View
    }

    pub fn is_partitioned(&self) -> bool {
        !self.partition_keys.is_empty()
    }
}

/// One partition of a partitioned table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// One value per partition key, in key order, as Hive stores them (text; `None` is
    /// NULL, written [`HIVE_DEFAULT_PARTITION`] on disk). The key's [`HiveType`] gives
    /// the value its type.
    pub values: Vec<Option<String>>,
    pub location: String,
    /// Seconds since the Unix epoch.
    pub create_time: i64,
}

impl Partition {
    /// The partition's directory name under the table: `year=2024/month=01`.
    pub fn relative_path(&self, keys: &[Column]) -> String {
        keys.iter()
            .zip(&self.values)
            .map(|(key, value)| {
                let value = value.as_deref().unwrap_or(HIVE_DEFAULT_PARTITION);
                format!("{}={}", key.name, escape_path_value(value))
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A condition on partition values that a metastore can evaluate while listing: every
/// term must hold. Terms compare a partition key's stored text with constants, so they are
/// only made for keys whose values compare as text (string keys); a partition whose value
/// is NULL may or may not pass, and the caller decides about those itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionFilter {
    pub terms: Vec<PartitionTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTerm {
    /// The partition key, lower case.
    pub key: String,
    pub comparison: Comparison,
    /// One value, or several for [`Comparison::In`].
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    In,
}

impl PartitionFilter {
    /// Whether a partition of a table with `keys` passes (NULL values pass every term: the
    /// caller prunes them).
    pub fn matches(&self, keys: &[Column], partition: &Partition) -> bool {
        self.terms.iter().all(|term| {
            let Some(position) = keys
                .iter()
                .position(|k| k.name.eq_ignore_ascii_case(&term.key))
            else {
                return true;
            };
            let Some(Some(value)) = partition.values.get(position) else {
                return true;
            };
            let value = value.as_str();
            let first = term.values.first().map(String::as_str).unwrap_or_default();
            match term.comparison {
                Comparison::Eq => value == first,
                Comparison::NotEq => value != first,
                Comparison::Lt => value < first,
                Comparison::LtEq => value <= first,
                Comparison::Gt => value > first,
                Comparison::GtEq => value >= first,
                Comparison::In => term.values.iter().any(|v| v == value),
            }
        })
    }
}

/// Hive's escaping of partition values in directory names: `%XX` for characters that
/// cannot appear in a path segment.
pub fn escape_path_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control()
            || matches!(
                c,
                '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '{' | '[' | ']' | '^'
            )
        {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                escaped.push_str(&format!("%{byte:02X}"));
            }
        } else {
            escaped.push(c);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paths_follow_hive() {
        let key = |name: &str| Column {
            name: name.into(),
            data_type: HiveType::String,
            comment: None,
        };
        let partition = Partition {
            values: vec![Some("2024".into()), Some("a/b=c".into()), None],
            location: String::new(),
            create_time: 0,
        };
        assert_eq!(
            partition.relative_path(&[key("year"), key("tag"), key("region")]),
            "year=2024/tag=a%2Fb%3Dc/region=__HIVE_DEFAULT_PARTITION__"
        );
    }
}
