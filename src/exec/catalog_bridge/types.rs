//! Hive column types ↔ Arrow types.
//!
//! Hive → Arrow decides how lakeport reads a catalog table; Arrow → Hive decides what a
//! table declared over existing files (or created from a query) records in the catalog,
//! so that Spark and Hive read the same columns.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use lakeport_catalog::{Column, HiveType, StructField};

use crate::error::{Error, Result};

pub fn arrow_type(hive: &HiveType) -> DataType {
    match hive {
        HiveType::Boolean => DataType::Boolean,
        HiveType::TinyInt => DataType::Int8,
        HiveType::SmallInt => DataType::Int16,
        HiveType::Int => DataType::Int32,
        HiveType::BigInt => DataType::Int64,
        HiveType::Float => DataType::Float32,
        HiveType::Double => DataType::Float64,
        HiveType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
        HiveType::String | HiveType::Varchar(_) | HiveType::Char(_) => DataType::Utf8,
        HiveType::Binary => DataType::Binary,
        HiveType::Date => DataType::Date32,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        HiveType::Array(element) => {
            DataType::List(Arc::new(Field::new("element", arrow_type(element), true)))
        }
        HiveType::Map(key, value) => {
            let entries = Fields::from(vec![
                Field::new("key", arrow_type(key), false),
                Field::new("value", arrow_type(value), true),
            ]);
            DataType::Map(
                Arc::new(Field::new("key_value", DataType::Struct(entries), false)),
                false,
            )
        }
        HiveType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Field::new(&f.name, arrow_type(&f.data_type), true))
                .collect(),
        ),
    }
}

pub fn arrow_field(column: &Column) -> Field {
    Field::new(&column.name, arrow_type(&column.data_type), true)
}

pub fn arrow_schema(columns: &[Column]) -> Schema {
    Schema::new(columns.iter().map(arrow_field).collect::<Vec<_>>())
}

/// The Hive type that holds an Arrow type's values; `column` names the column in errors.
pub fn hive_type(arrow: &DataType, column: &str) -> Result<HiveType> {
    Ok(match arrow {
        DataType::Boolean => HiveType::Boolean,
        DataType::Int8 => HiveType::TinyInt,
        DataType::Int16 | DataType::UInt8 => HiveType::SmallInt,
        DataType::Int32 | DataType::UInt16 => HiveType::Int,
        DataType::Int64 | DataType::UInt32 => HiveType::BigInt,
        DataType::UInt64 => HiveType::Decimal {
            precision: 20,
            scale: 0,
        },
        DataType::Float16 | DataType::Float32 => HiveType::Float,
        DataType::Float64 => HiveType::Double,
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s)
            if *p <= 38 && *s >= 0 =>
        {
            HiveType::Decimal {
                precision: *p,
                scale: *s as u8,
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            HiveType::String
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => HiveType::Binary,
        DataType::Date32 | DataType::Date64 => HiveType::Date,
        DataType::Timestamp(..) => HiveType::Timestamp,
        DataType::List(element)
        | DataType::LargeList(element)
        | DataType::ListView(element)
        | DataType::LargeListView(element)
        | DataType::FixedSizeList(element, _) => {
            HiveType::Array(Box::new(hive_type(element.data_type(), column)?))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => HiveType::Map(
                Box::new(hive_type(fields[0].data_type(), column)?),
                Box::new(hive_type(fields[1].data_type(), column)?),
            ),
            other => return Err(unsupported(other, column)),
        },
        DataType::Struct(fields) => HiveType::Struct(
            fields
                .iter()
                .map(|f| {
                    Ok(StructField {
                        name: f.name().clone(),
                        data_type: hive_type(f.data_type(), column)?,
                        comment: None,
                    })
                })
                .collect::<Result<_>>()?,
        ),
        DataType::Dictionary(_, value) => hive_type(value, column)?,
        other => return Err(unsupported(other, column)),
    })
}

/// The catalog columns for an Arrow schema.
pub fn hive_columns(schema: &Schema) -> Result<Vec<Column>> {
    schema
        .fields()
        .iter()
        .map(|field| {
            Ok(Column {
                name: field.name().clone(),
                data_type: hive_type(field.data_type(), field.name())?,
                comment: None,
            })
        })
        .collect()
}

fn unsupported(arrow: &DataType, column: &str) -> Error {
    Error::unsupported(format!(
        "column \"{column}\" has type {arrow}, which has no Hive type"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_types_round_trip_through_arrow() {
        for text in [
            "boolean",
            "tinyint",
            "smallint",
            "int",
            "bigint",
            "float",
            "double",
            "decimal(10,2)",
            "string",
            "binary",
            "date",
            "timestamp",
            "array<string>",
            "map<string,int>",
            "struct<a:int,b:array<decimal(38,10)>>",
        ] {
            let hive = HiveType::parse(text).unwrap();
            assert_eq!(hive_type(&arrow_type(&hive), "c").unwrap(), hive, "{text}");
        }
    }

    #[test]
    fn arrow_types_without_a_hive_type_are_refused() {
        let error = hive_type(&DataType::Time64(TimeUnit::Microsecond), "at").unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::FeatureNotSupported);
        assert!(error.message.contains("\"at\""), "{}", error.message);
    }
}
