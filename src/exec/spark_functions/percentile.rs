//! Spark's `percentile_approx(x, p [, accuracy])` (and `approx_percentile`): the smallest
//! value whose share of the group's non-NULL values at or below it reaches `p`, for one
//! percentage or an array of them. `percentile_disc(p) WITHIN GROUP (ORDER BY x [DESC])`
//! (Spark's and PostgreSQL's) is the same value, counted in the order given. lakeport computes it exactly (the group's values are held
//! in memory and sorted), which Spark's accuracy bound always allows, and which is what
//! Spark returns for groups smaller than the accuracy (10 000 by default).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{SortOptions, concat, filter, is_not_null, sort_to_indices};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Signature, Volatility,
};
use datafusion::physical_plan::PhysicalExpr;

use super::list_of;
use crate::error::{Error, ErrorKind};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PercentileApprox {
    name: &'static str,
    signature: Signature,
    aliases: Vec<String>,
    /// Whether it is `percentile_disc`, called `WITHIN GROUP (ORDER BY x)`.
    within_group: bool,
}

impl PercentileApprox {
    pub fn new() -> Self {
        Self {
            name: "percentile_approx",
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["approx_percentile".to_string()],
            within_group: false,
        }
    }

    pub fn discrete() -> Self {
        Self {
            name: "percentile_disc",
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: Vec::new(),
            within_group: true,
        }
    }
}

fn usage(function: &str, message: &str) -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::DatatypeMismatch, format!("{function} {message}")).into()
}

impl AggregateUDFImpl for PercentileApprox {
    fn name(&self) -> &str {
        self.name
    }

    fn supports_within_group_clause(&self) -> bool {
        self.within_group
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let (value, percentage, accuracy) = match arg_types {
            [value, percentage] => (value, percentage, None),
            [value, percentage, accuracy] => (value, percentage, Some(accuracy)),
            _ => return Err(usage(self.name, "takes (value, percentage [, accuracy])")),
        };
        if !(value.is_numeric() || value.is_temporal()) {
            return Err(usage(
                self.name,
                &format!("needs numbers, dates or timestamps, not {value}"),
            ));
        }
        let percentage = match percentage {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                list_of(DataType::Float64)
            }
            _ => DataType::Float64,
        };
        Ok([value.clone(), percentage]
            .into_iter()
            .chain(accuracy.map(|_| DataType::Int64))
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match arg_types {
            [value, DataType::List(_), ..] => Ok(list_of(value.clone())),
            [value, ..] => Ok(value.clone()),
            [] => Err(usage(self.name, "takes (value, percentage [, accuracy])")),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type().clone();
        Ok(vec![Arc::new(Field::new(
            format!("{}[values]", args.name),
            list_of(value),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let (percentages, listed) = percentages(self.name, &args.exprs[1])?;
        Ok(Box::new(PercentileAccumulator {
            value_type: args.expr_fields[0].data_type().clone(),
            percentages,
            listed,
            descending: args.order_bys.first().is_some_and(|o| o.options.descending),
            values: Vec::new(),
        }))
    }
}

/// The constant percentages, each within [0, 1], and whether they came as an array.
fn percentages(function: &str, expr: &Arc<dyn PhysicalExpr>) -> DfResult<(Vec<f64>, bool)> {
    let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
    let ColumnarValue::Scalar(value) = expr.evaluate(&empty)? else {
        return Err(usage(function, "needs a constant percentage"));
    };
    let (values, listed) = match value {
        ScalarValue::Float64(Some(p)) => (vec![p], false),
        ScalarValue::List(list) if !list.is_null(0) => {
            let items = list.value(0);
            let floats = items.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            if floats.null_count() > 0 {
                return Err(usage(function, "percentages must not be NULL"));
            }
            (floats.values().to_vec(), true)
        }
        _ => return Err(usage(function, "needs a constant percentage")),
    };
    if let Some(p) = values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(Error::new(
            ErrorKind::InvalidParameterValue,
            format!("{function} percentage {p} is not between 0 and 1"),
        )
        .into());
    }
    Ok((values, listed))
}

#[derive(Debug)]
struct PercentileAccumulator {
    value_type: DataType,
    percentages: Vec<f64>,
    listed: bool,
    /// Whether the values are counted from the largest (`WITHIN GROUP (ORDER BY x DESC)`).
    descending: bool,
    /// The group's non-NULL values, batch by batch.
    values: Vec<ArrayRef>,
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let input = &values[0];
        let present = if input.null_count() > 0 {
            filter(input, &is_not_null(input)?)?
        } else {
            Arc::clone(input)
        };
        if !present.is_empty() {
            self.values.push(present);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let lists = states[0].as_list::<i32>();
        for row in 0..lists.len() {
            if !lists.is_null(row) {
                self.update_batch(&[lists.value(row)])?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let all = self.all_values()?;
        Ok(vec![ScalarValue::List(Arc::new(
            datafusion::arrow::array::ListArray::new(
                Arc::new(Field::new_list_field(self.value_type.clone(), true)),
                datafusion::arrow::buffer::OffsetBuffer::from_lengths([all.len()]),
                all,
                None,
            ),
        ))])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let all = self.all_values()?;
        let picks: Vec<ScalarValue> = if all.is_empty() {
            vec![ScalarValue::try_from(&self.value_type)?; self.percentages.len()]
        } else {
            let options = SortOptions {
                descending: self.descending,
                nulls_first: false,
            };
            let order = sort_to_indices(&all, Some(options), None)?;
            let n = all.len();
            self.percentages
                .iter()
                .map(|p| {
                    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
                    ScalarValue::try_from_array(&all, order.value(rank - 1) as usize)
                })
                .collect::<DfResult<_>>()?
        };
        match self.listed {
            true => Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &picks,
                &self.value_type,
            ))),
            false => Ok(picks.into_iter().next().unwrap_or(ScalarValue::Null)),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .values
                .iter()
                .map(|a| a.get_array_memory_size())
                .sum::<usize>()
    }
}

impl PercentileAccumulator {
    fn all_values(&mut self) -> DfResult<ArrayRef> {
        let all = match self.values.len() {
            0 => datafusion::arrow::array::new_empty_array(&self.value_type),
            1 => Arc::clone(&self.values[0]),
            _ => {
                let parts: Vec<&dyn Array> = self.values.iter().map(|a| a.as_ref()).collect();
                concat(&parts)?
            }
        };
        self.values = if all.is_empty() {
            Vec::new()
        } else {
            vec![Arc::clone(&all)]
        };
        Ok(all)
    }
}
