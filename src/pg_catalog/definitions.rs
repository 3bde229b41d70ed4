//! The pg_catalog and information_schema relations lakeport serves, as PostgreSQL 15
//! defines them: their OIDs, kinds and columns (`data/relations.tsv`, `data/columns.tsv`,
//! written by `scripts/pg-catalog-data.sh` from a real PostgreSQL).
//!
//! PostgreSQL column types become Arrow types clients read the same way: `oid`, `xid` and
//! `regproc`-like identifiers as int8 or text, `name` and `"char"` as text, vectors and
//! arrays as lists.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

const RELATIONS: &str = include_str!("data/relations.tsv");
const COLUMNS: &str = include_str!("data/columns.tsv");

/// lakeport's own system relations, in `relations.tsv`'s form: schema `lakeport` (OIDs below
/// PostgreSQL's first user OID and above every OID PostgreSQL 15 assigns at initdb).
const LAKEPORT_RELATIONS: &str = "lakeport\t16000\tquery_history\t16001\tv\n";

/// Columns of lakeport's relations, and those it adds after PostgreSQL's own (a running
/// statement's progress in pg_stat_activity).
const LAKEPORT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("pg_catalog", "pg_stat_activity", "rows_read", "bigint"),
    ("pg_catalog", "pg_stat_activity", "bytes_read", "bigint"),
    ("lakeport", "query_history", "query_id", "bigint"),
    ("lakeport", "query_history", "pid", "integer"),
    ("lakeport", "query_history", "usename", "name"),
    ("lakeport", "query_history", "application_name", "text"),
    ("lakeport", "query_history", "query", "text"),
    (
        "lakeport",
        "query_history",
        "query_start",
        "timestamp with time zone",
    ),
    (
        "lakeport",
        "query_history",
        "duration_ms",
        "double precision",
    ),
    ("lakeport", "query_history", "rows", "bigint"),
    ("lakeport", "query_history", "rows_read", "bigint"),
    ("lakeport", "query_history", "bytes_read", "bigint"),
    ("lakeport", "query_history", "partitions", "bigint"),
    ("lakeport", "query_history", "partitions_pruned", "bigint"),
    ("lakeport", "query_history", "state", "text"),
    ("lakeport", "query_history", "sqlstate", "text"),
    ("lakeport", "query_history", "error", "text"),
];

/// The schema of lakeport's own system relations.
pub const LAKEPORT_SCHEMA: &str = "lakeport";
pub const LAKEPORT_SCHEMA_OID: i64 = 16000;

pub const PG_CATALOG: &str = "pg_catalog";
pub const INFORMATION_SCHEMA: &str = "information_schema";
pub const PG_CATALOG_OID: i64 = 11;

/// One system relation.
#[derive(Debug)]
pub struct SystemRelation {
    pub schema: &'static str,
    pub schema_oid: i64,
    pub name: &'static str,
    pub oid: i64,
    /// `r` (table) or `v` (view).
    pub kind: char,
    pub columns: SchemaRef,
    /// The PostgreSQL type name of each column, in order.
    pub column_types: Vec<&'static str>,
}

/// Every system relation, by (schema, name).
pub fn system_relations() -> &'static BTreeMap<(&'static str, &'static str), SystemRelation> {
    static RELATIONS_BY_NAME: OnceLock<BTreeMap<(&'static str, &'static str), SystemRelation>> =
        OnceLock::new();
    RELATIONS_BY_NAME.get_or_init(load)
}

pub fn system_relation(schema: &str, name: &str) -> Option<&'static SystemRelation> {
    system_relations()
        .values()
        .find(|relation| relation.schema == schema && relation.name == name)
}

/// The OID of information_schema, as the generating PostgreSQL had it.
pub fn information_schema_oid() -> i64 {
    system_relations()
        .values()
        .find(|r| r.schema == INFORMATION_SCHEMA)
        .map_or(13_000, |r| r.schema_oid)
}

fn load() -> BTreeMap<(&'static str, &'static str), SystemRelation> {
    let mut columns: BTreeMap<(&str, &str), Vec<(&str, &str)>> = BTreeMap::new();
    for line in COLUMNS.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        if let [schema, relation, column, data_type] = parts[..] {
            columns
                .entry((schema, relation))
                .or_default()
                .push((column, data_type));
        }
    }
    for &(schema, relation, column, data_type) in LAKEPORT_COLUMNS {
        columns
            .entry((schema, relation))
            .or_default()
            .push((column, data_type));
    }
    let mut relations = BTreeMap::new();
    for line in RELATIONS.lines().chain(LAKEPORT_RELATIONS.lines()) {
        let parts: Vec<&str> = line.split('\t').collect();
        let [schema, schema_oid, name, oid, kind] = parts[..] else {
            continue;
        };
        let definition = columns.remove(&(schema, name)).unwrap_or_default();
        let fields: Vec<Field> = definition
            .iter()
            .map(|(column, data_type)| Field::new(*column, arrow_type(data_type), true))
            .collect();
        relations.insert(
            (schema, name),
            SystemRelation {
                schema,
                schema_oid: schema_oid.parse().unwrap_or(0),
                name,
                oid: oid.parse().unwrap_or(0),
                kind: kind.chars().next().unwrap_or('r'),
                columns: Arc::new(Schema::new(fields)),
                column_types: definition.iter().map(|(_, t)| *t).collect(),
            },
        );
    }
    relations
}

/// The Arrow type lakeport serves a PostgreSQL catalog column type as.
pub fn arrow_type(pg_type: &str) -> DataType {
    let list = |element: DataType| DataType::List(Arc::new(Field::new("item", element, true)));
    match pg_type {
        "boolean" => DataType::Boolean,
        "smallint" => DataType::Int16,
        "integer" => DataType::Int32,
        "oid" => DataType::UInt32,
        "bigint" | "xid" => DataType::Int64,
        "real" => DataType::Float32,
        "double precision" => DataType::Float64,
        "timestamp with time zone" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        "oid[]" | "oidvector" => list(DataType::UInt32),
        "smallint[]" | "int2vector" => list(DataType::Int16),
        "text[]" | "aclitem[]" | "\"char\"[]" => list(DataType::Utf8),
        _ => DataType::Utf8,
    }
}
