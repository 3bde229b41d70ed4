//! Spark's higher-order functions that lakeport runs itself, each a DataFusion
//! `HigherOrderUDF` whose lambdas DataFusion plans and evaluates over whole columns:
//!
//! - `transform(a, (x [, i]) -> …)` and `filter(a, (x [, i]) -> …)`, with Spark's optional
//!   element index (from 0), and `zip_with(a, b, (x, y) -> …)` (the shorter array padded
//!   with NULLs): `arrays.rs`;
//! - `aggregate(a, zero, (acc, x) -> … [, acc -> …])`, also called `reduce`: `aggregate.rs`;
//! - `map_filter`, `transform_keys` and `transform_values` over `(k, v) -> …`, and
//!   `map_zip_with(m1, m2, (k, v1, v2) -> …)`: `maps.rs`.
//!
//! A lambda runs once over the elements of all rows: the elements of the non-NULL rows are
//! gathered into one array ([`gather`]), and the columns a lambda captures from its row are
//! spread to match ([`Layout::spread`]). `exists` and `forall` are DataFusion's
//! `array_any_match` (see `spark_syntax`).

mod aggregate;
mod arrays;
mod maps;

pub(super) use maps::map_array;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::take_arrays;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderSignature, HigherOrderUDF, LambdaArgument, ValueOrLambda, Volatility,
};

use crate::error::{Error, ErrorKind};

/// The names of Spark's higher-order functions registered here.
pub const NAMES: &[&str] = &[
    "transform",
    "filter",
    "zip_with",
    "aggregate",
    "reduce",
    "map_filter",
    "transform_keys",
    "transform_values",
    "map_zip_with",
];

/// Spark's higher-order functions, for registering in a session.
pub fn functions() -> Vec<HigherOrderUDF> {
    vec![
        HigherOrderUDF::new_from_impl(arrays::ArrayLambda::new(arrays::ArrayKind::Transform)),
        HigherOrderUDF::new_from_impl(arrays::ArrayLambda::new(arrays::ArrayKind::Filter)),
        HigherOrderUDF::new_from_impl(arrays::ZipWith::new()),
        HigherOrderUDF::new_from_impl(aggregate::Aggregate::new()),
        HigherOrderUDF::new_from_impl(maps::MapLambda::new(maps::MapKind::Filter)),
        HigherOrderUDF::new_from_impl(maps::MapLambda::new(maps::MapKind::TransformKeys)),
        HigherOrderUDF::new_from_impl(maps::MapLambda::new(maps::MapKind::TransformValues)),
        HigherOrderUDF::new_from_impl(maps::MapZipWith::new()),
    ]
}

/// How the gathered elements of a list or map column map back to its rows.
struct Layout {
    /// The row of each gathered element.
    rows: UInt32Array,
    /// The number of gathered elements of each row (none for a NULL row).
    lengths: Vec<usize>,
}

impl Layout {
    fn element_count(&self) -> usize {
        self.rows.len()
    }

    /// The columns a lambda captured from its row, repeated for each of the row's elements.
    fn spread(&self) -> impl FnOnce(&[ArrayRef]) -> DfResult<Vec<ArrayRef>> + '_ {
        |columns| Ok(take_arrays(columns, &self.rows, None)?)
    }

    /// Each element's position in its row, from 0: Spark's index parameter.
    fn positions(&self) -> ArrayRef {
        let positions = self
            .lengths
            .iter()
            .flat_map(|&length| (0..length).map(|i| i as i32));
        Arc::new(datafusion::arrow::array::Int32Array::from_iter_values(
            positions,
        ))
    }

    fn offsets(&self) -> OffsetBuffer<i32> {
        OffsetBuffer::from_lengths(self.lengths.iter().copied())
    }

    /// The row lengths once only the elements `keep` holds true for remain.
    fn kept(&self, keep: &BooleanArray) -> Vec<usize> {
        let mut lengths = vec![0; self.lengths.len()];
        for (row, kept) in self.rows.values().iter().zip(keep.iter()) {
            if kept == Some(true) {
                lengths[*row as usize] += 1;
            }
        }
        lengths
    }
}

/// The positions in the child array (a list's values, a map's entries) of the elements of
/// the non-NULL rows, in row order, and their layout.
fn gather(offsets: &[i32], nulls: Option<&NullBuffer>) -> (UInt32Array, Layout) {
    let row_count = offsets.len().saturating_sub(1);
    let mut indices = Vec::new();
    let mut rows = Vec::new();
    let mut lengths = Vec::with_capacity(row_count);
    for row in 0..row_count {
        if nulls.is_some_and(|nulls| nulls.is_null(row)) {
            lengths.push(0);
            continue;
        }
        let (start, end) = (offsets[row] as u32, offsets[row + 1] as u32);
        indices.extend(start..end);
        rows.extend(std::iter::repeat_n(row as u32, (end - start) as usize));
        lengths.push((end - start) as usize);
    }
    let layout = Layout {
        rows: UInt32Array::from(rows),
        lengths,
    };
    (UInt32Array::from(indices), layout)
}

/// The signature of `f(value, …, lambda)` with `values` values.
fn values_then_lambda(values: usize) -> HigherOrderSignature {
    let mut args = vec![ValueOrLambda::Value(()); values];
    args.push(ValueOrLambda::Lambda(()));
    HigherOrderSignature::exact(args, Volatility::Immutable)
}

/// A call's value arguments and its lambdas, each in order.
fn split<V, L>(args: &[ValueOrLambda<V, L>]) -> (Vec<&V>, Vec<&L>) {
    let mut values = Vec::new();
    let mut lambdas = Vec::new();
    for arg in args {
        match arg {
            ValueOrLambda::Value(value) => values.push(value),
            ValueOrLambda::Lambda(lambda) => lambdas.push(lambda),
        }
    }
    (values, lambdas)
}

/// The values and the one lambda of a `(value…, lambda)` call, the values as arrays.
fn arrays_and_lambda<'a>(
    name: &str,
    args: &'a [ValueOrLambda<ColumnarValue, LambdaArgument>],
    rows: usize,
) -> DfResult<(Vec<ArrayRef>, &'a LambdaArgument)> {
    let (values, lambdas) = split(args);
    let [lambda] = lambdas.as_slice() else {
        return Err(usage(name));
    };
    let arrays = values
        .into_iter()
        .map(|value| value.to_array(rows))
        .collect::<DfResult<_>>()?;
    Ok((arrays, lambda))
}

/// A lambda's result for each gathered element.
fn evaluate(
    lambda: &LambdaArgument,
    params: &[&dyn Fn() -> DfResult<ArrayRef>],
    layout: &Layout,
) -> DfResult<ArrayRef> {
    lambda
        .evaluate(params, layout.spread())?
        .into_array(layout.element_count())
}

/// The type arrays of any kind are read as: a list with 32-bit offsets.
fn as_list_type(name: &str, data_type: &DataType) -> DfResult<DataType> {
    match data_type {
        DataType::List(_) => Ok(data_type.clone()),
        DataType::LargeList(field)
        | DataType::ListView(field)
        | DataType::LargeListView(field)
        | DataType::FixedSizeList(field, _) => Ok(DataType::List(Arc::clone(field))),
        DataType::Null => Ok(DataType::new_list(DataType::Null, true)),
        other => Err(mismatch(name, "an array", other)),
    }
}

/// The element field of a list argument.
fn element_field(name: &str, list: &DataType) -> DfResult<FieldRef> {
    match list {
        DataType::List(field) => Ok(Arc::clone(field)),
        other => Err(mismatch(name, "an array", other)),
    }
}

/// A list of a lambda's results.
fn list_of(element: &DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(element.clone(), true)))
}

/// A predicate lambda's results.
fn predicate(name: &str, results: &ArrayRef) -> DfResult<BooleanArray> {
    match results.data_type() {
        DataType::Boolean => Ok(datafusion::arrow::array::AsArray::as_boolean(results).clone()),
        DataType::Null => Ok(BooleanArray::new_null(results.len())),
        other => Err(mismatch(name, "a lambda returning boolean", other)),
    }
}

fn check_predicate(name: &str, lambda: &Field) -> DfResult<()> {
    match lambda.data_type() {
        DataType::Boolean | DataType::Null => Ok(()),
        other => Err(mismatch(name, "a lambda returning boolean", other)),
    }
}

fn mismatch(name: &str, expected: &str, got: &DataType) -> DataFusionError {
    Error::new(
        ErrorKind::DatatypeMismatch,
        format!("{name} expects {expected}, not {got}"),
    )
    .into()
}

fn usage(name: &str) -> DataFusionError {
    let form = match name {
        "transform" | "filter" => "(array, (x [, i]) -> …)",
        "zip_with" => "(array, array, (x, y) -> …)",
        "aggregate" | "reduce" => "(array, start, (acc, x) -> … [, acc -> …])",
        "map_zip_with" => "(map, map, (k, v1, v2) -> …)",
        _ => "(map, (k, v) -> …)",
    };
    Error::new(
        ErrorKind::UndefinedFunction,
        format!("{name} takes {name}{form}"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, ListArray};
    use datafusion::arrow::datatypes::Int64Type;

    fn lists() -> ListArray {
        ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![]),
            Some(vec![Some(3), None, Some(5)]),
        ])
    }

    #[test]
    fn gathering_skips_null_rows_and_keeps_row_order() {
        let list = lists();
        let (indices, layout) = gather(list.value_offsets(), list.nulls());
        assert_eq!(indices.values().to_vec(), vec![0, 1, 2, 3, 4]);
        assert_eq!(layout.rows.values().to_vec(), vec![0, 0, 3, 3, 3]);
        assert_eq!(layout.lengths, vec![2, 0, 0, 3]);
        let positions = layout.positions();
        let positions = positions
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int32Array>();
        assert_eq!(
            positions.map(|p| p.values().to_vec()),
            Some(vec![0, 1, 0, 1, 2])
        );
    }

    #[test]
    fn gathering_a_slice_reads_its_own_elements() {
        let list = lists().slice(3, 1);
        let (indices, layout) = gather(list.value_offsets(), list.nulls());
        let elements = datafusion::arrow::compute::take(list.values(), &indices, None).unwrap();
        let expected = Int64Array::from(vec![Some(3), None, Some(5)]);
        assert_eq!(
            elements.as_any().downcast_ref::<Int64Array>(),
            Some(&expected)
        );
        assert_eq!(layout.rows.values().to_vec(), vec![0, 0, 0]);
    }

    #[test]
    fn kept_lengths_count_true_only() {
        let list = lists();
        let (_, layout) = gather(list.value_offsets(), list.nulls());
        let keep = BooleanArray::from(vec![Some(true), None, Some(false), Some(true), Some(true)]);
        assert_eq!(layout.kept(&keep), vec![1, 0, 0, 2]);
    }
}
