//! A scan's filters as a [`PartitionFilter`] a metastore can evaluate while listing
//! partitions: comparisons and IN lists between a string partition key and constants.
//! Everything else is left out, which only lets more partitions through: the scan prunes
//! them again with all its filters.

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, expr::InList};
use lakeport_catalog::{Comparison, PartitionFilter, PartitionTerm};

/// The terms of `filters` (a conjunction) on the string keys among `keys`.
pub fn partition_filter(filters: &[Expr], keys: &[FieldRef]) -> PartitionFilter {
    let string_key = |expr: &Expr| match expr {
        Expr::Column(column) => keys
            .iter()
            .find(|k| k.name() == &column.name && is_string(k.data_type()))
            .map(|k| k.name().to_lowercase()),
        _ => None,
    };
    let terms = filters
        .iter()
        .flat_map(split_conjunction)
        .filter_map(|filter| match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (key, value, op) = match (string_key(left), text(right)) {
                    (Some(key), Some(value)) => (key, value, *op),
                    _ => (string_key(right)?, text(left)?, op.swap()?),
                };
                Some(PartitionTerm {
                    key,
                    comparison: comparison(op)?,
                    values: vec![value],
                })
            }
            Expr::InList(InList {
                expr,
                list,
                negated: false,
            }) => Some(PartitionTerm {
                key: string_key(expr)?,
                comparison: Comparison::In,
                values: list.iter().map(text).collect::<Option<Vec<_>>>()?,
            }),
            _ => None,
        })
        .collect();
    PartitionFilter { terms }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

/// A non-NULL string constant.
fn text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(value, _) => value.try_as_str().flatten().map(str::to_string),
        _ => None,
    }
}

fn comparison(op: Operator) -> Option<Comparison> {
    Some(match op {
        Operator::Eq => Comparison::Eq,
        Operator::NotEq => Comparison::NotEq,
        Operator::Lt => Comparison::Lt,
        Operator::LtEq => Comparison::LtEq,
        Operator::Gt => Comparison::Gt,
        Operator::GtEq => Comparison::GtEq,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;
    use datafusion::logical_expr::{col, lit};

    use super::*;

    #[test]
    fn keeps_what_a_metastore_can_evaluate_on_string_keys() {
        let keys: Vec<FieldRef> = vec![
            Arc::new(Field::new("region", DataType::Utf8, true)),
            Arc::new(Field::new("year", DataType::Int32, true)),
        ];
        let filters = [
            col("region")
                .eq(lit("eu"))
                .and(lit("2024").lt_eq(col("region"))),
            col("region").in_list(vec![lit("a"), lit("b")], false),
            col("region").in_list(vec![lit("c")], true),
            col("year").eq(lit(2024)),
            col("region").like(lit("e%")),
        ];
        let filter = partition_filter(&filters, &keys);
        let described: Vec<String> = filter
            .terms
            .iter()
            .map(|t| format!("{} {:?} {:?}", t.key, t.comparison, t.values))
            .collect();
        assert_eq!(
            described,
            [
                "region Eq [\"eu\"]",
                "region GtEq [\"2024\"]",
                "region In [\"a\", \"b\"]"
            ]
        );
    }
}
