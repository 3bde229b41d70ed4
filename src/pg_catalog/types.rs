//! PostgreSQL's own types (`data/pg_type.tsv`) and how it names them: `format_type`, the
//! type names of information_schema, and the OIDs `::regtype` resolves.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::pg_catalog::rows::{Value, parse_copy_line};

const PG_TYPE: &str = include_str!("data/pg_type.tsv");

/// Column positions in PostgreSQL 15's pg_type.
const TYPNAME: usize = 1;
const TYPCATEGORY: usize = 7;
const TYPELEM: usize = 13;

pub struct TypeInfo {
    pub name: String,
    pub category: String,
    pub element: i64,
}

/// pg_type's rows in COPY order, parsed once.
pub fn pg_type_rows() -> &'static Vec<Vec<Value>> {
    static ROWS: OnceLock<Vec<Vec<Value>>> = OnceLock::new();
    ROWS.get_or_init(|| PG_TYPE.lines().map(parse_copy_line).collect())
}

fn types() -> &'static HashMap<i64, TypeInfo> {
    static TYPES: OnceLock<HashMap<i64, TypeInfo>> = OnceLock::new();
    TYPES.get_or_init(|| {
        pg_type_rows()
            .iter()
            .filter_map(|row| {
                let text = |i: usize| match row.get(i) {
                    Some(Value::Text(t)) => Some(t.clone()),
                    Some(Value::Int(n)) => Some(n.to_string()),
                    _ => None,
                };
                let oid = text(0)?.parse().ok()?;
                Some((
                    oid,
                    TypeInfo {
                        name: text(TYPNAME)?,
                        category: text(TYPCATEGORY).unwrap_or_default(),
                        element: text(TYPELEM).and_then(|e| e.parse().ok()).unwrap_or(0),
                    },
                ))
            })
            .collect()
    })
}

pub fn type_info(oid: i64) -> Option<&'static TypeInfo> {
    types().get(&oid)
}

/// The OID of a type by the names SQL or PostgreSQL give it (`integer`, `int4`, `text[]`).
pub fn type_oid(name: &str) -> Option<i64> {
    let name = name
        .trim()
        .trim_start_matches("pg_catalog.")
        .to_ascii_lowercase();
    if let Some(element) = name.strip_suffix("[]") {
        let element = type_oid(element)?;
        return types()
            .iter()
            .find(|(_, t)| t.element == element && t.category == "A")
            .map(|(oid, _)| *oid);
    }
    let internal = match name.as_str() {
        "integer" | "int" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" => "float8",
        "boolean" => "bool",
        "character varying" => "varchar",
        "character" => "bpchar",
        "timestamp without time zone" | "timestamp" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" | "time" => "time",
        "decimal" => "numeric",
        other => other,
    };
    types()
        .iter()
        .find(|(_, t)| t.name == internal)
        .map(|(oid, _)| *oid)
}

/// `format_type(oid, typmod)`: the SQL name of a type with its modifier.
pub fn format_type(oid: i64, typmod: i64) -> Option<String> {
    let info = type_info(oid)?;
    if info.category == "A" && info.element != 0 {
        return Some(format!("{}[]", format_type(info.element, typmod)?));
    }
    let with_length = |base: &str| {
        if typmod >= 4 {
            format!("{base}({})", typmod - 4)
        } else {
            base.to_string()
        }
    };
    Some(match info.name.as_str() {
        "bool" => "boolean".into(),
        "int2" => "smallint".into(),
        "int4" => "integer".into(),
        "int8" => "bigint".into(),
        "float4" => "real".into(),
        "float8" => "double precision".into(),
        "varchar" => with_length("character varying"),
        "bpchar" => with_length("character"),
        "timestamp" => "timestamp without time zone".into(),
        "timestamptz" => "timestamp with time zone".into(),
        "time" => "time without time zone".into(),
        "timetz" => "time with time zone".into(),
        "char" => "\"char\"".into(),
        "numeric" if typmod >= 4 => {
            let modifier = typmod - 4;
            format!(
                "numeric({},{})",
                (modifier >> 16) & 0xffff,
                modifier & 0xffff
            )
        }
        other => other.to_string(),
    })
}

/// information_schema's `data_type`: the SQL name without modifiers, `ARRAY` for arrays.
pub fn information_schema_type(oid: i64) -> String {
    match type_info(oid) {
        Some(info) if info.category == "A" => "ARRAY".into(),
        Some(_) => {
            let name = format_type(oid, -1).unwrap_or_default();
            name.split('(').next().unwrap_or_default().to_string()
        }
        None => "USER-DEFINED".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_postgres() {
        assert_eq!(format_type(23, -1).as_deref(), Some("integer"));
        assert_eq!(
            format_type(1043, 14).as_deref(),
            Some("character varying(10)")
        );
        assert_eq!(
            format_type(1700, (10 << 16 | 2) + 4).as_deref(),
            Some("numeric(10,2)")
        );
        assert_eq!(format_type(1009, -1).as_deref(), Some("text[]"));
        assert_eq!(type_oid("integer"), Some(23));
        assert_eq!(type_oid("text[]"), Some(1009));
        assert_eq!(information_schema_type(1184), "timestamp with time zone");
        assert_eq!(information_schema_type(1007), "ARRAY");
    }
}
