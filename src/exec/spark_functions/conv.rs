//! Spark's `conv(number, from_base, to_base)`: a number written in one base (2 to 36) written
//! in another, in upper case. Reading stops at the first character that is not a digit of the
//! base; a negative number is written as its 64-bit two's complement unless `to_base` is
//! negative, which writes it signed. NULL for a base out of range.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Conv {
    signature: Signature,
}

impl Conv {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Conv {
    fn name(&self) -> &str {
        "conv"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [_, from, to] if is_whole(from) && is_whole(to) => {
                Ok(vec![DataType::Utf8, DataType::Int64, DataType::Int64])
            }
            _ => Err(Error::new(
                ErrorKind::DatatypeMismatch,
                "conv expects (number, from_base, to_base) with whole-number bases",
            )
            .into()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        invoke_by_row(&args, |values| match values {
            [
                ScalarValue::Utf8(Some(number)),
                ScalarValue::Int64(Some(from)),
                ScalarValue::Int64(Some(to)),
            ] => Ok(ScalarValue::Utf8(convert(number, *from, *to)?)),
            _ => Ok(ScalarValue::Null),
        })
    }
}

fn is_whole(data_type: &DataType) -> bool {
    data_type.is_integer() || data_type.is_null()
}

fn convert(number: &str, from: i64, to: i64) -> DfResult<Option<String>> {
    let base = |b: i64| {
        u32::try_from(b.unsigned_abs())
            .ok()
            .filter(|b| (2..=36).contains(b))
    };
    let (Some(from), Some(to_radix)) = (base(from), base(to)) else {
        return Ok(None);
    };
    let text = number.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut value: u64 = 0;
    for digit in digits.chars().map_while(|c| c.to_digit(from)) {
        value = value
            .checked_mul(u64::from(from))
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NumericOutOfRange,
                    format!("conv: {number} does not fit in 64 bits"),
                )
            })?;
    }
    if negative {
        value = value.wrapping_neg();
    }
    let (sign, magnitude) = match to < 0 && (value as i64) < 0 {
        true => ("-", (value as i64).unsigned_abs()),
        false => ("", value),
    };
    Ok(Some(format!("{sign}{}", in_base(magnitude, to_radix))))
}

fn in_base(mut value: u64, radix: u32) -> String {
    if value == 0 {
        return "0".to_string();
    }
    let mut digits = Vec::new();
    while value > 0 {
        let digit = (value % u64::from(radix)) as u32;
        digits.push(char::from_digit(digit, radix).map_or('?', |c| c.to_ascii_uppercase()));
        value /= u64::from(radix);
    }
    digits.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_between_bases_as_spark_does() {
        let conv = |n: &str, from: i64, to: i64| convert(n, from, to).unwrap();
        assert_eq!(conv("ff", 16, 10).as_deref(), Some("255"));
        assert_eq!(conv("100", 2, 10).as_deref(), Some("4"));
        assert_eq!(conv("z", 36, 10).as_deref(), Some("35"));
        assert_eq!(conv("-10", 10, 16).as_deref(), Some("FFFFFFFFFFFFFFF6"));
        assert_eq!(conv("-10", 10, -16).as_deref(), Some("-A"));
        assert_eq!(conv("12x", 10, 16).as_deref(), Some("C"));
        assert_eq!(conv("1", 1, 10), None);
        assert!(convert("99999999999999999999999", 10, 16).is_err());
    }
}
