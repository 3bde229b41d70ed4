//! Spark's `to_json(struct | map | array)` and `from_json(text, schema)`. The schema is
//! Spark's DDL text (`'a INT, b ARRAY<STRING>'`) or a Hive type (`'struct<a:int>'`,
//! `'array<int>'`, `'map<string,int>'`); text that is not JSON of that shape reads as NULL.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringBuilder, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::arrow::json::{LineDelimitedWriter, ReaderBuilder};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use lakeport_catalog::types::HiveType;

use crate::error::{Error, ErrorKind};
use crate::exec::catalog_bridge::types::arrow_type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    ToJson,
    FromJson,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkJson {
    kind: JsonKind,
    signature: Signature,
}

impl SparkJson {
    pub fn new(kind: JsonKind) -> Self {
        let signature = match kind {
            JsonKind::ToJson => Signature::any(1, Volatility::Immutable),
            JsonKind::FromJson => {
                Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable)
            }
        };
        Self { kind, signature }
    }
}

impl ScalarUDFImpl for SparkJson {
    fn name(&self) -> &str {
        match self.kind {
            JsonKind::ToJson => "to_json",
            JsonKind::FromJson => "from_json",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        match self.kind {
            JsonKind::ToJson => Ok(DataType::Utf8),
            JsonKind::FromJson => {
                Err(Error::internal("from_json's type comes from its schema").into())
            }
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let data_type = match self.kind {
            JsonKind::ToJson => DataType::Utf8,
            JsonKind::FromJson => match args.scalar_arguments.get(1) {
                Some(Some(ScalarValue::Utf8(Some(schema)))) => schema_type(schema)?,
                _ => {
                    return Err(Error::new(
                        ErrorKind::FeatureNotSupported,
                        "from_json needs its schema as a constant text",
                    )
                    .into());
                }
            },
        };
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let input = args.args[0].to_array(args.number_rows.max(1))?;
        let output = match self.kind {
            JsonKind::ToJson => to_json(&input)?,
            JsonKind::FromJson => from_json(&input, args.return_field.data_type())?,
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&output, 0)?)
        } else {
            ColumnarValue::Array(output)
        })
    }
}

/// Spark's DDL schema (`a INT, b STRING`) or a Hive type, as an Arrow type.
fn schema_type(schema: &str) -> DfResult<DataType> {
    let text = schema.trim();
    let lower = text.to_ascii_lowercase();
    let hive = if ["struct<", "array<", "map<"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        text.to_string()
    } else {
        let fields: Vec<String> = top_level_items(text)
            .into_iter()
            .map(|item| match item.trim().split_once(char::is_whitespace) {
                Some((name, data_type)) => {
                    format!("{}:{}", name.trim_matches('`'), data_type.trim())
                }
                None => item.to_string(),
            })
            .collect();
        format!("struct<{}>", fields.join(","))
    };
    let parsed = HiveType::parse(&hive).map_err(|e| {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("invalid from_json schema \"{schema}\": {e}"),
        )
    })?;
    Ok(arrow_type(&parsed))
}

/// Splits on commas outside `<…>`.
fn top_level_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

fn to_json(input: &ArrayRef) -> DfResult<ArrayRef> {
    let wrapped = match input.data_type() {
        DataType::Struct(_) => None,
        DataType::Map(..) | DataType::List(_) | DataType::LargeList(_) => Some("v"),
        other => {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!("to_json expects a struct, map or array, not {other}"),
            )
            .into());
        }
    };
    let batch = match wrapped {
        // The struct's own NULLs are answered below; its fields are written as they are.
        None => {
            let fields = input.as_struct();
            RecordBatch::try_new_with_options(
                Arc::new(Schema::new(fields.fields().clone())),
                fields.columns().to_vec(),
                &RecordBatchOptions::new().with_row_count(Some(input.len())),
            )?
        }
        Some(name) => RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                name,
                input.data_type().clone(),
                true,
            )])),
            vec![Arc::clone(input)],
        )?,
    };
    let mut buffer = Vec::new();
    {
        let mut writer = LineDelimitedWriter::new(&mut buffer);
        writer.write(&batch)?;
        writer.finish()?;
    }
    let text = String::from_utf8(buffer)
        .map_err(|e| Error::internal(format!("to_json wrote invalid UTF-8: {e}")))?;
    let mut lines = text.lines();
    let mut out = StringBuilder::new();
    for i in 0..input.len() {
        let line = lines.next().unwrap_or_default();
        if input.is_null(i) {
            out.append_null();
            continue;
        }
        match wrapped {
            None => out.append_value(line),
            // `{"v":…}`: the value is the text between the wrapper's key and its last brace,
            // kept as written so that fields stay in their order.
            Some(name) => match line
                .strip_prefix(&format!("{{\"{name}\":"))
                .and_then(|rest| rest.strip_suffix('}'))
            {
                Some(value) => out.append_value(value),
                None => out.append_value("null"),
            },
        }
    }
    Ok(Arc::new(out.finish()))
}

fn from_json(input: &ArrayRef, output: &DataType) -> DfResult<ArrayRef> {
    let field = Arc::new(Field::new("v", output.clone(), true));
    let schema = Arc::new(Schema::new(vec![Arc::clone(&field)]));
    let texts = input.as_string::<i32>();
    let mut decoder = ReaderBuilder::new(schema).build_decoder()?;
    for i in 0..texts.len() {
        let document = if texts.is_null(i) {
            None
        } else {
            serde_json::from_str::<serde_json::Value>(texts.value(i)).ok()
        };
        let line = match document {
            Some(value) if shape_matches(&value, output) => {
                serde_json::json!({ "v": value }).to_string()
            }
            _ if texts.is_null(i) => "{\"v\":null}".to_string(),
            // Spark reads text that is not a JSON object as a struct of NULL fields.
            _ if matches!(output, DataType::Struct(_)) => "{\"v\":{}}".to_string(),
            _ => "{\"v\":null}".to_string(),
        };
        decoder.decode(line.as_bytes())?;
        decoder.decode(b"\n")?;
    }
    let batch = decoder
        .flush()?
        .ok_or_else(|| Error::internal("from_json decoded no rows"))?;
    let column = StructArray::from(batch).column(0).clone();
    Ok(column)
}

/// Whether a JSON value has the outer shape of `data_type` (object, array or scalar).
fn shape_matches(value: &serde_json::Value, data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(_) | DataType::Map(..) => value.is_object(),
        DataType::List(_) | DataType::LargeList(_) => value.is_array(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_schemas_and_hive_types() {
        let t = schema_type("a INT, b ARRAY<STRING>, c MAP<STRING, INT>").unwrap();
        let DataType::Struct(fields) = t else {
            panic!("{t}")
        };
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].data_type(), &DataType::Int32);
        assert!(matches!(fields[1].data_type(), DataType::List(_)));
        assert!(matches!(
            schema_type("array<int>").unwrap(),
            DataType::List(_)
        ));
        assert!(schema_type("a FANCY").is_err());
    }
}
