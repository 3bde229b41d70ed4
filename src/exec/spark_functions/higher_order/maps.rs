//! `map_filter`, `transform_keys` and `transform_values`: lambdas over a map's entries.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{filter, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaParametersProgress, ValueOrLambda,
};

use super::{
    Layout, arrays_and_lambda, check_predicate, evaluate, gather, mismatch, predicate, split,
    usage, value_then_lambda,
};
use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum MapKind {
    /// `map_filter(m, (k, v) -> b)`: the entries the lambda holds true for.
    Filter,
    /// `transform_keys(m, (k, v) -> k2)`: new keys, which must be non-NULL and distinct.
    TransformKeys,
    /// `transform_values(m, (k, v) -> v2)`: new values.
    TransformValues,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct MapLambda {
    kind: MapKind,
    signature: HigherOrderSignature,
}

impl MapLambda {
    pub(super) fn new(kind: MapKind) -> Self {
        Self {
            kind,
            signature: value_then_lambda(),
        }
    }
}

impl HigherOrderUDFImpl for MapLambda {
    fn name(&self) -> &str {
        match self.kind {
            MapKind::Filter => "map_filter",
            MapKind::TransformKeys => "transform_keys",
            MapKind::TransformValues => "transform_values",
        }
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [map @ DataType::Map(..)] => Ok(vec![map.clone()]),
            [other] => Err(mismatch(self.name(), "a map", other)),
            _ => Err(usage(self.name())),
        }
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> DfResult<LambdaParametersProgress> {
        let (values, _) = split(fields);
        let [map] = values.as_slice() else {
            return Err(usage(self.name()));
        };
        let (key, value) = entry_fields(self.name(), map.data_type())?;
        Ok(LambdaParametersProgress::Complete(vec![vec![key, value]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let ([map], [lambda]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        let (key, value) = entry_fields(self.name(), map.data_type())?;
        let data_type = match self.kind {
            MapKind::Filter => {
                check_predicate(self.name(), lambda)?;
                map.data_type().clone()
            }
            MapKind::TransformKeys => map_type(
                Field::new("key", lambda.data_type().clone(), false),
                value.as_ref().clone(),
            ),
            MapKind::TransformValues => map_type(
                key.as_ref().clone(),
                Field::new("value", lambda.data_type().clone(), true),
            ),
        };
        Ok(Arc::new(Field::new("", data_type, map.is_nullable())))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let (arrays, lambda) = arrays_and_lambda(self.name(), &args.args, args.number_rows)?;
        let [map] = arrays.as_slice() else {
            return Err(usage(self.name()));
        };
        let map = map.as_map();
        let (indices, layout) = gather(map.value_offsets(), map.nulls());
        let keys = take(map.keys(), &indices, None)?;
        let values = take(map.values(), &indices, None)?;
        let key_param = || Ok(Arc::clone(&keys));
        let value_param = || Ok(Arc::clone(&values));
        let results = evaluate(lambda, &[&key_param, &value_param], &layout)?;
        let (keys, values, offsets) = match self.kind {
            MapKind::Filter => {
                let keep = predicate(self.name(), &results)?;
                let lengths = layout.kept(&keep);
                (
                    filter(&keys, &keep)?,
                    filter(&values, &keep)?,
                    OffsetBuffer::from_lengths(lengths),
                )
            }
            MapKind::TransformKeys => {
                check_keys(&results, &layout)?;
                (results, values, layout.offsets())
            }
            MapKind::TransformValues => (keys, results, layout.offsets()),
        };
        let DataType::Map(entries_field, sorted) = args.return_type() else {
            return Err(mismatch(self.name(), "a map", args.return_type()));
        };
        let DataType::Struct(entry_fields) = entries_field.data_type() else {
            return Err(mismatch(self.name(), "a map", args.return_type()));
        };
        let entries = StructArray::try_new(entry_fields.clone(), vec![keys, values], None)?;
        let result = MapArray::try_new(
            Arc::clone(entries_field),
            offsets,
            entries,
            map.nulls().cloned(),
            *sorted,
        )?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// The key and value fields of a map type.
fn entry_fields(name: &str, map: &DataType) -> DfResult<(FieldRef, FieldRef)> {
    if let DataType::Map(entries, _) = map
        && let DataType::Struct(fields) = entries.data_type()
        && let [key, value] = fields.iter().as_slice()
    {
        return Ok((Arc::clone(key), Arc::clone(value)));
    }
    Err(mismatch(name, "a map", map))
}

fn map_type(key: Field, value: Field) -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![key, value])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// Refuses new keys that are NULL or repeat a key of the same map, as Spark does.
fn check_keys(keys: &ArrayRef, layout: &Layout) -> DfResult<()> {
    if keys.null_count() > 0 {
        return Err(Error::new(
            ErrorKind::NullValueNotAllowed,
            "transform_keys made a NULL map key",
        )
        .into());
    }
    let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
    let rows = converter.convert_columns(&[Arc::clone(keys)])?;
    let mut start = 0;
    for &length in &layout.lengths {
        let mut seen = HashSet::with_capacity(length);
        for i in start..start + length {
            if !seen.insert(rows.row(i)) {
                let key = ScalarValue::try_from_array(keys, i)?;
                return Err(Error::new(
                    ErrorKind::UniqueViolation,
                    format!("transform_keys made the map key {key} twice"),
                )
                .into());
            }
        }
        start += length;
    }
    Ok(())
}
