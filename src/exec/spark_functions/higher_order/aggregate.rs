//! `aggregate(a, zero, (acc, x) -> … [, acc -> …])` (also `reduce`): folds an array's
//! elements into an accumulator that starts as `zero`, then applies the optional finish
//! lambda. NULL for a NULL array; the finished `zero` for an empty one.
//!
//! The fold runs position by position over all rows at once: step `k` evaluates the merge
//! lambda for the rows that have a `k`-th element, so a batch costs as many lambda calls as
//! its longest array has elements. Rows leave as their arrays end, and each row's last
//! accumulator is picked out at the end.
//!
//! The accumulator's type is `zero`'s when the merge lambda keeps it (`aggregate(a, 0L,
//! (acc, x) -> acc + x)`); where the merge widens it (`0` with double elements), lakeport
//! widens the accumulator, and `zero` with it, where Spark refuses the call.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, ListArray, UInt32Array};
use datafusion::arrow::compute::{
    CastOptions, cast_with_options, filter, interleave, take, take_arrays,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda, Volatility,
};

use super::{as_list_type, element_field, split, usage};

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Aggregate {
    signature: HigherOrderSignature,
    aliases: Vec<String>,
}

impl Aggregate {
    pub(super) fn new() -> Self {
        Self {
            signature: HigherOrderSignature::user_defined(Volatility::Immutable),
            aliases: vec!["reduce".to_string()],
        }
    }
}

impl HigherOrderUDFImpl for Aggregate {
    fn name(&self) -> &str {
        "aggregate"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [list, zero] => Ok(vec![as_list_type(self.name(), list)?, zero.clone()]),
            _ => Err(usage(self.name())),
        }
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> DfResult<LambdaParametersProgress> {
        let (values, lambdas) = split(fields);
        let ([list, zero], [merge, finish @ ..]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        if finish.len() > 1 {
            return Err(usage(self.name()));
        }
        let element = element_field(self.name(), list.data_type())?;
        let Some(merged) = merge else {
            let accumulator = nullable(zero.data_type());
            let mut params = vec![Some(vec![accumulator, element])];
            params.extend(finish.iter().map(|_| None));
            return Ok(LambdaParametersProgress::Partial(params));
        };
        let accumulator = nullable(&accumulator_type(zero.data_type(), merged.data_type()));
        let mut params = vec![vec![Arc::clone(&accumulator), element]];
        params.extend(finish.iter().map(|_| vec![Arc::clone(&accumulator)]));
        Ok(LambdaParametersProgress::Complete(params))
    }

    fn coerce_values_for_lambdas(
        &self,
        fields: &[ValueOrLambda<DataType, DataType>],
    ) -> DfResult<Option<Vec<DataType>>> {
        let (values, lambdas) = split(fields);
        let ([list, zero], [merged, ..]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        let list = (*list).clone();
        Ok(Some(vec![list, accumulator_type(zero, merged)]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let ([_, zero], [merged, finish @ ..]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        Ok(match finish {
            [finished] => nullable(finished.data_type()),
            _ => nullable(&accumulator_type(zero.data_type(), merged.data_type())),
        })
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let (values, lambdas) = split(&args.args);
        let ([list, zero], [merge, finish @ ..]) = (values.as_slice(), lambdas.as_slice()) else {
            return Err(usage(self.name()));
        };
        let (_, lambda_fields) = split(&args.arg_fields);
        let Some(merged) = lambda_fields.first() else {
            return Err(usage(self.name()));
        };
        let list = list.to_array(args.number_rows)?;
        let zero = zero.to_array(args.number_rows)?;
        let accumulator = accumulator_type(zero.data_type(), merged.data_type());
        let zero = cast_checked(&zero, &accumulator)?;
        let fold = Fold::new(list.as_list::<i32>());
        let folded = fold.run(merge, zero)?;
        let finished = match finish.first() {
            Some(finish) => finish
                .evaluate(&[&|| Ok(Arc::clone(&folded))], |columns| {
                    Ok(take_arrays(columns, &fold.valid_rows, None)?)
                })?
                .into_array(folded.len())?,
            None => folded,
        };
        Ok(ColumnarValue::Array(take(
            &finished,
            &fold.result_positions(),
            None,
        )?))
    }
}

/// One batch's fold: the rows and their arrays.
struct Fold<'a> {
    list: &'a ListArray,
    /// The non-NULL rows, in order: the rows a result is computed for.
    valid_rows: UInt32Array,
}

impl<'a> Fold<'a> {
    fn new(list: &'a ListArray) -> Self {
        let valid_rows = (0..list.len() as u32)
            .filter(|&row| list.is_valid(row as usize))
            .collect();
        Self { list, valid_rows }
    }

    fn length(&self, row: u32) -> usize {
        self.list.value_length(row as usize) as usize
    }

    /// The last accumulator of each non-NULL row.
    fn run(&self, merge: &LambdaArgument, zero: ArrayRef) -> DfResult<ArrayRef> {
        let accumulator_type = zero.data_type().clone();
        let offsets = self.list.value_offsets();
        let mut pieces = vec![Arc::clone(&zero)];
        let mut last: Vec<(usize, usize)> = self
            .valid_rows
            .values()
            .iter()
            .map(|&row| (0, row as usize))
            .collect();
        let mut active: Vec<(usize, u32)> = self
            .valid_rows
            .values()
            .iter()
            .enumerate()
            .filter(|(_, row)| self.length(**row) > 0)
            .map(|(slot, row)| (slot, *row))
            .collect();
        let mut accumulators = take(&zero, &rows_of(&active), None)?;
        let mut position = 0;
        while !active.is_empty() {
            let rows = rows_of(&active);
            let element_positions: UInt32Array = active
                .iter()
                .map(|&(_, row)| (offsets[row as usize] as u32) + position)
                .collect();
            let elements = take(self.list.values(), &element_positions, None)?;
            let accumulator_param = || Ok(Arc::clone(&accumulators));
            let element_param = || Ok(Arc::clone(&elements));
            let merged = merge
                .evaluate(&[&accumulator_param, &element_param], |columns| {
                    Ok(take_arrays(columns, &rows, None)?)
                })?
                .into_array(active.len())?;
            accumulators = cast_checked(&merged, &accumulator_type)?;
            position += 1;
            let piece = pieces.len();
            pieces.push(Arc::clone(&accumulators));
            let keep: BooleanArray = active
                .iter()
                .enumerate()
                .map(|(i, &(slot, row))| {
                    let more = self.length(row) > position as usize;
                    if !more {
                        last[slot] = (piece, i);
                    }
                    Some(more)
                })
                .collect();
            if keep.true_count() < active.len() {
                accumulators = filter(&accumulators, &keep)?;
                active.retain(|&(_, row)| self.length(row) > position as usize);
            }
        }
        let pieces: Vec<&dyn Array> = pieces.iter().map(|piece| piece.as_ref()).collect();
        Ok(interleave(&pieces, &last)?)
    }

    /// For each row, its result's position among the non-NULL rows' results (NULL for a
    /// NULL row).
    fn result_positions(&self) -> UInt32Array {
        let mut next = 0;
        (0..self.list.len())
            .map(|row| {
                self.list.is_valid(row).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect()
    }
}

fn rows_of(active: &[(usize, u32)]) -> UInt32Array {
    active.iter().map(|&(_, row)| row).collect()
}

/// The accumulator's type: `zero`'s, unless the merge lambda returns another, in which case
/// the wider numeric type, or the lambda's.
fn accumulator_type(zero: &DataType, merged: &DataType) -> DataType {
    if zero == merged {
        return zero.clone();
    }
    match (zero, merged) {
        (DataType::Null, other) | (other, DataType::Null) => other.clone(),
        (a, b) if a.is_numeric() && b.is_numeric() => {
            if a.is_floating() || b.is_floating() {
                DataType::Float64
            } else if let Some(scale) = decimal_scale(a).max(decimal_scale(b)) {
                DataType::Decimal128(38, scale)
            } else {
                DataType::Int64
            }
        }
        _ => merged.clone(),
    }
}

fn decimal_scale(data_type: &DataType) -> Option<i8> {
    match data_type {
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale)
        | DataType::Decimal256(_, scale) => Some(*scale),
        _ => None,
    }
}

fn nullable(data_type: &DataType) -> FieldRef {
    Arc::new(Field::new("", data_type.clone(), true))
}

/// `array` as `data_type`, an error where a value does not fit.
fn cast_checked(array: &ArrayRef, data_type: &DataType) -> DfResult<ArrayRef> {
    if array.data_type() == data_type {
        return Ok(Arc::clone(array));
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    Ok(cast_with_options(array, data_type, &options)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accumulator_widens_only_where_the_merge_does() {
        let cases = [
            (DataType::Int64, DataType::Int64, DataType::Int64),
            (DataType::Int32, DataType::Int64, DataType::Int64),
            (DataType::Int64, DataType::Float64, DataType::Float64),
            (
                DataType::Decimal128(10, 2),
                DataType::Decimal128(11, 2),
                DataType::Decimal128(38, 2),
            ),
            (
                DataType::Int64,
                DataType::Decimal128(20, 3),
                DataType::Decimal128(38, 3),
            ),
            (DataType::Null, DataType::Utf8, DataType::Utf8),
            (DataType::Utf8, DataType::Null, DataType::Utf8),
            (DataType::Utf8, DataType::Utf8View, DataType::Utf8View),
        ];
        for (zero, merged, expected) in cases {
            assert_eq!(
                accumulator_type(&zero, &merged),
                expected,
                "{zero} then {merged}"
            );
        }
    }
}
