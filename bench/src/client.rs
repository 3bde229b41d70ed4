//! What the benchmark clients share: connecting to a lakeport on loopback and timing a
//! query's round trips.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

pub async fn connect(port: u16) -> Client {
    let config = format!("host=127.0.0.1 port={port} user=bench dbname=lakeport");
    let (client, connection) = tokio_postgres::connect(&config, NoTls)
        .await
        .expect("connect to lakeport");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// p50 and p90 of `runs` timings of `sql`, after `runs / 10 + 5` warm-up runs.
pub async fn latencies(client: &Client, sql: &str, runs: usize) -> (Duration, Duration) {
    time_runs(runs, || async {
        client.simple_query(sql).await.expect("measured query");
    })
    .await
}

/// p50 and p90 of `runs` timings of `round_trip`, after `runs / 10 + 5` warm-up runs.
pub async fn time_runs<F, Fut>(runs: usize, mut round_trip: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..runs / 10 + 5 {
        round_trip().await;
    }
    let mut timings = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        round_trip().await;
        timings.push(start.elapsed());
    }
    percentiles(timings)
}

/// p50 and p90 of some timings (at least one).
pub fn percentiles(mut timings: Vec<Duration>) -> (Duration, Duration) {
    timings.sort();
    let runs = timings.len();
    (timings[runs / 2], timings[runs * 9 / 10])
}

pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
