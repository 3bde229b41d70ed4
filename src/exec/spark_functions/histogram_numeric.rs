//! `histogram_numeric(x, nb)`: an approximate histogram of a group's numbers in at most `nb`
//! bins, as `array<struct<x, y>>` — each bin's centre (of the values' type) and height (a
//! double count), by centre. Spark's algorithm (Ben-Haim and Tom-Tov's streaming
//! histogram): every value adds a bin of height 1, or raises the bin at that very centre;
//! past `nb` bins, the two closest neighbours merge into one at their weighted mean. Ties
//! between equally close pairs are settled by the same seeded pseudo-random draws as Spark's
//! (Java's `Random(31183)`), so a group read in the same order gets Spark's very bins.
//! Groups whose values have no more than `nb` distinct values get an exact histogram.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Schema};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Signature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;

use super::list_of;
use crate::error::{Error, ErrorKind};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistogramNumeric {
    signature: Signature,
}

impl HistogramNumeric {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn usage(message: &str) -> datafusion::error::DataFusionError {
    Error::new(
        ErrorKind::DatatypeMismatch,
        format!("histogram_numeric {message}"),
    )
    .into()
}

fn bin_fields(value: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("x", value.clone(), true),
        Field::new("y", DataType::Float64, true),
    ])
}

impl AggregateUDFImpl for HistogramNumeric {
    fn name(&self) -> &str {
        "histogram_numeric"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [value, bins] if (value.is_numeric() || value.is_null()) && bins.is_integer() => {
                let value = match value {
                    DataType::Null => DataType::Float64,
                    other => other.clone(),
                };
                Ok(vec![value, DataType::Int64])
            }
            [value, bins] if bins.is_integer() => {
                Err(usage(&format!("needs numbers, not {value}")))
            }
            _ => Err(usage("takes (value, number of bins)")),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let value = arg_types
            .first()
            .ok_or_else(|| usage("takes (value, number of bins)"))?;
        Ok(list_of(DataType::Struct(bin_fields(value))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[centres]", args.name),
                list_of(DataType::Float64),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[heights]", args.name),
                list_of(DataType::Float64),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(HistogramAccumulator {
            value_type: args.expr_fields[0].data_type().clone(),
            histogram: Histogram::new(bin_count(&args.exprs[1])?),
        }))
    }
}

/// The constant number of bins, at least 2 as Spark requires.
fn bin_count(expr: &Arc<dyn PhysicalExpr>) -> DfResult<usize> {
    let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
    let ColumnarValue::Scalar(ScalarValue::Int64(Some(bins))) = expr.evaluate(&empty)? else {
        return Err(usage("needs a constant number of bins"));
    };
    match usize::try_from(bins) {
        Ok(bins @ 2..=1_000_000) => Ok(bins),
        _ => Err(Error::new(
            ErrorKind::InvalidParameterValue,
            format!("histogram_numeric needs between 2 and 1000000 bins, not {bins}"),
        )
        .into()),
    }
}

/// Java's `java.util.Random`: a 48-bit linear congruential generator, whose draws settle
/// ties as Spark's do.
#[derive(Debug, Clone)]
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: u64) -> Self {
        Self {
            seed: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> u64 {
        self.seed = self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        self.seed >> (48 - bits)
    }

    fn next_double(&mut self) -> f64 {
        let high = self.next(26) << 27;
        let low = self.next(27);
        (high + low) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The seed Spark's histograms draw from.
const SPARK_SEED: u64 = 31183;

#[derive(Debug, Clone)]
struct Histogram {
    max_bins: usize,
    /// (centre, height), by centre.
    bins: Vec<(f64, f64)>,
    random: JavaRandom,
}

impl Histogram {
    fn new(max_bins: usize) -> Self {
        Self {
            max_bins,
            bins: Vec::new(),
            random: JavaRandom::new(SPARK_SEED),
        }
    }

    fn add(&mut self, value: f64) {
        match self.bins.binary_search_by(|(x, _)| x.total_cmp(&value)) {
            Ok(at) => self.bins[at].1 += 1.0,
            Err(at) => {
                self.bins.insert(at, (value, 1.0));
                self.trim();
            }
        }
    }

    /// Takes in another histogram's bins: all of them when this one is empty, otherwise
    /// added beside these and trimmed back.
    fn merge(&mut self, bins: impl Iterator<Item = (f64, f64)>) {
        if self.bins.is_empty() {
            self.bins.extend(bins);
            return;
        }
        self.bins.extend(bins);
        self.bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.trim();
    }

    /// Merges the closest neighbours until no more than `max_bins` are left.
    fn trim(&mut self) {
        while self.bins.len() > self.max_bins {
            let mut closest = 0;
            let mut smallest = self.bins[1].0 - self.bins[0].0;
            let mut ties = 1u32;
            for i in 1..self.bins.len() - 1 {
                let gap = self.bins[i + 1].0 - self.bins[i].0;
                if gap < smallest {
                    smallest = gap;
                    closest = i;
                    ties = 1;
                } else if gap == smallest {
                    ties += 1;
                    if self.random.next_double() <= 1.0 / f64::from(ties) {
                        closest = i;
                    }
                }
            }
            let (x2, y2) = self.bins.remove(closest + 1);
            let (x1, y1) = &mut self.bins[closest];
            let height = *y1 + y2;
            *x1 *= *y1 / height;
            *x1 += x2 / height * y2;
            *y1 = height;
        }
    }
}

#[derive(Debug)]
struct HistogramAccumulator {
    value_type: DataType,
    histogram: Histogram,
}

fn floats(list: &ArrayRef) -> DfResult<Vec<f64>> {
    let floats = cast(list, &DataType::Float64)?;
    Ok(floats
        .as_primitive::<Float64Type>()
        .iter()
        .flatten()
        .collect())
}

impl Accumulator for HistogramAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        for value in floats(&values[0])? {
            self.histogram.add(value);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let (centres, heights) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..centres.len() {
            if centres.is_null(row) || heights.is_null(row) {
                continue;
            }
            let centres = floats(&centres.value(row))?;
            let heights = floats(&heights.value(row))?;
            self.histogram.merge(centres.into_iter().zip(heights));
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let list = |values: Vec<f64>| {
            let values: Vec<ScalarValue> = values
                .into_iter()
                .map(|v| ScalarValue::Float64(Some(v)))
                .collect();
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Float64))
        };
        let (centres, heights) = self.histogram.bins.iter().copied().unzip();
        Ok(vec![list(centres), list(heights)])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let fields = bin_fields(&self.value_type);
        let result_type = list_of(DataType::Struct(fields.clone()));
        if self.histogram.bins.is_empty() {
            return ScalarValue::try_from(&result_type);
        }
        let (centres, heights): (Vec<f64>, Vec<f64>) = self.histogram.bins.iter().copied().unzip();
        let centres = cast(&Float64Array::from(centres), &self.value_type)?;
        let bins = StructArray::try_new(
            fields,
            vec![centres, Arc::new(Float64Array::from(heights))],
            None,
        )?;
        let bins: Vec<ScalarValue> = (0..bins.len())
            .map(|i| ScalarValue::try_from_array(&bins, i))
            .collect::<DfResult<_>>()?;
        let item = DataType::Struct(bin_fields(&self.value_type));
        Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &bins, &item,
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.histogram.bins.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_draws_as_java_does() {
        let mut random = JavaRandom::new(42);
        let first = random.next_double();
        assert!(
            (first - 0.7275636800328681).abs() < 1e-15,
            "new Random(42).nextDouble() is 0.7275636800328681, got {first}"
        );
    }

    #[test]
    fn few_distinct_values_give_an_exact_histogram() {
        let mut histogram = Histogram::new(10);
        for value in [1.0, 2.0, 2.0, 4.0] {
            histogram.add(value);
        }
        assert_eq!(histogram.bins, [(1.0, 1.0), (2.0, 2.0), (4.0, 1.0)]);
    }

    #[test]
    fn the_closest_bins_merge_at_their_weighted_mean() {
        let mut histogram = Histogram::new(2);
        for value in [0.0, 10.0, 11.0, 13.0] {
            histogram.add(value);
        }
        let [(low, low_height), (high, high_height)] = histogram.bins[..] else {
            panic!("two bins expected: {:?}", histogram.bins);
        };
        assert_eq!((low, low_height, high_height), (0.0, 1.0, 3.0));
        assert!((high - 34.0 / 3.0).abs() < 1e-12, "{high}");
    }
}
