//! `lakeport_time_windows(time, window, slide, start)`: the time windows Spark's
//! `window(time, '10 minutes' [, slide [, start]])` puts a row in, as a list of
//! `struct<start, end>` of the time's type — one window when windows tumble (slide equal to
//! the window), each overlapping one when they slide (latest first, as Spark lists them),
//! none for a NULL time (Spark drops such rows). `spark_syntax` turns a select's `window(…)`
//! into an `explode` of this list.
//!
//! Durations are interval texts (`'1 hour'`, `'90 seconds'`) or intervals, of days at most
//! (a day is 24 hours); windows start at `start` past the epoch, modulo the slide.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Fields, Int64Type, IntervalMonthDayNano, IntervalUnit, TimeUnit,
};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};

/// The name `window(…)` is planned under.
pub const TIME_WINDOWS: &str = "lakeport_time_windows";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeWindows {
    signature: Signature,
}

impl TimeWindows {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The windows' bounds, in ticks of the time's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Windows {
    length: i64,
    slide: i64,
    start: i64,
}

impl Windows {
    /// Starts of the windows holding `time`, latest first.
    fn starts(&self, time: i64) -> impl Iterator<Item = i64> + '_ {
        let latest = time - (time - self.start).rem_euclid(self.slide);
        (0..)
            .map(move |k| latest - k * self.slide)
            .take_while(move |start| start + self.length > time)
    }
}

pub(super) fn window_fields(time: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("start", time.clone(), true),
        Field::new("end", time.clone(), true),
    ])
}

/// The type a window's time is read as: timestamps as they are, dates and texts as
/// timestamps (Spark casts them too).
pub(super) fn window_time_type(time: &DataType, function: &str) -> DfResult<DataType> {
    match time {
        DataType::Timestamp(..) => Ok(time.clone()),
        DataType::Date32
        | DataType::Date64
        | DataType::Null
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
        other => Err(Error::new(
            ErrorKind::DatatypeMismatch,
            format!("{function} expects a timestamp, not {other}"),
        )
        .into()),
    }
}

pub(super) fn invalid(message: String) -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::InvalidParameterValue, message).into()
}

/// The nanoseconds of a duration argument (an interval text or an interval).
fn duration_nanos(argument: &ColumnarValue, name: &str) -> DfResult<i64> {
    let ColumnarValue::Scalar(value) = argument else {
        return Err(invalid(format!("window's {name} must be a constant")));
    };
    let interval = value.cast_to(&DataType::Interval(IntervalUnit::MonthDayNano))?;
    let ScalarValue::IntervalMonthDayNano(Some(interval)) = interval else {
        return Err(invalid(format!("window's {name} must not be NULL")));
    };
    if interval.months != 0 {
        return Err(invalid(format!(
            "window's {name} cannot be a month or longer ({value})"
        )));
    }
    day_time_nanos(interval)
        .ok_or_else(|| invalid(format!("window's {name} is too long ({value})")))
}

/// The nanoseconds of an interval's days and time (a day is 24 hours); None past i64.
pub(super) fn day_time_nanos(interval: IntervalMonthDayNano) -> Option<i64> {
    i64::from(interval.days)
        .checked_mul(86_400_000_000_000)
        .and_then(|days| days.checked_add(interval.nanoseconds))
}

pub(super) fn ticks(nanos: i64, unit: &TimeUnit) -> i64 {
    nanos
        / match unit {
            TimeUnit::Second => 1_000_000_000,
            TimeUnit::Millisecond => 1_000_000,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1,
        }
}

fn windows(args: &[ColumnarValue], unit: &TimeUnit) -> DfResult<Windows> {
    let [_, length, slide, start] = args else {
        return Err(invalid(
            "window takes a time and up to three durations".into(),
        ));
    };
    let windows = Windows {
        length: ticks(duration_nanos(length, "duration")?, unit),
        slide: ticks(duration_nanos(slide, "slide")?, unit),
        start: ticks(duration_nanos(start, "start time")?, unit),
    };
    if windows.length <= 0 || windows.slide <= 0 {
        return Err(invalid(
            "window's duration and slide must be positive".into(),
        ));
    }
    if windows.slide > windows.length {
        return Err(invalid(
            "window's slide must not be longer than its duration".into(),
        ));
    }
    if windows.start.abs() >= windows.slide {
        return Err(invalid(
            "window's start time must be shorter than its slide".into(),
        ));
    }
    Ok(windows)
}

impl ScalarUDFImpl for TimeWindows {
    fn name(&self) -> &str {
        TIME_WINDOWS
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [time, durations @ ..] = arg_types else {
            return Err(invalid("window needs a time".into()));
        };
        let mut coerced = vec![window_time_type(time, "window")?];
        coerced.extend(durations.iter().map(|t| match t {
            DataType::Interval(_) => t.clone(),
            _ => DataType::Utf8,
        }));
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let time = arg_types
            .first()
            .ok_or_else(|| invalid("window needs a time".into()))?;
        let window = DataType::Struct(window_fields(time));
        Ok(DataType::List(Arc::new(Field::new("item", window, true))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let time_type = args
            .arg_fields
            .first()
            .map(|f| f.data_type().clone())
            .ok_or_else(|| invalid("window needs a time".into()))?;
        let DataType::Timestamp(unit, _) = &time_type else {
            return Err(invalid(format!(
                "window expects a timestamp, not {time_type}"
            )));
        };
        let windows = windows(&args.args, unit)?;
        let times = args.args[0].to_array(args.number_rows)?;
        let times = cast(&times, &DataType::Int64)?;
        let times = times.as_primitive::<Int64Type>();
        let mut starts = Vec::new();
        let mut lengths = Vec::with_capacity(times.len());
        for time in times.iter() {
            let before = starts.len();
            if let Some(time) = time {
                starts.extend(windows.starts(time));
            }
            lengths.push(starts.len() - before);
        }
        let ends: Vec<i64> = starts.iter().map(|s| s + windows.length).collect();
        let bound = |values: Vec<i64>| -> DfResult<ArrayRef> {
            Ok(cast(&Int64Array::from(values), &time_type)?)
        };
        let entries = StructArray::try_new(
            window_fields(&time_type),
            vec![bound(starts)?, bound(ends)?],
            None,
        )?;
        let field = Arc::new(Field::new("item", entries.data_type().clone(), true));
        let list = ListArray::try_new(
            field,
            OffsetBuffer::from_lengths(lengths),
            Arc::new(entries),
            None,
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_windows_hold_each_time_once() {
        let hour = Windows {
            length: 60,
            slide: 60,
            start: 0,
        };
        assert_eq!(hour.starts(125).collect::<Vec<_>>(), [120]);
        assert_eq!(hour.starts(120).collect::<Vec<_>>(), [120]);
        assert_eq!(
            hour.starts(-10).collect::<Vec<_>>(),
            [-60],
            "before the epoch"
        );
        let offset = Windows { start: 5, ..hour };
        assert_eq!(offset.starts(64).collect::<Vec<_>>(), [5]);
        assert_eq!(offset.starts(65).collect::<Vec<_>>(), [65]);
    }

    #[test]
    fn sliding_windows_overlap_latest_first() {
        let sliding = Windows {
            length: 60,
            slide: 30,
            start: 0,
        };
        assert_eq!(sliding.starts(67).collect::<Vec<_>>(), [60, 30]);
        assert_eq!(sliding.starts(60).collect::<Vec<_>>(), [60, 30]);
        let uneven = Windows {
            length: 50,
            slide: 20,
            start: 0,
        };
        assert_eq!(uneven.starts(45).collect::<Vec<_>>(), [40, 20, 0]);
        assert_eq!(uneven.starts(55).collect::<Vec<_>>(), [40, 20]);
    }
}
