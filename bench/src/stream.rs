//! `stream CONNSTR QUERY text|binary|copy`: runs QUERY once, reads every row as it arrives
//! (nothing is kept), and prints `rows seconds rows_per_second bytes` on one line.
//!
//! text runs the query with the simple protocol (text results); binary uses the extended
//! protocol, for which tokio-postgres asks for binary results; copy runs
//! `COPY (QUERY) TO STDOUT` and counts its lines. bytes are the values' bytes as received
//! (for copy, the whole text).

use std::pin::pin;
use std::time::Instant;

use futures::StreamExt;
use tokio_postgres::{NoTls, SimpleQueryMessage};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, connection_string, query, format] = args.as_slice() else {
        eprintln!("usage: stream CONNSTR QUERY text|binary|copy");
        std::process::exit(2);
    };
    let (client, connection) = tokio_postgres::connect(connection_string, NoTls).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    let (mut rows, mut bytes) = (0u64, 0u64);
    match format.as_str() {
        "text" => {
            let mut stream = pin!(client.simple_query_raw(query).await?);
            while let Some(message) = stream.next().await {
                if let SimpleQueryMessage::Row(row) = message? {
                    rows += 1;
                    bytes += (0..row.len())
                        .map(|i| row.get(i).map_or(0, str::len) as u64)
                        .sum::<u64>();
                }
            }
        }
        "binary" => {
            let statement = client.prepare(query).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
            let mut stream = pin!(client.query_raw(&statement, params).await?);
            while let Some(row) = stream.next().await {
                let row = row?;
                rows += 1;
                bytes += row.raw_size_bytes() as u64;
            }
        }
        "copy" => {
            let copy = format!("COPY ({query}) TO STDOUT");
            let mut stream = pin!(client.copy_out(copy.as_str()).await?);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                bytes += chunk.len() as u64;
            }
        }
        other => {
            return Err(format!("unknown format {other}: expected text, binary or copy").into());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{rows} {seconds:.3} {:.0} {bytes}", rows as f64 / seconds);
    Ok(())
}
