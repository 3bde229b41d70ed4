//! Spark's date and time functions that take Spark's datetime patterns or epoch seconds:
//! `date_format`, `from_unixtime`, `unix_timestamp`, `to_date` with a format, and
//! `months_between`. Timestamps without a time zone are wall times; with one, they are read
//! in the session's time zone, as Spark reads its timestamps.

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility, cast,
};

use super::patterns::{DEFAULT_TIMESTAMP_PATTERN, chrono_format};
use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateTimeKind {
    /// `date_format(timestamp, pattern)` → text.
    DateFormat,
    /// `from_unixtime(seconds [, pattern])` → text in the session's time zone.
    FromUnixtime,
    /// `unix_timestamp([timestamp | text [, pattern]])` → seconds since the epoch.
    UnixTimestamp,
    /// `to_date(text | timestamp [, pattern, …])` → date; a pattern with `%` is chrono's.
    ToDate,
    /// `months_between(later, earlier [, round])` → months as a double, 8 digits.
    MonthsBetween,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkDateTime {
    kind: DateTimeKind,
    signature: Signature,
}

impl SparkDateTime {
    pub fn new(kind: DateTimeKind) -> Self {
        let volatility = match kind {
            DateTimeKind::UnixTimestamp => Volatility::Stable,
            _ => Volatility::Immutable,
        };
        Self {
            kind,
            signature: Signature::variadic_any(volatility),
        }
    }

    fn arity(&self) -> (usize, usize) {
        match self.kind {
            DateTimeKind::DateFormat => (2, 2),
            DateTimeKind::FromUnixtime => (1, 2),
            DateTimeKind::UnixTimestamp => (0, 2),
            DateTimeKind::ToDate => (1, usize::MAX),
            DateTimeKind::MonthsBetween => (2, 3),
        }
    }

    fn row(&self, values: &[ScalarValue], tz: &Tz) -> DfResult<ScalarValue> {
        if values.iter().any(ScalarValue::is_null) {
            return Ok(ScalarValue::Null);
        }
        let pattern = |i: usize| -> DfResult<String> {
            match values.get(i) {
                Some(v) => Ok(chrono_format(&text(v)?)?),
                None => Ok(chrono_format(DEFAULT_TIMESTAMP_PATTERN)?),
            }
        };
        Ok(match self.kind {
            DateTimeKind::DateFormat => {
                let Some(time) = wall_time(&values[0], tz)? else {
                    return Ok(ScalarValue::Null);
                };
                ScalarValue::Utf8(Some(format(&time, &pattern(1)?)?))
            }
            DateTimeKind::FromUnixtime => {
                let seconds = integer(&values[0])?;
                let Some(instant) = DateTime::from_timestamp(seconds, 0) else {
                    return Err(out_of_range(seconds));
                };
                let local = instant.with_timezone(tz).naive_local();
                ScalarValue::Utf8(Some(format(&local, &pattern(1)?)?))
            }
            DateTimeKind::UnixTimestamp => {
                let local = match &values[0] {
                    v if text(v).is_ok() => parse_wall_time(&text(v)?, &pattern(1)?)?,
                    v => match wall_time(v, tz)? {
                        Some(local) => local,
                        None => return Ok(ScalarValue::Null),
                    },
                };
                let instant = tz
                    .from_local_datetime(&local)
                    .earliest()
                    .ok_or_else(|| datetime_error(&local.to_string(), "the session's time zone"))?;
                ScalarValue::Int64(Some(instant.timestamp()))
            }
            DateTimeKind::ToDate => {
                let date = match (&values[0], values.len()) {
                    (v, 1) => match text(v)
                        .ok()
                        .and_then(|s| NaiveDate::from_str(s.trim()).ok())
                    {
                        Some(date) => date,
                        None => match wall_time(v, tz)? {
                            Some(time) => time.date(),
                            None => return Ok(ScalarValue::Null),
                        },
                    },
                    (v, _) => {
                        let input = text(v)?;
                        parse_date(&input, &values[1..])?
                    }
                };
                ScalarValue::Date32(Some((date - NaiveDate::default()).num_days() as i32))
            }
            DateTimeKind::MonthsBetween => {
                let (Some(later), Some(earlier)) =
                    (wall_time(&values[0], tz)?, wall_time(&values[1], tz)?)
                else {
                    return Ok(ScalarValue::Null);
                };
                let round = match values.get(2) {
                    Some(ScalarValue::Boolean(Some(round))) => *round,
                    Some(_) => {
                        return Err(argument_error("months_between", "boolean third argument"));
                    }
                    None => true,
                };
                ScalarValue::Float64(Some(months_between(&later, &earlier, round)))
            }
        })
    }
}

impl ScalarUDFImpl for SparkDateTime {
    fn name(&self) -> &str {
        match self.kind {
            DateTimeKind::DateFormat => "date_format",
            DateTimeKind::FromUnixtime => "from_unixtime",
            DateTimeKind::UnixTimestamp => "unix_timestamp",
            DateTimeKind::ToDate => "to_date",
            DateTimeKind::MonthsBetween => "months_between",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let (min, max) = self.arity();
        if arg_types.len() < min || arg_types.len() > max {
            return Err(argument_error(
                self.name(),
                &format!("{min} to {max} arguments"),
            ));
        }
        Ok(arg_types
            .iter()
            .map(|t| match t {
                DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => DataType::Utf8,
                other => other.clone(),
            })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let (min, max) = self.arity();
        if arg_types.len() < min || arg_types.len() > max {
            return Err(argument_error(
                self.name(),
                &format!("{min} to {max} arguments"),
            ));
        }
        Ok(match self.kind {
            DateTimeKind::DateFormat | DateTimeKind::FromUnixtime => DataType::Utf8,
            DateTimeKind::UnixTimestamp => DataType::Int64,
            DateTimeKind::ToDate => DataType::Date32,
            DateTimeKind::MonthsBetween => DataType::Float64,
        })
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        if self.kind == DateTimeKind::UnixTimestamp && args.is_empty() {
            let epoch = datafusion::functions::datetime::expr_fn::date_part(
                datafusion::logical_expr::lit("epoch"),
                datafusion::functions::datetime::expr_fn::now(),
            );
            return Ok(ExprSimplifyResult::Simplified(cast(epoch, DataType::Int64)));
        }
        Ok(ExprSimplifyResult::Original(args))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let zone = args
            .config_options
            .execution
            .time_zone
            .clone()
            .unwrap_or_else(|| "UTC".into());
        let tz = Tz::from_str(&zone)?;
        invoke_by_row(&args, |values| self.row(values, &tz))
    }
}

fn text(value: &ScalarValue) -> DfResult<String> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Ok(s.clone()),
        other => Err(argument_error(
            "pattern",
            &format!("text, not {}", other.data_type()),
        )),
    }
}

fn integer(value: &ScalarValue) -> DfResult<i64> {
    match value.cast_to(&DataType::Int64)? {
        ScalarValue::Int64(Some(n)) => Ok(n),
        other => Err(argument_error(
            "from_unixtime",
            &format!("seconds, not {other}"),
        )),
    }
}

/// A date, timestamp or timestamp text as a wall time in `tz`.
fn wall_time(value: &ScalarValue, tz: &Tz) -> DfResult<Option<NaiveDateTime>> {
    let micros = match value {
        ScalarValue::Date32(Some(days)) => {
            return Ok(NaiveDate::default()
                .checked_add_signed(chrono::Duration::days(i64::from(*days)))
                .and_then(|d| d.and_hms_opt(0, 0, 0)));
        }
        ScalarValue::TimestampSecond(..)
        | ScalarValue::TimestampMillisecond(..)
        | ScalarValue::TimestampMicrosecond(..)
        | ScalarValue::TimestampNanosecond(..)
        | ScalarValue::Utf8(_)
        | ScalarValue::Utf8View(_)
        | ScalarValue::LargeUtf8(_) => value.cast_to(&DataType::Timestamp(
            TimeUnit::Microsecond,
            match value.data_type() {
                DataType::Timestamp(_, Some(zone)) => Some(zone),
                _ => None,
            },
        ))?,
        other => {
            return Err(argument_error(
                "a date function",
                &format!("a date or timestamp, not {}", other.data_type()),
            ));
        }
    };
    let ScalarValue::TimestampMicrosecond(Some(micros), zone) = micros else {
        return Ok(None);
    };
    let Some(utc) = DateTime::from_timestamp_micros(micros) else {
        return Err(out_of_range(micros));
    };
    Ok(Some(match zone {
        Some(_) => utc.with_timezone(tz).naive_local(),
        None => utc.naive_utc(),
    }))
}

fn format(time: &NaiveDateTime, chrono_pattern: &str) -> DfResult<String> {
    let mut out = String::new();
    write!(out, "{}", time.format(chrono_pattern)).map_err(|_| {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("cannot format a timestamp with \"{chrono_pattern}\""),
        )
    })?;
    Ok(out)
}

/// Text read with a chrono pattern; a pattern without a time reads midnight.
fn parse_wall_time(input: &str, chrono_pattern: &str) -> DfResult<NaiveDateTime> {
    NaiveDateTime::parse_from_str(input, chrono_pattern)
        .or_else(|_| {
            NaiveDate::parse_from_str(input, chrono_pattern)
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| datetime_error(input, chrono_pattern))
}

/// `to_date(text, pattern, …)`: the first pattern that reads the whole text.
fn parse_date(input: &str, patterns: &[ScalarValue]) -> DfResult<NaiveDate> {
    for pattern in patterns {
        let pattern = text(pattern)?;
        let chrono_pattern = if pattern.contains('%') {
            pattern
        } else {
            chrono_format(&pattern)?
        };
        if let Ok(time) = parse_wall_time(input, &chrono_pattern) {
            return Ok(time.date());
        }
    }
    Err(datetime_error(input, "the given format"))
}

/// Spark's rule: whole months when both days of month agree or both are month ends,
/// otherwise the rest in 31-day months, rounded to 8 digits unless `round` is false.
fn months_between(later: &NaiveDateTime, earlier: &NaiveDateTime, round: bool) -> f64 {
    let months = i64::from(later.year() - earlier.year()) * 12 + i64::from(later.month())
        - i64::from(earlier.month());
    let is_month_end = |t: &NaiveDateTime| {
        t.date()
            .succ_opt()
            .is_none_or(|next| next.month() != t.month())
    };
    if later.day() == earlier.day() || (is_month_end(later) && is_month_end(earlier)) {
        return months as f64;
    }
    let seconds_in_day = |t: &NaiveDateTime| i64::from(t.num_seconds_from_midnight());
    let seconds = (i64::from(later.day()) - i64::from(earlier.day())) * 86_400
        + seconds_in_day(later)
        - seconds_in_day(earlier);
    let value = months as f64 + seconds as f64 / (31.0 * 86_400.0);
    if round {
        (value * 1e8).round() / 1e8
    } else {
        value
    }
}

fn datetime_error(input: &str, pattern: &str) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::InvalidDatetimeFormat,
        format!("invalid value for date or time: \"{input}\" does not match {pattern}"),
    )
    .into()
}

fn out_of_range(value: i64) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::NumericOutOfRange,
        format!("timestamp out of range: {value}"),
    )
    .into()
}

fn argument_error(function: &str, expected: &str) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::DatatypeMismatch,
        format!("{function} expects {expected}"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn months_between_follows_spark() {
        assert_eq!(
            months_between(&at("1997-02-28 10:30:00"), &at("1996-10-30 00:00:00"), true),
            3.94959677
        );
        assert_eq!(
            months_between(&at("2020-03-31 00:00:00"), &at("2020-02-29 00:00:00"), true),
            1.0
        );
        assert_eq!(
            months_between(&at("2020-01-15 00:00:00"), &at("2020-03-15 12:00:00"), true),
            -2.0
        );
    }
}
