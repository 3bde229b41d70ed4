//! The catalog functions PostgreSQL clients call (`format_type`, `pg_get_userbyid`,
//! `pg_table_is_visible`, `obj_description`, `has_table_privilege`, `to_regtype`,
//! `quote_ident`, `format`, ...) and the `regclass`/`regtype`/`regnamespace` conversions
//! that `::regclass` casts become (see `exec::pg_syntax`).
//!
//! They answer from the statement's [`Snapshot`], row by row: catalog queries are small.
//! Functions about things lakeport does not have (index and constraint definitions,
//! function signatures, defaults) return NULL, as PostgreSQL does for an unknown object.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::exec::functions::invoke_by_row;
use crate::pg_catalog::definitions::{PG_CATALOG, system_relation};
use crate::pg_catalog::snapshot::{Snapshot, schema_oid};
use crate::pg_catalog::types::{format_type, type_oid};

/// How a function computes one row's value from its arguments.
type RowFn = fn(&Snapshot, &[ScalarValue]) -> ScalarValue;

/// What a function returns: a fixed type, or one chosen by the first argument's type
/// (`regclass('name')` is an OID, `regclass(oid)` a name).
#[derive(Clone, Copy)]
enum Returns {
    Fixed(fn() -> DataType),
    TextToOidElseName,
}

struct CatalogFunction {
    name: &'static str,
    returns: Returns,
    row: RowFn,
    snapshot: Arc<Snapshot>,
    signature: Signature,
}

impl std::fmt::Debug for CatalogFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogFunction")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for CatalogFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.snapshot, &other.snapshot)
    }
}

impl Eq for CatalogFunction {}

impl Hash for CatalogFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for CatalogFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(match self.returns {
            Returns::Fixed(data_type) => data_type(),
            Returns::TextToOidElseName => match arg_types.first() {
                Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => DataType::Int64,
                _ => DataType::Utf8,
            },
        })
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        invoke_by_row(&args, |values| Ok((self.row)(&self.snapshot, values)))
    }
}

fn text() -> DataType {
    DataType::Utf8
}
fn boolean() -> DataType {
    DataType::Boolean
}
fn int8() -> DataType {
    DataType::Int64
}
fn int4() -> DataType {
    DataType::Int32
}
fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}
/// information_schema._pg_expandarray's row: an array element and its position.
fn expanded_element() -> DataType {
    DataType::Struct(expanded_fields())
}
fn expanded_fields() -> datafusion::arrow::datatypes::Fields {
    vec![
        Field::new("x", DataType::Int64, true),
        Field::new("n", DataType::Int64, true),
    ]
    .into()
}
fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn int_arg(values: &[ScalarValue], i: usize) -> Option<i64> {
    match values.get(i)? {
        ScalarValue::Int8(v) => v.map(i64::from),
        ScalarValue::Int16(v) => v.map(i64::from),
        ScalarValue::Int32(v) => v.map(i64::from),
        ScalarValue::Int64(v) => *v,
        ScalarValue::UInt32(v) => v.map(i64::from),
        ScalarValue::UInt64(v) => v.and_then(|v| i64::try_from(v).ok()),
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => s.parse().ok(),
        _ => None,
    }
}

fn text_arg(values: &[ScalarValue], i: usize) -> Option<String> {
    match values.get(i)? {
        ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v) => v.clone(),
        other if other.is_null() => None,
        other => Some(other.to_string()),
    }
}

fn text_value(value: Option<String>) -> ScalarValue {
    ScalarValue::Utf8(value)
}

/// The object and privilege arguments of `has_*_privilege([user,] object, privilege)`; the
/// user argument is taken to be the session's.
fn object_and_privilege(values: &[ScalarValue]) -> (&[ScalarValue], String) {
    let (object, privilege) = match values.len() {
        3 => (&values[1..2], text_arg(values, 2)),
        _ => (values.get(..1).unwrap_or_default(), text_arg(values, 1)),
    };
    (object, privilege.unwrap_or_default())
}

/// Whether the snapshot's user holds any of the comma-separated `privileges` on `schema`
/// (`relation` None) or on `relation` in it: reading is what the rows already show;
/// changing follows the role and allow list; grant options only admins hold.
fn holds(
    snapshot: &Snapshot,
    schema: &str,
    relation: Option<&crate::pg_catalog::snapshot::RelationEntry>,
    privileges: &str,
) -> bool {
    let user = &snapshot.privileges;
    let system = relation.map_or(
        schema == PG_CATALOG || schema == crate::pg_catalog::definitions::INFORMATION_SCHEMA,
        |r| r.system,
    );
    privileges.split(',').any(|privilege| {
        let privilege = privilege.trim().to_ascii_uppercase();
        let (privilege, with_grant) = match privilege.strip_suffix("WITH GRANT OPTION") {
            Some(bare) => (bare.trim().to_string(), true),
            None => (privilege, false),
        };
        if with_grant && !user.is_admin() {
            return false;
        }
        match privilege.as_str() {
            "SELECT" | "REFERENCES" | "TRIGGER" | "USAGE" => {
                system
                    || match relation {
                        Some(r) => user.reads_table(schema, &r.name),
                        None => user.sees_schema(schema),
                    }
            }
            "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE" | "CREATE" => {
                !system && user.check_change(schema, "change").is_ok()
            }
            _ => false,
        }
    })
}

/// Every catalog function, answering from `snapshot`.
pub fn catalog_functions(snapshot: Arc<Snapshot>) -> Vec<Arc<ScalarUDF>> {
    let fixed = |name: &'static str, returns: fn() -> DataType, row: RowFn| {
        (name, Returns::Fixed(returns), row)
    };
    let null_text: RowFn = |_, _| ScalarValue::Utf8(None);
    let yes: RowFn = |_, _| ScalarValue::Boolean(Some(true));
    let no: RowFn = |_, _| ScalarValue::Boolean(Some(false));
    let zero: RowFn = |_, _| ScalarValue::Int64(Some(0));
    let mut definitions = vec![
        fixed("format_type", text, |_, v| {
            text_value(int_arg(v, 0).and_then(|oid| format_type(oid, int_arg(v, 1).unwrap_or(-1))))
        }),
        fixed("pg_get_userbyid", text, |s, v| {
            text_value(int_arg(v, 0).map(|oid| {
                s.owner_name(oid)
                    .unwrap_or_else(|| format!("unknown (OID={oid})"))
            }))
        }),
        fixed("has_table_privilege", boolean, |s, v| {
            let (table, privilege) = object_and_privilege(v);
            let relation = match int_arg(table, 0) {
                Some(oid) => s.relation_by_oid(oid),
                None => {
                    text_arg(table, 0).and_then(|name| s.relation_by_name(&name.to_lowercase()))
                }
            };
            ScalarValue::Boolean(relation.map(|r| holds(s, &r.schema, Some(r), &privilege)))
        }),
        fixed("has_schema_privilege", boolean, |s, v| {
            let (schema, privilege) = object_and_privilege(v);
            let entry = match int_arg(schema, 0) {
                Some(oid) => s.schema_by_oid(oid),
                None => text_arg(schema, 0).and_then(|name| s.schema_by_name(&name.to_lowercase())),
            };
            ScalarValue::Boolean(entry.map(|e| holds(s, &e.name, None, &privilege)))
        }),
        fixed("pg_table_is_visible", boolean, |s, v| {
            ScalarValue::Boolean(
                int_arg(v, 0)
                    .and_then(|oid| s.relation_by_oid(oid))
                    .map(|r| s.is_visible(r)),
            )
        }),
        fixed("pg_get_viewdef", text, |s, v| {
            text_value(
                int_arg(v, 0)
                    .and_then(|oid| s.relation_by_oid(oid))
                    .and_then(|r| r.view_sql.clone()),
            )
        }),
        fixed("obj_description", text, |s, v| {
            let Some(oid) = int_arg(v, 0) else {
                return ScalarValue::Utf8(None);
            };
            let catalog = text_arg(v, 1).unwrap_or_else(|| "pg_class".into());
            let comment = match catalog.trim_start_matches("pg_catalog.") {
                "pg_namespace" => s.schema_by_oid(oid).and_then(|n| n.comment.clone()),
                _ => s.relation_by_oid(oid).and_then(|r| r.comment.clone()),
            };
            text_value(comment)
        }),
        fixed("col_description", text, |s, v| {
            let (Some(oid), Some(number)) = (int_arg(v, 0), int_arg(v, 1)) else {
                return ScalarValue::Utf8(None);
            };
            text_value(s.relation_by_oid(oid).and_then(|r| {
                r.column_comments
                    .get((number - 1).max(0) as usize)
                    .cloned()
                    .flatten()
            }))
        }),
        fixed("pg_encoding_to_char", text, |_, v| {
            text_value(Some(match int_arg(v, 0) {
                Some(6) => "UTF8".into(),
                Some(0) => "SQL_ASCII".into(),
                _ => String::new(),
            }))
        }),
        fixed("pg_my_temp_schema", int8, |s, _| {
            ScalarValue::Int64(Some(s.temp_schema_oid.unwrap_or(0)))
        }),
        fixed("pg_size_pretty", text, |_, v| {
            text_value(int_arg(v, 0).map(size_pretty))
        }),
        fixed("quote_ident", text, |_, v| {
            text_value(text_arg(v, 0).map(|t| quote_ident(&t)))
        }),
        fixed("parse_ident", text_list, |_, v| match text_arg(v, 0) {
            Some(t) => {
                let parts: Vec<ScalarValue> = parse_ident(&t)
                    .into_iter()
                    .map(|p| ScalarValue::Utf8(Some(p)))
                    .collect();
                ScalarValue::List(ScalarValue::new_list_nullable(&parts, &DataType::Utf8))
            }
            None => ScalarValue::Utf8(None),
        }),
        fixed("format", text, |_, v| {
            text_value(text_arg(v, 0).map(|f| pg_format(&f, &v[1..])))
        }),
        fixed("to_regtype", int8, |_, v| {
            ScalarValue::Int64(text_arg(v, 0).and_then(|t| type_oid(&t)))
        }),
        fixed("to_regclass", int8, |s, v| {
            ScalarValue::Int64(text_arg(v, 0).and_then(|t| relation_oid(s, &t)))
        }),
        fixed("to_regnamespace", int8, |s, v| {
            ScalarValue::Int64(text_arg(v, 0).and_then(|t| namespace_oid(s, &t)))
        }),
        fixed("txid_current", int8, |_, _| {
            ScalarValue::Int64(Some(next_transaction_id()))
        }),
        fixed("pg_postmaster_start_time", timestamptz, |_, _| {
            ScalarValue::TimestampMicrosecond(Some(start_time_micros()), Some("UTC".into()))
        }),
        // A set-returning function in PostgreSQL; here the first element, which is enough
        // for the driver queries that call it over pg_index (empty in lakeport).
        fixed("_pg_expandarray", expanded_element, |_, v| {
            let first = match v.first() {
                Some(ScalarValue::List(list)) if !list.value(0).is_empty() => {
                    ScalarValue::try_from_array(&list.value(0), 0).ok()
                }
                _ => None,
            };
            let x = first.and_then(|f| int_arg(&[f], 0));
            let element = datafusion::arrow::array::StructArray::try_new(
                expanded_fields(),
                vec![
                    Arc::new(datafusion::arrow::array::Int64Array::from(vec![x])),
                    Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                        x.map(|_| 1),
                    ])),
                ],
                None,
            );
            element.map_or(ScalarValue::Null, |e| ScalarValue::Struct(Arc::new(e)))
        }),
        fixed("array_lower", int4, |_, v| {
            ScalarValue::Int32(list_length(v).filter(|n| *n > 0).map(|_| 1))
        }),
        fixed("array_upper", int4, |_, v| {
            ScalarValue::Int32(list_length(v).filter(|n| *n > 0))
        }),
        ("regclass", Returns::TextToOidElseName, |s, v| match &v[0] {
            ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)) => {
                ScalarValue::Int64(relation_oid(s, t))
            }
            _ => text_value(int_arg(v, 0).map(|oid| relation_name(s, oid))),
        }),
        ("regtype", Returns::TextToOidElseName, |_, v| match &v[0] {
            ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)) => {
                ScalarValue::Int64(type_oid(t))
            }
            _ => text_value(
                int_arg(v, 0).map(|oid| format_type(oid, -1).unwrap_or_else(|| oid.to_string())),
            ),
        }),
        (
            "regnamespace",
            Returns::TextToOidElseName,
            |s, v| match &v[0] {
                ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)) => {
                    ScalarValue::Int64(namespace_oid(s, t))
                }
                _ => text_value(int_arg(v, 0).map(|oid| {
                    s.schema_by_oid(oid)
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| oid.to_string())
                })),
            },
        ),
        // pg_catalog's regproc columns hold function names, so `'array_in'::regproc` is
        // the name itself.
        fixed("regproc", text, |_, v| match &v[0] {
            ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)) => {
                text_value(Some(t.trim_start_matches("pg_catalog.").to_string()))
            }
            _ => text_value(Some("-".into())),
        }),
        ("regrole", Returns::TextToOidElseName, |s, v| match &v[0] {
            ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)) => {
                ScalarValue::Int64(if *t == s.user {
                    Some(s.user_oid)
                } else {
                    Some(10)
                })
            }
            _ => text_value(int_arg(v, 0).and_then(|oid| s.owner_name(oid))),
        }),
    ];
    for name in [
        "pg_get_expr",
        "pg_get_indexdef",
        "pg_get_constraintdef",
        "pg_get_triggerdef",
        "pg_get_partkeydef",
        "pg_get_function_result",
        "pg_get_function_arguments",
        "pg_get_function_identity_arguments",
        "pg_get_statisticsobjdef_columns",
        "pg_get_serial_sequence",
        "shobj_description",
        "inet_server_addr",
        "inet_client_addr",
    ] {
        definitions.push((name, Returns::Fixed(text), null_text));
    }
    for name in [
        "pg_type_is_visible",
        "pg_function_is_visible",
        "pg_collation_is_visible",
        "pg_opclass_is_visible",
        "pg_conversion_is_visible",
        "pg_operator_is_visible",
        "has_database_privilege",
        "has_column_privilege",
        "has_any_column_privilege",
        "has_function_privilege",
        "has_sequence_privilege",
        "has_type_privilege",
        "pg_has_role",
    ] {
        definitions.push((name, Returns::Fixed(boolean), yes));
    }
    for name in [
        "pg_is_other_temp_schema",
        "pg_relation_is_publishable",
        "pg_jit_available",
    ] {
        definitions.push((name, Returns::Fixed(boolean), no));
    }
    for name in [
        "pg_total_relation_size",
        "pg_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_stat_get_numscans",
        "pg_stat_get_tuples_returned",
        "pg_stat_get_tuples_fetched",
        "pg_stat_get_live_tuples",
    ] {
        definitions.push((name, Returns::Fixed(int8), zero));
    }
    definitions
        .into_iter()
        .map(|(name, returns, row)| {
            let nullary = matches!(
                name,
                "pg_my_temp_schema"
                    | "txid_current"
                    | "pg_postmaster_start_time"
                    | "inet_server_addr"
                    | "inet_client_addr"
                    | "pg_jit_available"
            );
            let signature = if nullary {
                Signature::nullary(Volatility::Stable)
            } else {
                Signature::one_of(vec![TypeSignature::VariadicAny], Volatility::Stable)
            };
            Arc::new(ScalarUDF::new_from_impl(CatalogFunction {
                name,
                returns,
                row,
                snapshot: snapshot.clone(),
                signature,
            }))
        })
        .collect()
}

/// The names of the catalog functions, for deciding whether a statement needs a snapshot.
pub fn is_catalog_function(name: &str) -> bool {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        catalog_functions(Arc::new(Snapshot::empty()))
            .iter()
            .map(|f| f.name().to_string())
            .collect()
    });
    let name = name
        .strip_prefix("pg_catalog.")
        .or_else(|| name.strip_prefix("information_schema."))
        .unwrap_or(name);
    names.iter().any(|n| n == name)
}

/// A relation's OID by name, resolved as PostgreSQL resolves `'name'::regclass`.
fn relation_oid(snapshot: &Snapshot, name: &str) -> Option<i64> {
    let parts = parse_ident(name);
    match parts.as_slice() {
        [schema, table] => {
            if let Some(system) = system_relation(schema, table) {
                return Some(system.oid);
            }
            snapshot
                .relations
                .iter()
                .find(|r| r.schema == *schema && r.name == *table)
                .map(|r| r.oid)
        }
        [table] => {
            if let Some(system) = system_relation(PG_CATALOG, table) {
                return Some(system.oid);
            }
            snapshot
                .relations
                .iter()
                .filter(|r| r.name == *table)
                .find(|r| snapshot.is_visible(r))
                .map(|r| r.oid)
        }
        _ => None,
    }
}

fn relation_name(snapshot: &Snapshot, oid: i64) -> String {
    match snapshot.relation_by_oid(oid) {
        Some(relation) if snapshot.is_visible(relation) => quote_ident(&relation.name),
        Some(relation) => format!(
            "{}.{}",
            quote_ident(&relation.schema),
            quote_ident(&relation.name)
        ),
        None => oid.to_string(),
    }
}

fn namespace_oid(snapshot: &Snapshot, name: &str) -> Option<i64> {
    let name = parse_ident(name).pop()?;
    snapshot
        .schemas
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.oid)
        .or_else(|| (name == PG_CATALOG).then(|| schema_oid(&name)))
}

fn list_length(values: &[ScalarValue]) -> Option<i32> {
    match values.first()? {
        ScalarValue::List(list) => {
            let array = list.value(0);
            Some(array.len() as i32)
        }
        _ => None,
    }
}

/// `quote_ident`: double quotes unless the name is lower-case letters, digits and `_`
/// starting with a letter or `_`.
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `parse_ident`: dotted names, quoted parts kept as written, others lower-cased.
pub fn parse_ident(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        part.push('"');
                    } else {
                        break;
                    }
                } else {
                    part.push(c);
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
        }
        parts.push(part.trim().to_string());
        match chars.next() {
            Some('.') => continue,
            _ => return parts,
        }
    }
}

/// `pg_size_pretty`: bytes, kB, MB, GB, TB, rounding as PostgreSQL does.
fn size_pretty(bytes: i64) -> String {
    let mut size = bytes;
    for unit in ["bytes", "kB", "MB", "GB", "TB"] {
        if size.abs() < 10 * 1024 || unit == "TB" {
            return format!("{size} {unit}");
        }
        size = (size + if size >= 0 { 512 } else { -512 }) / 1024;
    }
    format!("{size} PB")
}

/// PostgreSQL's `format()`: `%s` text, `%I` identifier, `%L` literal, `%%`.
fn pg_format(format: &str, args: &[ScalarValue]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let kind = chars.next();
        if kind == Some('%') {
            out.push('%');
            continue;
        }
        let value = text_arg(args, next);
        next += 1;
        match kind {
            Some('I') => out.push_str(&quote_ident(&value.unwrap_or_default())),
            Some('L') => match value {
                Some(v) => out.push_str(&format!("'{}'", v.replace('\'', "''"))),
                None => out.push_str("NULL"),
            },
            _ => out.push_str(&value.unwrap_or_default()),
        }
    }
    out
}

fn next_transaction_id() -> i64 {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_000);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn start_time_micros() -> i64 {
    static START: OnceLock<i64> = OnceLock::new();
    *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_sizes_read_as_postgres() {
        assert_eq!(quote_ident("trips"), "trips");
        assert_eq!(quote_ident("Trips"), "\"Trips\"");
        assert_eq!(
            parse_ident("public.\"My Table\""),
            vec!["public", "My Table"]
        );
        assert_eq!(parse_ident("Public.T"), vec!["public", "t"]);
        assert_eq!(size_pretty(1000), "1000 bytes");
        assert_eq!(size_pretty(10 * 1024 * 1024), "10 MB");
        assert_eq!(
            pg_format(
                "SELECT %I FROM %I.%I WHERE x = %L %%",
                &[
                    ScalarValue::Utf8(Some("a b".into())),
                    ScalarValue::Utf8(Some("s".into())),
                    ScalarValue::Utf8(Some("t".into())),
                    ScalarValue::Utf8(Some("it's".into())),
                ]
            ),
            "SELECT \"a b\" FROM s.t WHERE x = 'it''s' %"
        );
    }
}
