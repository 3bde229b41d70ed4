//! `ANALYZE TABLE … COMPUTE STATISTICS [NOSCAN | FOR COLUMNS a, … | FOR ALL COLUMNS]`: the
//! bytes of the table's files, its rows (unless NOSCAN) and the columns asked for (NULLs,
//! distinct values, smallest and largest values, lengths), stored as the table's statistics.
//! The Hive Metastore backend keeps them under Spark's keys, so Spark's optimizer reads
//! lakeport's and lakeport's planner reads Spark's.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use lakeport_catalog::{Column, ColumnStatistics, HiveType, Table, TableStatistics};

use crate::error::{Error, ErrorKind, Result};
use crate::pg_catalog::functions::quote_ident;
use crate::sql::Connection;
use crate::sql::ddl::ast::{Analysis, ObjectName};
use crate::sql::ddl::run::{catalog, find_table, quoted_table, run_internal_query};
use crate::sql::ddl::tables::{list_existing, storage_of};

pub async fn analyze_table(
    connection: &mut Connection,
    name: &ObjectName,
    measure: &Analysis,
) -> Result<()> {
    let table = find_table(connection, name).await?;
    let columns = match measure {
        Analysis::Columns(chosen) => columns_to_analyze(&table, chosen.as_deref())?,
        Analysis::Bytes | Analysis::Rows => Vec::new(),
    };
    let location = storage_of(&table)?.location.clone();
    let listing = list_existing(connection, &location).await?;
    let bytes: u64 = listing.files.iter().map(|(meta, _)| meta.size).sum();
    let previous = table
        .statistics
        .clone()
        .filter(|known| known.bytes == bytes || matches!(measure, Analysis::Columns(_)));
    let mut statistics = match measure {
        // As Spark: a row count stays only while the files keep the size it was counted at.
        Analysis::Bytes => {
            TableStatistics::size(bytes, previous.as_ref().and_then(|known| known.rows))
        }
        Analysis::Rows | Analysis::Columns(_) => {
            let (rows, measured) = measure_columns(connection, &table, &columns).await?;
            let mut statistics = TableStatistics::size(bytes, Some(rows));
            statistics.columns = measured;
            statistics
        }
    };
    if let Some(previous) = previous {
        for (column, kept) in previous.columns {
            statistics.columns.entry(column).or_insert(kept);
        }
    }
    let mut altered = table.clone();
    altered.statistics = Some(statistics);
    let catalog = catalog(connection);
    let result = catalog
        .metastore()
        .alter_table(&table.database, &table.name, &altered)
        .await;
    catalog.invalidate_table(&table.database, &table.name);
    result.map_err(Error::from)
}

/// The columns `chosen` names (every column when `None`), as the table defines them; as in
/// Spark, a column without statistics (an array, a map, a struct) is refused.
fn columns_to_analyze<'t>(table: &'t Table, chosen: Option<&[String]>) -> Result<Vec<&'t Column>> {
    let all: Vec<&Column> = table.columns.iter().chain(&table.partition_keys).collect();
    let columns = match chosen {
        None => all,
        Some(chosen) => chosen
            .iter()
            .map(|name| {
                all.iter()
                    .find(|c| c.name.eq_ignore_ascii_case(name))
                    .copied()
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::UndefinedColumn,
                            format!(
                                "column \"{name}\" of relation \"{}\" does not exist",
                                table.name
                            ),
                        )
                    })
            })
            .collect::<Result<_>>()?,
    };
    if let Some(column) = columns.iter().find(|c| !has_statistics(&c.data_type)) {
        return Err(Error::unsupported(format!(
            "ANALYZE TABLE … FOR COLUMNS does not support the type {} of column \"{}\"",
            column.data_type, column.name
        )));
    }
    Ok(columns)
}

/// Spark keeps statistics for columns of plain types, not for arrays, maps and structs.
fn has_statistics(data_type: &HiveType) -> bool {
    !matches!(
        data_type,
        HiveType::Array(_) | HiveType::Map(..) | HiveType::Struct(_)
    )
}

/// Whether the column's bounds are kept (for text and binary, its lengths instead).
fn has_bounds(data_type: &HiveType) -> bool {
    !matches!(
        data_type,
        HiveType::String | HiveType::Varchar(_) | HiveType::Char(_) | HiveType::Binary
    )
}

/// The bytes a value of a fixed-size type takes, as Spark counts them.
fn fixed_length(data_type: &HiveType) -> Option<u64> {
    Some(match data_type {
        HiveType::Boolean | HiveType::TinyInt => 1,
        HiveType::SmallInt => 2,
        HiveType::Int | HiveType::Float | HiveType::Date => 4,
        HiveType::BigInt | HiveType::Double | HiveType::Timestamp => 8,
        HiveType::Decimal { precision, .. } if *precision <= 18 => 8,
        HiveType::Decimal { .. } => 16,
        _ => return None,
    })
}

/// One scan: the rows, and per column its non-NULL values, distinct values (estimated as
/// Spark estimates them, with a sketch; types the sketch does not take are counted by their
/// text) and either its bounds or its lengths (none for
/// binary).
async fn measure_columns(
    connection: &Connection,
    table: &Table,
    columns: &[&Column],
) -> Result<(u64, BTreeMap<String, ColumnStatistics>)> {
    let mut select = vec!["count(*)".to_string()];
    for column in columns {
        let name = quote_ident(&column.name);
        select.push(format!("count({name})"));
        select.push(match &column.data_type {
            HiveType::Float
            | HiveType::Double
            | HiveType::Decimal { .. }
            | HiveType::Boolean
            | HiveType::Timestamp => format!("approx_distinct(CAST({name} AS VARCHAR))"),
            HiveType::Binary => format!("approx_distinct(encode({name}, 'hex'))"),
            _ => format!("approx_distinct({name})"),
        });
        let [first, second] = match &column.data_type {
            HiveType::Binary => [
                "CAST(NULL AS BIGINT)".to_string(),
                "CAST(NULL AS BIGINT)".into(),
            ],
            t if has_bounds(t) => [format!("min({name})"), format!("max({name})")],
            _ => [
                format!("avg(octet_length({name}))"),
                format!("max(octet_length({name}))"),
            ],
        };
        select.extend([first, second]);
    }
    let sql = format!("SELECT {} FROM {}", select.join(", "), quoted_table(table));
    let batches = run_internal_query(connection, &sql)
        .await?
        .collect_all()
        .await?;
    let batch = batches
        .iter()
        .find(|batch| batch.num_rows() == 1)
        .ok_or_else(|| Error::internal("ANALYZE's scan returned no row"))?;
    let rows = count(batch.column(0))?.unwrap_or(0);
    let mut measured = BTreeMap::new();
    for (i, column) in columns.iter().enumerate() {
        let at = |k: usize| batch.column(1 + 4 * i + k);
        let distinct = count(at(1))?;
        let (min, max, avg_len, max_len) = match has_bounds(&column.data_type) {
            true => {
                let length = fixed_length(&column.data_type);
                (bound(at(2))?, bound(at(3))?, length, length)
            }
            false => (None, None, rounded_up(at(2))?, count(at(3))?),
        };
        let nulls = count(at(0))?.map(|values| rows.saturating_sub(values));
        measured.insert(
            column.name.clone(),
            ColumnStatistics {
                distinct,
                nulls,
                min,
                max,
                avg_len,
                max_len,
            },
        );
    }
    Ok((rows, measured))
}

/// A count in the one-row result.
fn count(array: &ArrayRef) -> Result<Option<u64>> {
    let counted = cast(array, &DataType::Int64)?;
    let counted = counted.as_primitive::<Int64Type>();
    Ok((!counted.is_null(0)).then(|| u64::try_from(counted.value(0)).unwrap_or(0)))
}

/// An average length, rounded up as Spark rounds it.
fn rounded_up(array: &ArrayRef) -> Result<Option<u64>> {
    let average = cast(array, &DataType::Float64)?;
    let average = average.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    Ok((!average.is_null(0)).then(|| average.value(0).ceil() as u64))
}

/// A bound in Spark's text form: numbers and dates as written, timestamps as
/// `yyyy-MM-dd HH:mm:ss.SSSSSS` in UTC.
fn bound(array: &ArrayRef) -> Result<Option<String>> {
    if array.is_null(0) {
        return Ok(None);
    }
    if let DataType::Timestamp(..) = array.data_type() {
        let micros = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let micros = micros.as_primitive::<TimestampMicrosecondType>().value(0);
        return Ok(chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()));
    }
    let text = cast(array, &DataType::Utf8)?;
    Ok(Some(text.as_string::<i32>().value(0).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Float64Array, TimestampMicrosecondArray};
    use std::sync::Arc;

    #[test]
    fn bounds_are_in_sparks_text_form() {
        let day: ArrayRef = Arc::new(Date32Array::from(vec![19723]));
        assert_eq!(bound(&day).unwrap().as_deref(), Some("2024-01-01"));
        let time: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![1_704_103_200_000_001]).with_timezone("UTC"),
        );
        assert_eq!(
            bound(&time).unwrap().as_deref(),
            Some("2024-01-01 10:00:00.000001")
        );
        let none: ArrayRef = Arc::new(Float64Array::from(vec![None]));
        assert_eq!(bound(&none).unwrap(), None);
        let average: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.2)]));
        assert_eq!(rounded_up(&average).unwrap(), Some(3));
    }

    #[test]
    fn nested_columns_are_refused_as_spark_refuses_them() {
        let mut table = lakeport_catalog::contract::table("db", "t", &[]);
        table.columns = vec![
            Column {
                name: "tags".into(),
                data_type: HiveType::Array(Box::new(HiveType::String)),
                comment: None,
            },
            Column {
                name: "qty".into(),
                data_type: HiveType::Int,
                comment: None,
            },
        ];
        let chosen = columns_to_analyze(&table, Some(&["QTY".into()])).unwrap();
        assert_eq!(
            chosen.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["qty"]
        );
        for chosen in [None, Some(&["tags".to_string()][..])] {
            let refused = columns_to_analyze(&table, chosen).unwrap_err();
            assert_eq!(refused.kind, ErrorKind::FeatureNotSupported, "{chosen:?}");
        }
        let missing = columns_to_analyze(&table, Some(&["nope".into()])).unwrap_err();
        assert_eq!(missing.kind, ErrorKind::UndefinedColumn);
    }
}
