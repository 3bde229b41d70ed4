//! Spark's `skewness(x)` and `kurtosis(x)` (excess kurtosis): the group's third and fourth
//! central moments, kept as Spark keeps them (count, mean and the sums of squared, cubed
//! and fourth-power deviations, updated one value at a time and merged pairwise), so that
//! the same rows in the same order give Spark's digits. NULL for no rows, and for rows that
//! are all equal (where Spark's ANSI mode also answers NULL).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Moment {
    Skewness,
    Kurtosis,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CentralMoment {
    moment: Moment,
    signature: Signature,
}

impl CentralMoment {
    pub fn new(moment: Moment) -> Self {
        Self {
            moment,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

const STATE: [&str; 5] = ["n", "mean", "m2", "m3", "m4"];

impl AggregateUDFImpl for CentralMoment {
    fn name(&self) -> &str {
        match self.moment {
            Moment::Skewness => "skewness",
            Moment::Kurtosis => "kurtosis",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [value] if value.is_numeric() || value.is_null() => Ok(vec![DataType::Float64]),
            _ => Err(Error::new(
                ErrorKind::UndefinedFunction,
                format!("{} takes one number", self.name()),
            )
            .into()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(STATE
            .iter()
            .map(|part| {
                Arc::new(Field::new(
                    format!("{}[{part}]", args.name),
                    DataType::Float64,
                    false,
                ))
            })
            .collect())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(MomentAccumulator {
            moment: self.moment,
            state: Moments::default(),
        }))
    }
}

/// Count, mean, and the sums of the deviations from the mean to the powers 2 to 4.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
    m3: f64,
    m4: f64,
}

impl Moments {
    fn add(&mut self, value: f64) {
        let n = self.n + 1.0;
        let delta = value - self.mean;
        let delta_n = delta / n;
        let m2 = self.m2 + delta * (delta - delta_n);
        let delta2 = delta * delta;
        let delta_n2 = delta_n * delta_n;
        let m3 = self.m3 - 3.0 * delta_n * m2 + delta * (delta2 - delta_n2);
        let m4 = self.m4 - 4.0 * delta_n * m3 - 6.0 * delta_n2 * m2
            + delta * (delta * delta2 - delta_n * delta_n2);
        *self = Moments {
            n,
            mean: self.mean + delta_n,
            m2,
            m3,
            m4,
        };
    }

    fn merge(&mut self, other: Moments) {
        if other.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = other;
            return;
        }
        let (n1, n2) = (self.n, other.n);
        let n = n1 + n2;
        let delta = other.mean - self.mean;
        let delta_n = delta / n;
        let m2 = self.m2 + other.m2 + delta * delta_n * n1 * n2;
        let m3 = self.m3
            + other.m3
            + delta_n * delta_n * delta * n1 * n2 * (n1 - n2)
            + 3.0 * delta_n * (n1 * other.m2 - n2 * self.m2);
        let m4 = self.m4
            + other.m4
            + delta_n * delta_n * delta_n * delta * n1 * n2 * (n1 * n1 - n1 * n2 + n2 * n2)
            + 6.0 * delta_n * delta_n * (n1 * n1 * other.m2 + n2 * n2 * self.m2)
            + 4.0 * delta_n * (n1 * other.m3 - n2 * self.m3);
        *self = Moments {
            n,
            mean: self.mean + delta_n * n2,
            m2,
            m3,
            m4,
        };
    }

    fn value(&self, moment: Moment) -> Option<f64> {
        if self.n == 0.0 || self.m2 == 0.0 {
            return None;
        }
        Some(match moment {
            Moment::Skewness => self.n.sqrt() * self.m3 / (self.m2 * self.m2 * self.m2).sqrt(),
            Moment::Kurtosis => self.n * self.m4 / (self.m2 * self.m2) - 3.0,
        })
    }
}

#[derive(Debug)]
struct MomentAccumulator {
    moment: Moment,
    state: Moments,
}

impl Accumulator for MomentAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        for value in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.state.add(value);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let [n, mean, m2, m3, m4] =
            [0, 1, 2, 3, 4].map(|i| states[i].as_primitive::<Float64Type>());
        for row in 0..n.len() {
            self.state.merge(Moments {
                n: n.value(row),
                mean: mean.value(row),
                m2: m2.value(row),
                m3: m3.value(row),
                m4: m4.value(row),
            });
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let Moments {
            n,
            mean,
            m2,
            m3,
            m4,
        } = self.state;
        Ok([n, mean, m2, m3, m4]
            .map(|v| ScalarValue::Float64(Some(v)))
            .to_vec())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Float64(self.state.value(self.moment)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(values: &[f64]) -> Moments {
        let mut moments = Moments::default();
        values.iter().for_each(|v| moments.add(*v));
        moments
    }

    #[test]
    fn merged_halves_agree_with_one_pass() {
        let values = [1.0, 2.0, 2.0, 3.0, 10.0, -4.5, 7.25];
        let whole = moments(&values);
        let mut merged = moments(&values[..3]);
        merged.merge(moments(&values[3..]));
        for moment in [Moment::Skewness, Moment::Kurtosis] {
            let (a, b) = (whole.value(moment).unwrap(), merged.value(moment).unwrap());
            assert!((a - b).abs() < 1e-12, "{moment:?}: {a} against {b}");
        }
        let mut from_empty = Moments::default();
        from_empty.merge(whole);
        assert_eq!(from_empty, whole, "merging into nothing changes nothing");
    }

    #[test]
    fn textbook_values() {
        // Symmetric values have no skew; a uniform spread of 1..5 has excess kurtosis -1.3.
        let uniform = moments(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(uniform.value(Moment::Skewness), Some(0.0));
        assert!((uniform.value(Moment::Kurtosis).unwrap() + 1.3).abs() < 1e-12);
        assert_eq!(moments(&[4.0, 4.0]).value(Moment::Kurtosis), None);
        assert_eq!(moments(&[]).value(Moment::Skewness), None);
    }
}
