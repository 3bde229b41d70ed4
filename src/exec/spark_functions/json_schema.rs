//! `schema_of_json(json)`: the type Spark infers for a JSON document, in Spark's DDL
//! (`STRUCT<a: BIGINT, b: ARRAY<STRING>>`), ready for `from_json`. Integers are BIGINT (or
//! DECIMAL(20,0) past it), other numbers DOUBLE, objects STRUCTs with their keys sorted
//! (empty objects inside dropped), arrays take the type their elements share, and where
//! types disagree, or nothing is known (NULL, `[]`), the type is STRING. Only the first
//! JSON value of the text is read, as in Spark.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::{Number, Value};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SchemaOfJson {
    signature: Signature,
}

impl SchemaOfJson {
    pub fn new() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SchemaOfJson {
    fn name(&self) -> &str {
        "schema_of_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        invoke_by_row(&args, |values| match values.first() {
            Some(ScalarValue::Utf8(Some(json))) => {
                Ok(ScalarValue::Utf8(Some(schema_of_json(json)?)))
            }
            _ => Ok(ScalarValue::Utf8(None)),
        })
    }
}

/// A type as JSON inference sees it; `Unknown` is JSON's `null` (STRING in the end).
#[derive(Debug, Clone, PartialEq)]
enum Inferred {
    Unknown,
    Boolean,
    Bigint,
    Decimal(u32),
    Double,
    Text,
    Array(Box<Inferred>),
    Struct(Vec<(String, Inferred)>),
}

/// The DDL of the type Spark infers for `json`.
pub fn schema_of_json(json: &str) -> crate::error::Result<String> {
    inferred(json).map(|t| t.to_string())
}

fn inferred(json: &str) -> crate::error::Result<Inferred> {
    if json.trim().is_empty() {
        return Ok(Inferred::Text);
    }
    let first = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .next();
    match first {
        Some(Ok(value)) => Ok(infer(&value)),
        Some(Err(error)) => Err(Error::new(
            ErrorKind::InvalidTextRepresentation,
            format!("schema_of_json: invalid JSON: {error}"),
        )),
        None => Ok(Inferred::Text),
    }
}

fn infer(value: &Value) -> Inferred {
    match value {
        Value::Null => Inferred::Unknown,
        Value::Bool(_) => Inferred::Boolean,
        Value::Number(number) => number_type(number),
        Value::String(_) => Inferred::Text,
        Value::Array(items) => Inferred::Array(Box::new(
            items
                .iter()
                .map(infer)
                .reduce(common_type)
                .unwrap_or(Inferred::Unknown),
        )),
        Value::Object(entries) => {
            let mut fields: Vec<(String, Inferred)> = entries
                .iter()
                .map(|(key, value)| (key.clone(), infer(value)))
                .collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Inferred::Struct(fields)
        }
    }
}

fn number_type(number: &Number) -> Inferred {
    if number.is_i64() {
        Inferred::Bigint
    } else if let Some(unsigned) = number.as_u64() {
        Inferred::Decimal(unsigned.to_string().len() as u32)
    } else {
        Inferred::Double
    }
}

/// The type two values of one place share.
fn common_type(a: Inferred, b: Inferred) -> Inferred {
    use Inferred::*;
    match (a, b) {
        (a, b) if a == b => a,
        (Unknown, other) | (other, Unknown) => other,
        (Bigint, Decimal(p)) | (Decimal(p), Bigint) => Decimal(p.max(20)),
        (Decimal(p), Decimal(q)) => Decimal(p.max(q)),
        (Bigint | Decimal(_) | Double, Bigint | Decimal(_) | Double) => Double,
        (Array(a), Array(b)) => Array(Box::new(common_type(*a, *b))),
        (Struct(a), Struct(b)) => Struct(merged_fields(a, b)),
        _ => Text,
    }
}

/// The fields of two structs inferred for one place: each name once, by name.
fn merged_fields(
    a: Vec<(String, Inferred)>,
    b: Vec<(String, Inferred)>,
) -> Vec<(String, Inferred)> {
    let mut merged = a;
    for (name, field) in b {
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some((_, held)) => *held = common_type(held.clone(), field),
            None => merged.push((name, field)),
        }
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    merged
}

/// A field name as Spark's DDL writes it: backquoted unless a plain identifier.
fn quoted(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match plain {
        true => name.to_string(),
        false => format!("`{}`", name.replace('`', "``")),
    }
}

impl Inferred {
    /// Drops what inference cannot type inside a struct: fields that are empty structs.
    fn is_empty_struct(&self) -> bool {
        matches!(self, Inferred::Struct(fields) if fields.iter().all(|(_, f)| f.is_empty_struct()))
    }
}

impl std::fmt::Display for Inferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inferred::Unknown | Inferred::Text => f.write_str("STRING"),
            Inferred::Boolean => f.write_str("BOOLEAN"),
            Inferred::Bigint => f.write_str("BIGINT"),
            Inferred::Decimal(precision) => write!(f, "DECIMAL({precision},0)"),
            Inferred::Double => f.write_str("DOUBLE"),
            Inferred::Array(item) => write!(f, "ARRAY<{item}>"),
            Inferred::Struct(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .filter(|(_, field)| !field.is_empty_struct())
                    .map(|(name, field)| format!("{}: {field}", quoted(name)))
                    .collect();
                write!(f, "STRUCT<{}>", fields.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: &str) -> String {
        schema_of_json(json).unwrap_or_default()
    }

    #[test]
    fn inference_follows_spark() {
        assert_eq!(
            schema(r#"{"b": [1, 2.5], "a": {"y": null, "x": true}, "c": "s"}"#),
            "STRUCT<a: STRUCT<x: BOOLEAN, y: STRING>, b: ARRAY<DOUBLE>, c: STRING>"
        );
        assert_eq!(schema("[1, null, true]"), "ARRAY<STRING>");
        assert_eq!(
            schema(r#"[{"x":1},{"y":"s"}]"#),
            "ARRAY<STRUCT<x: BIGINT, y: STRING>>"
        );
        assert_eq!(schema(r#"{"a": {"b": {}}, "c": 1}"#), "STRUCT<c: BIGINT>");
        assert_eq!(
            schema(r#"{"d": 12345678901234567890}"#),
            "STRUCT<d: DECIMAL(20,0)>"
        );
        assert_eq!(
            schema(r#"{"a b": 1, "Z": 2}"#),
            "STRUCT<Z: BIGINT, `a b`: BIGINT>"
        );
        assert_eq!(schema("[]"), "ARRAY<STRING>");
        assert_eq!(schema(r#""x" trailing"#), "STRING");
        assert!(schema_of_json("{a: 1}").is_err());
    }
}
