//! Partition benchmark client, run by `bench/partitions.sh`.
//!
//! `partitions generate DIR COUNT` writes COUNT Hive partition directories
//! (`dt=YYYY-MM-DD/part-0.csv`, one tiny CSV file each) under DIR.
//!
//! `partitions measure PORT LAKE RUNS` connects to a lakeport on PORT and measures, over a
//! table declared on LAKE (whose directories are written only after the declaration):
//!   - `MSCK REPAIR TABLE` registering every partition, once;
//!   - planning `SELECT count(*) FROM t WHERE dt = '…'` (as `EXPLAIN`, which plans the scan,
//!     pruning included) against the many-partition table and against a one-partition
//!     table as the reference, RUNS times each after warm-up, reporting p50 / p90.

use std::time::Instant;

#[path = "client.rs"]
#[allow(dead_code)]
mod client;

use client::{connect, latencies, ms};

const FIRST_DAY: i64 = 19_000; // 2022-01-08, in days since 1970-01-01

fn day(offset: i64) -> String {
    let days = FIRST_DAY + offset;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn generate(dir: &str, count: i64) -> std::io::Result<()> {
    for i in 0..count {
        let partition = format!("{dir}/dt={}", day(i));
        std::fs::create_dir_all(&partition)?;
        std::fs::write(format!("{partition}/part-0.csv"), format!("{i},row{i}\n"))?;
    }
    Ok(())
}

async fn measure(port: u16, lake: &str, runs: usize) {
    let client = connect(port).await;
    let many = format!("{lake}/many");
    let one = format!("{lake}/one");
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE many (id int, note string) USING csv PARTITIONED BY (dt string) LOCATION '{many}';
             CREATE EXTERNAL TABLE one (id int, note string) USING csv PARTITIONED BY (dt string) LOCATION '{one}';"
        ))
        .await
        .expect("declare the tables");
    let count = std::env::var("PARTITIONS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10_000);
    generate(&many, count).expect("write the partition directories");
    generate(&one, 1).expect("write the one partition");

    let start = Instant::now();
    client
        .batch_execute("MSCK REPAIR TABLE many; MSCK REPAIR TABLE one")
        .await
        .expect("MSCK REPAIR TABLE");
    let repair = start.elapsed();
    let registered = client
        .simple_query("SHOW PARTITIONS many")
        .await
        .expect("SHOW PARTITIONS")
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(
        registered as i64, count,
        "MSCK REPAIR registered every partition"
    );

    let middle = day(count / 2);
    let (many_p50, many_p90) = latencies(
        &client,
        &format!("EXPLAIN SELECT count(*) FROM many WHERE dt = '{middle}'"),
        runs,
    )
    .await;
    let (one_p50, one_p90) = latencies(
        &client,
        &format!("EXPLAIN SELECT count(*) FROM one WHERE dt = '{}'", day(0)),
        runs,
    )
    .await;
    let answer = client
        .simple_query(&format!("SELECT count(*) FROM many WHERE dt = '{middle}'"))
        .await
        .expect("the pruned query runs");
    assert!(matches!(
        answer.get(1),
        Some(tokio_postgres::SimpleQueryMessage::Row(row)) if row.get(0) == Some("1")
    ));

    println!("partitions: {count}");
    println!(
        "MSCK REPAIR TABLE ({count} partitions): {:.2} s (target < 5 s)",
        repair.as_secs_f64()
    );
    println!(
        "planning, {count} partitions: p50 {} p90 {} (target p50 < 20 ms)",
        ms(many_p50),
        ms(many_p90)
    );
    println!(
        "planning, 1 partition (reference): p50 {} p90 {}",
        ms(one_p50),
        ms(one_p90)
    );
    println!(
        "ratio {count} / 1 partition at p50: {:.2}",
        many_p50.as_secs_f64() / one_p50.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") if args.len() == 4 => {
            generate(&args[2], args[3].parse().expect("COUNT is a number")).expect("generate");
        }
        Some("measure") if args.len() == 5 => {
            measure(
                args[2].parse().expect("PORT is a number"),
                &args[3],
                args[4].parse().expect("RUNS is a number"),
            )
            .await;
        }
        _ => {
            eprintln!("usage: partitions generate DIR COUNT | partitions measure PORT LAKE RUNS");
            std::process::exit(2);
        }
    }
}
