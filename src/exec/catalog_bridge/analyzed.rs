//! What a scan makes of a table's analyzed statistics (`ANALYZE TABLE … COMPUTE
//! STATISTICS`, kept in the catalog as `Table::statistics`): when the files give the planner
//! no row count (CSV, or `collect_statistics` off), the analyzed count, scaled to the bytes
//! the scan reads, stands in for it.

use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use lakeport_catalog::TableStatistics;

/// `statistics` of a scan reading `scanned_bytes`, with a row count estimated from
/// `analyzed` where the files gave none. The estimate follows the bytes, so it holds up when
/// partitions are pruned and when the table grew or shrank since it was analyzed.
pub fn estimate_rows(
    analyzed: &TableStatistics,
    mut statistics: Statistics,
    scanned_bytes: u64,
) -> Statistics {
    let Some(rows) = analyzed.rows else {
        return statistics;
    };
    if statistics.num_rows != Precision::Absent {
        return statistics;
    }
    let estimate = match analyzed.bytes {
        0 => rows,
        bytes => {
            u64::try_from(rows as u128 * scanned_bytes as u128 / bytes as u128).unwrap_or(u64::MAX)
        }
    };
    statistics.num_rows = Precision::Inexact(usize::try_from(estimate).unwrap_or(usize::MAX));
    if statistics.total_byte_size == Precision::Absent {
        statistics.total_byte_size =
            Precision::Inexact(usize::try_from(scanned_bytes).unwrap_or(usize::MAX));
    }
    statistics
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Schema;

    #[test]
    fn analyzed_rows_scale_with_the_bytes_scanned() {
        let analyzed = TableStatistics {
            bytes: 4000,
            rows: Some(1000),
        };
        let none = Statistics::new_unknown(&Schema::empty());
        let rows = |analyzed: &TableStatistics, statistics: &Statistics, bytes| {
            estimate_rows(analyzed, statistics.clone(), bytes).num_rows
        };
        assert_eq!(rows(&analyzed, &none, 1000), Precision::Inexact(250));
        assert_eq!(rows(&analyzed, &none, 4000), Precision::Inexact(1000));
        assert_eq!(
            rows(&analyzed, &none, 8000),
            Precision::Inexact(2000),
            "a table that grew"
        );
        let known = Statistics {
            num_rows: Precision::Exact(7),
            ..none.clone()
        };
        assert_eq!(rows(&analyzed, &known, 1000), Precision::Exact(7));
        let bytes_only = TableStatistics {
            bytes: 4000,
            rows: None,
        };
        assert_eq!(rows(&bytes_only, &none, 1000), Precision::Absent);
    }
}
