//! The rows of information_schema's views, from a [`Snapshot`], as PostgreSQL fills them.
//! Views about things lakeport does not have (constraints, routines, privileges beyond
//! "everyone may read") are empty, with PostgreSQL's columns.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;

use crate::error::Result;
use crate::pg_catalog::definitions::SystemRelation;
use crate::pg_catalog::rows::{Rows, Value};
use crate::pg_catalog::snapshot::{RelationEntry, RelationKind, Snapshot};
use crate::pg_catalog::types::{information_schema_type, type_info};
use crate::pgtypes::pg_type;

pub fn build(relation: &SystemRelation, snapshot: &Snapshot) -> Result<RecordBatch> {
    let mut rows = Rows::nullable(relation.columns.clone());
    match relation.name {
        "schemata" => schemata(&mut rows, snapshot),
        "tables" => tables(&mut rows, snapshot),
        "columns" => columns(&mut rows, snapshot),
        "views" => views(&mut rows, snapshot),
        "table_privileges" => privileges(&mut rows, snapshot),
        "character_sets" => rows.push(vec![
            ("character_set_name", "UTF8".into()),
            ("character_repertoire", "UCS".into()),
            ("form_of_use", "UTF8".into()),
            ("default_collate_catalog", snapshot.database.clone().into()),
        ]),
        "enabled_roles" | "applicable_roles" => {
            rows.push(vec![("role_name", snapshot.user.clone().into())]);
        }
        _ => {}
    }
    rows.build()
}

fn yes_no(value: bool) -> Value {
    if value { "YES" } else { "NO" }.into()
}

fn schemata(rows: &mut Rows, snapshot: &Snapshot) {
    for schema in &snapshot.schemas {
        rows.push(vec![
            ("catalog_name", snapshot.database.clone().into()),
            ("schema_name", schema.name.clone().into()),
            ("schema_owner", "lakeport".into()),
        ]);
    }
}

fn table_type(relation: &RelationEntry) -> &'static str {
    match (relation.kind, relation.temporary) {
        (RelationKind::View, _) => "VIEW",
        (RelationKind::Table, true) => "LOCAL TEMPORARY",
        (RelationKind::Table, false) => "BASE TABLE",
    }
}

fn tables(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in &snapshot.relations {
        rows.push(vec![
            ("table_catalog", snapshot.database.clone().into()),
            ("table_schema", relation.schema.clone().into()),
            ("table_name", relation.name.clone().into()),
            ("table_type", table_type(relation).into()),
            (
                "is_insertable_into",
                yes_no(relation.kind == RelationKind::Table && !relation.system),
            ),
            ("is_typed", "NO".into()),
        ]);
    }
}

fn columns(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in &snapshot.relations {
        for (index, field) in relation.columns.fields().iter().enumerate() {
            let pg = pg_type(field.data_type());
            let oid = i64::from(pg.oid);
            let mut row = vec![
                ("table_catalog", snapshot.database.clone().into()),
                ("table_schema", relation.schema.clone().into()),
                ("table_name", relation.name.clone().into()),
                ("column_name", field.name().clone().into()),
                ("ordinal_position", Value::Int(index as i64 + 1)),
                (
                    "is_nullable",
                    yes_no(field.is_nullable() || !relation.system),
                ),
                ("data_type", information_schema_type(oid).into()),
                ("udt_catalog", snapshot.database.clone().into()),
                ("udt_schema", "pg_catalog".into()),
                ("udt_name", type_info(oid).map(|t| t.name.clone()).into()),
                ("dtd_identifier", Value::Text((index + 1).to_string())),
                ("is_self_referencing", "NO".into()),
                ("is_identity", "NO".into()),
                ("is_generated", "NEVER".into()),
                (
                    "is_updatable",
                    yes_no(relation.kind == RelationKind::Table && !relation.system),
                ),
            ];
            row.extend(numeric_facts(field.data_type()));
            rows.push(row);
        }
    }
}

/// information_schema's precision columns for a type.
fn numeric_facts(data_type: &DataType) -> Vec<(&'static str, Value)> {
    let binary = |bits: i64| {
        vec![
            ("numeric_precision", Value::Int(bits)),
            ("numeric_precision_radix", Value::Int(2)),
            ("numeric_scale", Value::Int(0)),
        ]
    };
    match data_type {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => binary(16),
        DataType::Int32 | DataType::UInt16 => binary(32),
        DataType::Int64 | DataType::UInt32 => binary(64),
        DataType::Float16 | DataType::Float32 => vec![
            ("numeric_precision", Value::Int(24)),
            ("numeric_precision_radix", Value::Int(2)),
        ],
        DataType::Float64 => vec![
            ("numeric_precision", Value::Int(53)),
            ("numeric_precision_radix", Value::Int(2)),
        ],
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => vec![
            ("numeric_precision", Value::Int(i64::from(*p))),
            ("numeric_precision_radix", Value::Int(10)),
            ("numeric_scale", Value::Int(i64::from(*s))),
        ],
        DataType::Timestamp(..) | DataType::Time32(_) | DataType::Time64(_) => {
            vec![("datetime_precision", Value::Int(6))]
        }
        DataType::Date32 | DataType::Date64 => vec![("datetime_precision", Value::Int(0))],
        _ => Vec::new(),
    }
}

fn views(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in snapshot
        .relations
        .iter()
        .filter(|r| r.kind == RelationKind::View)
    {
        rows.push(vec![
            ("table_catalog", snapshot.database.clone().into()),
            ("table_schema", relation.schema.clone().into()),
            ("table_name", relation.name.clone().into()),
            ("view_definition", relation.view_sql.clone().into()),
            ("check_option", "NONE".into()),
            ("is_updatable", "NO".into()),
            ("is_insertable_into", "NO".into()),
            ("is_trigger_updatable", "NO".into()),
            ("is_trigger_deletable", "NO".into()),
            ("is_trigger_insertable_into", "NO".into()),
        ]);
    }
}

/// Everyone may read everything: SELECT for the current user on every relation.
fn privileges(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in &snapshot.relations {
        rows.push(vec![
            ("grantor", "lakeport".into()),
            ("grantee", snapshot.user.clone().into()),
            ("table_catalog", snapshot.database.clone().into()),
            ("table_schema", relation.schema.clone().into()),
            ("table_name", relation.name.clone().into()),
            ("privilege_type", "SELECT".into()),
            ("is_grantable", "NO".into()),
            ("with_hierarchy", "NO".into()),
        ]);
    }
}
