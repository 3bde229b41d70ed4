//! Casts to text give PostgreSQL's text, not Arrow's: `CAST(ts AS TEXT)` is
//! `2024-01-05 12:15:07` (Arrow writes `2024-01-05T12:15:07`), a timestamptz carries the
//! session's offset, an interval reads `1 day 02:00:00`. An analyzer rule, after type
//! coercion, turns each cast of a timestamp, time, interval or duration to a string type —
//! written (`CAST`, `::text`, Spark's `string(x)`) or implied (`'at ' || ts`) — into
//! `pg_text(x)`, which writes what the wire protocol sends for the value.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result as DfResult};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use crate::wire::encode::{EncodeOptions, text_column};
use crate::wire::text::Zone;

/// The function the rule calls.
pub const PG_TEXT: &str = "pg_text";

/// `pg_text(x)`: PostgreSQL's text of `x`, in the session's time zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgText {
    signature: Signature,
}

impl PgText {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Stable),
        }
    }
}

impl Default for PgText {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for PgText {
    fn name(&self) -> &str {
        PG_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let zone = args
            .config_options
            .execution
            .time_zone
            .as_deref()
            .map_or_else(|| Zone::parse("UTC"), Zone::parse);
        let options = EncodeOptions {
            zone,
            extra_float_digits: 1,
        };
        let is_scalar = matches!(args.args.first(), Some(ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(values) = arrays.first() else {
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::Utf8(None),
            ));
        };
        let texts: ArrayRef = Arc::new(text_column(values, &options)?);
        Ok(match is_scalar {
            true => {
                ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&texts, 0)?)
            }
            false => ColumnarValue::Array(texts),
        })
    }
}

/// Whether Arrow's text of a type differs from PostgreSQL's.
fn needs_pg_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(..)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Interval(_)
            | DataType::Duration(_)
    )
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The analyzer rule: casts of temporal values to text become `pg_text`.
#[derive(Debug)]
pub struct PgTextCasts {
    function: Arc<ScalarUDF>,
}

impl PgTextCasts {
    pub fn new(function: Arc<ScalarUDF>) -> Self {
        Self { function }
    }

    fn rewrite(&self, expr: Expr, schema: &DFSchema) -> DfResult<Transformed<Expr>> {
        expr.transform_up(|expr| {
            let Expr::Cast(Cast { expr: value, field }) = &expr else {
                return Ok(Transformed::no(expr));
            };
            let target = field.data_type().clone();
            if !is_string(&target) || !needs_pg_text(&value.get_type(schema)?) {
                return Ok(Transformed::no(expr));
            }
            let text = Expr::ScalarFunction(ScalarFunction::new_udf(
                self.function.clone(),
                vec![value.as_ref().clone()],
            ));
            Ok(Transformed::yes(match target {
                DataType::Utf8 => text,
                other => text.cast_to(&other, schema)?,
            }))
        })
    }
}

impl AnalyzerRule for PgTextCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> DfResult<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            if plan.inputs().is_empty() {
                return Ok(Transformed::no(plan));
            }
            let schema = merge_schema(&plan.inputs());
            let names = NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                Ok(self
                    .rewrite(expr, &schema)?
                    .update_data(|new| name.restore(new)))
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "pg_text_casts"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, StringArray, TimestampMicrosecondArray};
    use datafusion::arrow::compute::cast;

    #[test]
    fn timestamps_read_as_postgresql_writes_them() {
        let micros: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_704_457_507_500_000), None])
                .with_timezone_opt(None::<String>),
        );
        let options = EncodeOptions {
            zone: Zone::parse("UTC"),
            extra_float_digits: 1,
        };
        let texts = text_column(&micros, &options).unwrap();
        assert_eq!(
            texts,
            StringArray::from(vec![Some("2024-01-05 12:25:07.5"), None])
        );
        let arrow = cast(&micros, &DataType::Utf8).unwrap();
        assert_eq!(
            arrow.as_string::<i32>().value(0),
            "2024-01-05T12:25:07.500",
            "Arrow's own text, which the rule replaces"
        );
    }
}
