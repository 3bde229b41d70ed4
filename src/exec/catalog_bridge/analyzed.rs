//! Table statistics `ANALYZE TABLE … COMPUTE STATISTICS` stores in the table's properties,
//! under Spark's names (so Spark's optimizer reads them too), and what a scan makes of them:
//! when the files give the planner no row count (CSV, or `collect_statistics` off), the
//! analyzed count, scaled to the bytes the scan reads, stands in for it.

use std::collections::BTreeMap;

use datafusion::common::Statistics;
use datafusion::common::stats::Precision;

/// Spark's property for the row count.
pub const NUM_ROWS: &str = "spark.sql.statistics.numRows";
/// Spark's property for the bytes of the table's files.
pub const TOTAL_SIZE: &str = "spark.sql.statistics.totalSize";

/// Rows and bytes as last analyzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Analyzed {
    pub rows: u64,
    pub bytes: Option<u64>,
}

impl Analyzed {
    /// From a table's properties: Spark's keys, or Hive's `numRows` / `totalSize` when set.
    pub fn from_properties(properties: &BTreeMap<String, String>) -> Option<Self> {
        let number = |keys: &[&str]| {
            keys.iter()
                .find_map(|key| properties.get(*key)?.trim().parse::<i64>().ok())
                .and_then(|n| u64::try_from(n).ok())
        };
        Some(Self {
            rows: number(&[NUM_ROWS, "numRows"])?,
            bytes: number(&[TOTAL_SIZE, "totalSize"]).filter(|bytes| *bytes > 0),
        })
    }

    /// The properties that record these statistics.
    pub fn properties(&self) -> BTreeMap<String, String> {
        let mut properties = BTreeMap::from([(NUM_ROWS.to_string(), self.rows.to_string())]);
        if let Some(bytes) = self.bytes {
            properties.insert(TOTAL_SIZE.to_string(), bytes.to_string());
        }
        properties
    }

    /// `statistics` of a scan reading `scanned_bytes`, with an estimated row count where the
    /// files gave none.
    pub fn fill(&self, mut statistics: Statistics, scanned_bytes: u64) -> Statistics {
        if statistics.num_rows != Precision::Absent {
            return statistics;
        }
        let rows = match self.bytes {
            Some(total) if scanned_bytes < total => {
                (self.rows as u128 * scanned_bytes as u128 / total as u128) as usize
            }
            _ => self.rows as usize,
        };
        statistics.num_rows = Precision::Inexact(rows);
        if statistics.total_byte_size == Precision::Absent {
            statistics.total_byte_size = Precision::Inexact(scanned_bytes as usize);
        }
        statistics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Schema;

    #[test]
    fn analyzed_rows_scale_with_the_bytes_scanned() {
        let analyzed = Analyzed {
            rows: 1000,
            bytes: Some(4000),
        };
        let properties = analyzed.properties();
        assert_eq!(Analyzed::from_properties(&properties), Some(analyzed));
        let none = Statistics::new_unknown(&Schema::empty());
        assert_eq!(
            analyzed.fill(none.clone(), 1000).num_rows,
            Precision::Inexact(250)
        );
        assert_eq!(
            analyzed.fill(none.clone(), 4000).num_rows,
            Precision::Inexact(1000)
        );
        let known = Statistics {
            num_rows: Precision::Exact(7),
            ..none
        };
        assert_eq!(analyzed.fill(known, 1000).num_rows, Precision::Exact(7));
        let hive = BTreeMap::from([("numRows".to_string(), "-1".to_string())]);
        assert_eq!(Analyzed::from_properties(&hive), None);
    }
}
