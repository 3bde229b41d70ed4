//! Latency of the small statements BI tools and drivers send all day, for the benchmark
//! suite (`bench/suite.py`), against any PostgreSQL-protocol server whose search path holds
//! the TPC-H tables:
//!
//!   latency CONNSTR RUNS OBSERVED
//!
//! prints `case,p50_ms,p99_ms` for RUNS round trips of each case after a warm-up. OBSERVED
//! is the client kit's recording of real psql statements, from which psql's `\d lineitem`
//! is replayed.

use std::path::Path;
use std::time::Duration;

use tokio_postgres::types::ToSql;

#[path = "client.rs"]
#[allow(dead_code)]
mod client;

use client::{connect_to, describe, describe_statements, percentile, timings};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, connect, runs, observed] = args.as_slice() else {
        eprintln!("usage: latency CONNSTR RUNS OBSERVED");
        std::process::exit(2);
    };
    let runs: usize = runs.parse().expect("RUNS is a number");
    let client = connect_to(connect).await;
    let report = |case: &str, sorted: Vec<Duration>| {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{case},{:.3},{:.3}",
            ms(percentile(&sorted, 50)),
            ms(percentile(&sorted, 99))
        );
    };

    report(
        "SELECT 1 (simple)",
        timings(runs, || async {
            client.simple_query("SELECT 1").await.expect("SELECT 1");
        })
        .await,
    );
    let select_one = client.prepare("SELECT 1").await.expect("prepare SELECT 1");
    report(
        "SELECT 1 (prepared)",
        timings(runs, || async {
            client.query(&select_one, &[]).await.expect("SELECT 1");
        })
        .await,
    );
    let point = client
        .prepare("SELECT * FROM orders WHERE o_orderkey = $1")
        .await
        .expect("prepare the point query");
    let mut key: i64 = 0;
    report(
        "point query (prepared)",
        timings(runs, || {
            key = key % 1_000_000 + 4_001;
            let (client, point, key) = (&client, &point, key);
            async move {
                let params: [&(dyn ToSql + Sync); 1] = [&key];
                client.query(point, &params).await.expect("point query");
            }
        })
        .await,
    );
    report(
        "SHOW TimeZone",
        timings(runs, || async {
            client.simple_query("SHOW TimeZone").await.expect("SHOW");
        })
        .await,
    );
    match describe_statements(Path::new(observed), "lineitem") {
        Some(statements) => {
            report(
                "psql \\d lookup",
                timings(runs, || async {
                    client
                        .simple_query(&statements[0])
                        .await
                        .expect("psql's lookup");
                })
                .await,
            );
            report(
                &format!("psql \\d lineitem ({} statements)", statements.len()),
                timings(runs, || describe(&client, &statements)).await,
            );
        }
        None => eprintln!("NOT RUN: psql \\d (its statements not found in {observed})"),
    }
}
