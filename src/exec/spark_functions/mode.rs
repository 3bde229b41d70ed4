//! `mode`: the group's most frequent non-NULL value — Spark's `mode(x [, deterministic])`
//! and PostgreSQL's `mode() WITHIN GROUP (ORDER BY x [DESC])`. Among equally frequent
//! values the first in the order wins: the smallest, or the largest under `DESC`. That is
//! PostgreSQL's rule and Spark's with `deterministic` true; without it Spark may return any
//! of them, so the same rule serves.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::list_of;
use crate::error::{Error, ErrorKind};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Mode {
    signature: Signature,
}

impl Mode {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn usage(message: &str) -> datafusion::error::DataFusionError {
    Error::new(ErrorKind::DatatypeMismatch, format!("mode {message}")).into()
}

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        "mode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [value] => Ok(vec![value.clone()]),
            [value, DataType::Boolean | DataType::Null] => {
                Ok(vec![value.clone(), DataType::Boolean])
            }
            [_, other] => Err(usage(&format!(
                "takes a boolean as its second argument, not {other}"
            ))),
            _ => Err(usage(
                "takes (value [, deterministic]) or WITHIN GROUP (ORDER BY value)",
            )),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        arg_types
            .first()
            .cloned()
            .ok_or_else(|| usage("needs a value"))
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type().clone();
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[values]", args.name),
                list_of(value),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[counts]", args.name),
                list_of(DataType::Int64),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(ModeAccumulator {
            value_type: args.expr_fields[0].data_type().clone(),
            descending: args.order_bys.first().is_some_and(|o| o.options.descending),
            counts: HashMap::new(),
        }))
    }
}

#[derive(Debug)]
struct ModeAccumulator {
    value_type: DataType,
    /// Whether ties go to the largest value (`WITHIN GROUP (ORDER BY x DESC)`).
    descending: bool,
    counts: HashMap<ScalarValue, i64>,
}

impl ModeAccumulator {
    fn add(&mut self, values: &ArrayRef, counts: Option<&[i64]>) -> DfResult<()> {
        for i in 0..values.len() {
            if values.is_null(i) {
                continue;
            }
            let times = counts.map_or(1, |c| c[i]);
            *self
                .counts
                .entry(ScalarValue::try_from_array(values, i)?)
                .or_default() += times;
        }
        Ok(())
    }

    /// Whether `a` comes before `b` in the order ties are settled by.
    fn precedes(&self, a: &ScalarValue, b: &ScalarValue) -> bool {
        let order = a.partial_cmp(b).unwrap_or(Ordering::Equal);
        match self.descending {
            true => order == Ordering::Greater,
            false => order == Ordering::Less,
        }
    }
}

impl Accumulator for ModeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.add(&values[0], None)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) || counts.is_null(row) {
                continue;
            }
            let row_counts = counts.value(row);
            let row_counts = row_counts.as_primitive::<Int64Type>();
            self.add(&values.value(row), Some(row_counts.values()))?;
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(value, count)| (value.clone(), ScalarValue::Int64(Some(*count))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.value_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::Int64)),
        ])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let mut best: Option<(&ScalarValue, i64)> = None;
        for (value, &count) in &self.counts {
            let better = match best {
                None => true,
                Some((held, held_count)) => {
                    count > held_count || (count == held_count && self.precedes(value, held))
                }
            };
            if better {
                best = Some((value, count));
            }
        }
        match best {
            Some((value, _)) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.value_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .counts
                .keys()
                .map(|v| v.size() + std::mem::size_of::<i64>())
                .sum::<usize>()
    }
}
