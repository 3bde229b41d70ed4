//! `a DIV b`, Spark's integral division: the quotient truncated toward zero, as a bigint.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

/// The function `a DIV b` is planned as.
pub const SPARK_DIV: &str = "spark_div";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkDiv {
    signature: Signature,
}

impl SparkDiv {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkDiv {
    fn name(&self) -> &str {
        SPARK_DIV
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [a, b] = arg_types else {
            return Err(Error::new(ErrorKind::DatatypeMismatch, "DIV takes two operands").into());
        };
        let is_whole = |t: &DataType| t.is_integer() || t.is_null();
        if !(a.is_numeric() || a.is_null()) || !(b.is_numeric() || b.is_null()) {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!("operator does not exist: {a} DIV {b}"),
            )
            .into());
        }
        let common = if is_whole(a) && is_whole(b) {
            DataType::Int64
        } else {
            DataType::Float64
        };
        Ok(vec![common.clone(), common])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        invoke_by_row(&args, |values| {
            Ok(match (&values[0], &values[1]) {
                (ScalarValue::Int64(Some(_)), ScalarValue::Int64(Some(0)))
                | (ScalarValue::Float64(Some(_)), ScalarValue::Float64(Some(0.0))) => {
                    return Err(Error::new(ErrorKind::DivisionByZero, "division by zero").into());
                }
                (ScalarValue::Int64(Some(a)), ScalarValue::Int64(Some(b))) => {
                    ScalarValue::Int64(Some(a.checked_div(*b).ok_or_else(out_of_range)?))
                }
                (ScalarValue::Float64(Some(a)), ScalarValue::Float64(Some(b))) => {
                    let quotient = (a / b).trunc();
                    if !quotient.is_finite() || quotient.abs() >= 9.2e18 {
                        return Err(out_of_range());
                    }
                    ScalarValue::Int64(Some(quotient as i64))
                }
                _ => ScalarValue::Int64(None),
            })
        })
    }
}

fn out_of_range() -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::NumericOutOfRange, "bigint out of range").into()
}
