//! Spark's `element_at` (arrays from 1, negative from the end; maps by key), `try_element_at`
//! (NULL past the end), `get` (arrays from 0, NULL outside) and `sequence` (integers, dates
//! and timestamps, counting down when the start is past the stop).

use std::sync::Arc;

use chrono::{DateTime, Months, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Field, IntervalMonthDayNano, TimeUnit};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

/// Longest array `sequence` and `array_insert` build.
const MAX_ARRAY_LENGTH: usize = 10_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    ElementAt,
    TryElementAt,
    Get,
    Sequence,
}

impl CollectionKind {
    fn name(self) -> &'static str {
        match self {
            CollectionKind::ElementAt => "element_at",
            CollectionKind::TryElementAt => "try_element_at",
            CollectionKind::Get => "get",
            CollectionKind::Sequence => "sequence",
        }
    }

    fn is_lookup(self) -> bool {
        self != CollectionKind::Sequence
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkCollection {
    kind: CollectionKind,
    signature: Signature,
}

impl SparkCollection {
    pub fn new(kind: CollectionKind) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkCollection {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match (self.kind, arg_types) {
            (kind, [list @ (DataType::List(_) | DataType::LargeList(_)), _])
                if kind.is_lookup() =>
            {
                Ok(vec![list.clone(), DataType::Int64])
            }
            (
                CollectionKind::ElementAt | CollectionKind::TryElementAt,
                [map @ DataType::Map(entries, _), _],
            ) => {
                let key = match entries.data_type() {
                    DataType::Struct(fields) if !fields.is_empty() => fields[0].data_type().clone(),
                    other => other.clone(),
                };
                Ok(vec![map.clone(), key])
            }
            (CollectionKind::Sequence, [start, stop, rest @ ..]) if rest.len() <= 1 => {
                let point = match (start, stop) {
                    (DataType::Date32, DataType::Date32) => DataType::Date32,
                    (
                        DataType::Timestamp(..) | DataType::Date32,
                        DataType::Timestamp(..) | DataType::Date32,
                    ) => DataType::Timestamp(TimeUnit::Microsecond, None),
                    (a, b) if a.is_integer() && b.is_integer() || a.is_null() || b.is_null() => {
                        DataType::Int64
                    }
                    _ => return Err(usage(self.kind)),
                };
                let step = match (&point, rest.first()) {
                    (_, None) => None,
                    (DataType::Int64, Some(_)) => Some(DataType::Int64),
                    (_, Some(_)) => Some(DataType::Interval(
                        datafusion::arrow::datatypes::IntervalUnit::MonthDayNano,
                    )),
                };
                Ok([point.clone(), point].into_iter().chain(step).collect())
            }
            _ => Err(usage(self.kind)),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match (self.kind, arg_types.first()) {
            (kind, Some(DataType::List(f) | DataType::LargeList(f))) if kind.is_lookup() => {
                Ok(f.data_type().clone())
            }
            (kind, Some(DataType::Map(entries, _))) if kind.is_lookup() => {
                match entries.data_type() {
                    DataType::Struct(fields) if fields.len() == 2 => {
                        Ok(fields[1].data_type().clone())
                    }
                    _ => Err(usage(self.kind)),
                }
            }
            (CollectionKind::Sequence, Some(point)) => Ok(DataType::List(Arc::new(
                Field::new_list_field(point.clone(), true),
            ))),
            _ => Err(usage(self.kind)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        invoke_by_row(&args, |values| {
            if values.iter().any(ScalarValue::is_null) {
                return Ok(ScalarValue::Null);
            }
            match self.kind {
                CollectionKind::Sequence => sequence(values),
                lookup => element_at(lookup, &values[0], &values[1]),
            }
        })
    }
}

fn usage(kind: CollectionKind) -> datafusion::error::DataFusionError {
    let text = match kind {
        CollectionKind::ElementAt => "element_at expects (array, index) or (map, key)",
        CollectionKind::TryElementAt => "try_element_at expects (array, index) or (map, key)",
        CollectionKind::Get => "get expects (array, index)",
        CollectionKind::Sequence => {
            "sequence expects (start, stop [, step]) of integers, or of dates or timestamps with an interval step"
        }
    };
    Error::new(ErrorKind::DatatypeMismatch, text).into()
}

/// The element of an array at `key` (counted as `kind` counts) or a map's value for it.
fn element_at(
    kind: CollectionKind,
    container: &ScalarValue,
    key: &ScalarValue,
) -> DfResult<ScalarValue> {
    match container {
        ScalarValue::List(list) => {
            let values = list.value(0);
            let ScalarValue::Int64(Some(index)) = key else {
                return Err(usage(kind));
            };
            let length = values.len() as i64;
            let position = match (kind, *index) {
                (CollectionKind::Get, i) => i,
                (_, 0) => {
                    return Err(Error::new(
                        ErrorKind::ArraySubscriptError,
                        format!(
                            "array index 0 is invalid: {} counts from 1, or from -1 at the end",
                            kind.name()
                        ),
                    )
                    .into());
                }
                (_, i) if i > 0 => i - 1,
                (_, i) => length + i,
            };
            if position < 0 || position >= length {
                if kind != CollectionKind::ElementAt {
                    return Ok(ScalarValue::Null);
                }
                return Err(Error::new(
                    ErrorKind::ArraySubscriptError,
                    format!(
                        "array index {index} is out of bounds: the array has {length} elements"
                    ),
                )
                .into());
            }
            ScalarValue::try_from_array(&values, position as usize)
        }
        ScalarValue::Map(map) => {
            let map = map.as_ref();
            let entries = map.value(0);
            let (keys, values) = (entries.column(0), entries.column(1));
            for i in 0..keys.len() {
                if &ScalarValue::try_from_array(keys, i)? == key {
                    return ScalarValue::try_from_array(values, i);
                }
            }
            Ok(ScalarValue::Null)
        }
        _ => Err(usage(kind)),
    }
}

fn sequence(values: &[ScalarValue]) -> DfResult<ScalarValue> {
    let (items, item_type) = match (&values[0], &values[1]) {
        (ScalarValue::Int64(Some(start)), ScalarValue::Int64(Some(stop))) => {
            let step = match values.get(2) {
                Some(ScalarValue::Int64(Some(step))) => *step,
                _ if start <= stop => 1,
                _ => -1,
            };
            let span = i128::from(*stop) - i128::from(*start);
            if step == 0 || span.signum() * i128::from(step.signum()) < 0 {
                return Err(boundaries(&values[0], &values[1], &step.to_string()));
            }
            let length = span / i128::from(step) + 1;
            check_length("sequence", usize::try_from(length).unwrap_or(usize::MAX))?;
            let items = (0..length as i64)
                .map(|k| ScalarValue::Int64(Some(start + k * step)))
                .collect();
            (items, DataType::Int64)
        }
        (start, stop) => {
            let is_date = matches!(start, ScalarValue::Date32(_));
            let (first, last) = (point(start)?, point(stop)?);
            let step = match values.get(2) {
                Some(ScalarValue::IntervalMonthDayNano(Some(step))) => *step,
                Some(_) => return Err(usage(CollectionKind::Sequence)),
                None => IntervalMonthDayNano::new(0, if first <= last { 1 } else { -1 }, 0),
            };
            let forward = first <= last;
            let moves_away = advance(first, step, 1)
                .is_none_or(|second| second == first || (second > first) != forward);
            if first != last && moves_away {
                return Err(boundaries(start, stop, &format!("{step:?}")));
            }
            let mut items = Vec::new();
            while let Some(next) = advance(first, step, items.len() as i64) {
                if (forward && next > last) || (!forward && next < last) {
                    break;
                }
                check_length("sequence", items.len() + 1)?;
                items.push(next);
            }
            let items: Vec<ScalarValue> = items
                .into_iter()
                .map(|t| {
                    if is_date {
                        ScalarValue::Date32(Some(
                            (t.date() - NaiveDate::default()).num_days() as i32
                        ))
                    } else {
                        ScalarValue::TimestampMicrosecond(
                            Some(t.and_utc().timestamp_micros()),
                            None,
                        )
                    }
                })
                .collect();
            let item_type = if is_date {
                DataType::Date32
            } else {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            };
            (items, item_type)
        }
    };
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &items, &item_type,
    )))
}

fn point(value: &ScalarValue) -> DfResult<NaiveDateTime> {
    let micros = match value {
        ScalarValue::Date32(Some(days)) => i64::from(*days) * 86_400_000_000,
        ScalarValue::TimestampMicrosecond(Some(micros), _) => *micros,
        _ => return Err(usage(CollectionKind::Sequence)),
    };
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| usage(CollectionKind::Sequence))
}

/// `start + k * step`, months first as Spark adds them.
fn advance(start: NaiveDateTime, step: IntervalMonthDayNano, k: i64) -> Option<NaiveDateTime> {
    let months = i64::from(step.months) * k;
    let shifted = if months >= 0 {
        start.checked_add_months(Months::new(u32::try_from(months).ok()?))?
    } else {
        start.checked_sub_months(Months::new(u32::try_from(-months).ok()?))?
    };
    shifted
        .checked_add_signed(chrono::Duration::days(i64::from(step.days) * k))?
        .checked_add_signed(chrono::Duration::nanoseconds(
            step.nanoseconds.checked_mul(k)?,
        ))
}

/// Refuses an array of `length` elements longer than [`MAX_ARRAY_LENGTH`].
pub(super) fn check_length(function: &str, length: usize) -> DfResult<()> {
    if length > MAX_ARRAY_LENGTH {
        return Err(Error::new(
            ErrorKind::ProgramLimitExceeded,
            format!(
                "{function}: an array of {length} elements is longer than the limit of {MAX_ARRAY_LENGTH}"
            ),
        )
        .into());
    }
    Ok(())
}

fn boundaries(
    start: &ScalarValue,
    stop: &ScalarValue,
    step: &str,
) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::InvalidParameterValue,
        format!("illegal sequence boundaries: {start} to {stop} by {step}"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(values: &[i64]) -> Vec<ScalarValue> {
        values
            .iter()
            .map(|v| ScalarValue::Int64(Some(*v)))
            .collect()
    }

    fn listed(value: ScalarValue) -> String {
        match value {
            ScalarValue::List(list) => format!("{:?}", list.value(0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn integer_sequences_count_both_ways() {
        assert!(listed(sequence(&ints(&[1, 5, 2])).unwrap()).contains("1,\n  3,\n  5,"));
        assert!(listed(sequence(&ints(&[3, 1])).unwrap()).contains("3,\n  2,\n  1,"));
        assert!(sequence(&ints(&[1, 5, -1])).is_err());
        assert!(sequence(&ints(&[1, 5, 0])).is_err());
        assert!(sequence(&ints(&[0, i64::MAX])).is_err());
        assert!(sequence(&ints(&[i64::MIN, i64::MAX])).is_err());
        assert!(sequence(&ints(&[i64::MAX, i64::MIN, -1])).is_err());
        assert!(
            listed(sequence(&ints(&[i64::MAX - 1, i64::MAX])).unwrap())
                .contains("9223372036854775807")
        );
    }

    #[test]
    fn element_at_counts_from_one_and_from_the_end() {
        let list = ScalarValue::List(ScalarValue::new_list_nullable(
            &ints(&[10, 20, 30]),
            &DataType::Int64,
        ));
        let at = |i: i64| {
            element_at(
                CollectionKind::ElementAt,
                &list,
                &ScalarValue::Int64(Some(i)),
            )
        };
        assert_eq!(at(1).unwrap(), ScalarValue::Int64(Some(10)));
        assert_eq!(at(-1).unwrap(), ScalarValue::Int64(Some(30)));
        assert!(at(0).is_err());
        assert!(at(4).is_err());
        assert!(at(-4).is_err());
    }
}
