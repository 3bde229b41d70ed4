//! What the benchmark clients share: connecting to a lakeport on loopback, timing a
//! query's round trips, and replaying psql's `\d` as psql sends it.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

pub async fn connect(port: u16) -> Client {
    connect_to(&format!(
        "host=127.0.0.1 port={port} user=bench dbname=lakeport"
    ))
    .await
}

pub async fn connect_to(config: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(config, NoTls)
        .await
        .expect("connect to the server");
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
pub async fn time_runs<F, Fut>(runs: usize, round_trip: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    percentiles(timings(runs, round_trip).await)
}

/// `runs` timings of `round_trip`, sorted, after `runs / 10 + 5` warm-up runs.
pub async fn timings<F, Fut>(runs: usize, mut round_trip: F) -> Vec<Duration>
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
    timings.sort();
    timings
}

/// p50 and p90 of some timings (at least one).
pub fn percentiles(mut timings: Vec<Duration>) -> (Duration, Duration) {
    timings.sort();
    (percentile(&timings, 50), percentile(&timings, 90))
}

/// The `p`th percentile of sorted timings (at least one).
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// The statements psql 15 sent for `\d trips`, as the client kit recorded them
/// (`observed/real-postgresql-15-statements.txt`), pointed at `table`: the lookup by name,
/// then those naming the table's OID (`'16395'` in the recording).
pub fn describe_statements(observed: &Path, table: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(observed).ok()?;
    let statements: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("[simple  ]"))
        .filter_map(|rest| rest.trim_start().split_once(char::is_whitespace))
        .map(|(_, sql)| sql.trim())
        .collect();
    let lookup = statements
        .iter()
        .position(|sql| sql.contains("'^(trips)$'"))?;
    let mut sequence = vec![statements[lookup].replace("'^(trips)$'", &format!("'^({table})$'"))];
    sequence.extend(
        statements[lookup + 1..]
            .iter()
            .take_while(|sql| sql.contains("'16395'"))
            .map(|sql| sql.to_string()),
    );
    (sequence.len() > 1).then_some(sequence)
}

/// psql's `\d`: look the table up, then run the rest with its OID.
pub async fn describe(client: &Client, statements: &[String]) {
    let oid = first_value(client, &statements[0])
        .await
        .expect("the described table exists");
    for sql in &statements[1..] {
        client
            .simple_query(&sql.replace("'16395'", &format!("'{oid}'")))
            .await
            .expect("a psql \\d statement");
    }
}

/// The first column of the first row `sql` returns (simple protocol).
pub async fn first_value(client: &Client, sql: &str) -> Option<String> {
    let messages = client.simple_query(sql).await.ok()?;
    messages.into_iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    })
}
