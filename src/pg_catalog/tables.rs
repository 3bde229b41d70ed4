//! The rows of each pg_catalog relation, from a [`Snapshot`] and PostgreSQL's static rows.
//! Relations lakeport has nothing for (constraints, indexes, triggers, policies, ...) are
//! empty, with PostgreSQL's columns.

use std::time::SystemTime;

use datafusion::arrow::array::RecordBatch;

use crate::error::Result;
use crate::pg_catalog::definitions::SystemRelation;
use crate::pg_catalog::rows::{Rows, Value, parse_copy_line};
use crate::pg_catalog::snapshot::{OWNER_OID, RelationEntry, RelationKind, Snapshot, object_oid};
use crate::pg_catalog::types::pg_type_rows;
use crate::pgtypes::pg_type;
use crate::registry::activity::BackendState;
use crate::session::QueryContext;

const PG_AM: &str = include_str!("data/pg_am.tsv");
const PG_RANGE: &str = include_str!("data/pg_range.tsv");
const PG_COLLATION: &str = include_str!("data/pg_collation.tsv");
const PG_TABLESPACE: &str = include_str!("data/pg_tablespace.tsv");

/// pg_class's and pg_namespace's OIDs, the `classoid` of descriptions.
pub const PG_CLASS_OID: i64 = 1259;
pub const PG_NAMESPACE_OID: i64 = 2615;
const HEAP_AM_OID: i64 = 2;
const DEFAULT_TABLESPACE_OID: i64 = 1663;
const UTF8_ENCODING: i64 = 6;

pub fn build(
    relation: &SystemRelation,
    snapshot: &Snapshot,
    ctx: &QueryContext,
) -> Result<RecordBatch> {
    let mut rows = Rows::new(relation.columns.clone());
    match relation.name {
        "pg_namespace" => namespaces(&mut rows, snapshot),
        "pg_class" => classes(&mut rows, snapshot),
        "pg_attribute" => attributes(&mut rows, snapshot),
        "pg_type" => pg_type_rows()
            .iter()
            .for_each(|row| rows.push_ordered(row.clone())),
        "pg_am" => static_rows(&mut rows, PG_AM),
        "pg_range" => static_rows(&mut rows, PG_RANGE),
        "pg_collation" => static_rows(&mut rows, PG_COLLATION),
        "pg_tablespace" => static_rows(&mut rows, PG_TABLESPACE),
        "pg_database" => databases(&mut rows, snapshot),
        "pg_roles" | "pg_authid" | "pg_user" => roles(&mut rows, snapshot, relation.name),
        "pg_description" => descriptions(&mut rows, snapshot),
        "pg_settings" => settings(&mut rows, ctx),
        "pg_tables" => tables(&mut rows, snapshot),
        "pg_views" => views(&mut rows, snapshot),
        "pg_stat_user_tables" | "pg_stat_all_tables" => {
            table_statistics(&mut rows, snapshot, relation.name)
        }
        "pg_stat_activity" => activity(&mut rows, snapshot, ctx),
        "query_history" => query_history(&mut rows, ctx),
        "pg_language" => {
            rows.push(vec![
                ("oid", Value::Int(12)),
                ("lanname", "internal".into()),
                ("lanowner", Value::Int(OWNER_OID)),
            ]);
            rows.push(vec![
                ("oid", Value::Int(13)),
                ("lanname", "c".into()),
                ("lanowner", Value::Int(OWNER_OID)),
            ]);
            rows.push(vec![
                ("oid", Value::Int(14)),
                ("lanname", "sql".into()),
                ("lanowner", Value::Int(OWNER_OID)),
            ]);
        }
        _ => {}
    }
    rows.build()
}

fn static_rows(rows: &mut Rows, data: &str) {
    for line in data.lines() {
        rows.push_ordered(parse_copy_line(line));
    }
}

fn namespaces(rows: &mut Rows, snapshot: &Snapshot) {
    for schema in &snapshot.schemas {
        rows.push(vec![
            ("oid", Value::Int(schema.oid)),
            ("nspname", schema.name.clone().into()),
            ("nspowner", Value::Int(OWNER_OID)),
        ]);
    }
}

fn classes(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in &snapshot.relations {
        let table = relation.kind == RelationKind::Table;
        rows.push(vec![
            ("oid", Value::Int(relation.oid)),
            ("relname", relation.name.clone().into()),
            ("relnamespace", Value::Int(relation.schema_oid)),
            ("relowner", Value::Int(OWNER_OID)),
            ("relam", Value::Int(if table { HEAP_AM_OID } else { 0 })),
            ("relpages", Value::Int(pages(relation))),
            ("reltuples", Value::Float(tuples(relation))),
            (
                "relpersistence",
                if relation.temporary { "t" } else { "p" }.into(),
            ),
            ("relkind", relation.kind.relkind().into()),
            (
                "relnatts",
                Value::Int(relation.columns.fields().len() as i64),
            ),
            ("relhasrules", Value::Bool(!table)),
            ("relispopulated", Value::Bool(true)),
            ("relreplident", if table { "d" } else { "n" }.into()),
            ("relfrozenxid", Value::Int(0)),
        ]);
    }
}

/// PostgreSQL's 8 kB pages the analyzed bytes would fill; 0 when never analyzed.
fn pages(relation: &RelationEntry) -> i64 {
    relation.statistics.as_ref().map_or(0, |statistics| {
        i64::try_from(statistics.bytes.div_ceil(8192)).unwrap_or(i64::MAX)
    })
}

/// The analyzed row count; -1, as PostgreSQL says, when it was never counted.
fn tuples(relation: &RelationEntry) -> f64 {
    relation
        .statistics
        .as_ref()
        .and_then(|statistics| statistics.rows)
        .map_or(-1.0, |rows| rows as f64)
}

fn attributes(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in &snapshot.relations {
        for (index, field) in relation.columns.fields().iter().enumerate() {
            let pg = pg_type(field.data_type());
            rows.push(vec![
                ("attrelid", Value::Int(relation.oid)),
                ("attname", field.name().clone().into()),
                ("atttypid", Value::Int(i64::from(pg.oid))),
                ("attlen", Value::Int(i64::from(pg.len))),
                ("attnum", Value::Int(index as i64 + 1)),
                ("attndims", Value::Int(0)),
                ("attcacheoff", Value::Int(-1)),
                ("atttypmod", Value::Int(i64::from(pg.typmod))),
                ("attbyval", Value::Bool(pg.len > 0 && pg.len <= 8)),
                ("attalign", if pg.len == 8 { "d" } else { "i" }.into()),
                ("attstorage", if pg.len > 0 { "p" } else { "x" }.into()),
                (
                    "attnotnull",
                    Value::Bool(!field.is_nullable() && relation.system),
                ),
                ("attislocal", Value::Bool(true)),
                ("attidentity", "".into()),
                ("attgenerated", "".into()),
                ("attstattarget", Value::Int(-1)),
                (
                    "attcollation",
                    Value::Int(if pg.oid == 25 { 100 } else { 0 }),
                ),
            ]);
        }
    }
}

fn databases(rows: &mut Rows, snapshot: &Snapshot) {
    rows.push(vec![
        ("oid", Value::Int(snapshot.database_oid)),
        ("datname", snapshot.database.clone().into()),
        ("datdba", Value::Int(OWNER_OID)),
        ("encoding", Value::Int(UTF8_ENCODING)),
        ("datlocprovider", "c".into()),
        ("datistemplate", Value::Bool(false)),
        ("datallowconn", Value::Bool(true)),
        ("datconnlimit", Value::Int(-1)),
        ("datminmxid", Value::Int(1)),
        ("dattablespace", Value::Int(DEFAULT_TABLESPACE_OID)),
        ("datcollate", "C.UTF-8".into()),
        ("datctype", "C.UTF-8".into()),
    ]);
}

fn roles(rows: &mut Rows, snapshot: &Snapshot, relation: &str) {
    let mut people = vec![(OWNER_OID, "lakeport".to_string(), true)];
    if snapshot.user != "lakeport" {
        people.push((snapshot.user_oid, snapshot.user.clone(), false));
    }
    for (oid, name, superuser) in people {
        let mut row = vec![
            ("rolsuper", Value::Bool(superuser)),
            ("rolinherit", Value::Bool(true)),
            ("rolcreaterole", Value::Bool(superuser)),
            ("rolcreatedb", Value::Bool(superuser)),
            ("rolcanlogin", Value::Bool(true)),
            ("rolreplication", Value::Bool(false)),
            ("rolconnlimit", Value::Int(-1)),
            ("rolbypassrls", Value::Bool(superuser)),
        ];
        match relation {
            "pg_user" => {
                row = vec![
                    ("usename", name.clone().into()),
                    ("usesysid", Value::Int(oid)),
                    ("usecreatedb", Value::Bool(superuser)),
                    ("usesuper", Value::Bool(superuser)),
                    ("userepl", Value::Bool(false)),
                    ("usebypassrls", Value::Bool(superuser)),
                    ("passwd", "********".into()),
                ]
            }
            "pg_roles" => {
                row.push(("oid", Value::Int(oid)));
                row.push(("rolname", name.clone().into()));
                row.push(("rolpassword", "********".into()));
            }
            _ => {
                row.push(("oid", Value::Int(oid)));
                row.push(("rolname", name.clone().into()));
            }
        }
        rows.push(row);
    }
}

fn descriptions(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in &snapshot.relations {
        if let Some(comment) = &relation.comment {
            rows.push(description(relation.oid, PG_CLASS_OID, 0, comment));
        }
        for (index, comment) in relation.column_comments.iter().enumerate() {
            if let Some(comment) = comment {
                rows.push(description(
                    relation.oid,
                    PG_CLASS_OID,
                    index as i64 + 1,
                    comment,
                ));
            }
        }
    }
    for schema in &snapshot.schemas {
        if let Some(comment) = &schema.comment {
            rows.push(description(schema.oid, PG_NAMESPACE_OID, 0, comment));
        }
    }
}

fn description(oid: i64, class: i64, sub: i64, text: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("objoid", Value::Int(oid)),
        ("classoid", Value::Int(class)),
        ("objsubid", Value::Int(sub)),
        ("description", text.into()),
    ]
}

/// Read-only settings clients look up (pgjdbc reads max_index_keys), as PostgreSQL 15 has
/// them.
const FIXED_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "max_index_keys",
        "32",
        "Shows the maximum number of index keys.",
    ),
    (
        "max_identifier_length",
        "63",
        "Shows the maximum identifier length.",
    ),
    (
        "max_function_args",
        "100",
        "Shows the maximum number of function arguments.",
    ),
    ("block_size", "8192", "Shows the size of a disk block."),
    (
        "server_encoding",
        "UTF8",
        "Shows the server (database) character set encoding.",
    ),
    ("lc_collate", "C.UTF-8", "Shows the collation order locale."),
    (
        "lc_ctype",
        "C.UTF-8",
        "Shows the character classification and case conversion locale.",
    ),
];

fn settings(rows: &mut Rows, ctx: &QueryContext) {
    let variables = ctx.variables.all();
    for (name, setting, description) in FIXED_SETTINGS {
        if !variables.iter().any(|v| v.name == *name) {
            rows.push(vec![
                ("name", (*name).into()),
                ("setting", (*setting).into()),
                ("category", "Preset Options".into()),
                ("short_desc", (*description).into()),
                ("context", "internal".into()),
                ("vartype", "integer".into()),
                ("source", "default".into()),
                ("pending_restart", Value::Bool(false)),
            ]);
        }
    }
    for setting in variables {
        rows.push(vec![
            ("name", setting.name.into()),
            ("setting", setting.setting.into()),
            ("category", "Client Connection Defaults".into()),
            ("short_desc", setting.description.into()),
            ("context", "user".into()),
            ("vartype", "string".into()),
            ("source", "default".into()),
            ("pending_restart", Value::Bool(false)),
        ]);
    }
}

fn user_tables(snapshot: &Snapshot) -> impl Iterator<Item = &RelationEntry> {
    snapshot
        .relations
        .iter()
        .filter(|r| r.kind == RelationKind::Table)
}

fn tables(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in user_tables(snapshot) {
        rows.push(vec![
            ("schemaname", relation.schema.clone().into()),
            ("tablename", relation.name.clone().into()),
            ("tableowner", "lakeport".into()),
        ]);
    }
}

fn views(rows: &mut Rows, snapshot: &Snapshot) {
    for relation in snapshot
        .relations
        .iter()
        .filter(|r| r.kind == RelationKind::View)
    {
        rows.push(vec![
            ("schemaname", relation.schema.clone().into()),
            ("viewname", relation.name.clone().into()),
            ("viewowner", "lakeport".into()),
            ("definition", relation.view_sql.clone().into()),
        ]);
    }
}

fn table_statistics(rows: &mut Rows, snapshot: &Snapshot, relation: &str) {
    for table in user_tables(snapshot).filter(|t| relation == "pg_stat_all_tables" || !t.system) {
        rows.push(vec![
            ("relid", Value::Int(table.oid)),
            ("schemaname", table.schema.clone().into()),
            ("relname", table.name.clone().into()),
        ]);
    }
}

/// One row per connection, from the server's registry. As in PostgreSQL, a user who is not
/// an admin sees other users' sessions without their statements, times or addresses.
fn activity(rows: &mut Rows, snapshot: &Snapshot, ctx: &QueryContext) {
    let caller = &ctx.backend.control.peer;
    for connection in ctx.backend.registry.activity() {
        let mut row = vec![
            ("datid", Value::Int(snapshot.database_oid)),
            ("datname", connection.database.clone().into()),
            ("pid", Value::Int(i64::from(connection.pid))),
            (
                "usesysid",
                Value::Int(object_oid("role", &[&connection.user])),
            ),
            ("usename", connection.user.clone().into()),
            ("application_name", connection.application_name.into()),
            ("backend_type", "client backend".into()),
        ];
        if !caller.admin && caller.user != connection.user {
            row.push(("query", "<insufficient privilege>".into()));
            rows.push(row);
            continue;
        }
        let time = |t: Option<SystemTime>| t.map_or(Value::Null, timestamp);
        let idle = connection.state != BackendState::Active;
        row.extend([
            (
                "client_addr",
                connection.client_addr.ip().to_string().into(),
            ),
            (
                "client_port",
                Value::Int(i64::from(connection.client_addr.port())),
            ),
            ("backend_start", timestamp(connection.backend_start)),
            ("xact_start", time(connection.xact_start)),
            ("query_start", time(connection.query_start)),
            ("state_change", timestamp(connection.state_change)),
            (
                "wait_event_type",
                if idle { "Client".into() } else { Value::Null },
            ),
            (
                "wait_event",
                if idle {
                    "ClientRead".into()
                } else {
                    Value::Null
                },
            ),
            ("state", connection.state.name().into()),
            (
                "query_id",
                connection
                    .query_id
                    .map_or(Value::Null, |id| Value::Int(id as i64)),
            ),
            ("query", connection.query.into()),
            (
                "rows_read",
                Value::Int(connection.progress.rows_read as i64),
            ),
            (
                "bytes_read",
                Value::Int(connection.progress.bytes_read as i64),
            ),
        ]);
        rows.push(row);
    }
}

/// The server's last finished statements, oldest first: all of them for admins, a user's
/// own for everyone else.
fn query_history(rows: &mut Rows, ctx: &QueryContext) {
    let caller = &ctx.backend.control.peer;
    for entry in ctx.backend.registry.history().entries() {
        if !caller.admin && caller.user != entry.user {
            continue;
        }
        let text = |value: Option<&str>| value.map_or(Value::Null, Value::from);
        rows.push(vec![
            ("query_id", Value::Int(entry.id as i64)),
            ("pid", Value::Int(i64::from(entry.pid))),
            ("usename", entry.user.into()),
            ("application_name", entry.application_name.into()),
            ("query", entry.query.into()),
            ("query_start", timestamp(entry.started)),
            (
                "duration_ms",
                Value::Float(entry.duration.as_secs_f64() * 1000.0),
            ),
            ("rows", Value::Int(entry.rows as i64)),
            ("rows_read", Value::Int(entry.progress.rows_read as i64)),
            ("bytes_read", Value::Int(entry.progress.bytes_read as i64)),
            ("partitions", Value::Int(entry.progress.partitions as i64)),
            (
                "partitions_pruned",
                Value::Int(entry.progress.partitions_pruned as i64),
            ),
            ("state", entry.outcome.state().into()),
            ("sqlstate", text(entry.outcome.sqlstate())),
            ("error", text(entry.outcome.message())),
        ]);
    }
}

fn timestamp(time: SystemTime) -> Value {
    let micros = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    Value::Timestamp(micros)
}
