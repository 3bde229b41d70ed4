//! `format_number(x, d)`: `x` with thousands separators and `d` fraction digits, rounded
//! half to even as Spark's (Java's) number formatting does: `format_number(1234.5, 0)` is
//! `1,234`, `format_number(1234.565, 2)` is `1,234.56`. NULL for a negative `d`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FormatNumber {
    signature: Signature,
}

impl FormatNumber {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FormatNumber {
    fn name(&self) -> &str {
        "format_number"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [value, digits] if (value.is_numeric() || value.is_null()) && digits.is_integer() => {
                Ok(vec![value.clone(), DataType::Int64])
            }
            [value, DataType::Null] if value.is_numeric() || value.is_null() => {
                Ok(vec![value.clone(), DataType::Int64])
            }
            [_, digits] if !digits.is_integer() => Err(Error::unsupported(
                "format_number with a format pattern is not supported",
            )
            .with_hint("give the number of fraction digits: format_number(x, 2)")
            .into()),
            _ => Err(Error::new(
                ErrorKind::UndefinedFunction,
                "format_number takes a number and a count of fraction digits",
            )
            .into()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        invoke_by_row(&args, |values| {
            let [value, ScalarValue::Int64(Some(digits))] = values else {
                return Ok(ScalarValue::Utf8(None));
            };
            let (Some(text), Ok(digits)) = (exact_text(value), usize::try_from(*digits)) else {
                return Ok(ScalarValue::Utf8(None));
            };
            Ok(ScalarValue::Utf8(Some(format_digits(&text, digits))))
        })
    }
}

/// The value's exact decimal digits (a double's shortest representation); `None` for NULL.
fn exact_text(value: &ScalarValue) -> Option<String> {
    if value.is_null() {
        return None;
    }
    Some(match value {
        ScalarValue::Float64(Some(f)) => f.to_string(),
        ScalarValue::Float32(Some(f)) => f.to_string(),
        other => other.to_string(),
    })
}

/// `text` (`-1234.5678`) grouped by thousands with `digits` fraction digits, half to even.
fn format_digits(text: &str, digits: usize) -> String {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return text.to_string();
    }
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut kept: Vec<u8> = whole.bytes().chain(fraction.bytes().take(digits)).collect();
    kept.extend(std::iter::repeat_n(
        b'0',
        digits.saturating_sub(fraction.len()),
    ));
    let dropped = fraction.as_bytes().get(digits..).unwrap_or_default();
    let round_up = match dropped.first() {
        Some(b'6'..=b'9') => true,
        Some(b'5') => {
            let odd = kept.last().is_some_and(|d| (d - b'0') % 2 == 1);
            dropped[1..].iter().any(|d| *d != b'0') || odd
        }
        _ => false,
    };
    if round_up {
        let mut carry = true;
        for digit in kept.iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, b'1');
        }
    }
    let split = kept.len() - digits;
    let whole = String::from_utf8_lossy(&kept[..split]).into_owned();
    let whole = if whole.is_empty() {
        "0".to_string()
    } else {
        whole
    };
    let mut out = String::with_capacity(kept.len() + kept.len() / 3 + 2);
    if negative {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if digits > 0 {
        out.push('.');
        out.push_str(&String::from_utf8_lossy(&kept[split..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_and_rounded_half_to_even() {
        assert_eq!(format_digits("1234567.891", 2), "1,234,567.89");
        assert_eq!(format_digits("1234.5", 0), "1,234");
        assert_eq!(format_digits("1235.5", 0), "1,236");
        assert_eq!(format_digits("0.125", 2), "0.12");
        assert_eq!(format_digits("0.1251", 2), "0.13");
        assert_eq!(format_digits("999.995", 2), "1,000.00");
        assert_eq!(format_digits("-12", 3), "-12.000");
        assert_eq!(format_digits(".5", 0), "0");
    }
}
