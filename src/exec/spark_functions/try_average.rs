//! Spark's `try_avg`: `avg`, but NULL where the average overflows its type (a `decimal(38, s)`
//! average that does not fit) rather than an error. DataFusion's `avg` does the work; its
//! sum is kept in a wider type than the values', so only the final average can overflow.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TryAverage {
    average: Arc<AggregateUDF>,
}

impl TryAverage {
    pub fn new(average: Arc<AggregateUDF>) -> Self {
        Self { average }
    }
}

impl AggregateUDFImpl for TryAverage {
    fn name(&self) -> &str {
        "try_avg"
    }

    fn signature(&self) -> &Signature {
        self.average.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.average.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.average.return_type(arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        self.average.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let null = ScalarValue::try_from(args.return_field.data_type())?;
        Ok(Box::new(NullOnOverflow {
            average: self.average.accumulator(args)?,
            null,
        }))
    }
}

#[derive(Debug)]
struct NullOnOverflow {
    average: Box<dyn Accumulator>,
    null: ScalarValue,
}

impl Accumulator for NullOnOverflow {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.average.update_batch(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.average.merge_batch(states)
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        self.average.state()
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        match self.average.evaluate() {
            Err(error) if error.to_string().to_lowercase().contains("overflow") => {
                Ok(self.null.clone())
            }
            other => other,
        }
    }

    fn size(&self) -> usize {
        self.average.size() + self.null.size()
    }
}
