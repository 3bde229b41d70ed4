//! Spark's side of a metastore table: the schema Spark keeps as JSON in table properties
//! (`spark.sql.sources.schema`, case-preserving, with column comments and char/varchar
//! lengths in field metadata) and the type names of that JSON.
//!
//! Spark reads a table's columns from this JSON when it is there and only falls back to
//! the storage descriptor's Hive columns otherwise; lakeport reads and writes it the same
//! way, so a column named `userName` keeps its case on both sides.

use serde_json::{Map, Value as Json, json};

use crate::error::{CatalogError, CatalogResult};
use crate::model::Column;
use crate::types::{HiveType, StructField};

/// The table property holding the schema, whole (Spark 3.4 and later write this).
pub const SCHEMA: &str = "spark.sql.sources.schema";
/// Older Sparks split a long schema: `…schema.numParts` parts in `…schema.part.N`.
const SCHEMA_PARTS: &str = "spark.sql.sources.schema.numParts";
const SCHEMA_PART: &str = "spark.sql.sources.schema.part.";
/// Field metadata that keeps a char/varchar column's declared type (Spark stores the
/// column as `string`).
const CHAR_VARCHAR: &str = "__CHAR_VARCHAR_TYPE_STRING";

/// The schema JSON of a table's properties, whole or reassembled from parts.
pub fn schema_json(properties: &std::collections::BTreeMap<String, String>) -> Option<String> {
    if let Some(whole) = properties.get(SCHEMA) {
        return Some(whole.clone());
    }
    let parts: usize = properties.get(SCHEMA_PARTS)?.parse().ok()?;
    (0..parts)
        .map(|n| properties.get(&format!("{SCHEMA_PART}{n}")).cloned())
        .collect()
}

/// The columns of a Spark schema JSON (data columns and partition keys together, in
/// Spark's order).
pub fn columns_from_json(text: &str) -> CatalogResult<Vec<Column>> {
    let schema: Json = serde_json::from_str(text)
        .map_err(|e| CatalogError::invalid(format!("unreadable Spark schema: {e}")))?;
    fields(&schema)?
        .iter()
        .map(|field| {
            let (name, data_type, comment) = field_parts(field)?;
            Ok(Column {
                name,
                data_type,
                comment,
            })
        })
        .collect()
}

/// The Spark schema JSON of `columns`.
pub fn json_from_columns<'a>(columns: impl Iterator<Item = &'a Column>) -> String {
    let fields: Vec<Json> = columns
        .map(|c| field_json(&c.name, &c.data_type, c.comment.as_deref()))
        .collect();
    json!({"type": "struct", "fields": fields}).to_string()
}

fn fields(schema: &Json) -> CatalogResult<&Vec<Json>> {
    schema
        .get("fields")
        .and_then(Json::as_array)
        .ok_or_else(|| CatalogError::invalid("a Spark struct type without fields"))
}

fn field_parts(field: &Json) -> CatalogResult<(String, HiveType, Option<String>)> {
    let name = field
        .get("name")
        .and_then(Json::as_str)
        .ok_or_else(|| CatalogError::invalid("a Spark struct field without a name"))?;
    let metadata = field.get("metadata");
    let declared = metadata
        .and_then(|m| m.get(CHAR_VARCHAR))
        .and_then(Json::as_str);
    let data_type = match declared {
        Some(declared) => HiveType::parse(declared)?,
        None => spark_type(field.get("type").unwrap_or(&Json::Null))?,
    };
    let comment = metadata
        .and_then(|m| m.get("comment"))
        .and_then(Json::as_str)
        .map(str::to_string);
    Ok((name.to_string(), data_type, comment))
}

/// A Spark type (a name such as `"long"`, or an object for arrays, maps and structs).
fn spark_type(json: &Json) -> CatalogResult<HiveType> {
    if let Some(name) = json.as_str() {
        return Ok(match name {
            "boolean" => HiveType::Boolean,
            "byte" => HiveType::TinyInt,
            "short" => HiveType::SmallInt,
            "integer" => HiveType::Int,
            "long" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => HiveType::Double,
            "string" => HiveType::String,
            "binary" => HiveType::Binary,
            "date" => HiveType::Date,
            "timestamp" | "timestamp_ntz" => HiveType::Timestamp,
            decimal if decimal.starts_with("decimal") => HiveType::parse(decimal)?,
            other => {
                return Err(CatalogError::new(
                    crate::error::CatalogErrorKind::Unsupported,
                    format!("Spark type \"{other}\" is not supported"),
                ));
            }
        });
    }
    let child = |key: &str| spark_type(json.get(key).unwrap_or(&Json::Null));
    match json.get("type").and_then(Json::as_str) {
        Some("array") => Ok(HiveType::Array(Box::new(child("elementType")?))),
        Some("map") => Ok(HiveType::Map(
            Box::new(child("keyType")?),
            Box::new(child("valueType")?),
        )),
        Some("struct") => Ok(HiveType::Struct(
            fields(json)?
                .iter()
                .map(|field| {
                    let (name, data_type, comment) = field_parts(field)?;
                    Ok(StructField {
                        name,
                        data_type,
                        comment,
                    })
                })
                .collect::<CatalogResult<_>>()?,
        )),
        _ => Err(CatalogError::invalid(format!(
            "unreadable Spark type {json}"
        ))),
    }
}

fn field_json(name: &str, data_type: &HiveType, comment: Option<&str>) -> Json {
    let mut metadata = Map::new();
    if let Some(comment) = comment {
        metadata.insert("comment".into(), comment.into());
    }
    if matches!(data_type, HiveType::Varchar(_) | HiveType::Char(_)) {
        metadata.insert(CHAR_VARCHAR.into(), data_type.to_string().into());
    }
    json!({
        "name": name,
        "type": type_json(data_type),
        "nullable": true,
        "metadata": metadata,
    })
}

fn type_json(data_type: &HiveType) -> Json {
    match data_type {
        HiveType::Boolean => "boolean".into(),
        HiveType::TinyInt => "byte".into(),
        HiveType::SmallInt => "short".into(),
        HiveType::Int => "integer".into(),
        HiveType::BigInt => "long".into(),
        HiveType::Float => "float".into(),
        HiveType::Double => "double".into(),
        HiveType::Decimal { .. } => data_type.to_string().into(),
        HiveType::String | HiveType::Varchar(_) | HiveType::Char(_) => "string".into(),
        HiveType::Binary => "binary".into(),
        HiveType::Date => "date".into(),
        HiveType::Timestamp => "timestamp".into(),
        HiveType::Array(element) => json!({
            "type": "array", "elementType": type_json(element), "containsNull": true,
        }),
        HiveType::Map(key, value) => json!({
            "type": "map", "keyType": type_json(key), "valueType": type_json(value),
            "valueContainsNull": true,
        }),
        HiveType::Struct(fields) => json!({
            "type": "struct",
            "fields": fields
                .iter()
                .map(|f| field_json(&f.name, &f.data_type, f.comment.as_deref()))
                .collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_survives_the_spark_schema() {
        let types = [
            "boolean",
            "tinyint",
            "smallint",
            "int",
            "bigint",
            "float",
            "double",
            "decimal(10,2)",
            "string",
            "varchar(20)",
            "char(3)",
            "binary",
            "date",
            "timestamp",
            "array<map<string,struct<a:int,b:array<bigint>>>>",
        ];
        let columns: Vec<Column> = types
            .iter()
            .enumerate()
            .map(|(i, t)| Column {
                name: format!("Col{i}"),
                data_type: HiveType::parse(t).unwrap(),
                comment: (i % 2 == 0).then(|| format!("comment {i}")),
            })
            .collect();
        let json = json_from_columns(columns.iter());
        assert_eq!(columns_from_json(&json).unwrap(), columns);
    }

    #[test]
    fn reads_what_spark_writes() {
        // As Spark 4.3 stored `CREATE TABLE (id BIGINT COMMENT 'the id', userName STRING, tags
        // ARRAY<STRING>) USING parquet`.
        let json = r#"{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{"comment":"the id"}},{"name":"userName","type":"string","nullable":true,"metadata":{}},{"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}}]}"#;
        let columns = columns_from_json(json).unwrap();
        let described: Vec<String> = columns
            .iter()
            .map(|c| format!("{} {} {:?}", c.name, c.data_type, c.comment))
            .collect();
        assert_eq!(
            described,
            [
                "id bigint Some(\"the id\")",
                "userName string None",
                "tags array<string> None"
            ]
        );
        let unsupported = columns_from_json(
            r#"{"type":"struct","fields":[{"name":"v","type":"variant","nullable":true,"metadata":{}}]}"#,
        )
        .unwrap_err();
        assert!(unsupported.message.contains("variant"), "{unsupported}");
    }

    #[test]
    fn reassembles_a_schema_in_parts() {
        let properties = std::collections::BTreeMap::from([
            (SCHEMA_PARTS.to_string(), "2".to_string()),
            (format!("{SCHEMA_PART}0"), "{\"type\":\"str".to_string()),
            (
                format!("{SCHEMA_PART}1"),
                "uct\",\"fields\":[]}".to_string(),
            ),
        ]);
        assert_eq!(
            schema_json(&properties).as_deref(),
            Some("{\"type\":\"struct\",\"fields\":[]}")
        );
    }
}
