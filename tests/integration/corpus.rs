//! The catalog statements real clients sent to PostgreSQL 15 during a run of the client kit
//! (`../shared/clients/observed/real-postgresql-15-statements.txt`: psql, pgjdbc,
//! psqlODBC, SQLAlchemy, asyncpg, Grafana, Metabase, DBeaver, Superset), replayed against
//! lakeport serving the kit's fixture tables. Every statement that reads pg_catalog or
//! information_schema must run, except the known gaps listed here: simple-protocol ones as
//! recorded, extended-protocol ones prepared and executed with every parameter NULL (the
//! recording keeps no values), which still plans and runs every part of them. A failure
//! prints the SQL that broke; a known gap that starts working fails too, so the list only
//! ever shrinks.

use std::path::PathBuf;

use bytes::BytesMut;
use lakeport::config::TableConfig;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::harness::TestServer;

/// Statements lakeport cannot run yet, by how they start, with why.
const KNOWN_GAPS: &[(&str, &str)] = &[];

fn shared_clients() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/clients")
}

/// A recorded statement and whether the client sent it with the extended protocol.
struct Recorded {
    sql: String,
    extended: bool,
}

/// The catalog statements of the observed run.
fn catalog_statements(observed: &str) -> Vec<Recorded> {
    observed
        .lines()
        .filter_map(|line| {
            let (extended, rest) = if let Some(rest) = line.strip_prefix("[simple  ]") {
                (false, rest)
            } else {
                (true, line.strip_prefix("[extended]")?)
            };
            let (_count, sql) = rest.trim_start().split_once(char::is_whitespace)?;
            Some(Recorded {
                sql: sql.trim().to_string(),
                extended,
            })
        })
        .filter(|recorded| {
            let lower = recorded.sql.to_ascii_lowercase();
            (lower.contains("pg_") || lower.contains("information_schema"))
                && !lower.starts_with("move")
                && !lower.starts_with("fetch")
                && !lower.starts_with("close")
        })
        .collect()
}

/// NULL for a parameter of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _ty: &Type,
        _out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

async fn run(
    client: &tokio_postgres::Client,
    recorded: &Recorded,
) -> Result<(), tokio_postgres::Error> {
    if !recorded.extended {
        return client.simple_query(&recorded.sql).await.map(|_| ());
    }
    let statement = client.prepare(&recorded.sql).await?;
    let nulls: Vec<&(dyn ToSql + Sync)> = statement.params().iter().map(|_| &Null as _).collect();
    client.query(&statement, &nulls).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_client_catalog_queries_run() {
    let clients = shared_clients();
    let observed = clients.join("observed/real-postgresql-15-statements.txt");
    let Ok(text) = std::fs::read_to_string(&observed) else {
        eprintln!(
            "SKIPPED recorded_client_catalog_queries_run: {} not found (the client kit lives in ../shared beside the repository)",
            observed.display()
        );
        return;
    };
    let statements = catalog_statements(&text);
    assert!(
        statements.len() >= 80 && statements.iter().filter(|r| r.extended).count() >= 20,
        "only {} statements found",
        statements.len()
    );
    let parquet = clients.join("parquet");
    let server = TestServer::start_with(|config| {
        for table in ["trips", "zones"] {
            config.tables.push(
                TableConfig::from_flag(&format!(
                    "public.{table}={}",
                    parquet.join(table).display()
                ))
                .expect("a table flag"),
            );
        }
    })
    .await;
    let client = server.connect().await;
    let mut unexpected = Vec::new();
    // Per known gap: (statements that match it, of which failed).
    let mut gaps = vec![(0, 0); KNOWN_GAPS.len()];
    for recorded in &statements {
        let sql = &recorded.sql;
        let gap = KNOWN_GAPS
            .iter()
            .position(|(start, _)| sql.starts_with(start));
        let result = run(&client, recorded).await;
        if let Some(index) = gap {
            gaps[index].0 += 1;
            gaps[index].1 += usize::from(result.is_err());
        } else if let Err(e) = result {
            let message = e
                .as_db_error()
                .map(|db| format!("{} {}", db.code().code(), db.message()))
                .unwrap_or_else(|| e.to_string());
            let protocol = if recorded.extended {
                "extended"
            } else {
                "simple"
            };
            unexpected.push(format!("{message} ({protocol})\n    {sql}"));
        }
    }
    let fixed: Vec<&str> = KNOWN_GAPS
        .iter()
        .zip(&gaps)
        .filter(|(_, (matched, failed))| *matched > 0 && *failed == 0)
        .map(|((_, why), _)| *why)
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} recorded catalog statements failed:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "known gaps now work; remove them from KNOWN_GAPS:\n{}",
        fixed.join("\n")
    );
}
