//! `lakeport_session_window(time, gap)`: the session window one event opens in Spark's
//! `session_window(time, gap)` — `struct<start, end>` from the time to the time plus the gap,
//! of the time's type (dates and texts read as timestamps). NULL where the time or the gap
//! is NULL or the gap is not positive: Spark drops such events. The gap may differ from row
//! to row (`CASE … THEN '10 minutes' …`). `spark_syntax::session_window` merges the windows
//! of a group's events into sessions.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int64Array, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::time_window::{day_time_nanos, invalid, ticks, window_fields, window_time_type};

/// The name a row's `session_window(…)` is planned under.
pub const SESSION_WINDOW: &str = "lakeport_session_window";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SessionWindow {
    signature: Signature,
}

impl SessionWindow {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SessionWindow {
    fn name(&self) -> &str {
        SESSION_WINDOW
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [time, _gap] = arg_types else {
            return Err(invalid(
                "session_window takes a time and a gap duration".into(),
            ));
        };
        Ok(vec![
            window_time_type(time, "session_window")?,
            DataType::Interval(IntervalUnit::MonthDayNano),
        ])
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let time = arg_types
            .first()
            .ok_or_else(|| invalid("session_window needs a time".into()))?;
        Ok(DataType::Struct(window_fields(time)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [time, gap] = &args.args[..] else {
            return Err(invalid(
                "session_window takes a time and a gap duration".into(),
            ));
        };
        let time_type = args.arg_fields[0].data_type().clone();
        let DataType::Timestamp(unit, _) = &time_type else {
            return Err(invalid(format!(
                "session_window expects a timestamp, not {time_type}"
            )));
        };
        let times = cast(&time.to_array(args.number_rows)?, &DataType::Int64)?;
        let times = times.as_primitive::<Int64Type>();
        let gaps = gap.to_array(args.number_rows)?;
        let gaps = gaps.as_primitive::<IntervalMonthDayNanoType>();
        let mut ends = Vec::with_capacity(times.len());
        for (time, gap) in times.iter().zip(gaps.iter()) {
            let (Some(time), Some(gap)) = (time, gap) else {
                ends.push(None);
                continue;
            };
            if gap.months != 0 {
                return Err(invalid(format!(
                    "session_window's gap cannot be a month or longer ({} months)",
                    gap.months
                )));
            }
            let gap = day_time_nanos(gap)
                .map(|nanos| ticks(nanos, unit))
                .ok_or_else(|| invalid("session_window's gap is too long".into()))?;
            let end = (gap > 0).then(|| time.checked_add(gap)).flatten();
            ends.push(end);
        }
        let opened = NullBuffer::from(ends.iter().map(Option::is_some).collect::<Vec<_>>());
        let starts = cast(times, &time_type)?;
        let ends = cast(&Int64Array::from(ends), &time_type)?;
        let windows =
            StructArray::try_new(window_fields(&time_type), vec![starts, ends], Some(opened))?;
        Ok(ColumnarValue::Array(Arc::new(windows)))
    }
}
