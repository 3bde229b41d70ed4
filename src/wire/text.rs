//! PostgreSQL's text output forms for values: what `float8out`, `numeric_out`, `date_out`,
//! `timestamptz_out`, `interval_out` and `array_out` write, byte for byte.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, Timelike, Utc};

/// Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch.
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;

/// A session time zone, resolved once per result.
#[derive(Debug, Clone)]
pub enum Zone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    /// Reads a `TimeZone` setting as `session::variables::time_zone` normalises it.
    pub fn parse(setting: &str) -> Zone {
        if let Ok(tz) = setting.parse::<chrono_tz::Tz>() {
            return Zone::Named(tz);
        }
        let fixed = parse_offset(setting).and_then(FixedOffset::east_opt);
        Zone::Fixed(fixed.unwrap_or_else(|| Utc.fix()))
    }

    /// The wall-clock time and UTC offset (seconds east) of an instant.
    pub fn local(&self, instant: DateTime<Utc>) -> (NaiveDateTime, i32) {
        match self {
            Zone::Named(tz) => {
                let local = instant.with_timezone(tz);
                (local.naive_local(), local.offset().fix().local_minus_utc())
            }
            Zone::Fixed(offset) => {
                let local = instant.with_timezone(offset);
                (local.naive_local(), offset.local_minus_utc())
            }
        }
    }
}

/// `+05`, `-03:30` → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let mut parts = rest.split(':');
    let hours: i32 = parts.next()?.parse().ok()?;
    let minutes: i32 = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some(sign * (hours * 3600 + minutes * 60))
}

/// float4/float8 output. `extra_float_digits > 0` gives the shortest text that reads back to
/// the same value (PostgreSQL 12+); lower values round to 6 (float4) or 15 (float8) digits
/// plus `extra_float_digits`, like `%g`.
pub fn write_float(out: &mut String, value: f64, is_float4: bool, extra_float_digits: i32) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let (digits, exponent, negative) = if extra_float_digits > 0 {
        if is_float4 {
            decimal_digits(&format!("{:e}", value as f32))
        } else {
            decimal_digits(&format!("{value:e}"))
        }
    } else {
        let base: i32 = if is_float4 { 6 } else { 15 };
        let precision = (base + extra_float_digits).max(1) as usize;
        let (digits, exponent, negative) = decimal_digits(&format!("{:.*e}", precision - 1, value));
        let trimmed = digits.trim_end_matches('0');
        let digits = if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        };
        if exponent < -4 || exponent >= precision as i32 {
            write_exponential(out, negative, &digits, exponent);
        } else {
            write_fixed(out, negative, &digits, exponent);
        }
        return;
    };
    let fixed_limit = if is_float4 { 6 } else { 15 };
    if exponent < -4 || exponent >= fixed_limit {
        write_exponential(out, negative, &digits, exponent);
    } else {
        write_fixed(out, negative, &digits, exponent);
    }
}

/// Splits Rust's `{:e}` output ("-1.2345e-5") into digits "12345", exponent -5, sign.
fn decimal_digits(formatted: &str) -> (String, i32, bool) {
    let negative = formatted.starts_with('-');
    let body = formatted.trim_start_matches('-');
    let (mantissa, exponent) = body.split_once('e').unwrap_or((body, "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exponent.parse().unwrap_or(0), negative)
}

fn write_exponential(out: &mut String, negative: bool, digits: &str, exponent: i32) {
    if negative {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
}

fn write_fixed(out: &mut String, negative: bool, digits: &str, exponent: i32) {
    if negative && (digits == "0" || digits.bytes().any(|d| d != b'0')) {
        out.push('-');
    }
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(digits);
        return;
    }
    let integer_len = exponent as usize + 1;
    if digits.len() <= integer_len {
        out.push_str(digits);
        for _ in digits.len()..integer_len {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..integer_len]);
        out.push('.');
        out.push_str(&digits[integer_len..]);
    }
}

/// Where text output goes: a `String` while a composite value is built (arrays, JSON), or
/// the wire buffer itself for scalar columns, so those cost no allocation per value.
pub trait TextOut {
    fn put_str(&mut self, text: &str);
    /// ASCII bytes only (digits and punctuation).
    fn put_ascii(&mut self, bytes: &[u8]);
}

impl TextOut for String {
    fn put_str(&mut self, text: &str) {
        self.push_str(text);
    }

    fn put_ascii(&mut self, bytes: &[u8]) {
        self.extend(bytes.iter().map(|&b| char::from(b)));
    }
}

impl TextOut for BytesMut {
    fn put_str(&mut self, text: &str) {
        self.put_slice(text.as_bytes());
    }

    fn put_ascii(&mut self, bytes: &[u8]) {
        self.put_slice(bytes);
    }
}

/// Fills `slot` with the last `slot.len()` decimal digits of `value`, zero-padded.
fn fill_digits(slot: &mut [u8], mut value: u64) {
    for byte in slot.iter_mut().rev() {
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn put_padded<O: TextOut + ?Sized>(out: &mut O, value: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let text = digits.format(value);
    for _ in text.len()..width {
        out.put_ascii(b"0");
    }
    out.put_str(text);
}

/// A decimal's unscaled digits with its scale: `12345`, scale 2 → `123.45`.
pub fn write_decimal<O: TextOut + ?Sized>(out: &mut O, unscaled: &str, scale: i8) {
    let (negative, digits) = match unscaled.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, unscaled),
    };
    if negative {
        out.put_ascii(b"-");
    }
    if scale <= 0 {
        out.put_str(digits);
        if digits != "0" {
            for _ in 0..(-scale) {
                out.put_ascii(b"0");
            }
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        out.put_str(&digits[..digits.len() - scale]);
        out.put_ascii(b".");
        out.put_str(&digits[digits.len() - scale..]);
    } else {
        out.put_ascii(b"0.");
        for _ in digits.len()..scale {
            out.put_ascii(b"0");
        }
        out.put_str(digits);
    }
}

/// Days since 1970-01-01 as a NaiveDate (None when out of chrono's range).
pub fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
}

fn write_year_month_day<O: TextOut + ?Sized>(out: &mut O, date: NaiveDate) {
    let year = date.year();
    let display_year = u64::from(if year <= 0 { 1 - year } else { year }.unsigned_abs());
    if display_year <= 9999 {
        let mut text = *b"0000-00-00";
        fill_digits(&mut text[0..4], display_year);
        fill_digits(&mut text[5..7], u64::from(date.month()));
        fill_digits(&mut text[8..10], u64::from(date.day()));
        out.put_ascii(&text);
    } else {
        let mut text = *b"-00-00";
        fill_digits(&mut text[1..3], u64::from(date.month()));
        fill_digits(&mut text[4..6], u64::from(date.day()));
        put_padded(out, display_year, 4);
        out.put_ascii(&text);
    }
}

fn write_bc<O: TextOut + ?Sized>(out: &mut O, date: NaiveDate) {
    if date.year() <= 0 {
        out.put_ascii(b" BC");
    }
}

pub fn write_date<O: TextOut + ?Sized>(out: &mut O, days: i32) {
    match date_from_days(days) {
        Some(date) => {
            write_year_month_day(out, date);
            write_bc(out, date);
        }
        None => out.put_str(if days < 0 { "-infinity" } else { "infinity" }),
    }
}

/// `HH:MM:SS[.ffffff]` from microseconds since midnight (hours may exceed 24 for intervals).
pub fn write_time_of_day<O: TextOut + ?Sized>(out: &mut O, micros: i64) {
    let total_seconds = micros.div_euclid(1_000_000) as u64;
    let fraction = micros.rem_euclid(1_000_000);
    write_clock(
        out,
        total_seconds / 3600,
        (total_seconds / 60) % 60,
        total_seconds % 60,
    );
    write_fraction(out, fraction);
}

/// `HH:MM:SS`, hours zero-padded to two digits and longer when they must be.
fn write_clock<O: TextOut + ?Sized>(out: &mut O, hours: u64, minutes: u64, seconds: u64) {
    let mut text = *b"00:00:00";
    fill_digits(&mut text[3..5], minutes);
    fill_digits(&mut text[6..8], seconds);
    if hours < 100 {
        fill_digits(&mut text[0..2], hours);
        out.put_ascii(&text);
    } else {
        put_padded(out, hours, 2);
        out.put_ascii(&text[2..]);
    }
}

/// `.ffffff` without trailing zeros; nothing for whole seconds.
fn write_fraction<O: TextOut + ?Sized>(out: &mut O, micros: i64) {
    if micros == 0 {
        return;
    }
    let mut text = *b".000000";
    fill_digits(&mut text[1..], micros.unsigned_abs());
    let end = text.iter().rposition(|&b| b != b'0').map_or(1, |i| i + 1);
    out.put_ascii(&text[..end]);
}

/// A timestamp without time zone from microseconds since 1970-01-01.
pub fn write_timestamp<O: TextOut + ?Sized>(out: &mut O, micros: i64) {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(instant) => write_wall_clock(out, instant.naive_utc()),
        None => out.put_str(if micros < 0 { "-infinity" } else { "infinity" }),
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, without the BC suffix.
fn write_date_and_time<O: TextOut + ?Sized>(out: &mut O, wall: NaiveDateTime) {
    write_year_month_day(out, wall.date());
    out.put_ascii(b" ");
    let time = wall.time();
    write_clock(
        out,
        u64::from(time.hour()),
        u64::from(time.minute()),
        u64::from(time.second()),
    );
    write_fraction(out, i64::from(time.nanosecond() / 1000));
}

fn write_wall_clock<O: TextOut + ?Sized>(out: &mut O, wall: NaiveDateTime) {
    write_date_and_time(out, wall);
    write_bc(out, wall.date());
}

/// A timestamp with time zone: the instant shown in the session's zone, with its offset.
pub fn write_timestamptz<O: TextOut + ?Sized>(out: &mut O, micros: i64, zone: &Zone) {
    let Some(instant) = DateTime::<Utc>::from_timestamp_micros(micros) else {
        out.put_str(if micros < 0 { "-infinity" } else { "infinity" });
        return;
    };
    let (wall, offset) = zone.local(instant);
    write_date_and_time(out, wall);
    out.put_ascii(if offset < 0 { b"-" } else { b"+" });
    let offset = u64::from(offset.unsigned_abs());
    put_padded(out, offset / 3600, 2);
    if offset % 3600 != 0 {
        out.put_ascii(b":");
        put_padded(out, (offset / 60) % 60, 2);
        if offset % 60 != 0 {
            out.put_ascii(b":");
            put_padded(out, offset % 60, 2);
        }
    }
    write_bc(out, wall.date());
}

/// An interval in PostgreSQL's default ("postgres") style: `1 year 2 mons 3 days 04:05:06`.
pub fn write_interval(out: &mut String, months: i32, days: i32, micros: i64) {
    let start = out.len();
    let mut is_before = false;
    let mut is_zero = true;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        if out.len() > start {
            out.push(' ');
        }
        let plus = if is_before && value > 0 { "+" } else { "" };
        let plural = if value != 1 { "s" } else { "" };
        let _ = write!(out, "{plus}{value} {unit}{plural}");
        is_before = value < 0;
        is_zero = false;
    };
    part(out, i64::from(months / 12), "year");
    part(out, i64::from(months % 12), "mon");
    part(out, i64::from(days), "day");
    if is_zero || micros != 0 {
        if !is_zero {
            out.push(' ');
        }
        if micros < 0 {
            out.push('-');
        } else if is_before {
            out.push('+');
        }
        write_time_of_day(out, micros.unsigned_abs() as i64);
    }
}

/// Writes `text` as an array element, quoted when PostgreSQL would quote it.
pub fn write_array_element(out: &mut String, text: &str) {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text
            .bytes()
            .any(|b| matches!(b, b'{' | b'}' | b',' | b'"' | b'\\') || b.is_ascii_whitespace());
    if !needs_quotes {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64, is_float4: bool, efd: i32) -> String {
        let mut s = String::new();
        write_float(&mut s, value, is_float4, efd);
        s
    }

    #[test]
    fn floats_match_postgres() {
        assert_eq!(float(1.5, false, 1), "1.5");
        assert_eq!(float(0.1, false, 1), "0.1");
        assert_eq!(float(100.0, false, 1), "100");
        assert_eq!(float(1e15, false, 1), "1e+15");
        assert_eq!(float(123456789012345.0, false, 1), "123456789012345");
        assert_eq!(float(1e-5, false, 1), "1e-05");
        assert_eq!(float(0.0001, false, 1), "0.0001");
        assert_eq!(float(-2.5e-7, false, 1), "-2.5e-07");
        assert_eq!(float(98000000.55, false, 1), "98000000.55");
        assert_eq!(float(f64::NAN, false, 1), "NaN");
        assert_eq!(float(f64::NEG_INFINITY, false, 1), "-Infinity");
        assert_eq!(float(-0.0, false, 1), "-0");
        assert_eq!(float(0.0, false, 1), "0");
        assert_eq!(float(1.0 / 3.0, false, 1), "0.3333333333333333");
        assert_eq!(float(1.0 / 3.0, false, 0), "0.333333333333333");
        assert_eq!(float(1.0 / 3.0, true, 1), "0.33333334");
        assert_eq!(float(1e6, true, 1), "1e+06");
        assert_eq!(float(123456.0, true, 1), "123456");
        assert_eq!(float(1e20, false, 0), "1e+20");
    }

    #[test]
    fn decimals() {
        let d = |u: &str, s: i8| {
            let mut out = String::new();
            write_decimal(&mut out, u, s);
            out
        };
        assert_eq!(d("12345", 2), "123.45");
        assert_eq!(d("-5", 2), "-0.05");
        assert_eq!(d("150", 2), "1.50");
        assert_eq!(d("0", 2), "0.00");
        assert_eq!(d("12", -2), "1200");
        assert_eq!(d("7", 0), "7");
    }

    #[test]
    fn dates_and_times() {
        let mut s = String::new();
        write_date(&mut s, 19_737);
        assert_eq!(s, "2024-01-15");
        s.clear();
        write_date(&mut s, -719_164);
        assert_eq!(s, "0001-12-30 BC");
        s.clear();
        write_timestamp(&mut s, 1_705_312_496_123_400);
        assert_eq!(s, "2024-01-15 09:54:56.1234");
        s.clear();
        write_timestamptz(&mut s, 1_705_312_496_000_000, &Zone::parse("Asia/Kolkata"));
        assert_eq!(s, "2024-01-15 15:24:56+05:30");
        s.clear();
        write_timestamptz(&mut s, 0, &Zone::parse("UTC"));
        assert_eq!(s, "1970-01-01 00:00:00+00");
        s.clear();
        write_timestamptz(&mut s, 0, &Zone::parse("-03"));
        assert_eq!(s, "1969-12-31 21:00:00-03");
    }

    #[test]
    fn dates_beyond_four_digit_years_and_odd_offsets() {
        let mut s = String::new();
        write_date(&mut s, 2_932_897);
        assert_eq!(s, "10000-01-01");
        s.clear();
        write_date(&mut s, -1_000_000);
        assert_eq!(s, "0769-02-04 BC");
        s.clear();
        write_time_of_day(&mut s, 43_200_500_000);
        assert_eq!(s, "12:00:00.5");
        s.clear();
        write_timestamptz(
            &mut s,
            -5_364_662_400_000_000,
            &Zone::parse("America/New_York"),
        );
        assert_eq!(s, "1799-12-31 19:03:58-04:56:02");
    }

    #[test]
    fn the_wire_buffer_gets_the_same_text_as_a_string() {
        let zone = Zone::parse("America/New_York");
        let mut string = String::new();
        let mut wire = BytesMut::new();
        for micros in [0, 1_705_312_496_123_400, -62_135_596_800_000_001] {
            write_timestamp(&mut string, micros);
            write_timestamp(&mut wire, micros);
            write_timestamptz(&mut string, micros, &zone);
            write_timestamptz(&mut wire, micros, &zone);
        }
        write_decimal(&mut string, "-123456", 3);
        write_decimal(&mut wire, "-123456", 3);
        assert_eq!(string.as_bytes(), &wire[..]);
        assert!(string.contains(" BC"), "{string}");
    }

    #[test]
    fn intervals() {
        let i = |m: i32, d: i32, us: i64| {
            let mut out = String::new();
            write_interval(&mut out, m, d, us);
            out
        };
        assert_eq!(
            i(14, 3, 4 * 3_600_000_000 + 5 * 60_000_000 + 6_000_000),
            "1 year 2 mons 3 days 04:05:06"
        );
        assert_eq!(i(0, 0, 0), "00:00:00");
        assert_eq!(i(0, 1, 0), "1 day");
        assert_eq!(i(-12, 0, 0), "-1 years");
        assert_eq!(i(0, -1, 3_600_000_000), "-1 days +01:00:00");
        assert_eq!(i(0, 0, -1_500_000), "-00:00:01.5");
        assert_eq!(i(0, 0, 100 * 3_600_000_000), "100:00:00");
    }

    #[test]
    fn array_elements() {
        let e = |t: &str| {
            let mut out = String::new();
            write_array_element(&mut out, t);
            out
        };
        assert_eq!(e("abc"), "abc");
        assert_eq!(e("a b"), "\"a b\"");
        assert_eq!(e(""), "\"\"");
        assert_eq!(e("NULL"), "\"NULL\"");
        assert_eq!(e("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
