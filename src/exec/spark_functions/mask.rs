//! `mask(str [, upper [, lower [, digit [, other]]]])`: Spark's masking of text — upper-case
//! letters become `upper` (`X` by default), lower-case ones `lower` (`x`), digits `digit`
//! (`n`) and every other character `other` (kept by default). A NULL replacement keeps its
//! class of characters; a replacement must be one character. Letters and digits are told by
//! their Unicode class, so `é` is masked as a lower-case letter, as in Spark. Named
//! arguments (`mask(s, digitChar => '#')`) are placed by `spark_syntax`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};

/// The parameters' names, as Spark's named arguments spell them, and their defaults.
pub const MASK_PARAMETERS: &[(&str, Option<&str>)] = &[
    ("str", None),
    ("upperChar", Some("X")),
    ("lowerChar", Some("x")),
    ("digitChar", Some("n")),
    ("otherChar", None),
];

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Mask {
    signature: Signature,
}

impl Mask {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn invalid(message: String) -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::InvalidParameterValue, message).into()
}

/// One replacement argument: the same character for every row, or one per row.
enum Replacement {
    Constant(Option<char>),
    PerRow(ArrayRef),
}

fn one_char(text: Option<&str>, name: &str) -> DfResult<Option<char>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Some(c)),
        _ => Err(invalid(format!(
            "mask's {name} must be one character, not '{text}'"
        ))),
    }
}

impl Replacement {
    fn new(argument: Option<&ColumnarValue>, position: usize) -> DfResult<Self> {
        let (name, default) = MASK_PARAMETERS[position];
        Ok(match argument {
            None => Replacement::Constant(default.and_then(|d| d.chars().next())),
            Some(ColumnarValue::Scalar(value)) => {
                let text = value.cast_to(&DataType::Utf8)?;
                let ScalarValue::Utf8(text) = text else {
                    return Err(invalid(format!("mask's {name} must be text")));
                };
                Replacement::Constant(one_char(text.as_deref(), name)?)
            }
            Some(ColumnarValue::Array(array)) => Replacement::PerRow(cast(array, &DataType::Utf8)?),
        })
    }

    fn at(&self, row: usize, position: usize) -> DfResult<Option<char>> {
        match self {
            Replacement::Constant(c) => Ok(*c),
            Replacement::PerRow(array) => {
                let texts = array.as_string::<i32>();
                let text = (!texts.is_null(row)).then(|| texts.value(row));
                one_char(text, MASK_PARAMETERS[position].0)
            }
        }
    }
}

fn masked(c: char, [upper, lower, digit, other]: [Option<char>; 4]) -> char {
    let replacement = if c.is_uppercase() {
        upper
    } else if c.is_lowercase() {
        lower
    } else if c.is_numeric() {
        digit
    } else {
        other
    };
    replacement.unwrap_or(c)
}

impl ScalarUDFImpl for Mask {
    fn name(&self) -> &str {
        "mask"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        if arg_types.is_empty() || arg_types.len() > MASK_PARAMETERS.len() {
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                "mask takes a text and up to four replacement characters",
            )
            .into());
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let replacements = (1..MASK_PARAMETERS.len())
            .map(|position| Replacement::new(args.args.get(position), position))
            .collect::<DfResult<Vec<_>>>()?;
        let input = args.args[0].to_array(args.number_rows)?;
        let input = cast(&input, &DataType::Utf8)?;
        let texts = input.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(texts.len(), texts.value_data().len());
        let mut buffer = String::new();
        for row in 0..texts.len() {
            if texts.is_null(row) {
                out.append_null();
                continue;
            }
            let mut chars = [None; 4];
            for (i, replacement) in replacements.iter().enumerate() {
                chars[i] = replacement.at(row, i + 1)?;
            }
            buffer.clear();
            buffer.extend(texts.value(row).chars().map(|c| masked(c, chars)));
            out.append_value(&buffer);
        }
        let result: ArrayRef = Arc::new(out.finish());
        if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?));
        }
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_are_masked_by_class() {
        let defaults = [Some('X'), Some('x'), Some('n'), None];
        let text: String = "AbC-12é".chars().map(|c| masked(c, defaults)).collect();
        assert_eq!(text, "XxX-nnx");
        let keep_upper = [None, Some('x'), Some('n'), Some('*')];
        let text: String = "AbC-1".chars().map(|c| masked(c, keep_upper)).collect();
        assert_eq!(text, "AxC*n");
    }
}
