//! Catalog statements as parsed: Spark SQL / HiveQL syntax, names already folded
//! (unquoted to lower case) and nothing yet resolved against the catalog.

use std::collections::BTreeMap;

use lakeport_catalog::{HiveType, StorageFormat};

/// `name`, `db.name` or `lakeport.db.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName(pub Vec<String>);

impl ObjectName {
    pub fn name(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or("")
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDefinition {
    pub name: String,
    pub data_type: HiveType,
    pub comment: Option<String>,
}

/// A partition key as declared: Spark's `USING` tables may give names only, taking the
/// type from the column list (or from the directories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKeyDefinition {
    pub name: String,
    pub data_type: Option<HiveType>,
    pub comment: Option<String>,
}

/// `(key = value, ...)`; a key without a value is a dynamic partition column.
pub type PartitionSpec = Vec<(String, Option<PartitionValue>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionValue {
    Text(String),
    Null,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTable {
    pub name: ObjectName,
    pub or_replace: bool,
    pub external: bool,
    pub if_not_exists: bool,
    pub columns: Option<Vec<ColumnDefinition>>,
    /// `LIKE source`: the table whose columns, partitioning and format are copied.
    pub like: Option<ObjectName>,
    pub format: Option<StorageFormat>,
    /// `OPTIONS`, `ROW FORMAT` and `SERDEPROPERTIES`, as storage options.
    pub options: BTreeMap<String, String>,
    pub partitioned_by: Vec<PartitionKeyDefinition>,
    pub location: Option<String>,
    pub comment: Option<String>,
    pub properties: BTreeMap<String, String>,
    /// `AS query`: the query's text, in PostgreSQL syntax.
    pub query: Option<String>,
}

/// `INSERT INTO|OVERWRITE [TABLE] t [PARTITION (...)] [(columns) | BY NAME] query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    pub name: ObjectName,
    pub overwrite: bool,
    pub partition: Option<PartitionSpec>,
    /// The target columns named, if any (PostgreSQL's column list).
    pub columns: Vec<String>,
    /// `BY NAME`: the query's columns go to the table's columns of the same names.
    pub by_name: bool,
    /// The query's text, in PostgreSQL syntax (`SELECT ...`, `VALUES ...`).
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewKind {
    Persistent,
    /// This connection's only.
    Temporary,
    /// The server's, in schema `global_temp`.
    GlobalTemporary,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewBody {
    Query(String),
    /// `USING format OPTIONS (path '...')`: a temporary view over files.
    Files {
        format: StorageFormat,
        options: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateView {
    pub name: ObjectName,
    pub kind: ViewKind,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub columns: Vec<(String, Option<String>)>,
    pub comment: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub body: ViewBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterTable {
    AddPartitions {
        if_not_exists: bool,
        partitions: Vec<(PartitionSpec, Option<String>)>,
    },
    DropPartitions {
        if_exists: bool,
        partitions: Vec<PartitionSpec>,
    },
    RenameTo(ObjectName),
    SetProperties(BTreeMap<String, String>),
    UnsetProperties {
        if_exists: bool,
        keys: Vec<String>,
    },
    SetLocation(String),
    AddColumns(Vec<ColumnDefinition>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogStatement {
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        comment: Option<String>,
        location: Option<String>,
        properties: BTreeMap<String, String>,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    Use(String),
    ShowDatabases {
        pattern: Option<String>,
    },
    DescribeDatabase {
        name: String,
        extended: bool,
    },
    CreateTable(Box<CreateTable>),
    Insert(Box<Insert>),
    CreateView(Box<CreateView>),
    DropTable {
        name: ObjectName,
        if_exists: bool,
        /// DROP VIEW (only views) or DROP TABLE (tables, or temporary views as in Spark).
        view: bool,
    },
    AlterTable {
        name: ObjectName,
        change: AlterTable,
    },
    /// `MSCK REPAIR TABLE name [ADD | DROP | SYNC PARTITIONS]`, and Spark's `ALTER TABLE name
    /// RECOVER PARTITIONS` (ADD).
    RepairTable {
        name: ObjectName,
        mode: RepairMode,
    },
    RefreshTable(ObjectName),
    /// `ANALYZE TABLE name COMPUTE STATISTICS [NOSCAN | FOR COLUMNS … | FOR ALL COLUMNS]`.
    AnalyzeTable {
        name: ObjectName,
        measure: Analysis,
    },
    /// `CACHE [LAZY] TABLE name [OPTIONS (...)] [[AS] query]`.
    CacheTable {
        name: ObjectName,
        query: Option<String>,
    },
    UncacheTable {
        name: ObjectName,
        if_exists: bool,
    },
    ClearCache,
    /// `TRUNCATE [TABLE] name [PARTITION (…)]`.
    TruncateTable {
        name: ObjectName,
        partition: Option<PartitionSpec>,
    },
    ShowTables {
        database: Option<String>,
        pattern: Option<String>,
        views_only: bool,
    },
    ShowPartitions {
        name: ObjectName,
        spec: Option<PartitionSpec>,
    },
    ShowColumns(ObjectName),
    /// `SHOW [USER | SYSTEM | ALL] FUNCTIONS [[LIKE] 'pattern']`; lakeport has no user
    /// functions.
    ShowFunctions {
        pattern: Option<String>,
        user_only: bool,
    },
    /// `DESCRIBE FUNCTION [EXTENDED] name`: what the function is and how it is called.
    DescribeFunction {
        name: String,
        extended: bool,
    },
    ShowCreateTable(ObjectName),
    ShowProperties {
        name: ObjectName,
        key: Option<String>,
    },
    DescribeTable {
        name: ObjectName,
        extended: bool,
    },
    /// `DESCRIBE [EXTENDED] t column`: the column, and with EXTENDED its statistics.
    DescribeColumn {
        name: ObjectName,
        column: String,
        extended: bool,
    },
}

impl CatalogStatement {
    /// The completion tag of a statement that returns no rows.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::CreateDatabase { .. } => "CREATE SCHEMA",
            Self::DropDatabase { .. } => "DROP SCHEMA",
            Self::Use(_) => "SET",
            Self::CreateTable(create) if create.query.is_some() => "SELECT",
            Self::CreateTable(_) => "CREATE TABLE",
            Self::Insert(_) => "INSERT",
            Self::CreateView(_) => "CREATE VIEW",
            Self::DropTable { view: true, .. } => "DROP VIEW",
            Self::DropTable { view: false, .. } => "DROP TABLE",
            Self::AlterTable { .. } | Self::RepairTable { .. } => "ALTER TABLE",
            Self::RefreshTable(_) => "REFRESH",
            Self::AnalyzeTable { .. } => "ANALYZE",
            Self::CacheTable { .. } => "CACHE TABLE",
            Self::UncacheTable { .. } => "UNCACHE TABLE",
            Self::ClearCache => "CLEAR CACHE",
            Self::TruncateTable { .. } => "TRUNCATE TABLE",
            _ => "SHOW",
        }
    }

    /// The result columns, for statements that return rows (as Spark names them).
    pub fn columns(&self) -> Option<&'static [&'static str]> {
        Some(match self {
            Self::ShowDatabases { .. } => &["namespace"],
            Self::DescribeDatabase { .. } => &["info_name", "info_value"],
            Self::ShowTables {
                views_only: false, ..
            } => &["namespace", "tableName", "isTemporary"],
            Self::ShowTables {
                views_only: true, ..
            } => &["namespace", "viewName", "isTemporary"],
            Self::ShowPartitions { .. } => &["partition"],
            Self::ShowColumns(_) => &["col_name"],
            Self::ShowFunctions { .. } => &["function"],
            Self::DescribeFunction { .. } => &["function_desc"],
            Self::ShowCreateTable(_) => &["createtab_stmt"],
            Self::ShowProperties { .. } => &["key", "value"],
            Self::DescribeTable { .. } => &["col_name", "data_type", "comment"],
            Self::DescribeColumn { .. } => &["info_name", "info_value"],
            _ => return None,
        })
    }
}

/// What `ANALYZE TABLE … COMPUTE STATISTICS` measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analysis {
    /// `NOSCAN`: the bytes of the table's files alone.
    Bytes,
    /// The bytes and the rows.
    Rows,
    /// The bytes, the rows and these columns (`FOR COLUMNS a, b`), or every column of a
    /// type with statistics (`FOR ALL COLUMNS`: `None`).
    Columns(Option<Vec<String>>),
}

/// What `MSCK REPAIR TABLE` reconciles between the catalog and the partition directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairMode {
    /// Registers the directories the catalog lacks (the default).
    Add,
    /// Forgets the partitions whose locations are gone.
    Drop,
    /// Both.
    Sync,
}
