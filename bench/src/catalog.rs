//! Catalog benchmark client, run by `bench/catalog.sh`: with 1,000 tables in 20 schemas,
//! the latency (p50 / p90 after warm-up) of the catalog queries BI tools and drivers send,
//! next to `SELECT 1` measured in the same run as the reference round trip. Given the
//! client kit's directory, it also replays every query of the kit's BI set as its tool
//! sends it (simple or extended protocol, with its parameters), and psql's `\d` as the
//! whole sequence of statements psql sends for it (as recorded from PostgreSQL 15).
//!
//!   catalog PORT RUNS [KIT_DIR]

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};

#[path = "client.rs"]
#[allow(dead_code)]
mod client;

use client::{
    connect, describe, describe_statements, first_value, latencies, ms, percentiles, time_runs,
};

/// The table `\d` and the kit's table-specific queries are pointed at.
const DESCRIBED_SCHEMA: &str = "s7";
const DESCRIBED_TABLE: &str = "t25";

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
        eprintln!("usage: catalog PORT RUNS [KIT_DIR]");
        std::process::exit(2);
    };
    let client = connect(port).await;
    let start = Instant::now();
    for schema in 0..SCHEMAS {
        // The first schema is `public`, which the kit's BI queries browse.
        let name = if schema == 0 {
            "public".to_string()
        } else {
            format!("s{schema}")
        };
        let mut ddl = format!("CREATE DATABASE IF NOT EXISTS {name};");
        for table in 0..TABLES_PER_SCHEMA {
            ddl.push_str(&format!(
                "CREATE TABLE {name}.t{table} (id bigint COMMENT 'key', name string, amount decimal(10,2), day date) \
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
        report(label, p50, p90, reference);
    }
    let Some(kit) = args.get(3).map(Path::new) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(kit.join("bi")) else {
        println!("NOT RUN: the kit's BI set (no {}/bi)", kit.display());
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut worst = Duration::ZERO;
    for file in &files {
        let query = BiQuery::read(file, &client).await;
        let (p50, p90) = time_runs(runs, || query.run(&client)).await;
        worst = worst.max(p50);
        report(&format!("kit bi: {}", query.name), p50, p90, reference);
    }
    println!("kit bi: {} queries, slowest p50 {}", files.len(), ms(worst));
    let observed = kit.join("observed/real-postgresql-15-statements.txt");
    match describe_statements(&observed, DESCRIBED_TABLE) {
        Some(statements) => {
            client
                .batch_execute(&format!("SET search_path = {DESCRIBED_SCHEMA}"))
                .await
                .expect("set the search path");
            let label = format!(
                "psql \\d {DESCRIBED_TABLE} ({} statements)",
                statements.len()
            );
            let (p50, p90) = time_runs(runs, || describe(&client, &statements)).await;
            report(&label, p50, p90, reference);
            let (p50, p90) = cold_describe(&client, &statements, runs.min(50)).await;
            report(
                &format!("{label}, catalog just changed"),
                p50,
                p90,
                reference,
            );
        }
        None => println!(
            "NOT RUN: psql \\d (its statements not found in {})",
            observed.display()
        ),
    }
}

fn report(label: &str, p50: Duration, p90: Duration, reference: Duration) {
    println!(
        "{label:<44} p50 {:>10}  p90 {:>10}  ratio to SELECT 1: {:.1}",
        ms(p50),
        ms(p90),
        p50.as_secs_f64() / reference.as_secs_f64()
    );
}

/// One query of the kit's BI set: `-- protocol:` and `-- params: TYPE:VALUE` headers, then
/// the SQL. `@name` values are looked up once, pointed at this benchmark's tables.
struct BiQuery {
    name: String,
    sql: String,
    simple: bool,
    params: Vec<(Type, Param)>,
}

enum Param {
    Int(i64),
    Text(String),
}

impl BiQuery {
    async fn read(path: &Path, client: &Client) -> Self {
        let text = std::fs::read_to_string(path).expect("read a BI query");
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut body = Vec::new();
        let mut in_header = true;
        for line in text.lines() {
            match line.strip_prefix("--").filter(|_| in_header) {
                Some(header) => match header.split_once(':') {
                    Some((key, value)) if !key.trim().contains(' ') => {
                        headers.push((key.trim().to_string(), value.trim().to_string()))
                    }
                    _ => {
                        if let Some(last) = headers.last_mut() {
                            last.1.push(' ');
                            last.1.push_str(header.trim());
                        }
                    }
                },
                None => {
                    in_header = false;
                    body.push(line);
                }
            }
        }
        let header = |key: &str| {
            headers
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut params = Vec::new();
        for spec in header("params").split_whitespace() {
            let (kind, value) = spec.split_once(':').expect("TYPE:VALUE");
            let value = match value.strip_prefix('@') {
                Some(variable) => lookup(client, variable).await,
                None => value.to_string(),
            };
            params.push(match kind {
                "int8" => (
                    Type::INT8,
                    Param::Int(value.parse().expect("an int8 parameter")),
                ),
                "varchar" => (Type::VARCHAR, Param::Text(value)),
                "text" => (Type::TEXT, Param::Text(value)),
                _ => (Type::UNKNOWN, Param::Text(value)),
            });
        }
        Self {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sql: body.join("\n").trim().to_string(),
            simple: header("protocol") == "simple",
            params,
        }
    }

    async fn run(&self, client: &Client) {
        if self.simple {
            client.simple_query(&self.sql).await.expect("a BI query");
            return;
        }
        let types: Vec<Type> = self.params.iter().map(|(t, _)| t.clone()).collect();
        let values: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|(_, p)| match p {
                Param::Int(i) => i as &(dyn ToSql + Sync),
                Param::Text(s) => s as &(dyn ToSql + Sync),
            })
            .collect();
        let statement = client
            .prepare_typed(&self.sql, &types)
            .await
            .expect("prepare a BI query");
        client.query(&statement, &values).await.expect("a BI query");
    }
}

/// The value of a BI query's `@variable`, for this benchmark's catalog.
async fn lookup(client: &Client, variable: &str) -> String {
    let sql = match variable {
        "dbname" => "SELECT current_database()".to_string(),
        "public_oid" => "SELECT 'public'::regnamespace::oid".to_string(),
        "pg_catalog_oid" => "SELECT 'pg_catalog'::regnamespace::oid".to_string(),
        "trips_oid" => {
            format!("SELECT '{DESCRIBED_SCHEMA}.{DESCRIBED_TABLE}'::regclass::oid")
        }
        other => panic!("unknown BI variable @{other}"),
    };
    first_value(client, &sql)
        .await
        .unwrap_or_else(|| panic!("no value for @{variable}"))
}

/// `\d` right after DDL, when no kept catalog answer is current: p50 and p90 of `runs`.
async fn cold_describe(
    client: &Client,
    statements: &[String],
    runs: usize,
) -> (Duration, Duration) {
    let mut timings = Vec::with_capacity(runs);
    for run in 0..runs {
        client
            .batch_execute(&format!(
                "ALTER TABLE public.t0 SET TBLPROPERTIES ('bench.run' = '{run}')"
            ))
            .await
            .expect("change the catalog");
        let start = Instant::now();
        describe(client, statements).await;
        timings.push(start.elapsed());
    }
    percentiles(timings)
}
