//! PostgreSQL's `to_char(timestamp | timestamptz | date, template)`: the template's patterns
//! (`YYYY-MM-DD HH24:MI:SS`, `FMMonth DDth`, `Dy, DD Mon YYYY`, `"quarter" Q`, …) replaced by
//! the parts of the value, a timestamptz read in the session's time zone. DataFusion's
//! `to_char` reads chrono's `%Y` patterns and would print PostgreSQL's template as it is.
//!
//! Numeric patterns match in upper or lower case (`yyyy`, `hh24`); names follow the case they
//! are written in (`MONTH`, `Month`, `month`). `FM` before a pattern drops its padding, `TH`
//! / `th` after a number adds its ordinal suffix, text in double quotes is copied, and any
//! other character is copied as it is, as PostgreSQL does.

use std::fmt::Write;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::OffsetName;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;
use crate::wire::text::Zone;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToChar {
    signature: Signature,
}

impl Default for ToChar {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [value, _] = arg_types else {
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                "to_char takes a value and a template",
            )
            .into());
        };
        let value = match value {
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            DataType::Timestamp(_, zone) => {
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
            }
            DataType::Null => DataType::Timestamp(TimeUnit::Microsecond, None),
            // Refused when called, so that the error keeps its SQLSTATE.
            other if other.is_numeric() => other.clone(),
            other => {
                return Err(Error::new(
                    ErrorKind::UndefinedFunction,
                    format!("function to_char({other}, text) does not exist"),
                )
                .with_hint("to_char formats a date or timestamp")
                .into());
            }
        };
        Ok(vec![value, DataType::Utf8])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let zone = Zone::parse(
            args.config_options
                .execution
                .time_zone
                .as_deref()
                .unwrap_or("UTC"),
        );
        if args
            .arg_fields
            .first()
            .is_some_and(|field| field.data_type().is_numeric())
        {
            return Err(Error::unsupported("to_char of a number is not supported")
                .with_hint("format_(x, d) or CAST(x AS TEXT)")
                .into());
        }
        let constant_template = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(template)))) => Some(parse(template)),
            _ => None,
        };
        invoke_by_row(&args, |values| {
            let [value, ScalarValue::Utf8(Some(template))] = values else {
                return Ok(ScalarValue::Utf8(None));
            };
            let Some(time) = moment(value, &zone)? else {
                return Ok(ScalarValue::Utf8(None));
            };
            let text = match &constant_template {
                Some(pieces) => to_char(&time, pieces),
                None => to_char(&time, &parse(template)),
            };
            Ok(ScalarValue::Utf8(Some(text)))
        })
    }
}

/// A value as the wall time it shows, with its zone when it has one.
struct Moment {
    wall: NaiveDateTime,
    /// Seconds east of UTC and the zone's abbreviation, for a timestamptz.
    offset: Option<(i32, String)>,
}

fn moment(value: &ScalarValue, zone: &Zone) -> DfResult<Option<Moment>> {
    Ok(match value {
        ScalarValue::Date32(Some(days)) => NaiveDate::default()
            .checked_add_signed(chrono::Duration::days(i64::from(*days)))
            .map(|date| Moment {
                wall: date.and_time(chrono::NaiveTime::MIN),
                offset: None,
            }),
        ScalarValue::TimestampMicrosecond(Some(micros), tz) => {
            let Some(utc) = DateTime::<Utc>::from_timestamp_micros(*micros) else {
                return Err(
                    Error::new(ErrorKind::DatetimeFieldOverflow, "timestamp out of range").into(),
                );
            };
            match tz {
                None => Some(Moment {
                    wall: utc.naive_utc(),
                    offset: None,
                }),
                Some(_) => {
                    let (wall, seconds) = zone.local(utc);
                    let abbreviation = match zone {
                        Zone::Named(tz) => {
                            let local = utc.with_timezone(tz);
                            local.offset().abbreviation().map(str::to_string)
                        }
                        Zone::Fixed(_) => None,
                    };
                    Some(Moment {
                        wall,
                        offset: Some((
                            seconds,
                            abbreviation.unwrap_or_else(|| offset_text(seconds, false)),
                        )),
                    })
                }
            }
        }
        _ => None,
    })
}

/// The parts of a wall time a template can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    YearWithComma,
    Year(usize),
    IsoYear(usize),
    Hour24,
    Hour12,
    Minute,
    Second,
    SecondsOfDay,
    Millis,
    Micros,
    Fraction(usize),
    Meridiem { dotted: bool },
    Era { dotted: bool },
    Month,
    MonthName,
    MonthAbbreviation,
    RomanMonth,
    DayName,
    DayAbbreviation,
    DayOfYear,
    DayOfMonth,
    DayOfWeek,
    IsoDayOfYear,
    IsoDayOfWeek,
    IsoWeek,
    WeekOfYear,
    WeekOfMonth,
    Century,
    Julian,
    Quarter,
    ZoneName,
    ZoneOffset,
    ZoneHours,
    ZoneMinutes,
}

/// How a name is written: `MONTH`, `Month` or `month`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Upper,
    Capitalized,
    Lower,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Pattern {
        part: Part,
        case: Case,
        fill_mode: bool,
        ordinal: Option<Case>,
    },
}

/// The template patterns; where several match, the longest wins.
const PATTERNS: &[(&str, Part)] = &[
    ("Y,YYY", Part::YearWithComma),
    ("YYYY", Part::Year(4)),
    ("YYY", Part::Year(3)),
    ("YY", Part::Year(2)),
    ("IYYY", Part::IsoYear(4)),
    ("IYY", Part::IsoYear(3)),
    ("IY", Part::IsoYear(2)),
    ("IDDD", Part::IsoDayOfYear),
    ("ID", Part::IsoDayOfWeek),
    ("IW", Part::IsoWeek),
    ("I", Part::IsoYear(1)),
    ("Y", Part::Year(1)),
    ("HH24", Part::Hour24),
    ("HH12", Part::Hour12),
    ("HH", Part::Hour12),
    ("MI", Part::Minute),
    ("MS", Part::Millis),
    ("SSSSS", Part::SecondsOfDay),
    ("SSSS", Part::SecondsOfDay),
    ("SS", Part::Second),
    ("US", Part::Micros),
    ("FF1", Part::Fraction(1)),
    ("FF2", Part::Fraction(2)),
    ("FF3", Part::Fraction(3)),
    ("FF4", Part::Fraction(4)),
    ("FF5", Part::Fraction(5)),
    ("FF6", Part::Fraction(6)),
    ("DDD", Part::DayOfYear),
    ("DD", Part::DayOfMonth),
    ("D", Part::DayOfWeek),
    ("MM", Part::Month),
    ("WW", Part::WeekOfYear),
    ("W", Part::WeekOfMonth),
    ("CC", Part::Century),
    ("J", Part::Julian),
    ("Q", Part::Quarter),
    ("TZH", Part::ZoneHours),
    ("TZM", Part::ZoneMinutes),
    ("OF", Part::ZoneOffset),
    ("MONTH", Part::MonthName),
    ("MON", Part::MonthAbbreviation),
    ("DAY", Part::DayName),
    ("DY", Part::DayAbbreviation),
    ("A.M.", Part::Meridiem { dotted: true }),
    ("P.M.", Part::Meridiem { dotted: true }),
    ("AM", Part::Meridiem { dotted: false }),
    ("PM", Part::Meridiem { dotted: false }),
    ("B.C.", Part::Era { dotted: true }),
    ("A.D.", Part::Era { dotted: true }),
    ("BC", Part::Era { dotted: false }),
    ("AD", Part::Era { dotted: false }),
    ("RM", Part::RomanMonth),
    ("TZ", Part::ZoneName),
];

/// The case `text` is written in, if it is one of the three.
fn case_of(text: &str) -> Option<Case> {
    let mut letters = text.chars().filter(|c| c.is_alphabetic());
    let first = letters.next()?;
    let rest: Vec<char> = letters.collect();
    if first.is_uppercase() && rest.iter().all(|c| c.is_uppercase()) {
        Some(Case::Upper)
    } else if first.is_lowercase() && rest.iter().all(|c| c.is_lowercase()) {
        Some(Case::Lower)
    } else if first.is_uppercase() && rest.iter().all(|c| c.is_lowercase()) {
        Some(Case::Capitalized)
    } else {
        None
    }
}

/// The pattern at the start of `text`, how it is written and its length: the longest that
/// matches, in upper or lower case (names also capitalized).
fn pattern_at(text: &str) -> Option<(Part, Case, usize)> {
    PATTERNS
        .iter()
        .filter_map(|(keyword, part)| {
            let head = text.get(..keyword.len())?;
            if !head.eq_ignore_ascii_case(keyword) {
                return None;
            }
            let case = case_of(head)?;
            let names_a_word = matches!(
                part,
                Part::MonthName | Part::MonthAbbreviation | Part::DayName | Part::DayAbbreviation
            );
            (case != Case::Capitalized || names_a_word).then_some((*part, case, keyword.len()))
        })
        .max_by_key(|(_, _, length)| *length)
}

fn parse(template: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            let mut quoted = rest[1..].chars();
            while let Some(q) = quoted.next() {
                match q {
                    '"' => break,
                    '\\' => text.extend(quoted.next()),
                    other => text.push(other),
                }
            }
            rest = quoted.as_str();
            continue;
        }
        let fill_mode = rest.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("FM"));
        let after_modifier = if fill_mode { &rest[2..] } else { rest };
        let Some((part, case, length)) = pattern_at(after_modifier) else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        rest = &after_modifier[length..];
        let ordinal = match rest.get(..2) {
            Some("TH") => Some(Case::Upper),
            Some("th") => Some(Case::Lower),
            _ => None,
        };
        if ordinal.is_some() {
            rest = &rest[2..];
        }
        pieces.push(Piece::Pattern {
            part,
            case,
            fill_mode,
            ordinal,
        });
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

fn to_char(moment: &Moment, pieces: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Pattern {
                part,
                case,
                fill_mode,
                ordinal,
            } => write_part(&mut out, moment, *part, *case, *fill_mode, *ordinal),
        }
    }
    out
}

fn cased(text: &str, case: Case) -> String {
    match case {
        Case::Upper => text.to_uppercase(),
        Case::Lower => text.to_lowercase(),
        Case::Capitalized => text.to_string(),
    }
}

/// `+05`, `-03:30`; with `always_minutes`, `+05:00`.
fn offset_text(seconds: i32, always_minutes: bool) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
    match minutes != 0 || always_minutes {
        true => format!("{sign}{hours:02}:{minutes:02}"),
        false => format!("{sign}{hours:02}"),
    }
}

fn ordinal_suffix(number: i64, case: Case) -> String {
    let suffix = match (number % 100, number % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    cased(suffix, case)
}

fn write_part(
    out: &mut String,
    moment: &Moment,
    part: Part,
    case: Case,
    fill_mode: bool,
    ordinal: Option<Case>,
) {
    let wall = &moment.wall;
    // A timestamp without time zone shows UTC's offset and no zone name, as in PostgreSQL.
    let offset_seconds = moment.offset.as_ref().map_or(0, |(seconds, _)| *seconds);
    let (value, width) = match part {
        Part::YearWithComma => {
            let year = wall.year();
            let _ = write!(out, "{},{:03}", year / 1000, (year % 1000).abs());
            return;
        }
        Part::Year(digits) | Part::IsoYear(digits) => {
            let year = i64::from(match part {
                Part::IsoYear(_) => wall.iso_week().year(),
                _ => wall.year(),
            });
            match digits {
                4 => (year, 4),
                _ => (year.rem_euclid(10_i64.pow(digits as u32)), digits),
            }
        }
        Part::Hour24 => (i64::from(wall.hour()), 2),
        Part::Hour12 => (i64::from((wall.hour() + 11) % 12 + 1), 2),
        Part::Minute => (i64::from(wall.minute()), 2),
        Part::Second => (i64::from(wall.second()), 2),
        Part::SecondsOfDay => (i64::from(wall.num_seconds_from_midnight()), 0),
        Part::Millis => (i64::from(wall.nanosecond() / 1_000_000), 3),
        Part::Micros => (i64::from(wall.nanosecond() / 1_000), 6),
        Part::Fraction(digits) => (
            i64::from(wall.nanosecond() / 10_u32.pow(9 - digits as u32)),
            digits,
        ),
        Part::Month => (i64::from(wall.month()), 2),
        Part::DayOfYear => (i64::from(wall.ordinal()), 3),
        Part::DayOfMonth => (i64::from(wall.day()), 2),
        Part::DayOfWeek => (i64::from(wall.weekday().num_days_from_sunday()) + 1, 1),
        Part::IsoDayOfWeek => (i64::from(wall.weekday().number_from_monday()), 1),
        Part::IsoWeek => (i64::from(wall.iso_week().week()), 2),
        Part::IsoDayOfYear => (
            i64::from((wall.iso_week().week() - 1) * 7 + wall.weekday().number_from_monday()),
            3,
        ),
        Part::WeekOfYear => (i64::from((wall.ordinal() - 1) / 7 + 1), 2),
        Part::WeekOfMonth => (i64::from((wall.day() - 1) / 7 + 1), 1),
        Part::Century => {
            let year = i64::from(wall.year());
            (
                if year > 0 {
                    (year + 99) / 100
                } else {
                    year / 100 - 1
                },
                2,
            )
        }
        Part::Julian => (i64::from(wall.num_days_from_ce()) + 1_721_425, 0),
        Part::Quarter => (i64::from((wall.month() - 1) / 3 + 1), 1),
        Part::MonthName
        | Part::DayName
        | Part::MonthAbbreviation
        | Part::DayAbbreviation
        | Part::RomanMonth => {
            let month = MONTHS[wall.month0() as usize];
            let day = DAYS[wall.weekday().num_days_from_sunday() as usize];
            let (name, padded_width) = match part {
                Part::MonthName => (month, 9),
                Part::DayName => (day, 9),
                Part::MonthAbbreviation => (&month[..3], 0),
                Part::DayAbbreviation => (&day[..3], 0),
                _ => (ROMAN[wall.month0() as usize], 4),
            };
            let width = if fill_mode { 0 } else { padded_width };
            let _ = write!(out, "{:<width$}", cased(name, case));
            return;
        }
        Part::Meridiem { dotted } => {
            let text = match (wall.hour() < 12, dotted) {
                (true, false) => "AM",
                (false, false) => "PM",
                (true, true) => "A.M.",
                (false, true) => "P.M.",
            };
            out.push_str(&cased(text, case));
            return;
        }
        Part::Era { dotted } => {
            let text = match (wall.year() > 0, dotted) {
                (true, false) => "AD",
                (false, false) => "BC",
                (true, true) => "A.D.",
                (false, true) => "B.C.",
            };
            out.push_str(&cased(text, case));
            return;
        }
        Part::ZoneName => {
            if let Some((_, name)) = &moment.offset {
                out.push_str(&cased(name, case));
            }
            return;
        }
        Part::ZoneOffset => {
            out.push_str(&offset_text(offset_seconds, false));
            return;
        }
        Part::ZoneHours => {
            let sign = if offset_seconds < 0 { '-' } else { '+' };
            let _ = write!(out, "{sign}{:02}", offset_seconds.abs() / 3600);
            return;
        }
        Part::ZoneMinutes => {
            let _ = write!(out, "{:02}", offset_seconds.abs() % 3600 / 60);
            return;
        }
    };
    let _ = match fill_mode {
        true => write!(out, "{value}"),
        false if value < 0 => write!(out, "-{:0width$}", value.abs(), width = width),
        false => write!(out, "{value:0width$}"),
    };
    if let Some(case) = ordinal {
        out.push_str(&ordinal_suffix(value, case));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(wall: &str, offset: Option<(i32, &str)>, template: &str) -> String {
        let wall = NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M:%S%.f").expect("test time");
        let moment = Moment {
            wall,
            offset: offset.map(|(seconds, name)| (seconds, name.to_string())),
        };
        to_char(&moment, &parse(template))
    }

    // Expected texts are PostgreSQL 15's for the same values and templates.
    #[test]
    fn templates_format_as_postgresql_does() {
        let at = "2024-03-05 14:07:09.123456";
        for (template, expected) in [
            ("YYYY-MM-DD HH24:MI:SS", "2024-03-05 14:07:09"),
            ("yyyy-mm-dd hh24:mi:ss", "2024-03-05 14:07:09"),
            ("YYYY/MM/DD HH12:MI AM", "2024/03/05 02:07 PM"),
            ("Day, DD Month YYYY", "Tuesday  , 05 March     2024"),
            ("FMDay, FMDDth FMMonth", "Tuesday, 5th March"),
            ("Dy Mon dy mon DY MON", "Tue Mar tue mar TUE MAR"),
            ("MS US FF3", "123 123456 123"),
            (
                "Q CC J D ID IW WW W DDD IDDD",
                "1 21 2460375 3 2 10 10 1 065 065",
            ),
            ("\"quarter\" Q, \"week\" IW", "quarter 1, week 10"),
            ("Y,YYY YYY YY Y", "2,024 024 24 4"),
            ("RM rm FMRM", "III  iii  III"),
            ("a.m. p.m. AD", "p.m. p.m. AD"),
            ("SSSS", "50829"),
            ("HH", "02"),
            ("DDth MMTH", "05th 03RD"),
            ("T:x", "T:x"),
            ("yyyy/MM/dd", "2024/03/05"),
            ("Date: Mi mI", "3ate: M4 m4"),
        ] {
            assert_eq!(formatted(at, None, template), expected, "{template}");
        }
    }

    #[test]
    fn zones_show_for_timestamptz_only() {
        let at = "2024-07-01 09:00:00";
        assert_eq!(
            formatted(at, Some((-4 * 3600, "EDT")), "HH24 TZ tz OF TZH:TZM"),
            "09 EDT edt -04 -04:00"
        );
        assert_eq!(formatted(at, Some((19_800, "+0530")), "OF"), "+05:30");
        assert_eq!(formatted(at, None, "HH24 TZ OF"), "09  +00");
    }
}
