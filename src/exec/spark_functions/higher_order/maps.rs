//! `map_filter`, `transform_keys`, `transform_values` and `map_zip_with`: lambdas over a
//! map's entries.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{filter, interleave, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaParametersProgress, ValueOrLambda,
};

use super::{
    Layout, arrays_and_lambda, check_predicate, evaluate, gather, mismatch, predicate, split,
    usage, values_then_lambda,
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
            signature: values_then_lambda(1),
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
        let result = map_array(
            self.name(),
            args.return_type(),
            (keys, values),
            offsets,
            map.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// `map_zip_with(m1, m2, (k, v1, v2) -> v)`: one entry per key of either map, the first
/// map's keys in its order and then the second's new ones, `v1` or `v2` NULL where a map
/// lacks the key; NULL when either map is.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct MapZipWith {
    signature: HigherOrderSignature,
}

impl MapZipWith {
    pub(super) fn new() -> Self {
        Self {
            signature: values_then_lambda(2),
        }
    }
}

impl HigherOrderUDFImpl for MapZipWith {
    fn name(&self) -> &str {
        "map_zip_with"
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [left, right] = arg_types else {
            return Err(usage(self.name()));
        };
        let (left_key, _) = entry_fields(self.name(), left)?;
        let (right_key, _) = entry_fields(self.name(), right)?;
        if left_key.data_type() != right_key.data_type() {
            return Err(mismatch(
                self.name(),
                &format!("two maps with keys of one type ({})", left_key.data_type()),
                right_key.data_type(),
            ));
        }
        Ok(arg_types.to_vec())
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> DfResult<LambdaParametersProgress> {
        let (values, _) = split(fields);
        let [left, right] = values.as_slice() else {
            return Err(usage(self.name()));
        };
        let (key, left_value) = entry_fields(self.name(), left.data_type())?;
        let (_, right_value) = entry_fields(self.name(), right.data_type())?;
        let nullable = |field: FieldRef| Arc::new(field.as_ref().clone().with_nullable(true));
        Ok(LambdaParametersProgress::Complete(vec![vec![
            key,
            nullable(left_value),
            nullable(right_value),
        ]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let ([left, right], [lambda]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        let (key, _) = entry_fields(self.name(), left.data_type())?;
        let data_type = map_type(
            key.as_ref().clone(),
            Field::new("value", lambda.data_type().clone(), true),
        );
        let nullable = left.is_nullable() || right.is_nullable();
        Ok(Arc::new(Field::new("", data_type, nullable)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let (arrays, lambda) = arrays_and_lambda(self.name(), &args.args, args.number_rows)?;
        let [left, right] = arrays.as_slice() else {
            return Err(usage(self.name()));
        };
        let (left, right) = (left.as_map(), right.as_map());
        let nulls = NullBuffer::union(left.nulls(), right.nulls());
        let merged = MergedKeys::new(left, right, nulls.as_ref())?;
        let keys = interleave(&[left.keys().as_ref(), right.keys().as_ref()], &merged.keys)?;
        let left_values = take(left.values(), &merged.left, None)?;
        let right_values = take(right.values(), &merged.right, None)?;
        let key_param = || Ok(Arc::clone(&keys));
        let left_param = || Ok(Arc::clone(&left_values));
        let right_param = || Ok(Arc::clone(&right_values));
        let results = evaluate(
            lambda,
            &[&key_param, &left_param, &right_param],
            &merged.layout,
        )?;
        let result = map_array(
            self.name(),
            args.return_type(),
            (keys, results),
            merged.layout.offsets(),
            nulls,
        )?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// The union of two map columns' keys, row by row.
struct MergedKeys {
    /// Where each key comes from: (0, entry) of the first map, (1, entry) of the second.
    keys: Vec<(usize, usize)>,
    /// The first map's entry holding each key, NULL where it has none.
    left: UInt32Array,
    /// The second map's entry holding each key, NULL where it has none.
    right: UInt32Array,
    layout: Layout,
}

impl MergedKeys {
    fn new(left: &MapArray, right: &MapArray, nulls: Option<&NullBuffer>) -> DfResult<Self> {
        let converter = RowConverter::new(vec![SortField::new(left.key_type().clone())])?;
        let left_keys = converter.convert_columns(&[Arc::clone(left.keys())])?;
        let right_keys = converter.convert_columns(&[Arc::clone(right.keys())])?;
        let (left_offsets, right_offsets) = (left.value_offsets(), right.value_offsets());
        let mut merged = Self {
            keys: Vec::new(),
            left: UInt32Array::from(Vec::<u32>::new()),
            right: UInt32Array::from(Vec::<u32>::new()),
            layout: Layout {
                rows: UInt32Array::from(Vec::<u32>::new()),
                lengths: Vec::with_capacity(left.len()),
            },
        };
        let (mut left_entries, mut right_entries, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for row in 0..left.len() {
            if nulls.is_some_and(|nulls| nulls.is_null(row)) {
                merged.layout.lengths.push(0);
                continue;
            }
            let left_range = left_offsets[row] as usize..left_offsets[row + 1] as usize;
            let right_range = right_offsets[row] as usize..right_offsets[row + 1] as usize;
            let in_right: HashMap<_, _> = right_range
                .clone()
                .map(|entry| (right_keys.row(entry), entry as u32))
                .collect();
            let before = merged.keys.len();
            for entry in left_range.clone() {
                merged.keys.push((0, entry));
                left_entries.push(Some(entry as u32));
                right_entries.push(in_right.get(&left_keys.row(entry)).copied());
            }
            let in_left: HashSet<_> = left_range.map(|entry| left_keys.row(entry)).collect();
            for entry in right_range {
                if !in_left.contains(&right_keys.row(entry)) {
                    merged.keys.push((1, entry));
                    left_entries.push(None);
                    right_entries.push(Some(entry as u32));
                }
            }
            let length = merged.keys.len() - before;
            rows.extend(std::iter::repeat_n(row as u32, length));
            merged.layout.lengths.push(length);
        }
        merged.left = UInt32Array::from(left_entries);
        merged.right = UInt32Array::from(right_entries);
        merged.layout.rows = UInt32Array::from(rows);
        Ok(merged)
    }
}

/// A map column of `entries` (keys, values) in `offsets`, of the type `return_type` names.
pub(in crate::exec::spark_functions) fn map_array(
    name: &str,
    return_type: &DataType,
    (keys, values): (ArrayRef, ArrayRef),
    offsets: OffsetBuffer<i32>,
    nulls: Option<NullBuffer>,
) -> DfResult<MapArray> {
    let DataType::Map(entries_field, sorted) = return_type else {
        return Err(mismatch(name, "a map", return_type));
    };
    let DataType::Struct(entry_fields) = entries_field.data_type() else {
        return Err(mismatch(name, "a map", return_type));
    };
    let entries = StructArray::try_new(entry_fields.clone(), vec![keys, values], None)?;
    Ok(MapArray::try_new(
        Arc::clone(entries_field),
        offsets,
        entries,
        nulls,
        *sorted,
    )?)
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
