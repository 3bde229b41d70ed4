//! Quoted literals take the type of what they are compared with, as PostgreSQL's
//! unknown-typed literals do: `indisprimary = 't'` compares booleans and
//! `polroles = '{0}'` compares arrays. DataFusion types every quoted literal as text and has
//! no cast from text to either, so this expression planner, consulted as each comparison is
//! planned, reads such a literal as the other side's type. Literals it cannot read are left
//! for type coercion to report.

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::pgtypes::array_elements;

#[derive(Debug, Default)]
pub struct UnknownLiterals;

impl ExprPlanner for UnknownLiterals {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let RawBinaryExpr { op, left, right } = expr;
        if !matches!(
            op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
        ) {
            return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }));
        }
        let read = |literal: &Expr, other: &Expr| -> Option<Expr> {
            let text = quoted_text(literal)?;
            let target = other.get_type(schema).ok()?;
            read_as(text, &target).map(|value| Expr::Literal(value, None))
        };
        let (left, right) = if let Some(typed) = read(&right, &left) {
            (left, typed)
        } else if let Some(typed) = read(&left, &right) {
            (typed, right)
        } else {
            (left, right)
        };
        Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }))
    }
}

fn quoted_text(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(text))
            | ScalarValue::Utf8View(Some(text))
            | ScalarValue::LargeUtf8(Some(text)),
            _,
        ) => Some(text),
        _ => None,
    }
}

/// `text` read as a value of `target`, for the types text does not cast to.
fn read_as(text: &str, target: &DataType) -> Option<ScalarValue> {
    match target {
        DataType::Boolean => boolean(text).map(|b| ScalarValue::Boolean(Some(b))),
        DataType::List(element) => array(text, element),
        _ => None,
    }
}

/// PostgreSQL's boolean input: `t`, `true`, `yes`, `on`, `1` and their opposites, any case,
/// unique prefixes of the words allowed.
fn boolean(text: &str) -> Option<bool> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return None;
    }
    let matches = |word: &str, min: usize| text.len() >= min && word.starts_with(&text);
    if matches("true", 1) || matches("yes", 1) || matches("on", 2) || text == "1" {
        Some(true)
    } else if matches("false", 1) || matches("no", 1) || matches("off", 2) || text == "0" {
        Some(false)
    } else {
        None
    }
}

/// A one-dimensional array literal, `{1,2}` or `{"a b",NULL}`, with elements cast to the
/// element type.
fn array(text: &str, element: &FieldRef) -> Option<ScalarValue> {
    let mut values = Vec::new();
    for item in array_elements(text)? {
        let value = match item {
            None => ScalarValue::try_from(element.data_type()).ok()?,
            Some(text) => ScalarValue::Utf8(Some(text))
                .cast_to(element.data_type())
                .ok()?,
        };
        values.push(value);
    }
    Some(ScalarValue::List(ScalarValue::new_list(
        &values,
        element.data_type(),
        element.is_nullable(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;

    #[test]
    fn booleans_read_as_postgres_does() {
        for text in ["t", "TRUE", " yes ", "on", "1", "tr"] {
            assert_eq!(boolean(text), Some(true), "{text}");
        }
        for text in ["f", "False", "no", "off", "0"] {
            assert_eq!(boolean(text), Some(false), "{text}");
        }
        for text in ["", "o", "maybe", "2"] {
            assert_eq!(boolean(text), None, "{text}");
        }
    }

    #[test]
    fn array_literals_take_the_element_type() {
        let element = Arc::new(Field::new_list_field(DataType::Int64, true));
        let read = |text: &str| array(text, &element);
        let ints = |values: &[Option<i64>]| {
            let values: Vec<ScalarValue> = values.iter().map(|v| ScalarValue::Int64(*v)).collect();
            Some(ScalarValue::List(ScalarValue::new_list(
                &values,
                &DataType::Int64,
                true,
            )))
        };
        assert_eq!(read("{0}"), ints(&[Some(0)]));
        assert_eq!(read("{1, 2,NULL}"), ints(&[Some(1), Some(2), None]));
        assert_eq!(read("{}"), ints(&[]));
        assert_eq!(read("{x}"), None);
        assert_eq!(read("{{1}}"), None);
        let text = Arc::new(Field::new_list_field(DataType::Utf8, true));
        assert_eq!(
            array(r#"{"a,b",c}"#, &text)
                .map(|v| v.to_string())
                .as_deref(),
            Some("[a,b, c]")
        );
    }
}
