//! The columns of JSON Lines files as Spark infers them: the schemas of the sampled files
//! merged, widening where they disagree (a long and a double are a double; any other
//! disagreement is a string), a field only ever null a string, and the fields of every
//! object sorted by name.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

/// One schema for files whose inferred schemas are `schemas`.
pub fn as_spark_infers(schemas: &[SchemaRef]) -> Schema {
    let merged = schemas
        .iter()
        .map(|schema| DataType::Struct(schema.fields().clone()))
        .reduce(|a, b| widen(&a, &b))
        .unwrap_or(DataType::Struct(Fields::empty()));
    match spark_type(&merged) {
        DataType::Struct(fields) => Schema::new(fields),
        _ => Schema::empty(),
    }
}

/// The type holding values of both `a` and `b`.
fn widen(a: &DataType, b: &DataType) -> DataType {
    match (a, b) {
        _ if a == b => a.clone(),
        (DataType::Null, other) | (other, DataType::Null) => other.clone(),
        (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
            DataType::Float64
        }
        (DataType::Struct(left), DataType::Struct(right)) => {
            let mut fields: Vec<Field> = left.iter().map(|f| f.as_ref().clone()).collect();
            for field in right.iter() {
                match fields.iter_mut().find(|f| f.name() == field.name()) {
                    Some(existing) => {
                        let data_type = widen(existing.data_type(), field.data_type());
                        *existing = existing
                            .clone()
                            .with_data_type(data_type)
                            .with_nullable(true);
                    }
                    None => fields.push(field.as_ref().clone().with_nullable(true)),
                }
            }
            DataType::Struct(fields.into())
        }
        (DataType::List(left), DataType::List(right)) => DataType::List(Arc::new(
            left.as_ref()
                .clone()
                .with_data_type(widen(left.data_type(), right.data_type()))
                .with_nullable(true),
        )),
        _ => DataType::Utf8,
    }
}

/// Spark's reading of an inferred type: objects' fields sorted by name, null as a string.
fn spark_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Null => DataType::Utf8,
        DataType::Struct(fields) => {
            let mut fields: Vec<Field> = fields
                .iter()
                .map(|f| f.as_ref().clone().with_data_type(spark_type(f.data_type())))
                .collect();
            fields.sort_by(|a, b| a.name().cmp(b.name()));
            DataType::Struct(fields.into())
        }
        DataType::List(item) => DataType::List(Arc::new(
            item.as_ref()
                .clone()
                .with_data_type(spark_type(item.data_type())),
        )),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: Vec<(&str, DataType)>) -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .into_iter()
                .map(|(name, data_type)| Field::new(name, data_type, true))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn files_that_disagree_widen_as_spark_widens() {
        let device = |version: DataType| {
            DataType::Struct(Fields::from(vec![
                Field::new("os", DataType::Utf8, true),
                Field::new("version", version, true),
            ]))
        };
        let merged = as_spark_infers(&[
            schema(vec![
                ("user", DataType::Utf8),
                ("amount", DataType::Int64),
                ("device", device(DataType::Int64)),
                ("extra", DataType::Null),
            ]),
            schema(vec![
                ("amount", DataType::Float64),
                ("device", device(DataType::Utf8)),
                ("id", DataType::Int64),
                ("user", DataType::Boolean),
            ]),
        ]);
        assert_eq!(
            merged,
            *schema(vec![
                ("amount", DataType::Float64),
                ("device", device(DataType::Utf8)),
                ("extra", DataType::Utf8),
                ("id", DataType::Int64),
                ("user", DataType::Utf8),
            ])
        );
    }
}
