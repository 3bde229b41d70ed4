//! Catalog benchmark client, run by `bench/catalog.sh`: with 1,000 tables in 20 schemas,
//! the latency (p50 / p90 after warm-up) of the catalog queries BI tools and drivers send,
//! next to `SELECT 1` measured in the same run as the reference round trip.
//!
//!   catalog PORT RUNS

use std::time::Instant;

#[path = "client.rs"]
mod client;

use client::{connect, latencies, ms};

const SCHEMAS: usize = 20;
const TABLES_PER_SCHEMA: usize = 50;

/// (label, SQL): shapes of the client kit's BI and driver queries.
const QUERIES: &[(&str, &str)] = &[
    (
        "grafana: columns of a table",
        "SELECT quote_ident(column_name) AS \"column\", data_type AS \"type\" \
         FROM information_schema.columns WHERE quote_ident(table_schema) = 's7' \
         AND quote_ident(table_name) = 't25'",
    ),
    (
        "grafana: tables",
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS \"table\" \
         FROM information_schema.tables WHERE table_schema NOT IN ('information_schema', 'pg_catalog') \
         ORDER BY 1",
    ),
    (
        "metabase: tables of a schema",
        "SELECT n.nspname AS schema, c.relname AS name, d.description \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
         LEFT JOIN pg_catalog.pg_description d ON c.oid = d.objoid AND d.objsubid = 0 \
         AND d.classoid = 'pg_class'::regclass \
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname IN ('s3') \
         AND c.relkind IN ('r', 'p', 'v', 'f', 'm') ORDER BY 1, 2",
    ),
    (
        "psql \\dt",
        "SELECT n.nspname as \"Schema\", c.relname as \"Name\", \
         pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c \
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' \
         AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' \
         AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2",
    ),
    (
        "psql \\d t25 (columns)",
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull \
         FROM pg_catalog.pg_attribute a WHERE a.attrelid = 's0.t25'::regclass AND a.attnum > 0 \
         AND NOT a.attisdropped ORDER BY a.attnum",
    ),
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(runs)) = (
        args.get(1).and_then(|p| p.parse::<u16>().ok()),
        args.get(2).and_then(|r| r.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: catalog PORT RUNS");
        std::process::exit(2);
    };
    let client = connect(port).await;
    let start = Instant::now();
    for schema in 0..SCHEMAS {
        let mut ddl = format!("CREATE DATABASE s{schema};");
        for table in 0..TABLES_PER_SCHEMA {
            ddl.push_str(&format!(
                "CREATE TABLE s{schema}.t{table} (id bigint COMMENT 'key', name string, amount decimal(10,2), day date) \
                 USING parquet COMMENT 'table {table}';"
            ));
        }
        client.batch_execute(&ddl).await.expect("create the tables");
    }
    println!(
        "created {} tables in {SCHEMAS} schemas in {:.1} s",
        SCHEMAS * TABLES_PER_SCHEMA,
        start.elapsed().as_secs_f64()
    );
    let (reference, _) = latencies(&client, "SELECT 1", runs).await;
    println!("{:<32} p50 {:>10}", "SELECT 1 (reference)", ms(reference));
    for (label, sql) in QUERIES {
        let (p50, p90) = latencies(&client, sql, runs).await;
        println!(
            "{label:<32} p50 {:>10}  p90 {:>10}  ratio to SELECT 1: {:.1}",
            ms(p50),
            ms(p90),
            p50.as_secs_f64() / reference.as_secs_f64()
        );
    }
}
