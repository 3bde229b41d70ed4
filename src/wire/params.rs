//! Bind parameters: the bytes a client sent, in text or binary, → a value of the parameter's
//! type. Text is read as PostgreSQL input syntax (through Arrow's casts, which accept it for
//! the types clients send); binary follows PostgreSQL's send formats.

use bytes::Bytes;
use chrono::DateTime;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::ScalarValue;

use crate::error::{Error, ErrorKind, Result};
use crate::wire::text::{PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS};

/// Decodes parameter `index` (0-based) of type `target`.
pub fn decode_parameter(
    index: usize,
    value: Option<&Bytes>,
    binary: bool,
    target: &DataType,
) -> Result<ScalarValue> {
    let Some(bytes) = value else {
        return ScalarValue::try_from(target).map_err(Error::from);
    };
    let decoded = if binary {
        decode_binary(bytes, target)
    } else {
        decode_text(bytes, target)
    };
    decoded.map_err(|e| {
        let mut e = e;
        e.message = format!("{} (parameter ${})", e.message, index + 1);
        e
    })
}

fn decode_text(bytes: &[u8], target: &DataType) -> Result<ScalarValue> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidTextRepresentation,
            "invalid byte sequence for encoding \"UTF8\"",
        )
    })?;
    let text_value = ScalarValue::Utf8(Some(text.to_string()));
    match target {
        DataType::Utf8 => Ok(text_value),
        DataType::Boolean => parse_bool(text).map(|b| ScalarValue::Boolean(Some(b))),
        DataType::Binary => Ok(ScalarValue::Binary(Some(parse_bytea_text(text)?))),
        DataType::Date32 => {
            // PostgreSQL's date input ignores a time or zone after the date (JDBC's setDate
            // sends "2024-01-15 +00").
            let date = text.trim().split([' ', 'T']).next().unwrap_or_default();
            cast_scalar(ScalarValue::Utf8(Some(date.to_string())), target, text)
        }
        DataType::Timestamp(unit, zone) => {
            let cleaned = text.trim();
            let micros = parse_timestamp_text(cleaned, zone.is_some())?;
            let value = ScalarValue::TimestampMicrosecond(Some(micros), zone.clone());
            if *unit == TimeUnit::Microsecond {
                Ok(value)
            } else {
                cast_scalar(value, target, text)
            }
        }
        DataType::List(element) => {
            let malformed = || {
                Error::new(
                    ErrorKind::InvalidTextRepresentation,
                    format!("malformed array literal: \"{text}\""),
                )
            };
            let items = crate::pgtypes::array_elements(text).ok_or_else(malformed)?;
            let values = items
                .into_iter()
                .map(|item| match item {
                    None => ScalarValue::try_from(element.data_type()).map_err(Error::from),
                    Some(item) => decode_text(item.as_bytes(), element.data_type()),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &values,
                element.data_type(),
            )))
        }
        _ => cast_scalar(text_value, target, text),
    }
}

fn cast_scalar(value: ScalarValue, target: &DataType, text: &str) -> Result<ScalarValue> {
    value
        .cast_to(target)
        .map_err(|_| invalid_input(target, text))
}

fn invalid_input(target: &DataType, text: &str) -> Error {
    Error::new(
        ErrorKind::InvalidTextRepresentation,
        format!(
            "invalid input syntax for type {}: \"{text}\"",
            pg_type_name(target)
        ),
    )
}

fn pg_type_name(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Boolean => "boolean",
        DataType::Int16 | DataType::Int8 | DataType::UInt8 => "smallint",
        DataType::Int32 | DataType::UInt16 => "integer",
        DataType::Int64 => "bigint",
        DataType::UInt32 => "oid",
        DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) | DataType::UInt64 => "numeric",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(_, None) => "timestamp",
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone",
        DataType::Time32(_) | DataType::Time64(_) => "time",
        DataType::Interval(_) => "interval",
        DataType::Binary => "bytea",
        _ => "text",
    }
}

fn parse_bool(text: &str) -> Result<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Ok(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Ok(false),
        _ => Err(invalid_input(&DataType::Boolean, text)),
    }
}

/// `\x0102` hex form, or the escape form with backslash-octal sequences.
fn parse_bytea_text(text: &str) -> Result<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let hex: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !hex.len().is_multiple_of(2) {
            return Err(invalid_input(&DataType::Binary, text));
        }
        return hex
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| invalid_input(&DataType::Binary, text))
            })
            .collect();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = text
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
                .ok_or_else(|| invalid_input(&DataType::Binary, text))?;
            out.push(octal);
            i += 4;
        }
    }
    Ok(out)
}

/// PostgreSQL timestamp input: `2024-01-15 09:54:56.5`, `2024-01-15T09:54:56Z`,
/// `2024-01-15 09:54:56+01`, `2024-01-15`. Returns microseconds since 1970 UTC; for
/// timestamps without time zone an offset in the text is ignored, as PostgreSQL does.
fn parse_timestamp_text(text: &str, with_zone: bool) -> Result<i64> {
    let target = if with_zone {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    } else {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    };
    let normalized = normalize_offset(text);
    if let Ok(instant) = DateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M:%S%.f%#z")
        .or_else(|_| DateTime::parse_from_rfc3339(&normalized))
    {
        return Ok(if with_zone {
            instant.timestamp_micros()
        } else {
            instant.naive_local().and_utc().timestamp_micros()
        });
    }
    let naive = ScalarValue::Utf8(Some(text.replace('T', " ")))
        .cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None))
        .map_err(|_| invalid_input(&target, text))?;
    match naive {
        ScalarValue::TimestampMicrosecond(Some(micros), _) => Ok(micros),
        _ => Err(invalid_input(&target, text)),
    }
}

/// `+01` → `+01:00`, so chrono's `%#z` reads PostgreSQL's short offsets.
fn normalize_offset(text: &str) -> String {
    let text = text.replace('T', " ");
    let text = text
        .strip_suffix('Z')
        .map(|t| format!("{t}+00:00"))
        .unwrap_or(text);
    if let Some(at) = text.rfind(['+', '-'])
        && at > 10
    {
        let offset = &text[at + 1..];
        if offset.len() == 2 && offset.bytes().all(|b| b.is_ascii_digit()) {
            return format!("{text}:00");
        }
    }
    text
}

fn decode_binary(bytes: &[u8], target: &DataType) -> Result<ScalarValue> {
    let wrong_size = || {
        Error::new(
            ErrorKind::InvalidBinaryRepresentation,
            format!(
                "incorrect binary data format: {} bytes for type {}",
                bytes.len(),
                pg_type_name(target)
            ),
        )
    };
    let fixed = |n: usize| -> Result<&[u8]> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(wrong_size())
        }
    };
    let natural = match target {
        DataType::Boolean => ScalarValue::Boolean(Some(fixed(1)?[0] != 0)),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => {
            ScalarValue::Int16(Some(i16::from_be_bytes(to_array(fixed(2)?))))
        }
        DataType::Int32 | DataType::UInt16 => {
            ScalarValue::Int32(Some(i32::from_be_bytes(to_array(fixed(4)?))))
        }
        DataType::UInt32 if bytes.len() == 4 => {
            ScalarValue::UInt32(Some(u32::from_be_bytes(to_array(bytes))))
        }
        DataType::Int64 | DataType::UInt32 => match bytes.len() {
            8 => ScalarValue::Int64(Some(i64::from_be_bytes(to_array(bytes)))),
            4 => ScalarValue::Int32(Some(i32::from_be_bytes(to_array(bytes)))),
            2 => ScalarValue::Int16(Some(i16::from_be_bytes(to_array(bytes)))),
            _ => return Err(wrong_size()),
        },
        DataType::Float32 => ScalarValue::Float32(Some(f32::from_be_bytes(to_array(fixed(4)?)))),
        DataType::Float64 => match bytes.len() {
            8 => ScalarValue::Float64(Some(f64::from_be_bytes(to_array(bytes)))),
            4 => ScalarValue::Float32(Some(f32::from_be_bytes(to_array(bytes)))),
            _ => return Err(wrong_size()),
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            return decode_text(bytes, target);
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            ScalarValue::Binary(Some(bytes.to_vec()))
        }
        DataType::FixedSizeBinary(16) => {
            ScalarValue::FixedSizeBinary(16, Some(fixed(16)?.to_vec()))
        }
        DataType::Date32 | DataType::Date64 => ScalarValue::Date32(Some(
            i32::from_be_bytes(to_array(fixed(4)?)).saturating_add(PG_EPOCH_OFFSET_DAYS),
        )),
        DataType::Timestamp(_, zone) => ScalarValue::TimestampMicrosecond(
            Some(i64::from_be_bytes(to_array(fixed(8)?)).saturating_add(PG_EPOCH_OFFSET_MICROS)),
            zone.clone(),
        ),
        DataType::Time32(_) | DataType::Time64(_) => {
            ScalarValue::Time64Microsecond(Some(i64::from_be_bytes(to_array(fixed(8)?))))
        }
        DataType::Interval(_) => {
            let b = fixed(16)?;
            let micros = i64::from_be_bytes(to_array(&b[0..8]));
            let days = i32::from_be_bytes(to_array(&b[8..12]));
            let months = i32::from_be_bytes(to_array(&b[12..16]));
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
                months,
                days,
                micros.saturating_mul(1000),
            )))
        }
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) | DataType::UInt64 => {
            let text = read_numeric_binary(bytes)?;
            return decode_text(text.as_bytes(), target);
        }
        DataType::List(element) => return decode_binary_array(bytes, element.data_type()),
        other => {
            return Err(Error::unsupported(format!(
                "binary parameters of type {other} are not supported"
            ))
            .with_hint("send the parameter in text format"));
        }
    };
    if natural.data_type() == *target {
        Ok(natural)
    } else {
        natural.cast_to(target).map_err(|e| {
            Error::new(
                ErrorKind::NumericOutOfRange,
                crate::error::Error::from(e).message,
            )
        })
    }
}

/// PostgreSQL's binary array: dimension count, a has-NULLs flag, the element type, size and
/// lower bound per dimension, then each element as a length (-1 for NULL) and its bytes.
fn decode_binary_array(bytes: &[u8], element: &DataType) -> Result<ScalarValue> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidBinaryRepresentation,
            "invalid binary array",
        )
    };
    let mut rest = bytes;
    let int = |rest: &mut &[u8]| -> Result<i32> {
        take(rest, 4)
            .map(|head| i32::from_be_bytes(to_array(head)))
            .ok_or_else(bad)
    };
    let dimensions = int(&mut rest)?;
    let _has_nulls = int(&mut rest)?;
    let _element_oid = int(&mut rest)?;
    let count = match dimensions {
        0 => 0,
        1 => {
            let size = int(&mut rest)?;
            let _lower_bound = int(&mut rest)?;
            usize::try_from(size).map_err(|_| bad())?
        }
        _ => {
            return Err(Error::unsupported(
                "multidimensional array parameters are not supported",
            ));
        }
    };
    let mut values = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let length = int(&mut rest)?;
        if length == -1 {
            values.push(ScalarValue::try_from(element)?);
            continue;
        }
        let length = usize::try_from(length).map_err(|_| bad())?;
        let item = take(&mut rest, length).ok_or_else(bad)?;
        values.push(decode_binary(item, element)?);
    }
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &values, element,
    )))
}

/// The next `n` bytes, advancing past them.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0u8; N];
    array.copy_from_slice(&bytes[..N]);
    array
}

/// PostgreSQL binary numeric → decimal text.
fn read_numeric_binary(bytes: &[u8]) -> Result<String> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidBinaryRepresentation,
            "invalid binary numeric",
        )
    };
    if bytes.len() < 8 {
        return Err(bad());
    }
    let word = |i: usize| i16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let ndigits = word(0);
    let weight = i32::from(word(2));
    let sign = u16::from_be_bytes([bytes[4], bytes[5]]);
    let dscale = u16::from_be_bytes([bytes[6], bytes[7]]) as usize;
    if ndigits < 0 || bytes.len() != 8 + 2 * ndigits as usize {
        return Err(bad());
    }
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digits: Vec<i16> = (0..ndigits as usize).map(|i| word(8 + 2 * i)).collect();
    let mut integer = String::new();
    let mut fraction = String::new();
    for (i, d) in digits.iter().enumerate() {
        let position = weight - i as i32;
        if position >= 0 {
            integer.push_str(&format!("{d:04}"));
        } else {
            fraction.push_str(&format!("{d:04}"));
        }
    }
    if weight >= ndigits as i32 {
        integer.extend(std::iter::repeat_n(
            "0000",
            (weight - ndigits as i32 + 1) as usize,
        ));
    }
    if weight < -1 {
        fraction.insert_str(0, &"0000".repeat((-weight - 1) as usize));
    }
    let integer = integer.trim_start_matches('0');
    let integer = if integer.is_empty() { "0" } else { integer };
    let mut fraction: String = fraction.chars().take(dscale).collect();
    while fraction.len() < dscale {
        fraction.push('0');
    }
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode::write_numeric_binary;
    use bytes::BytesMut;

    #[test]
    fn array_parameters_in_text_and_binary() {
        let oids = DataType::List(std::sync::Arc::new(
            datafusion::arrow::datatypes::Field::new_list_field(DataType::UInt32, true),
        ));
        let expected = ScalarValue::List(ScalarValue::new_list_nullable(
            &[
                ScalarValue::UInt32(Some(1259)),
                ScalarValue::UInt32(None),
                ScalarValue::UInt32(Some(4_000_000_000)),
            ],
            &DataType::UInt32,
        ));
        let text = Bytes::from_static(b"{1259,NULL,\"4000000000\"}");
        assert_eq!(
            decode_parameter(0, Some(&text), false, &oids).unwrap(),
            expected
        );
        let mut binary = BytesMut::new();
        for word in [1i32, 1, 26, 3, 1] {
            binary.extend_from_slice(&word.to_be_bytes());
        }
        binary.extend_from_slice(&4i32.to_be_bytes());
        binary.extend_from_slice(&1259u32.to_be_bytes());
        binary.extend_from_slice(&(-1i32).to_be_bytes());
        binary.extend_from_slice(&4i32.to_be_bytes());
        binary.extend_from_slice(&4_000_000_000u32.to_be_bytes());
        assert_eq!(
            decode_parameter(0, Some(&binary.clone().freeze()), true, &oids).unwrap(),
            expected
        );
        let truncated = binary.split_to(binary.len() - 2).freeze();
        let e = decode_parameter(0, Some(&truncated), true, &oids).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidBinaryRepresentation);
        let malformed = Bytes::from_static(b"{1,{2}}");
        let e = decode_parameter(0, Some(&malformed), false, &oids).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidTextRepresentation);
    }

    #[test]
    fn text_parameters() {
        let t = |text: &str, ty: DataType| {
            decode_parameter(0, Some(&Bytes::from(text.to_string())), false, &ty)
        };
        assert_eq!(
            t("42", DataType::Int32).unwrap(),
            ScalarValue::Int32(Some(42))
        );
        assert_eq!(
            t("t", DataType::Boolean).unwrap(),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            t("2024-01-15", DataType::Date32).unwrap(),
            ScalarValue::Date32(Some(19737))
        );
        assert_eq!(
            t("2024-01-15 +00", DataType::Date32).unwrap(),
            ScalarValue::Date32(Some(19737))
        );
        assert_eq!(
            t("12.5", DataType::Decimal128(10, 2)).unwrap(),
            ScalarValue::Decimal128(Some(1250), 10, 2)
        );
        assert_eq!(
            t(
                "2024-01-15 09:54:56.5",
                DataType::Timestamp(TimeUnit::Microsecond, None)
            )
            .unwrap(),
            ScalarValue::TimestampMicrosecond(Some(1_705_312_496_500_000), None)
        );
        assert_eq!(
            t(
                "2024-01-15 10:54:56+01",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            )
            .unwrap(),
            ScalarValue::TimestampMicrosecond(Some(1_705_312_496_000_000), Some("UTC".into()))
        );
        assert_eq!(
            t("\\x0aff", DataType::Binary).unwrap(),
            ScalarValue::Binary(Some(vec![10, 255]))
        );
        let e = t("abc", DataType::Int32).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidTextRepresentation);
        assert!(
            e.message
                .contains("invalid input syntax for type integer: \"abc\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn binary_parameters() {
        let b = |bytes: &[u8], ty: DataType| {
            decode_parameter(0, Some(&Bytes::copy_from_slice(bytes)), true, &ty)
        };
        assert_eq!(
            b(&7i32.to_be_bytes(), DataType::Int32).unwrap(),
            ScalarValue::Int32(Some(7))
        );
        assert_eq!(
            b(&7i32.to_be_bytes(), DataType::Int64).unwrap(),
            ScalarValue::Int64(Some(7))
        );
        assert_eq!(
            b(&0i32.to_be_bytes(), DataType::Date32).unwrap(),
            ScalarValue::Date32(Some(10957))
        );
        assert_eq!(
            b(&[1, 2, 3], DataType::Int32).unwrap_err().kind,
            ErrorKind::InvalidBinaryRepresentation
        );
        let mut numeric = BytesMut::new();
        write_numeric_binary("-980000005", 2, &mut numeric);
        assert_eq!(
            b(&numeric, DataType::Decimal128(10, 2)).unwrap(),
            ScalarValue::Decimal128(Some(-980000005), 10, 2)
        );
        assert_eq!(
            decode_parameter(0, None, true, &DataType::Int32).unwrap(),
            ScalarValue::Int32(None)
        );
    }

    #[test]
    fn numeric_round_trip() {
        for (unscaled, scale, text) in [
            ("1234567", 2, "12345.67"),
            ("5", 4, "0.0005"),
            ("0", 2, "0.00"),
            ("100000000", 0, "100000000"),
        ] {
            let mut out = BytesMut::new();
            write_numeric_binary(unscaled, scale, &mut out);
            assert_eq!(read_numeric_binary(&out).unwrap(), text);
        }
    }
}
