//! What a scan makes of a table's analyzed statistics (`ANALYZE TABLE … COMPUTE
//! STATISTICS [FOR COLUMNS …]`, kept in the catalog as `Table::statistics`): when the files
//! give the planner no row count (CSV, or `collect_statistics` off), the analyzed count,
//! scaled to the bytes the scan reads, stands in for it; where they give no column
//! statistics, the analyzed columns' NULL counts (scaled alike), distinct counts and bounds
//! do.

use datafusion::arrow::datatypes::Schema;
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics};
use lakeport_catalog::TableStatistics;

/// `statistics` of a scan reading `scanned_bytes` of a table of `schema`, completed from
/// `analyzed` where the files gave nothing. Estimates follow the bytes, so they hold up when
/// partitions are pruned and when the table grew or shrank since it was analyzed.
pub fn with_analyzed(
    analyzed: &TableStatistics,
    mut statistics: Statistics,
    scanned_bytes: u64,
    schema: &Schema,
) -> Statistics {
    let Some(rows) = analyzed.rows else {
        return statistics;
    };
    let share = |count: u64| match analyzed.bytes {
        0 => count,
        bytes => {
            u64::try_from(count as u128 * scanned_bytes as u128 / bytes as u128).unwrap_or(u64::MAX)
        }
    };
    let inexact = |count: u64| Precision::Inexact(usize::try_from(count).unwrap_or(usize::MAX));
    if statistics.num_rows == Precision::Absent {
        statistics.num_rows = inexact(share(rows));
        if statistics.total_byte_size == Precision::Absent {
            statistics.total_byte_size = inexact(scanned_bytes);
        }
    }
    for (field, column) in schema
        .fields()
        .iter()
        .zip(&mut statistics.column_statistics)
    {
        let Some(measured) = analyzed.columns.get(field.name()) else {
            continue;
        };
        let bound = |text: &Option<String>| {
            text.as_ref()
                .and_then(|t| ScalarValue::try_from_string(t.clone(), field.data_type()).ok())
                .map_or(Precision::Absent, Precision::Inexact)
        };
        let ColumnStatistics {
            null_count,
            max_value,
            min_value,
            distinct_count,
            ..
        } = column;
        if *null_count == Precision::Absent
            && let Some(nulls) = measured.nulls
        {
            *null_count = inexact(share(nulls));
        }
        if *distinct_count == Precision::Absent
            && let Some(distinct) = measured.distinct
        {
            *distinct_count = inexact(distinct);
        }
        if *min_value == Precision::Absent {
            *min_value = bound(&measured.min);
        }
        if *max_value == Precision::Absent {
            *max_value = bound(&measured.max);
        }
    }
    statistics
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};

    #[test]
    fn analyzed_rows_scale_with_the_bytes_scanned() {
        let analyzed = TableStatistics::size(4000, Some(1000));
        let none = Statistics::new_unknown(&Schema::empty());
        let rows = |analyzed: &TableStatistics, statistics: &Statistics, bytes| {
            with_analyzed(analyzed, statistics.clone(), bytes, &Schema::empty()).num_rows
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
        let bytes_only = TableStatistics::size(4000, None);
        assert_eq!(rows(&bytes_only, &none, 1000), Precision::Absent);
    }

    #[test]
    fn analyzed_columns_fill_what_the_files_do_not_give() {
        let schema = Schema::new(vec![
            Field::new("qty", DataType::Int32, true),
            Field::new("day", DataType::Date32, true),
        ]);
        let mut analyzed = TableStatistics::size(4000, Some(1000));
        analyzed.columns.insert(
            "qty".into(),
            lakeport_catalog::ColumnStatistics {
                distinct: Some(40),
                nulls: Some(100),
                min: Some("1".into()),
                max: Some("50".into()),
                ..Default::default()
            },
        );
        let filled = with_analyzed(&analyzed, Statistics::new_unknown(&schema), 2000, &schema);
        let qty = &filled.column_statistics[0];
        assert_eq!(
            qty.null_count,
            Precision::Inexact(50),
            "scaled to the bytes read"
        );
        assert_eq!(qty.distinct_count, Precision::Inexact(40));
        assert_eq!(
            qty.min_value,
            Precision::Inexact(ScalarValue::Int32(Some(1)))
        );
        assert_eq!(
            qty.max_value,
            Precision::Inexact(ScalarValue::Int32(Some(50)))
        );
        assert_eq!(filled.column_statistics[1].min_value, Precision::Absent);
    }
}
