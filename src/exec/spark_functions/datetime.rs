//! Spark's date and time functions that take Spark's datetime patterns, epoch seconds or
//! units: `date_format`, `from_unixtime`, `unix_timestamp`, `to_date` with a format,
//! `months_between`, `timestampadd`, `timestampdiff`, `make_timestamp` and `convert_timezone`. Timestamps without a time zone are
//! wall times; with one, they are read in the session's time zone, as Spark reads its
//! timestamps.

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::patterns::{DEFAULT_TIMESTAMP_PATTERN, chrono_format, parsing_format};
use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateTimeKind {
    /// `date_format(timestamp, pattern)` → text.
    DateFormat,
    /// `from_unixtime(seconds [, pattern])` → text in the session's time zone.
    FromUnixtime,
    /// `unix_timestamp(timestamp | text [, pattern])` → seconds since the epoch (without
    /// arguments, `spark_syntax` makes it the statement's time).
    UnixTimestamp,
    /// `to_date(text | timestamp [, pattern, …])` → date; a pattern with `%` is chrono's.
    ToDate,
    /// `months_between(later, earlier [, round])` → months as a double, 8 digits.
    MonthsBetween,
    /// `timestampadd('unit', n, timestamp)` → the timestamp `n` units later (months clamp
    /// to the month's last day).
    TimestampAdd,
    /// `timestampdiff('unit', start, end)` → the whole units from `start` to `end`, counted
    /// as Java's `ChronoUnit.between` counts them.
    TimestampDiff,
    /// `make_timestamp(year, month, day, hour, minute, second [, zone])` → the timestamp
    /// (seconds with a fraction, 60 being the next minute's first); with a zone, the fields
    /// are read in it and the result shown in the session's.
    MakeTimestamp,
    /// `convert_timezone([source,] target, timestamp)` → the wall time in `target` at the
    /// instant the wall time `timestamp` names in `source` (the session's zone by default).
    ConvertTimezone,
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
            signature: Signature::user_defined(volatility),
        }
    }

    fn arity(&self) -> (usize, usize) {
        match self.kind {
            DateTimeKind::DateFormat => (2, 2),
            DateTimeKind::FromUnixtime => (1, 2),
            DateTimeKind::UnixTimestamp => (1, 2),
            DateTimeKind::ToDate => (1, usize::MAX),
            DateTimeKind::MonthsBetween => (2, 3),
            DateTimeKind::TimestampAdd | DateTimeKind::TimestampDiff => (3, 3),
            DateTimeKind::MakeTimestamp => (6, 7),
            DateTimeKind::ConvertTimezone => (2, 3),
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
        let parsing_pattern = |i: usize| -> DfResult<String> {
            Ok(parsing_format(&match values.get(i) {
                Some(v) => text(v)?,
                None => DEFAULT_TIMESTAMP_PATTERN.to_string(),
            })?)
        };
        Ok(match self.kind {
            DateTimeKind::DateFormat => {
                let Some(time) = wall_time(&values[0], tz)? else {
                    return Ok(ScalarValue::Null);
                };
                ScalarValue::Utf8(Some(format(&time, &pattern(1)?)?))
            }
            DateTimeKind::FromUnixtime => {
                let seconds = integer("from_unixtime", &values[0])?;
                let Some(instant) = DateTime::from_timestamp(seconds, 0) else {
                    return Err(out_of_range(seconds));
                };
                let local = instant.with_timezone(tz).naive_local();
                ScalarValue::Utf8(Some(format(&local, &pattern(1)?)?))
            }
            DateTimeKind::UnixTimestamp => {
                let local = match &values[0] {
                    v if text(v).is_ok() => parse_wall_time(&text(v)?, &parsing_pattern(1)?)?,
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
            DateTimeKind::TimestampAdd => {
                let unit = TimeUnitName::parse(&text(&values[0])?)?;
                let Some(time) = wall_time(&values[2], tz)? else {
                    return Ok(ScalarValue::Null);
                };
                let amount = integer("timestampadd", &values[1])?;
                let later = unit.add(time, amount).ok_or_else(|| out_of_range(amount))?;
                timestamp_value(later, &values[2], tz)?
            }
            DateTimeKind::TimestampDiff => {
                let unit = TimeUnitName::parse(&text(&values[0])?)?;
                let (Some(start), Some(end)) =
                    (wall_time(&values[1], tz)?, wall_time(&values[2], tz)?)
                else {
                    return Ok(ScalarValue::Null);
                };
                ScalarValue::Int64(Some(unit.between(start, end)))
            }
            DateTimeKind::ConvertTimezone => {
                let (source, rest) = match values {
                    [source, rest @ ..] if rest.len() == 2 => (Tz::from_str(&text(source)?)?, rest),
                    rest => (*tz, rest),
                };
                let target = Tz::from_str(&text(&rest[0])?)?;
                let Some(wall) = wall_time(&rest[1], tz)? else {
                    return Ok(ScalarValue::Null);
                };
                let converted = source
                    .from_local_datetime(&wall)
                    .earliest()
                    .ok_or_else(|| datetime_error(&wall.to_string(), "the source time zone"))?
                    .with_timezone(&target)
                    .naive_local();
                ScalarValue::TimestampMicrosecond(
                    Some(converted.and_utc().timestamp_micros()),
                    None,
                )
            }
            DateTimeKind::MakeTimestamp => {
                let time = make_timestamp(values)?;
                let time = match values.get(6) {
                    Some(zone) => {
                        let zone = Tz::from_str(&text(zone)?)?;
                        zone.from_local_datetime(&time)
                            .earliest()
                            .ok_or_else(|| {
                                datetime_error(&time.to_string(), "the given time zone")
                            })?
                            .with_timezone(tz)
                            .naive_local()
                    }
                    None => time,
                };
                ScalarValue::TimestampMicrosecond(Some(time.and_utc().timestamp_micros()), None)
            }
        })
    }
}

/// The wall time of `make_timestamp`'s first six fields; an error names a field out of range.
fn make_timestamp(values: &[ScalarValue]) -> DfResult<NaiveDateTime> {
    let field = |i: usize| -> DfResult<u32> {
        let value = integer("make_timestamp", &values[i])?;
        u32::try_from(value).map_err(|_| field_out_of_range(value))
    };
    let (year, month, day, hour, minute) = (
        integer("make_timestamp", &values[0])?,
        field(1)?,
        field(2)?,
        field(3)?,
        field(4)?,
    );
    let seconds = match values[5].cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(seconds)) => seconds,
        other => {
            return Err(argument_error(
                "make_timestamp",
                &format!("seconds, not {other}"),
            ));
        }
    };
    let micros = (seconds * 1e6).round();
    if !(0.0..=60e6).contains(&micros) {
        return Err(field_out_of_range(seconds));
    }
    let micros = micros as u32;
    let date = i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .ok_or_else(|| field_out_of_range(format!("{year}-{month}-{day}")))?;
    let whole_minute = date
        .and_hms_opt(hour, minute, 0)
        .ok_or_else(|| field_out_of_range(format!("{hour}:{minute}")))?;
    Ok(whole_minute + chrono::Duration::microseconds(i64::from(micros)))
}

fn field_out_of_range(value: impl std::fmt::Display) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::DatetimeFieldOverflow,
        format!("date/time field value out of range: {value}"),
    )
    .into()
}

/// The units of `timestampadd` and `timestampdiff`, as Spark names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeUnitName {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
}

impl TimeUnitName {
    const NAMES: &[&str] = &[
        "YEAR",
        "QUARTER",
        "MONTH",
        "WEEK",
        "DAY",
        "DAYOFYEAR",
        "HOUR",
        "MINUTE",
        "SECOND",
        "MILLISECOND",
        "MICROSECOND",
    ];

    fn parse(name: &str) -> DfResult<Self> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "YEAR" => Self::Year,
            "QUARTER" => Self::Quarter,
            "MONTH" => Self::Month,
            "WEEK" => Self::Week,
            "DAY" | "DAYOFYEAR" => Self::Day,
            "HOUR" => Self::Hour,
            "MINUTE" => Self::Minute,
            "SECOND" => Self::Second,
            "MILLISECOND" => Self::Millisecond,
            "MICROSECOND" => Self::Microsecond,
            _ => {
                return Err(
                    Error::invalid_parameter(format!("unit \"{name}\" not recognized"))
                        .with_hint(format!("use one of {}", Self::NAMES.join(", ")))
                        .into(),
                );
            }
        })
    }

    /// Months in a unit of months, microseconds in a unit of time (weeks and days too).
    fn months(self) -> Option<i64> {
        match self {
            Self::Year => Some(12),
            Self::Quarter => Some(3),
            Self::Month => Some(1),
            _ => None,
        }
    }

    fn micros(self) -> i64 {
        match self {
            Self::Week => 7 * 86_400_000_000,
            Self::Day => 86_400_000_000,
            Self::Hour => 3_600_000_000,
            Self::Minute => 60_000_000,
            Self::Second => 1_000_000,
            Self::Millisecond => 1_000,
            _ => 1,
        }
    }

    fn add(self, time: NaiveDateTime, amount: i64) -> Option<NaiveDateTime> {
        match self.months() {
            Some(months) => {
                let months = amount.checked_mul(months)?;
                let step = chrono::Months::new(u32::try_from(months.unsigned_abs()).ok()?);
                match months < 0 {
                    true => time.checked_sub_months(step),
                    false => time.checked_add_months(step),
                }
            }
            None => time.checked_add_signed(chrono::Duration::microseconds(
                amount.checked_mul(self.micros())?,
            )),
        }
    }

    /// Days, weeks and months count whole days from `start`'s time of day (an end earlier
    /// in its day than the start ends the day before); units of time count elapsed time.
    fn between(self, start: NaiveDateTime, end: NaiveDateTime) -> i64 {
        if !matches!(self, Self::Day | Self::Week) && self.months().is_none() {
            let elapsed = end - start;
            let micros = i128::from(elapsed.num_seconds()) * 1_000_000
                + i128::from(elapsed.subsec_nanos() / 1_000);
            let units = micros / i128::from(self.micros());
            return i64::try_from(units).unwrap_or(if units < 0 { i64::MIN } else { i64::MAX });
        }
        let mut end_date = end.date();
        if end_date > start.date() && end.time() < start.time() {
            end_date = end_date.pred_opt().unwrap_or(end_date);
        } else if end_date < start.date() && end.time() > start.time() {
            end_date = end_date.succ_opt().unwrap_or(end_date);
        }
        let start_date = start.date();
        match self.months() {
            Some(months) => {
                let packed = |d: NaiveDate| {
                    (i64::from(d.year()) * 12 + i64::from(d.month0())) * 32 + i64::from(d.day())
                };
                (packed(end_date) - packed(start_date)) / 32 / months
            }
            None => (end_date - start_date).num_days() / (self.micros() / 86_400_000_000),
        }
    }
}

/// A wall time as a value of the type `like` has: a timestamp with its zone, or without.
fn timestamp_value(time: NaiveDateTime, like: &ScalarValue, tz: &Tz) -> DfResult<ScalarValue> {
    match like.data_type() {
        DataType::Timestamp(_, Some(zone)) => {
            let instant = tz
                .from_local_datetime(&time)
                .earliest()
                .ok_or_else(|| datetime_error(&time.to_string(), "the session's time zone"))?;
            Ok(ScalarValue::TimestampMicrosecond(
                Some(instant.timestamp_micros()),
                Some(zone),
            ))
        }
        _ => Ok(ScalarValue::TimestampMicrosecond(
            Some(time.and_utc().timestamp_micros()),
            None,
        )),
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
            DateTimeKind::TimestampAdd => "timestampadd",
            DateTimeKind::TimestampDiff => "timestampdiff",
            DateTimeKind::MakeTimestamp => "make_timestamp",
            DateTimeKind::ConvertTimezone => "convert_timezone",
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
            DateTimeKind::TimestampAdd => match &arg_types[2] {
                DataType::Timestamp(_, zone) => {
                    DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
                }
                _ => DataType::Timestamp(TimeUnit::Microsecond, None),
            },
            DateTimeKind::TimestampDiff => DataType::Int64,
            DateTimeKind::MakeTimestamp | DateTimeKind::ConvertTimezone => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let tz = session_zone(&args)?;
        invoke_by_row(&args, |values| self.row(values, &tz))
    }
}

/// The session's time zone, which wall times are read in.
pub(super) fn session_zone(args: &ScalarFunctionArgs) -> DfResult<Tz> {
    let zone = args.config_options.execution.time_zone.as_deref();
    Ok(Tz::from_str(zone.unwrap_or("UTC"))?)
}

pub(super) fn text(value: &ScalarValue) -> DfResult<String> {
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

fn integer(function: &str, value: &ScalarValue) -> DfResult<i64> {
    match value.cast_to(&DataType::Int64)? {
        ScalarValue::Int64(Some(n)) => Ok(n),
        other => Err(argument_error(
            function,
            &format!("an integer, not {other}"),
        )),
    }
}

/// A date, timestamp or timestamp text as a wall time in `tz`.
pub(super) fn wall_time(value: &ScalarValue, tz: &Tz) -> DfResult<Option<NaiveDateTime>> {
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
pub(super) fn parse_wall_time(input: &str, chrono_pattern: &str) -> DfResult<NaiveDateTime> {
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
        let chrono_pattern = parsing_format(&text(pattern)?)?;
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

pub(super) fn datetime_error(input: &str, pattern: &str) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::InvalidDatetimeFormat,
        format!("invalid value for date or time: \"{input}\" does not match {pattern}"),
    )
    .into()
}

pub(super) fn out_of_range(value: i64) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::NumericOutOfRange,
        format!("timestamp out of range: {value}"),
    )
    .into()
}

pub(super) fn argument_error(function: &str, expected: &str) -> datafusion::error::DataFusionError {
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
    fn units_are_counted_as_java_counts_them() {
        use TimeUnitName::*;
        let between = |unit: TimeUnitName, start: &str, end: &str| unit.between(at(start), at(end));
        assert_eq!(
            between(Month, "2024-01-31 00:00:00", "2024-02-29 00:00:00"),
            0
        );
        assert_eq!(
            between(Month, "2024-01-15 10:00:00", "2024-02-15 09:59:59"),
            0
        );
        assert_eq!(
            between(Month, "2024-01-15 10:00:00", "2024-02-15 10:00:00"),
            1
        );
        assert_eq!(
            between(Month, "2024-02-15 10:00:00", "2024-01-15 10:00:01"),
            0
        );
        assert_eq!(
            between(Year, "2020-03-01 00:00:00", "2024-02-29 00:00:00"),
            3
        );
        assert_eq!(
            between(Quarter, "2024-01-01 00:00:00", "2024-07-01 00:00:00"),
            2
        );
        assert_eq!(
            between(Day, "2024-01-01 10:00:00", "2024-01-03 09:00:00"),
            1
        );
        assert_eq!(
            between(Day, "2024-01-03 09:00:00", "2024-01-01 10:00:00"),
            -1
        );
        assert_eq!(
            between(Week, "2024-01-01 00:00:00", "2024-01-15 00:00:00"),
            2
        );
        assert_eq!(
            between(Hour, "2024-01-01 10:00:00", "2024-01-01 08:30:00"),
            -1
        );
        assert_eq!(
            between(Second, "2024-01-01 00:00:00", "2024-01-01 00:01:01"),
            61
        );
    }

    #[test]
    fn units_are_added_clamping_to_month_ends() {
        use TimeUnitName::*;
        assert_eq!(
            Month.add(at("2024-01-31 12:00:00"), 1),
            Some(at("2024-02-29 12:00:00"))
        );
        assert_eq!(
            Year.add(at("2024-02-29 00:00:00"), -1),
            Some(at("2023-02-28 00:00:00"))
        );
        assert_eq!(
            Week.add(at("2024-01-01 00:00:00"), 2),
            Some(at("2024-01-15 00:00:00"))
        );
        assert_eq!(
            Minute.add(at("2024-01-01 00:00:00"), -90),
            Some(at("2023-12-31 22:30:00"))
        );
        assert_eq!(Month.add(at("2024-01-01 00:00:00"), i64::MAX), None);
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
