//! `a DIV b`, Spark's integral division: the quotient truncated toward zero, as a bigint; and
//! the arithmetic that gives NULL on overflow: `try_add`, `try_subtract`, `try_multiply`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    ColumnarValue, Operator, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
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

/// Spark's `try_add`, `try_subtract` and `try_multiply`: the operator's result, NULL where it
/// overflows its type. `try_add(date, n)` adds days.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TryArithmetic {
    name: &'static str,
    operator: Operator,
    signature: Signature,
}

impl TryArithmetic {
    pub fn new(name: &'static str, operator: Operator) -> Self {
        Self {
            name,
            operator,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn adds_days(&self, a: &DataType, b: &DataType) -> bool {
        self.operator == Operator::Plus && *a == DataType::Date32 && b.is_integer()
    }

    fn apply(&self, a: &ScalarValue, b: &ScalarValue) -> DfResult<ScalarValue> {
        match self.operator {
            Operator::Plus => a.add_checked(b),
            Operator::Minus => a.sub_checked(b),
            _ => a.mul_checked(b),
        }
    }
}

impl ScalarUDFImpl for TryArithmetic {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [a, b] = arg_types else {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!("{} takes two operands", self.name),
            )
            .into());
        };
        if self.adds_days(a, b) {
            return Ok(vec![DataType::Date32, DataType::Int64]);
        }
        let (a, b) = BinaryTypeCoercer::new(a, &self.operator, b).get_input_types()?;
        Ok(vec![a, b])
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let [a, b] = arg_types else {
            return Err(Error::internal(format!("{} takes two operands", self.name)).into());
        };
        if self.adds_days(a, b) {
            return Ok(DataType::Date32);
        }
        BinaryTypeCoercer::new(a, &self.operator, b).get_result_type()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        invoke_by_row(&args, |values| {
            let (a, b) = (&values[0], &values[1]);
            if a.is_null() || b.is_null() {
                return Ok(ScalarValue::Null);
            }
            if let (ScalarValue::Date32(Some(day)), ScalarValue::Int64(Some(days))) = (a, b) {
                let later = i32::try_from(*days).ok().and_then(|d| day.checked_add(d));
                return Ok(ScalarValue::Date32(later));
            }
            Ok(self.apply(a, b).unwrap_or(ScalarValue::Null))
        })
    }
}
