//! `floor`, `ceil` and one-argument `trunc` of a decimal give a decimal without fraction
//! digits, as PostgreSQL's numeric does (and Spark's decimal): `floor(9.99)` is `9`, where
//! DataFusion keeps the argument's scale (`9.00`). Each wraps DataFusion's function, which
//! computes the value with one more digit of precision (DataFusion's own `ceil(99.01)` of a
//! `decimal(4,2)` overflows); the wrapper then drops the zero fraction digits.

use std::sync::Arc;

use datafusion::arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType, Field,
};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// DataFusion's `function`, with a scale-0 decimal result for a decimal argument.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WholeNumber {
    inner: Arc<ScalarUDF>,
}

impl WholeNumber {
    pub fn new(inner: Arc<ScalarUDF>) -> Self {
        Self { inner }
    }
}

/// For a decimal with fraction digits: the type DataFusion computes in (one more digit of
/// precision, so that `ceil(99.5)` has room for 100) and the result's type (the integral
/// digits and one more, scale 0, as Spark types it).
fn widened(data_type: &DataType) -> Option<(DataType, DataType)> {
    match *data_type {
        DataType::Decimal128(precision, scale) if scale > 0 => {
            let integral = (precision as i8 - scale + 1).max(1) as u8;
            Some((
                DataType::Decimal128((precision + 1).min(DECIMAL128_MAX_PRECISION), scale),
                DataType::Decimal128(integral.min(DECIMAL128_MAX_PRECISION), 0),
            ))
        }
        DataType::Decimal256(precision, scale) if scale > 0 => {
            let integral = (precision as i8 - scale + 1).max(1) as u8;
            Some((
                DataType::Decimal256((precision + 1).min(DECIMAL256_MAX_PRECISION), scale),
                DataType::Decimal256(integral.min(DECIMAL256_MAX_PRECISION), 0),
            ))
        }
        _ => None,
    }
}

impl ScalarUDFImpl for WholeNumber {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match arg_types {
            [decimal] => match widened(decimal) {
                Some((_, result)) => Ok(result),
                None => self.inner.return_type(arg_types),
            },
            _ => self.inner.return_type(arg_types),
        }
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let widening = match args.arg_fields.as_slice() {
            [field] => widened(field.data_type()),
            _ => None,
        };
        let Some((computed, result)) = widening else {
            return self.inner.invoke_with_args(args);
        };
        args.args = args
            .args
            .iter()
            .map(|arg| arg.cast_to(&computed, None))
            .collect::<DfResult<_>>()?;
        args.arg_fields = vec![Arc::new(Field::new("", computed.clone(), true))];
        args.return_field = Arc::new(Field::new(
            args.return_field.name(),
            self.inner.return_type(std::slice::from_ref(&computed))?,
            args.return_field.is_nullable(),
        ));
        self.inner.invoke_with_args(args)?.cast_to(&result, None)
    }

    fn output_ordering(&self, input: &[ExprProperties]) -> DfResult<SortProperties> {
        self.inner.output_ordering(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_lose_their_scale_other_types_keep_theirs() {
        let floor = WholeNumber::new(datafusion::functions::math::floor());
        assert_eq!(
            floor.return_type(&[DataType::Decimal128(10, 2)]).unwrap(),
            DataType::Decimal128(9, 0)
        );
        assert_eq!(
            floor.return_type(&[DataType::Float64]).unwrap(),
            DataType::Float64
        );
        let trunc = WholeNumber::new(datafusion::functions::math::trunc());
        assert_eq!(
            trunc
                .return_type(&[DataType::Decimal128(10, 2), DataType::Int64])
                .unwrap(),
            DataType::Decimal128(10, 2),
            "trunc(x, n) keeps n digits"
        );
    }
}
