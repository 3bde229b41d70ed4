//! `transform`, `filter` and `zip_with`: lambdas over the elements of arrays.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{filter, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaParametersProgress, ValueOrLambda,
};

use super::{
    Layout, arrays_and_lambda, as_list_type, check_predicate, element_field, evaluate, gather,
    list_of, predicate, split, usage, values_then_lambda,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum ArrayKind {
    /// `transform(a, (x [, i]) -> y)`: each element replaced by the lambda's result.
    Transform,
    /// `filter(a, (x [, i]) -> b)`: the elements the lambda holds true for.
    Filter,
}

/// `transform` or `filter`: a lambda of an element and, optionally, its index.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ArrayLambda {
    kind: ArrayKind,
    signature: HigherOrderSignature,
}

impl ArrayLambda {
    pub(super) fn new(kind: ArrayKind) -> Self {
        Self {
            kind,
            signature: values_then_lambda(1),
        }
    }
}

impl HigherOrderUDFImpl for ArrayLambda {
    fn name(&self) -> &str {
        match self.kind {
            ArrayKind::Transform => "transform",
            ArrayKind::Filter => "filter",
        }
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [list] => Ok(vec![as_list_type(self.name(), list)?]),
            _ => Err(usage(self.name())),
        }
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> DfResult<LambdaParametersProgress> {
        let (values, _) = split(fields);
        let [list] = values.as_slice() else {
            return Err(usage(self.name()));
        };
        let element = element_field(self.name(), list.data_type())?;
        let index = Arc::new(Field::new("", DataType::Int32, false));
        Ok(LambdaParametersProgress::Complete(vec![vec![
            element, index,
        ]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let ([list], [lambda]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        let data_type = match self.kind {
            ArrayKind::Transform => list_of(lambda.data_type()),
            ArrayKind::Filter => {
                check_predicate(self.name(), lambda)?;
                list.data_type().clone()
            }
        };
        Ok(Arc::new(Field::new("", data_type, list.is_nullable())))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let (arrays, lambda) = arrays_and_lambda(self.name(), &args.args, args.number_rows)?;
        let [list] = arrays.as_slice() else {
            return Err(usage(self.name()));
        };
        let list = list.as_list::<i32>();
        let (indices, layout) = gather(list.value_offsets(), list.nulls());
        let elements = take(list.values(), &indices, None)?;
        let element_param = || Ok(Arc::clone(&elements));
        let index_param = || Ok(layout.positions());
        let results = evaluate(lambda, &[&element_param, &index_param], &layout)?;
        let (values, offsets) = match self.kind {
            ArrayKind::Transform => (results, layout.offsets()),
            ArrayKind::Filter => {
                let keep = predicate(self.name(), &results)?;
                let lengths = layout.kept(&keep);
                (
                    filter(&elements, &keep)?,
                    OffsetBuffer::from_lengths(lengths),
                )
            }
        };
        let item = element_field(self.name(), args.return_type())?;
        let result = ListArray::try_new(item, offsets, values, list.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// `zip_with(a, b, (x, y) -> z)`: the lambda over the elements of two arrays pairwise, the
/// shorter padded with NULLs; NULL when either array is.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ZipWith {
    signature: HigherOrderSignature,
}

impl ZipWith {
    pub(super) fn new() -> Self {
        Self {
            signature: values_then_lambda(2),
        }
    }
}

impl HigherOrderUDFImpl for ZipWith {
    fn name(&self) -> &str {
        "zip_with"
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        arg_types
            .iter()
            .map(|list| as_list_type(self.name(), list))
            .collect()
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> DfResult<LambdaParametersProgress> {
        let (values, _) = split(fields);
        let params = values
            .iter()
            .map(|list| {
                let element = element_field(self.name(), list.data_type())?;
                Ok(Arc::new(element.as_ref().clone().with_nullable(true)))
            })
            .collect::<DfResult<_>>()?;
        Ok(LambdaParametersProgress::Complete(vec![params]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let ([left, right], [lambda]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        let nullable = left.is_nullable() || right.is_nullable();
        Ok(Arc::new(Field::new(
            "",
            list_of(lambda.data_type()),
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let (arrays, lambda) = arrays_and_lambda(self.name(), &args.args, args.number_rows)?;
        let [left, right] = arrays.as_slice() else {
            return Err(usage(self.name()));
        };
        let (left, right) = (left.as_list::<i32>(), right.as_list::<i32>());
        let nulls = NullBuffer::union(left.nulls(), right.nulls());
        let zipped = Zipped::new(left, right, nulls.as_ref());
        let left_elements = take(left.values(), &zipped.left, None)?;
        let right_elements = take(right.values(), &zipped.right, None)?;
        let left_param = || Ok(Arc::clone(&left_elements));
        let right_param = || Ok(Arc::clone(&right_elements));
        let results = evaluate(lambda, &[&left_param, &right_param], &zipped.layout)?;
        let item = element_field(self.name(), args.return_type())?;
        let result = ListArray::try_new(item, zipped.layout.offsets(), results, nulls)?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// The element pairs of two list columns: for each row as many pairs as the longer list
/// has elements, a missing element's position NULL.
struct Zipped {
    left: UInt32Array,
    right: UInt32Array,
    layout: Layout,
}

impl Zipped {
    fn new(left: &ListArray, right: &ListArray, nulls: Option<&NullBuffer>) -> Self {
        let (left_offsets, right_offsets) = (left.value_offsets(), right.value_offsets());
        let mut left_positions = Vec::new();
        let mut right_positions = Vec::new();
        let mut rows = Vec::new();
        let mut lengths = Vec::with_capacity(left.len());
        for row in 0..left.len() {
            if nulls.is_some_and(|nulls| nulls.is_null(row)) {
                lengths.push(0);
                continue;
            }
            let (left_start, left_end) = (left_offsets[row], left_offsets[row + 1]);
            let (right_start, right_end) = (right_offsets[row], right_offsets[row + 1]);
            let length = (left_end - left_start).max(right_end - right_start);
            for i in 0..length {
                left_positions.push((left_start + i < left_end).then_some((left_start + i) as u32));
                right_positions
                    .push((right_start + i < right_end).then_some((right_start + i) as u32));
            }
            rows.extend(std::iter::repeat_n(row as u32, length as usize));
            lengths.push(length as usize);
        }
        Self {
            left: UInt32Array::from(left_positions),
            right: UInt32Array::from(right_positions),
            layout: Layout {
                rows: UInt32Array::from(rows),
                lengths,
            },
        }
    }
}
