//! Building catalog relations' rows: values by column name, turned into a record batch of
//! the relation's PostgreSQL-defined columns. A column a row does not mention gets
//! PostgreSQL's "nothing here" value: in pg_catalog (whose columns are NOT NULL) `false`
//! or `0`, NULL for text and arrays; in information_schema NULL.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
    UInt32Builder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Microseconds since the Unix epoch.
    Timestamp(i64),
    List(Vec<Value>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<Option<String>> for Value {
    fn from(value: Option<String>) -> Self {
        value.map_or(Value::Null, Value::Text)
    }
}

/// Rows of one relation, collected by column name.
pub struct Rows {
    schema: SchemaRef,
    /// Unmentioned columns are NULL whatever their type (information_schema).
    null_defaults: bool,
    index: HashMap<String, usize>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Rows whose unmentioned columns are NULL, as information_schema's are.
    pub fn nullable(schema: SchemaRef) -> Self {
        let mut rows = Self::new(schema);
        rows.null_defaults = true;
        rows
    }

    pub fn new(schema: SchemaRef) -> Self {
        let index = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name().clone(), i))
            .collect();
        Self {
            schema,
            null_defaults: false,
            index,
            rows: Vec::new(),
        }
    }

    /// Adds a row; columns not named get their default.
    pub fn push(&mut self, values: Vec<(&str, Value)>) {
        let mut row = vec![Value::Null; self.schema.fields().len()];
        for (name, value) in values {
            if let Some(&i) = self.index.get(name) {
                row[i] = value;
            } else {
                debug_assert!(false, "no column {name} in {:?}", self.schema);
            }
        }
        self.rows.push(row);
    }

    /// Adds a row given in column order (static rows read from PostgreSQL's COPY output).
    pub fn push_ordered(&mut self, row: Vec<Value>) {
        let mut row = row;
        row.resize(self.schema.fields().len(), Value::Null);
        self.rows.push(row);
    }

    pub fn build(self) -> Result<RecordBatch> {
        let columns = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                column(
                    field.data_type(),
                    self.rows.iter().map(|row| &row[i]),
                    self.null_defaults,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

fn column<'a>(
    data_type: &DataType,
    values: impl Iterator<Item = &'a Value>,
    null_defaults: bool,
) -> Result<ArrayRef> {
    if null_defaults && !matches!(data_type, DataType::Utf8 | DataType::List(_)) {
        let values: Vec<ScalarValue> = values
            .map(|v| scalar(v, data_type))
            .collect::<Result<_>>()?;
        if values.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(data_type));
        }
        return Ok(ScalarValue::iter_to_array(values)?);
    }
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Text(t) => t.parse().ok(),
        _ => None,
    };
    Ok(match data_type {
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            for v in values {
                b.append_value(
                    matches!(v, Value::Bool(true)) || matches!(v, Value::Text(t) if t == "t"),
                );
            }
            Arc::new(b.finish())
        }
        DataType::Int16 => {
            let mut b = Int16Builder::new();
            values.for_each(|v| b.append_value(int(v).unwrap_or(0) as i16));
            Arc::new(b.finish())
        }
        DataType::Int32 => {
            let mut b = Int32Builder::new();
            values.for_each(|v| b.append_value(int(v).unwrap_or(0) as i32));
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            values.for_each(|v| b.append_value(int(v).unwrap_or(0)));
            Arc::new(b.finish())
        }
        DataType::UInt32 => {
            let mut b = UInt32Builder::new();
            values.for_each(|v| {
                b.append_value(int(v).and_then(|i| u32::try_from(i).ok()).unwrap_or(0))
            });
            Arc::new(b.finish())
        }
        DataType::Float32 | DataType::Float64 => {
            let float = |v: &Value| match v {
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                Value::Text(t) => t.parse().unwrap_or(0.0),
                _ => 0.0,
            };
            if *data_type == DataType::Float32 {
                let mut b = Float32Builder::new();
                values.for_each(|v| b.append_value(float(v) as f32));
                Arc::new(b.finish())
            } else {
                let mut b = Float64Builder::new();
                values.for_each(|v| b.append_value(float(v)));
                Arc::new(b.finish())
            }
        }
        DataType::Timestamp(_, zone) => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone_opt(zone.clone());
            for v in values {
                match v {
                    Value::Timestamp(t) => b.append_value(*t),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        DataType::List(field) => match field.data_type() {
            DataType::Utf8 => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for v in values {
                    match v {
                        Value::List(items) => {
                            for item in items {
                                match item {
                                    Value::Text(t) => b.values().append_value(t),
                                    Value::Int(i) => b.values().append_value(i.to_string()),
                                    _ => b.values().append_null(),
                                }
                            }
                            b.append(true);
                        }
                        _ => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Int16 => {
                int_list(Int16Builder::new(), values, |b, i| b.append_value(i as i16))
            }
            DataType::UInt32 => int_list(UInt32Builder::new(), values, |b, i| {
                b.append_value(u32::try_from(i).unwrap_or(0))
            }),
            _ => int_list(Int64Builder::new(), values, |b, i| b.append_value(i)),
        },
        _ => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    Value::Text(t) => b.append_value(t),
                    Value::Int(i) => b.append_value(i.to_string()),
                    Value::Bool(x) => b.append_value(if *x { "t" } else { "f" }),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
    })
}

fn int_list<'a, B, F>(builder: B, values: impl Iterator<Item = &'a Value>, append: F) -> ArrayRef
where
    B: datafusion::arrow::array::ArrayBuilder,
    F: Fn(&mut B, i64),
{
    let mut list = ListBuilder::new(builder);
    for v in values {
        match v {
            Value::List(items) => {
                for item in items {
                    if let Value::Int(i) = item {
                        append(list.values(), *i);
                    }
                }
                list.append(true);
            }
            _ => list.append(false),
        }
    }
    Arc::new(list.finish())
}

/// A value as a scalar of `data_type`, NULL when absent.
fn scalar(value: &Value, data_type: &DataType) -> Result<ScalarValue> {
    let typed = match value {
        Value::Null => return Ok(ScalarValue::try_from(data_type)?),
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Int(i) => ScalarValue::Int64(Some(*i)),
        Value::Float(f) => ScalarValue::Float64(Some(*f)),
        Value::Text(t) => ScalarValue::Utf8(Some(t.clone())),
        Value::Timestamp(t) => ScalarValue::TimestampMicrosecond(Some(*t), Some("UTC".into())),
        Value::List(_) => return Ok(ScalarValue::try_from(data_type)?),
    };
    Ok(typed.cast_to(data_type)?)
}

/// One line of PostgreSQL's COPY text format as values (`\N` is NULL, `{a,b}` an array,
/// backslash escapes decoded).
pub fn parse_copy_line(line: &str) -> Vec<Value> {
    line.split('\t')
        .map(|field| {
            if field == "\\N" {
                return Value::Null;
            }
            let text = unescape(field);
            match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(inner) if !inner.is_empty() => Value::List(
                    inner
                        .split(',')
                        .map(|item| match item.parse::<i64>() {
                            Ok(i) => Value::Int(i),
                            Err(_) => Value::Text(item.trim_matches('"').to_string()),
                        })
                        .collect(),
                ),
                Some(_) => Value::List(Vec::new()),
                None => Value::Text(text),
            }
        })
        .collect()
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
