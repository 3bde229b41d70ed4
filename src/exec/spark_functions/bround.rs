//! Spark's `bround(x [, d])`: `x` rounded to `d` fraction digits (negative: to tens,
//! hundreds, …), halves to the even neighbour. Decimals keep Spark's result type
//! (`decimal(p - s + 1 + min(s, d), min(s, d))`, scale 0 for a negative `d`); doubles round
//! their shortest decimal text, as Spark rounds `BigDecimal(x)`; integers round only to a
//! negative `d`. `d` must be a constant.

use std::str::FromStr;
use std::sync::Arc;

use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive};
use datafusion::arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType, Field, FieldRef};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Bround {
    signature: Signature,
}

impl Bround {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn usage(message: impl Into<String>) -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::DatatypeMismatch, message).into()
}

impl ScalarUDFImpl for Bround {
    fn name(&self) -> &str {
        "bround"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let value = match arg_types.first() {
            Some(DataType::Null) => DataType::Float64,
            Some(DataType::Float16 | DataType::Float32) => DataType::Float64,
            Some(DataType::Decimal256(..)) => DataType::Decimal128(DECIMAL128_MAX_PRECISION, 18),
            Some(t) if t.is_numeric() => t.clone(),
            _ => {
                return Err(usage(
                    "bround takes a number and a constant count of digits",
                ));
            }
        };
        match arg_types {
            [_] => Ok(vec![value]),
            [_, digits] if digits.is_integer() || digits.is_null() => {
                Ok(vec![value, DataType::Int64])
            }
            _ => Err(usage(
                "bround takes a number and a constant count of digits",
            )),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Err(usage("bround's type depends on its digits"))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let digits = match args.scalar_arguments.get(1) {
            None => 0,
            Some(Some(ScalarValue::Int64(Some(digits)))) => clamp(*digits),
            Some(Some(ScalarValue::Int64(None))) => 0,
            Some(_) => return Err(usage("bround needs a constant count of digits")),
        };
        let data_type = match args.arg_fields[0].data_type() {
            DataType::Decimal128(precision, scale) => {
                let (precision, scale) = (i64::from(*precision), i64::from(*scale));
                let integral = precision - scale + 1;
                let (precision, scale) = match digits < 0 {
                    true => (integral.max(1 - digits), 0),
                    false => (integral + scale.min(digits), scale.min(digits)),
                };
                let max = i64::from(DECIMAL128_MAX_PRECISION);
                DataType::Decimal128(precision.min(max) as u8, scale as i8)
            }
            other => other.clone(),
        };
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let target = args.return_field.data_type().clone();
        invoke_by_row(&args, |values| {
            let digits = match values.get(1) {
                Some(ScalarValue::Int64(Some(digits))) => clamp(*digits),
                Some(_) => return ScalarValue::try_from(&target),
                None => 0,
            };
            bround(&values[0], digits, &target)
        })
    }
}

/// Digits beyond any double's or decimal's change nothing more; bounded, they cost nothing.
fn clamp(digits: i64) -> i64 {
    digits.clamp(-MAX_DIGITS, MAX_DIGITS)
}

/// More than the decimal digits of the largest double (about 1.8e308) or of the smallest.
const MAX_DIGITS: i64 = 400;

fn bround(value: &ScalarValue, digits: i64, target: &DataType) -> DfResult<ScalarValue> {
    if value.is_null() {
        return ScalarValue::try_from(target);
    }
    let half_even = |decimal: BigDecimal| decimal.with_scale_round(digits, RoundingMode::HalfEven);
    Ok(match (value, target) {
        (ScalarValue::Decimal128(Some(raw), _, scale), DataType::Decimal128(p, s)) => {
            let rounded = half_even(BigDecimal::from_bigint(
                BigInt::from(*raw),
                i64::from(*scale),
            ));
            let (raw, _) = rounded.with_scale(i64::from(*s)).into_bigint_and_exponent();
            let raw = raw
                .to_i128()
                .ok_or_else(|| usage("bround overflowed its decimal"))?;
            ScalarValue::Decimal128(Some(raw), *p, *s)
        }
        (ScalarValue::Float64(Some(x)), _) if !x.is_finite() => value.clone(),
        (ScalarValue::Float64(Some(x)), _) => {
            let exact = BigDecimal::from_str(&x.to_string()).map_err(|e| usage(e.to_string()))?;
            let rounded = half_even(exact).to_string();
            ScalarValue::Float64(Some(
                f64::from_str(&rounded).map_err(|e| usage(e.to_string()))?,
            ))
        }
        (integer, _) if digits < 0 => {
            let ScalarValue::Int64(Some(n)) = integer.cast_to(&DataType::Int64)? else {
                return ScalarValue::try_from(target);
            };
            let (rounded, _) = half_even(BigDecimal::from(n))
                .with_scale(0)
                .into_bigint_and_exponent();
            let rounded = rounded
                .to_i64()
                .ok_or_else(|| usage("bround overflowed its integer"))?;
            ScalarValue::Int64(Some(rounded)).cast_to(target)?
        }
        (integer, _) => integer.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(x: f64, digits: i64) -> ScalarValue {
        bround(&ScalarValue::Float64(Some(x)), digits, &DataType::Float64).unwrap()
    }

    #[test]
    fn halves_go_to_the_even_neighbour() {
        assert_eq!(float(2.5, 0), ScalarValue::Float64(Some(2.0)));
        assert_eq!(float(3.5, 0), ScalarValue::Float64(Some(4.0)));
        assert_eq!(float(-2.5, 0), ScalarValue::Float64(Some(-2.0)));
        assert_eq!(float(0.125, 2), ScalarValue::Float64(Some(0.12)));
        assert_eq!(float(25.0, -1), ScalarValue::Float64(Some(20.0)));
        assert_eq!(
            float(1e300, clamp(i64::MIN)),
            ScalarValue::Float64(Some(0.0))
        );
        assert_eq!(float(0.5, clamp(i64::MAX)), ScalarValue::Float64(Some(0.5)));
        let decimal = ScalarValue::Decimal128(Some(1235), 10, 3);
        assert_eq!(
            bround(&decimal, 2, &DataType::Decimal128(10, 2)).unwrap(),
            ScalarValue::Decimal128(Some(124), 10, 2)
        );
        assert_eq!(
            bround(&ScalarValue::Int32(Some(250)), -2, &DataType::Int32).unwrap(),
            ScalarValue::Int32(Some(200))
        );
    }
}
