//! `to_timestamp(text [, pattern, …])` read as Spark reads it: Spark's pattern letters
//! (`yyyy-MM-dd HH:mm:ss`) or chrono's (`%Y-%m-%d`), a wall time taken in the session's time
//! zone unless the text gives an offset. Numbers stay epoch seconds (PostgreSQL's and
//! Spark's `to_timestamp(1500000000)`), handed to DataFusion's function. The family:
//! `to_timestamp_ltz` (the same), `try_to_timestamp` (NULL where the text does not match) and
//! `to_timestamp_ntz` (the wall time, without a zone).

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::datetime::{
    argument_error, datetime_error, out_of_range, parse_wall_time, session_zone, text, wall_time,
};
use super::patterns::parsing_format;
use crate::exec::functions::invoke_by_row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampKind {
    /// `to_timestamp`, `to_timestamp_ltz`: an instant; text that does not match is an error.
    Instant,
    /// `try_to_timestamp`: an instant, NULL where the text does not match.
    TryInstant,
    /// `to_timestamp_ntz`: the wall time read, without a zone.
    WallTime,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToTimestamp {
    name: &'static str,
    kind: TimestampKind,
    /// DataFusion's `to_timestamp`, which reads numbers as epoch seconds.
    numbers: Arc<ScalarUDF>,
    signature: Signature,
}

impl ToTimestamp {
    pub fn new(name: &'static str, kind: TimestampKind, numbers: Arc<ScalarUDF>) -> Self {
        Self {
            name,
            kind,
            numbers,
            signature: Signature::user_defined(Volatility::Stable),
        }
    }

    fn row(&self, values: &[ScalarValue], tz: &Tz, output: &DataType) -> DfResult<ScalarValue> {
        if values.iter().any(ScalarValue::is_null) {
            return Ok(ScalarValue::Null);
        }
        let read = match text(&values[0]) {
            Ok(input) => match read_text(&input, &values[1..], tz)? {
                Some(read) => read,
                None if self.kind == TimestampKind::TryInstant => return Ok(ScalarValue::Null),
                None => return Err(datetime_error(&input, &patterns_named(&values[1..])?)),
            },
            Err(_) => match wall_time(&values[0], tz)? {
                Some(wall) => Read::Wall(wall),
                None => return Ok(ScalarValue::Null),
            },
        };
        match self.kind {
            TimestampKind::WallTime => {
                let wall = match read {
                    Read::Wall(wall) => wall,
                    Read::Instant(instant) => instant.with_timezone(tz).naive_local(),
                };
                Ok(ScalarValue::TimestampMicrosecond(
                    Some(wall.and_utc().timestamp_micros()),
                    None,
                ))
            }
            TimestampKind::Instant | TimestampKind::TryInstant => {
                let instant = match read {
                    Read::Instant(instant) => instant,
                    Read::Wall(wall) => tz
                        .from_local_datetime(&wall)
                        .earliest()
                        .ok_or_else(|| {
                            datetime_error(&wall.to_string(), "the session's time zone")
                        })?
                        .with_timezone(&Utc),
                };
                let nanos = instant
                    .timestamp_nanos_opt()
                    .ok_or_else(|| out_of_range(instant.timestamp()))?;
                let zone = match output {
                    DataType::Timestamp(_, zone) => zone.clone(),
                    _ => None,
                };
                Ok(ScalarValue::TimestampNanosecond(Some(nanos), zone))
            }
        }
    }
}

/// What a text holds: a wall time, or an instant where it gave an offset.
enum Read {
    Wall(NaiveDateTime),
    Instant(DateTime<Utc>),
}

/// `input` read with the first of `patterns` that reads it whole, or as a timestamp literal
/// (`2016-12-31 00:12:00`, `2016-12-31T00:12:00Z`) given none; `None` if none reads it.
fn read_text(input: &str, patterns: &[ScalarValue], tz: &Tz) -> DfResult<Option<Read>> {
    if patterns.is_empty() {
        return Ok(string_to_datetime(tz, input.trim())
            .ok()
            .map(|time| Read::Instant(time.with_timezone(&Utc))));
    }
    for pattern in patterns {
        let format = parsing_format(&text(pattern)?)?;
        let read = match format.contains("%z") || format.contains("%:z") {
            true => DateTime::parse_from_str(input, &format)
                .ok()
                .map(|time| Read::Instant(time.with_timezone(&Utc))),
            false => parse_wall_time(input, &format).ok().map(Read::Wall),
        };
        if read.is_some() {
            return Ok(read);
        }
    }
    Ok(None)
}

fn patterns_named(patterns: &[ScalarValue]) -> DfResult<String> {
    if patterns.is_empty() {
        return Ok("a timestamp".to_string());
    }
    let quoted: DfResult<Vec<String>> = patterns
        .iter()
        .map(|p| Ok(format!("\"{}\"", text(p)?)))
        .collect();
    Ok(quoted?.join(" or "))
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

/// Whether the first argument is read here rather than by DataFusion's function.
fn reads_here(kind: TimestampKind, data_type: &DataType) -> bool {
    kind == TimestampKind::WallTime || is_text(data_type) || *data_type == DataType::Date32
}

impl ScalarUDFImpl for ToTimestamp {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let Some((first, patterns)) = arg_types.split_first() else {
            return Err(argument_error(self.name, "a value to read"));
        };
        if !patterns.is_empty() && !is_text(first) && *first != DataType::Null {
            return Err(argument_error(self.name, "text when a pattern is given"));
        }
        let readable = is_text(first)
            || matches!(
                first,
                DataType::Null | DataType::Date32 | DataType::Timestamp(..)
            );
        if self.kind == TimestampKind::WallTime && !readable {
            return Err(argument_error(
                self.name,
                &format!("text, a date or a timestamp, not {first}"),
            ));
        }
        if let Some(other) = patterns
            .iter()
            .find(|t| !is_text(t) && **t != DataType::Null)
        {
            return Err(argument_error(
                self.name,
                &format!("text patterns, not {other}"),
            ));
        }
        Ok(arg_types
            .iter()
            .map(|t| match t {
                t if is_text(t) => DataType::Utf8,
                DataType::Null if self.kind == TimestampKind::WallTime => DataType::Utf8,
                other => other.clone(),
            })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match self.kind {
            TimestampKind::WallTime => Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
            TimestampKind::Instant | TimestampKind::TryInstant => {
                self.numbers.return_type(arg_types)
            }
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let first = args.arg_fields.first().map(|f| f.data_type().clone());
        if !first.is_some_and(|t| reads_here(self.kind, &t)) {
            return self.numbers.invoke_with_args(args);
        }
        let tz = session_zone(&args)?;
        let output = args.return_field.data_type().clone();
        invoke_by_row(&args, |values| self.row(values, &tz, &output))
    }
}
