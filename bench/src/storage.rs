//! Object-storage benchmark client, run by `bench/storage.sh`.
//!
//! `storage measure PORT LOCAL_DIR LOG QUERIES_DIR RUNS` connects to a lakeport on PORT whose
//! `tpch` schema holds the TPC-H demo tables, and
//!   1. copies each table twice with CREATE TABLE … AS SELECT: to local disk under LOCAL_DIR
//!      (schema `on_disk`) and to `s3://warehouse/tpch/` (schema `on_s3`), so both read
//!      identical Parquet files;
//!   2. runs each query of QUERIES_DIR (`q01.sql` …) on both: on disk once to warm up then
//!      RUNS times; on S3 once cold then RUNS times warm. The best run counts.
//!   3. counts the object-store requests of the cold and of the warm S3 runs from lakeport's
//!      JSON log (LOG, `lakeport::storage::requests` at debug level): a warm run should
//!      list nothing and read no Parquet footer.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

#[path = "client.rs"]
#[allow(dead_code)]
mod client;

use client::{connect, ms};

const TABLES: [&str; 8] = [
    "region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem",
];

/// Requests counted from the log since the last look.
struct RequestLog {
    path: String,
    seen: usize,
}

#[derive(Default, Debug, Clone, Copy)]
struct Requests {
    lists: usize,
    footers: usize,
    reads: usize,
}

impl RequestLog {
    fn since_last(&mut self) -> Requests {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let new = &lines[self.seen.min(lines.len())..];
        self.seen = lines.len();
        let count = |op: &str| {
            new.iter()
                .filter(|line| line.contains(&format!("\"op\":\"{op}\"")))
                .count()
        };
        Requests {
            lists: count("list"),
            footers: count("get_footer"),
            reads: count("get") + count("get_ranges"),
        }
    }
}

async fn copy_tables(client: &Client, local_dir: &str) {
    client
        .batch_execute("CREATE DATABASE IF NOT EXISTS on_disk; CREATE DATABASE IF NOT EXISTS on_s3")
        .await
        .expect("create the schemas");
    for table in TABLES {
        for (schema, location) in [
            ("on_disk", format!("{local_dir}/{table}")),
            ("on_s3", format!("s3://warehouse/tpch/{table}")),
        ] {
            let start = Instant::now();
            client
                .batch_execute(&format!(
                    "CREATE TABLE {schema}.{table} USING parquet LOCATION '{location}' \
                     AS SELECT * FROM tpch.{table}"
                ))
                .await
                .unwrap_or_else(|e| panic!("copy {table} to {location}: {e}"));
            eprintln!(
                "copied {table} to {location} in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
}

async fn run(client: &Client, schema: &str, sql: &str) -> Duration {
    client
        .batch_execute(&format!("SET search_path = {schema}"))
        .await
        .expect("set search_path");
    let start = Instant::now();
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{schema}: {e}\n{sql}"));
    start.elapsed()
}

async fn best_of(client: &Client, schema: &str, sql: &str, runs: usize) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        best = best.min(run(client, schema, sql).await);
    }
    best
}

async fn measure(port: u16, local_dir: &str, log: &str, queries: &Path, runs: usize) {
    let client = connect(port).await;
    copy_tables(&client, local_dir).await;
    let mut log = RequestLog {
        path: log.to_string(),
        seen: 0,
    };
    log.since_last();
    let mut files: Vec<_> = std::fs::read_dir(queries)
        .expect("read the queries directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    println!(
        "{:<5} {:>11} {:>11} {:>11} {:>7}   {:>22}   {:>22}",
        "query",
        "disk",
        "s3 cold",
        "s3 warm",
        "ratio",
        "cold: list/footer/read",
        "warm: list/footer/read"
    );
    let (mut disk_total, mut s3_total) = (Duration::ZERO, Duration::ZERO);
    let mut warm_lists_or_footers = 0;
    for file in &files {
        let sql = std::fs::read_to_string(file).expect("read a query");
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        run(&client, "on_disk", &sql).await;
        let disk = best_of(&client, "on_disk", &sql, runs).await;
        log.since_last();
        let cold = run(&client, "on_s3", &sql).await;
        let cold_requests = log.since_last();
        let mut warm = Duration::MAX;
        let mut warm_requests = Requests::default();
        for _ in 0..runs {
            warm = warm.min(run(&client, "on_s3", &sql).await);
            let requests = log.since_last();
            warm_requests.lists = warm_requests.lists.max(requests.lists);
            warm_requests.footers = warm_requests.footers.max(requests.footers);
            warm_requests.reads = warm_requests.reads.max(requests.reads);
        }
        warm_lists_or_footers += warm_requests.lists + warm_requests.footers;
        disk_total += disk;
        s3_total += warm;
        println!(
            "{:<5} {:>11} {:>11} {:>11} {:>7.2}   {:>22}   {:>22}",
            name,
            ms(disk),
            ms(cold),
            ms(warm),
            warm.as_secs_f64() / disk.as_secs_f64(),
            format!(
                "{}/{}/{}",
                cold_requests.lists, cold_requests.footers, cold_requests.reads
            ),
            format!(
                "{}/{}/{}",
                warm_requests.lists, warm_requests.footers, warm_requests.reads
            ),
        );
    }
    println!(
        "total: disk {} s3 warm {} ratio {:.2}",
        ms(disk_total),
        ms(s3_total),
        s3_total.as_secs_f64() / disk_total.as_secs_f64()
    );
    println!("warm S3 runs: {warm_lists_or_footers} LIST or footer requests in all (target 0)");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("measure") if args.len() == 7 => {
            let port = args[2].parse().expect("a port");
            let runs = args[6].parse().expect("a run count");
            measure(port, &args[3], &args[4], Path::new(&args[5]), runs).await;
        }
        _ => {
            eprintln!("usage: storage measure PORT LOCAL_DIR LOG QUERIES_DIR RUNS");
            std::process::exit(2);
        }
    }
}
