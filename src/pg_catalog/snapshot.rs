//! What the catalog holds right now, as PostgreSQL describes a database: schemas and
//! relations with their columns, comments and OIDs. Taken from the live catalog, the
//! configured tables and the session (its temporary views) for each statement that reads
//! pg_catalog or information_schema, from caches that need no I/O once warm.
//!
//! OIDs are stable across restarts: a hash of the object's kind and name, in the range
//! PostgreSQL leaves to user objects (from 16384), so a client that remembers an OID finds
//! the same object after a restart. System relations keep PostgreSQL's own OIDs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use lakeport_catalog::{Table, TableKind};

use crate::error::Result;
use crate::exec::catalog_bridge::types::arrow_schema;
use crate::exec::catalog_bridge::{Catalog, GLOBAL_TEMP, Relation};
use crate::pg_catalog::definitions::{
    INFORMATION_SCHEMA, LAKEPORT_SCHEMA, LAKEPORT_SCHEMA_OID, PG_CATALOG, PG_CATALOG_OID,
    information_schema_oid, system_relations,
};
use crate::session::QueryContext;

/// The owner of every object: PostgreSQL's bootstrap superuser OID.
pub const OWNER_OID: i64 = 10;
/// The first OID PostgreSQL gives to user objects.
const FIRST_USER_OID: u64 = 16_384;

pub struct Snapshot {
    pub database: String,
    pub database_oid: i64,
    pub user: String,
    pub user_oid: i64,
    pub search_path: Vec<String>,
    pub schemas: Vec<SchemaEntry>,
    pub relations: Vec<RelationEntry>,
    /// The namespace of this session's temporary views, when it has any.
    pub temp_schema_oid: Option<i64>,
    /// What the snapshot's user may read and change (its rows hold only what it may read);
    /// `has_table_privilege` and `has_schema_privilege` answer from it.
    pub privileges: std::sync::Arc<crate::auth::Privileges>,
    /// Relations already built from this snapshot, reused while it is current (see
    /// `pg_catalog::snapshot`).
    pub built: std::sync::Mutex<
        std::collections::HashMap<(String, String), datafusion::arrow::array::RecordBatch>,
    >,
}

pub struct SchemaEntry {
    pub oid: i64,
    pub name: String,
    pub comment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

impl RelationKind {
    pub fn relkind(self) -> &'static str {
        match self {
            RelationKind::Table => "r",
            RelationKind::View => "v",
        }
    }
}

pub struct RelationEntry {
    pub oid: i64,
    pub schema_oid: i64,
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
    pub columns: SchemaRef,
    pub column_comments: Vec<Option<String>>,
    /// How many of the last columns are partition keys.
    pub partition_keys: usize,
    pub comment: Option<String>,
    pub view_sql: Option<String>,
    pub temporary: bool,
    pub system: bool,
    /// Rows and bytes as `ANALYZE TABLE` last measured them (`pg_class.reltuples`,
    /// `relpages`).
    pub statistics: Option<lakeport_catalog::TableStatistics>,
}

/// A stable OID for a named object of a kind.
pub fn object_oid(kind: &str, name: &[&str]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in kind.bytes().chain(
        name.iter()
            .flat_map(|part| std::iter::once(0).chain(part.bytes())),
    ) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (FIRST_USER_OID + hash % (u64::from(u32::MAX >> 1) - FIRST_USER_OID)) as i64
}

pub fn schema_oid(name: &str) -> i64 {
    match name {
        PG_CATALOG => PG_CATALOG_OID,
        INFORMATION_SCHEMA => information_schema_oid(),
        LAKEPORT_SCHEMA => LAKEPORT_SCHEMA_OID,
        _ => object_oid("namespace", &[name]),
    }
}

impl Snapshot {
    /// A snapshot of nothing, for listing the catalog functions.
    pub fn empty() -> Self {
        Self {
            database: String::new(),
            database_oid: 0,
            user: String::new(),
            user_oid: 0,
            search_path: Vec::new(),
            schemas: Vec::new(),
            relations: Vec::new(),
            temp_schema_oid: None,
            privileges: std::sync::Arc::new(crate::auth::Privileges::admin("")),
            built: Default::default(),
        }
    }

    pub async fn take(catalog: &Catalog, ctx: &QueryContext) -> Result<Self> {
        let mut schemas = vec![
            SchemaEntry {
                oid: PG_CATALOG_OID,
                name: PG_CATALOG.into(),
                comment: Some("system catalog schema".into()),
            },
            SchemaEntry {
                oid: information_schema_oid(),
                name: INFORMATION_SCHEMA.into(),
                comment: None,
            },
            SchemaEntry {
                oid: LAKEPORT_SCHEMA_OID,
                name: LAKEPORT_SCHEMA.into(),
                comment: Some("lakeport's system views".into()),
            },
        ];
        let mut relations: Vec<RelationEntry> = system_relations()
            .values()
            .map(|r| RelationEntry {
                oid: r.oid,
                schema_oid: r.schema_oid,
                schema: r.schema.into(),
                name: r.name.into(),
                kind: if r.kind == 'v' {
                    RelationKind::View
                } else {
                    RelationKind::Table
                },
                columns: r.columns.clone(),
                column_comments: vec![None; r.columns.fields().len()],
                partition_keys: 0,
                comment: None,
                view_sql: None,
                temporary: false,
                system: true,
                statistics: None,
            })
            .collect();
        let privileges = &ctx.privileges;
        for name in catalog.schema_names().await? {
            if !privileges.sees_schema(&name) {
                continue;
            }
            let oid = schema_oid(&name);
            let comment = catalog
                .database_definition(&name)
                .await?
                .and_then(|database| database.comment.clone());
            schemas.push(SchemaEntry {
                oid,
                name: name.clone(),
                comment,
            });
            let definitions: BTreeMap<String, Arc<Table>> = catalog
                .table_definitions(&name)
                .await?
                .into_iter()
                .map(|table| (table.name.clone(), table))
                .collect();
            let mut tables: BTreeSet<String> = definitions.keys().cloned().collect();
            tables.extend(catalog.statics().table_names(&name));
            for table in tables {
                if !privileges.reads_table(&name, &table) {
                    continue;
                }
                if let Some(provider) = catalog.statics().table(&name, &table) {
                    relations.push(user_relation(
                        &name,
                        oid,
                        &table,
                        RelationKind::Table,
                        provider.schema(),
                    ));
                    continue;
                }
                let Some(definition) = definitions.get(&table) else {
                    continue;
                };
                let mut columns = definition.columns.clone();
                columns.extend(definition.partition_keys.iter().cloned());
                let kind = if definition.kind == TableKind::View {
                    RelationKind::View
                } else {
                    RelationKind::Table
                };
                let mut entry =
                    user_relation(&name, oid, &table, kind, arrow_schema(&columns).into());
                entry.column_comments = columns.iter().map(|c| c.comment.clone()).collect();
                entry.partition_keys = definition.partition_keys.len();
                entry.comment = definition.comment.clone();
                entry.view_sql = definition.view_text.clone();
                entry.statistics = definition.statistics.clone();
                relations.push(entry);
            }
        }
        let global_views: Vec<String> = catalog
            .global_temp_view_names()
            .into_iter()
            .filter(|view| privileges.reads_table(GLOBAL_TEMP, view))
            .collect();
        if !global_views.is_empty() {
            let oid = schema_oid(GLOBAL_TEMP);
            schemas.push(SchemaEntry {
                oid,
                name: GLOBAL_TEMP.into(),
                comment: Some("global temporary views".into()),
            });
            for name in global_views {
                if let Some(relation) = catalog.global_temp_view(&name) {
                    relations.push(temporary_relation(GLOBAL_TEMP, oid, &name, &relation));
                }
            }
        }
        let mut temp_schema_oid = None;
        if !ctx.temp_views.is_empty() {
            let name = format!("pg_temp_{}", ctx.pid);
            let oid = object_oid("namespace", &[&name]);
            temp_schema_oid = Some(oid);
            schemas.push(SchemaEntry {
                oid,
                name: name.clone(),
                comment: None,
            });
            for (view, relation) in ctx.temp_views.iter() {
                let mut entry = temporary_relation(&name, oid, view, relation);
                entry.oid = object_oid("temp", &[&ctx.pid.to_string(), view]);
                relations.push(entry);
            }
        }
        Ok(Self {
            database: ctx.database.clone(),
            database_oid: object_oid("database", &[&ctx.database]),
            user: ctx.user.clone(),
            user_oid: object_oid("role", &[&ctx.user]),
            search_path: ctx.search_path.clone(),
            schemas,
            relations,
            temp_schema_oid,
            privileges: ctx.privileges.clone(),
            built: Default::default(),
        })
    }

    pub fn relation_by_oid(&self, oid: i64) -> Option<&RelationEntry> {
        self.relations.iter().find(|r| r.oid == oid)
    }

    pub fn schema_by_oid(&self, oid: i64) -> Option<&SchemaEntry> {
        self.schemas.iter().find(|s| s.oid == oid)
    }

    pub fn schema_by_name(&self, name: &str) -> Option<&SchemaEntry> {
        self.schemas.iter().find(|s| s.name == name)
    }

    /// A relation by `schema.name`, or by a bare name as the search path finds it.
    pub fn relation_by_name(&self, name: &str) -> Option<&RelationEntry> {
        match name.split_once('.') {
            Some((schema, table)) => self
                .relations
                .iter()
                .find(|r| r.schema == schema && r.name == table),
            None => self
                .relations
                .iter()
                .find(|r| r.name == name && self.is_visible(r)),
        }
    }

    /// Whether an unqualified name finds this relation: its schema is searched and no
    /// relation of the same name comes earlier.
    pub fn is_visible(&self, relation: &RelationEntry) -> bool {
        if relation.temporary && Some(relation.schema_oid) == self.temp_schema_oid {
            return true;
        }
        let order: Vec<&str> = std::iter::once(PG_CATALOG)
            .chain(self.search_path.iter().map(String::as_str))
            .collect();
        let Some(position) = order.iter().position(|s| *s == relation.schema) else {
            return false;
        };
        !order[..position].iter().any(|earlier| {
            self.relations
                .iter()
                .any(|r| r.schema == *earlier && r.name == relation.name)
        })
    }

    /// The role name of an owner OID.
    pub fn owner_name(&self, oid: i64) -> Option<String> {
        if oid == OWNER_OID {
            Some("lakeport".into())
        } else if oid == self.user_oid {
            Some(self.user.clone())
        } else {
            None
        }
    }
}

fn user_relation(
    schema: &str,
    schema_oid: i64,
    name: &str,
    kind: RelationKind,
    columns: SchemaRef,
) -> RelationEntry {
    RelationEntry {
        oid: object_oid("relation", &[schema, name]),
        schema_oid,
        schema: schema.into(),
        name: name.into(),
        kind,
        column_comments: vec![None; columns.fields().len()],
        columns,
        partition_keys: 0,
        comment: None,
        view_sql: None,
        temporary: false,
        system: false,
        statistics: None,
    }
}

fn temporary_relation(
    schema: &str,
    schema_oid: i64,
    name: &str,
    relation: &Relation,
) -> RelationEntry {
    let (kind, columns, sql) = match relation {
        Relation::Table(provider) => (RelationKind::Table, provider.schema(), None),
        Relation::View(view) => (
            RelationKind::View,
            view.output.clone(),
            Some(view.sql.clone()),
        ),
    };
    let mut entry = user_relation(schema, schema_oid, name, kind, columns);
    entry.view_sql = sql;
    entry.temporary = true;
    entry
}
