//! A client-side decoder from PostgreSQL's binary wire format to PostgreSQL's text format,
//! written from the protocol documentation and independent of the server's encoder.
//!
//! The sqllogictest runner uses it under the extended protocol (tokio-postgres asks for
//! binary results), so every `.slt` expectation checks the binary encoding against the same
//! text the simple protocol returns.

use std::error::Error;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use tokio_postgres::types::{FromSql, Kind, Type};

type DecodeResult<T> = Result<T, Box<dyn Error + Sync + Send>>;

/// Any value as PostgreSQL would print it; `None` for SQL NULL.
pub struct AsText(pub Option<String>);

impl<'a> FromSql<'a> for AsText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> DecodeResult<Self> {
        decode(ty, raw).map(|text| AsText(Some(text)))
    }

    fn from_sql_null(_: &Type) -> DecodeResult<Self> {
        Ok(AsText(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The raw bytes of a value in the binary format.
pub struct RawBytes(pub Option<Vec<u8>>);

impl<'a> FromSql<'a> for RawBytes {
    fn from_sql(_: &Type, raw: &'a [u8]) -> DecodeResult<Self> {
        Ok(RawBytes(Some(raw.to_vec())))
    }

    fn from_sql_null(_: &Type) -> DecodeResult<Self> {
        Ok(RawBytes(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> DecodeResult<[u8; N]> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("2000-01-01")
}

pub fn decode(ty: &Type, raw: &[u8]) -> DecodeResult<String> {
    if let Kind::Array(element) = ty.kind() {
        return decode_array(element, raw);
    }
    Ok(match *ty {
        Type::BOOL => if raw == [1] { "t" } else { "f" }.to_string(),
        Type::INT2 => i16::from_be_bytes(fixed(raw)?).to_string(),
        Type::INT4 => i32::from_be_bytes(fixed(raw)?).to_string(),
        Type::INT8 => i64::from_be_bytes(fixed(raw)?).to_string(),
        Type::OID => u32::from_be_bytes(fixed(raw)?).to_string(),
        Type::FLOAT4 => float_text(
            f32::from_be_bytes(fixed(raw)?) as f64,
            format!("{:e}", f32::from_be_bytes(fixed(raw)?)),
            6,
        ),
        Type::FLOAT8 => float_text(
            f64::from_be_bytes(fixed(raw)?),
            format!("{:e}", f64::from_be_bytes(fixed(raw)?)),
            15,
        ),
        Type::NUMERIC => numeric_text(raw)?,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN => {
            String::from_utf8(raw.to_vec())?
        }
        Type::JSONB => String::from_utf8(raw.get(1..).unwrap_or_default().to_vec())?,
        Type::CHAR => String::from_utf8(raw.to_vec())?,
        Type::BYTEA => {
            let mut text = String::from("\\x");
            for byte in raw {
                text.push_str(&format!("{byte:02x}"));
            }
            text
        }
        Type::DATE => match i32::from_be_bytes(fixed(raw)?) {
            i32::MAX => "infinity".into(),
            i32::MIN => "-infinity".into(),
            days => (epoch() + TimeDelta::days(days as i64))
                .date()
                .format("%Y-%m-%d")
                .to_string(),
        },
        Type::TIME => {
            let micros = i64::from_be_bytes(fixed(raw)?);
            let time = NaiveTime::MIN + TimeDelta::microseconds(micros);
            with_fraction(time.format("%H:%M:%S").to_string(), micros)
        }
        Type::TIMESTAMP => timestamp_text(i64::from_be_bytes(fixed(raw)?), "")?,
        Type::TIMESTAMPTZ => timestamp_text(i64::from_be_bytes(fixed(raw)?), "+00")?,
        Type::INTERVAL => {
            let micros = i64::from_be_bytes(fixed(&raw[0..8])?);
            let days = i32::from_be_bytes(fixed(&raw[8..12])?);
            let months = i32::from_be_bytes(fixed(&raw[12..16])?);
            interval_text(months, days, micros)
        }
        Type::UUID => {
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
        }
        _ => return Err(format!("no text decoding for type {ty}").into()),
    })
}

/// PostgreSQL's float output with `extra_float_digits` 1: the shortest digits that read
/// back exactly, positional unless the decimal exponent is below -4 or at least `digits`.
fn float_text(value: f64, scientific: String, digits: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    if exponent < -4 || exponent >= digits {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = exponent + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    if negative { format!("-{body}") } else { body }
}

fn numeric_text(raw: &[u8]) -> DecodeResult<String> {
    let word =
        |i: usize| -> DecodeResult<i16> { Ok(i16::from_be_bytes(fixed(&raw[i * 2..i * 2 + 2])?)) };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i32;
    let sign = word(2)? as u16;
    let scale = word(3)? as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<DecodeResult<_>>()?;
    let mut integer = String::new();
    for position in 0..=weight.max(0) {
        let group = if position <= weight {
            digits.get(position as usize).copied().unwrap_or(0)
        } else {
            0
        };
        if weight < 0 {
            break;
        }
        if integer.is_empty() {
            if group != 0 || position == weight {
                integer = group.to_string();
            }
        } else {
            integer.push_str(&format!("{group:04}"));
        }
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let mut fraction = String::new();
    let mut position = weight + 1;
    while fraction.len() < scale {
        let group = if position >= 0 {
            digits.get(position as usize).copied().unwrap_or(0)
        } else {
            0
        };
        fraction.push_str(&format!("{group:04}"));
        position += 1;
    }
    fraction.truncate(scale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if scale > 0 {
        format!("{sign}{integer}.{fraction}")
    } else {
        format!("{sign}{integer}")
    })
}

fn with_fraction(mut text: String, micros: i64) -> String {
    let fraction = micros.rem_euclid(1_000_000);
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

fn timestamp_text(micros: i64, suffix: &str) -> DecodeResult<String> {
    match micros {
        i64::MAX => return Ok("infinity".into()),
        i64::MIN => return Ok("-infinity".into()),
        _ => {}
    }
    let at = epoch() + TimeDelta::microseconds(micros);
    let text = with_fraction(at.format("%Y-%m-%d %H:%M:%S").to_string(), micros);
    Ok(format!("{text}{suffix}"))
}

/// PostgreSQL's "postgres" interval style: once a field is negative, later positive fields
/// carry an explicit `+`; units are plural unless the count is exactly 1.
fn interval_text(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    let mut negative_seen = false;
    let mut field = |n: i64, unit: &str, parts: &mut Vec<String>| {
        if n == 0 {
            return;
        }
        let sign = if negative_seen && n > 0 { "+" } else { "" };
        negative_seen |= n < 0;
        let plural = if n == 1 { "" } else { "s" };
        parts.push(format!("{sign}{n} {unit}{plural}"));
    };
    field((months / 12) as i64, "year", &mut parts);
    field((months % 12) as i64, "mon", &mut parts);
    field(days as i64, "day", &mut parts);
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 {
            "-"
        } else if negative_seen {
            "+"
        } else {
            ""
        };
        let abs = micros.unsigned_abs();
        let seconds = abs / 1_000_000;
        let clock = format!(
            "{sign}{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        parts.push(with_fraction(clock, (abs % 1_000_000) as i64));
    }
    parts.join(" ")
}

fn decode_array(element: &Type, raw: &[u8]) -> DecodeResult<String> {
    let int = |at: usize| -> DecodeResult<i32> {
        Ok(i32::from_be_bytes(fixed(
            raw.get(at..at + 4).ok_or("truncated array")?,
        )?))
    };
    let dimensions = int(0)?;
    if dimensions == 0 {
        return Ok("{}".into());
    }
    if dimensions != 1 {
        return Err("only one-dimensional arrays are decoded".into());
    }
    let length = int(12)?;
    let mut at = 20;
    let mut items = Vec::new();
    for _ in 0..length {
        let size = int(at)?;
        at += 4;
        if size < 0 {
            items.push("NULL".to_string());
            continue;
        }
        let value = decode(element, &raw[at..at + size as usize])?;
        at += size as usize;
        items.push(quote_array_item(value));
    }
    Ok(format!("{{{}}}", items.join(",")))
}

fn quote_array_item(value: String) -> String {
    let needs_quotes = value.is_empty()
        || value.eq_ignore_ascii_case("null")
        || value
            .chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if !needs_quotes {
        return value;
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_postgres_rules() {
        assert_eq!(float_text(1e20, format!("{:e}", 1e20), 15), "1e+20");
        assert_eq!(float_text(0.1, format!("{:e}", 0.1), 15), "0.1");
        assert_eq!(
            float_text(123456.0, format!("{:e}", 123456.0), 15),
            "123456"
        );
        assert_eq!(
            float_text(-0.00001, format!("{:e}", -0.00001), 15),
            "-1e-05"
        );
    }

    #[test]
    fn numerics_decode() {
        // 12345.678: ndigits 3, weight 1, positive, dscale 3; digits 1 2345 6780.
        let raw: Vec<u8> = [3i16, 1, 0, 3, 1, 2345, 6780]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric_text(&raw).unwrap(), "12345.678");
        // 0.05: ndigits 1, weight -1, dscale 2; digits 500.
        let raw: Vec<u8> = [1i16, -1, 0, 2, 500]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric_text(&raw).unwrap(), "0.05");
        // 10000: ndigits 1, weight 1, dscale 0; digits 1.
        let raw: Vec<u8> = [1i16, 1, 0, 0, 1]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric_text(&raw).unwrap(), "10000");
    }

    #[test]
    fn intervals_read_like_postgres() {
        assert_eq!(
            interval_text(14, 3, 4_000_000),
            "1 year 2 mons 3 days 00:00:04"
        );
        assert_eq!(interval_text(0, 0, 0), "00:00:00");
        assert_eq!(interval_text(0, -1, -1_500_000), "-1 days -00:00:01.5");
        assert_eq!(
            interval_text(-1, 3, 3_600_000_000),
            "-1 mons +3 days +01:00:00"
        );
    }
}
