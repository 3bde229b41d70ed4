//! TPC-H runner of the benchmark suite (`bench/suite.py`), for the engines driven from Rust:
//!
//!   tpch inprocess DIR parquet|csv QUERIES RUNS SETTINGS [PARQUET_DIR]
//!       the queries on a DataFusion `SessionContext` in this process over the tables under
//!       DIR (`DIR/lineitem/…`); SETTINGS is a file of `datafusion.key=value` lines (lakeport's
//!       `SHOW ALL`) applied on top of DataFusion's defaults, or `-`. CSV tables are read with
//!       the column types of the Parquet tables under PARQUET_DIR, as lakeport reads them.
//!   tpch defaults
//!       DataFusion's default options as `key=value` lines.
//!   tpch wire CONNSTR QUERIES RUNS
//!       the queries through a PostgreSQL-protocol server with tokio-postgres (extended
//!       protocol, binary results), every row fetched and decoded.
//!   tpch concurrency CONNSTR QUERIES CLIENTS SECONDS
//!       CLIENTS connections each running the queries in turn (each from its own starting
//!       query) until SECONDS have passed; prints `completed,errors,p50_ms,p95_ms`.
//!
//! `inprocess` and `wire` print one CSV line per run: `query,run,seconds,checksum`, the
//! checksum as `checksum.rs` defines it. Every query runs once before its timed runs.

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use tokio_postgres::Client;
use tokio_postgres::types::{FromSql, ToSql, Type};

mod checksum;
#[path = "client.rs"]
#[allow(dead_code)]
mod client;

use checksum::Checksum;
use client::{connect_to, percentile};

const TABLES: [&str; 8] = [
    "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        [
            "inprocess",
            dir,
            format,
            queries,
            runs,
            settings,
            parquet @ ..,
        ] => {
            let settings = Some(*settings).filter(|s| *s != "-");
            in_process(
                dir,
                format,
                queries,
                runs,
                settings,
                parquet.first().copied(),
            )
            .await
        }
        ["defaults"] => {
            for entry in SessionConfig::new().options().entries() {
                if let Some(value) = entry.value {
                    println!("{}={value}", entry.key);
                }
            }
            Ok(())
        }
        ["wire", connect, queries, runs] => wire(connect, queries, runs).await,
        ["concurrency", connect, queries, clients, seconds] => {
            concurrency(connect, queries, clients, seconds).await
        }
        _ => Err(
            "usage: tpch inprocess DIR parquet|csv QUERIES RUNS SETTINGS [PARQUET_DIR] | \
                  tpch defaults | \
                  tpch wire CONNSTR QUERIES RUNS | \
                  tpch concurrency CONNSTR QUERIES CLIENTS SECONDS"
                .into(),
        ),
    };
    if let Err(e) = outcome {
        eprintln!("tpch: {e}");
        std::process::exit(1);
    }
}

/// `q01.sql` … in name order, as (name, SQL).
fn read_queries(dir: &str) -> Result<Vec<(String, String)>, BoxError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, std::fs::read_to_string(&path)?))
        })
        .collect()
}

/// An error with its causes: tokio-postgres says only "db error" and keeps the server's
/// message in its source.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// Runs each query once untimed, then `runs` times, printing one line per timed run.
async fn time_queries<F, Fut>(
    queries: &[(String, String)],
    runs: usize,
    mut run: F,
) -> Result<(), BoxError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Checksum, BoxError>>,
{
    for (name, sql) in queries {
        run(sql.clone())
            .await
            .map_err(|e| format!("{name}: {}", with_causes(&*e)))?;
        for round in 1..=runs {
            let started = Instant::now();
            let checksum = run(sql.clone())
                .await
                .map_err(|e| format!("{name}: {}", with_causes(&*e)))?;
            let seconds = started.elapsed().as_secs_f64();
            println!("{name},{round},{seconds:.6},{}", checksum.to_text());
        }
    }
    Ok(())
}

async fn in_process(
    dir: &str,
    format: &str,
    queries: &str,
    runs: &str,
    settings: Option<&str>,
    parquet: Option<&str>,
) -> Result<(), BoxError> {
    let queries = read_queries(queries)?;
    let mut config = SessionConfig::new();
    if let Some(settings) = settings {
        for line in std::fs::read_to_string(settings)?.lines() {
            if let Some((key, value)) = line.split_once('=') {
                config
                    .options_mut()
                    .set(key, value)
                    .map_err(|e| format!("setting {key}: {e}"))?;
            }
        }
    }
    config.options_mut().sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
    let ctx = SessionContext::new_with_config(config);
    register_tables(&ctx, Path::new(dir), format, parquet.map(Path::new)).await?;
    time_queries(&queries, runs.parse()?, |sql| {
        let ctx = ctx.clone();
        async move {
            let mut stream = ctx.sql(&sql).await?.execute_stream().await?;
            let mut checksum = Checksum::default();
            while let Some(batch) = stream.next().await {
                add_batch(&mut checksum, &batch?)?;
            }
            Ok(checksum)
        }
    })
    .await
}

async fn register_tables(
    ctx: &SessionContext,
    dir: &Path,
    format: &str,
    parquet: Option<&Path>,
) -> Result<(), BoxError> {
    for table in TABLES {
        let path = dir.join(table);
        let path = format!("{}/", path.display());
        match format {
            "parquet" => {
                ctx.register_parquet(table, &path, ParquetReadOptions::default())
                    .await?
            }
            "csv" => {
                let parquet = parquet.ok_or("CSV tables need PARQUET_DIR")?.join(table);
                let typed = SessionContext::new();
                typed
                    .register_parquet(
                        "t",
                        format!("{}/", parquet.display()),
                        ParquetReadOptions::default(),
                    )
                    .await?;
                let schema: Schema = typed.table("t").await?.schema().as_arrow().clone();
                let options = CsvReadOptions::new().has_header(true).schema(&schema);
                ctx.register_csv(table, &path, options).await?
            }
            other => return Err(format!("unknown format {other}").into()),
        }
    }
    Ok(())
}

fn add_batch(checksum: &mut Checksum, batch: &RecordBatch) -> Result<(), BoxError> {
    let columns: Vec<Column> = batch
        .columns()
        .iter()
        .map(Column::try_new)
        .collect::<Result<_, _>>()?;
    let mut values = vec![String::new(); columns.len()];
    for row in 0..batch.num_rows() {
        for (value, column) in values.iter_mut().zip(&columns) {
            *value = column.canonical(row);
        }
        checksum.add_row(values.iter().map(String::as_str));
    }
    Ok(())
}

/// An Arrow column with the canonical form of its values.
struct Column<'a> {
    array: &'a ArrayRef,
    formatter: ArrayFormatter<'a>,
}

const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl<'a> Column<'a> {
    fn try_new(array: &'a ArrayRef) -> Result<Self, BoxError> {
        Ok(Self {
            array,
            formatter: ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?,
        })
    }

    fn canonical(&self, row: usize) -> String {
        use datafusion::arrow::datatypes as t;
        let array = self.array;
        if array.is_null(row) {
            return "NULL".into();
        }
        let number = match array.data_type() {
            DataType::Int8 => array.as_primitive::<t::Int8Type>().value(row) as f64,
            DataType::Int16 => array.as_primitive::<t::Int16Type>().value(row) as f64,
            DataType::Int32 => array.as_primitive::<t::Int32Type>().value(row) as f64,
            DataType::Int64 => array.as_primitive::<t::Int64Type>().value(row) as f64,
            DataType::UInt32 => array.as_primitive::<t::UInt32Type>().value(row) as f64,
            DataType::UInt64 => array.as_primitive::<t::UInt64Type>().value(row) as f64,
            DataType::Float32 => array.as_primitive::<t::Float32Type>().value(row) as f64,
            DataType::Float64 => array.as_primitive::<t::Float64Type>().value(row),
            DataType::Decimal128(_, scale) if (0..=22).contains(scale) => {
                let unscaled = array.as_primitive::<t::Decimal128Type>().value(row);
                unscaled as f64 / POWERS_OF_TEN[*scale as usize]
            }
            _ => return self.formatter.value(row).to_string(),
        };
        checksum::number(number)
    }
}

async fn wire(connect_to_server: &str, queries: &str, runs: &str) -> Result<(), BoxError> {
    let queries = read_queries(queries)?;
    let client = connect_to(connect_to_server).await;
    time_queries(&queries, runs.parse()?, |sql| {
        let client = &client;
        async move { fetch(client, &sql).await }
    })
    .await
}

/// Runs `sql` with the extended protocol and decodes every value of every row.
async fn fetch(client: &Client, sql: &str) -> Result<Checksum, BoxError> {
    let no_params: [&(dyn ToSql + Sync); 0] = [];
    let mut rows = pin!(client.query_raw(sql, no_params).await?);
    let mut checksum = Checksum::default();
    let mut values = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row?;
        values.clear();
        for i in 0..row.len() {
            values.push(row.try_get::<_, Canonical>(i)?.0);
        }
        checksum.add_row(values.iter().map(String::as_str));
    }
    Ok(checksum)
}

/// A value of any type a TPC-H result holds, decoded from PostgreSQL's binary format into
/// its canonical form.
struct Canonical(String);

impl<'a> FromSql<'a> for Canonical {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::INT2 => checksum::number(f64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => checksum::number(f64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => checksum::number(i64::from_sql(ty, raw)? as f64),
            Type::FLOAT4 => checksum::number(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => checksum::number(f64::from_sql(ty, raw)?),
            Type::NUMERIC => checksum::decimal_text(&numeric_text(raw)?),
            Type::DATE => date_text(i32::from_sql(ty, raw)?),
            Type::BOOL => bool::from_sql(ty, raw)?.to_string(),
            _ => <&str as FromSql>::from_sql(ty, raw)?.to_string(),
        };
        Ok(Self(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Self("NULL".into()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A binary NUMERIC as decimal text: base-10000 digits, the first at 10000^weight.
fn numeric_text(raw: &[u8]) -> Result<String, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        let bytes = raw.get(i * 2..i * 2 + 2).ok_or("numeric value too short")?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    };
    let (count, weight, sign) = (word(0)? as i32, word(1)? as i32, word(2)? as u16);
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digit = |i: i32| -> Result<i16, BoxError> {
        if i < 0 || i >= count {
            Ok(0)
        } else {
            word(4 + i as usize)
        }
    };
    let mut text = String::from(if sign == 0x4000 { "-" } else { "" });
    if weight < 0 {
        text.push('0');
    }
    for i in 0..=weight {
        let d = digit(i)?;
        text.push_str(&if i == 0 {
            d.to_string()
        } else {
            format!("{d:04}")
        });
    }
    text.push('.');
    for k in 1..=(count - weight - 1).max(1) {
        text.push_str(&format!("{:04}", digit(weight + k)?));
    }
    Ok(text)
}

/// Days since 2000-01-01 as `YYYY-MM-DD`.
fn date_text(days: i32) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
    match epoch.checked_add_signed(chrono::Duration::days(i64::from(days))) {
        Some(date) => date.format("%Y-%m-%d").to_string(),
        None => format!("date {days}"),
    }
}

async fn concurrency(
    connect_to_server: &str,
    queries: &str,
    clients: &str,
    seconds: &str,
) -> Result<(), BoxError> {
    let queries = Arc::new(read_queries(queries)?);
    let deadline = Instant::now() + Duration::from_secs(seconds.parse()?);
    let mut tasks = Vec::new();
    for client_number in 0..clients.parse::<usize>()? {
        let client = connect_to(connect_to_server).await;
        let queries = Arc::clone(&queries);
        tasks.push(tokio::spawn(async move {
            let mut timings = Vec::new();
            let mut errors = Vec::new();
            let mut next = client_number % queries.len();
            while Instant::now() < deadline {
                let (name, sql) = &queries[next];
                let started = Instant::now();
                match fetch(&client, sql).await {
                    Ok(_) => timings.push(started.elapsed()),
                    Err(e) => errors.push(format!("{name}: {}", with_causes(&*e))),
                }
                next = (next + 1) % queries.len();
            }
            (timings, errors)
        }));
    }
    let (mut timings, mut errors) = (Vec::new(), Vec::new());
    for task in tasks {
        let (t, e) = task.await?;
        timings.extend(t);
        errors.extend(e);
    }
    for error in &errors {
        eprintln!("concurrency: {error}");
    }
    timings.sort();
    let ms = |p: usize| match timings.is_empty() {
        true => 0.0,
        false => percentile(&timings, p).as_secs_f64() * 1000.0,
    };
    println!(
        "{},{},{:.1},{:.1}",
        timings.len(),
        errors.len(),
        ms(50),
        ms(95)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(count: i16, weight: i16, sign: u16, scale: u16, digits: &[i16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for word in [count, weight, sign as i16, scale as i16]
            .iter()
            .chain(digits)
        {
            raw.extend_from_slice(&word.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numerics_decode_to_their_decimal_text() {
        assert_eq!(
            numeric_text(&numeric(2, 0, 0, 2, &[17954, 5500])).unwrap(),
            "17954.5500"
        );
        assert_eq!(
            numeric_text(&numeric(2, 1, 0x4000, 0, &[12, 3456])).unwrap(),
            "-123456.0000"
        );
        assert_eq!(
            numeric_text(&numeric(1, -2, 0, 6, &[12])).unwrap(),
            "0.00000012"
        );
        assert_eq!(numeric_text(&numeric(0, 0, 0, 0, &[])).unwrap(), "0.0000");
        assert!(numeric_text(&numeric(3, 0, 0, 0, &[1])).is_err());
    }

    #[test]
    fn dates_count_from_2000() {
        assert_eq!(date_text(0), "2000-01-01");
        assert_eq!(date_text(-1), "1999-12-31");
    }
}
