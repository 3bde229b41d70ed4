//! `typeof(x)`: the name Spark gives the type of `x` (`int`, `decimal(10,2)`,
//! `array<string>`, `void` for an untyped NULL), which is its Hive type name.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::exec::catalog_bridge::types::hive_type;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TypeOf {
    signature: Signature,
}

impl TypeOf {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// Spark's name of an Arrow type.
fn spark_type_name(data_type: &DataType) -> DfResult<String> {
    Ok(match data_type {
        DataType::Null => "void".to_string(),
        other => hive_type(other, "typeof")?.to_string(),
    })
}

impl ScalarUDFImpl for TypeOf {
    fn name(&self) -> &str {
        "typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let name = match args.arg_fields.first() {
            Some(field) => Some(spark_type_name(field.data_type())?),
            None => None,
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn names_are_sparks() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        let names: Vec<String> = [
            DataType::Int32,
            DataType::Decimal128(10, 2),
            list,
            DataType::Null,
        ]
        .iter()
        .map(|t| spark_type_name(t).unwrap())
        .collect();
        assert_eq!(names, ["int", "decimal(10,2)", "array<string>", "void"]);
    }
}
