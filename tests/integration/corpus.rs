//! The catalog statements real clients sent to PostgreSQL 15 during a run of the client kit
//! (`../shared/clients/observed/real-postgresql-15-statements.txt`: psql, pgjdbc,
//! psqlODBC, SQLAlchemy, asyncpg, Grafana, Metabase, DBeaver, Superset), replayed against
//! lakeport serving the kit's fixture tables. Every simple-protocol statement that reads
//! pg_catalog or information_schema must run, except the known gaps listed here. A failure
//! prints the SQL that broke; a known gap that starts working fails too, so the list only
//! ever shrinks.

use std::path::PathBuf;

use lakeport::config::TableConfig;

use crate::harness::TestServer;

/// Statements lakeport cannot run yet, by how they start, with why.
const KNOWN_GAPS: &[(&str, &str)] = &[
    (
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), (SELECT",
        "psql \\d: a correlated subquery with a non-equality outer predicate",
    ),
    (
        "SELECT pol.polname",
        "psql \\d: an array compared with the text literal '{0}'",
    ),
    (
        "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string",
        "psql \\d+: an outer reference inside unnest()",
    ),
    (
        "SELECT pubname , NULL , NULL",
        "psql \\d: generate_series() over an outer column in a correlated subquery",
    ),
    (
        "select ta.attname, ia.attnum, ic.relname",
        "psqlODBC SQLPrimaryKeys: a boolean compared with text",
    ),
    (
        "SELECT CASE WHEN quote_ident(table_schema) IN",
        "Grafana: an IN subquery inside ORDER BY",
    ),
    (
        "SELECT pg_catalog.pg_attribute.attname AS name",
        "SQLAlchemy get_columns: correlated subqueries inside CASE",
    ),
];

fn shared_clients() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/clients")
}

/// The simple-protocol catalog statements of the observed run.
fn catalog_statements(observed: &str) -> Vec<String> {
    observed
        .lines()
        .filter_map(|line| line.strip_prefix("[simple  ]"))
        .filter_map(|rest| {
            let rest = rest.trim_start();
            let (_count, sql) = rest.split_once(char::is_whitespace)?;
            Some(sql.trim().to_string())
        })
        .filter(|sql| {
            let lower = sql.to_ascii_lowercase();
            (lower.contains("pg_") || lower.contains("information_schema"))
                && !lower.starts_with("move")
                && !lower.starts_with("fetch")
                && !lower.starts_with("close")
        })
        .collect()
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
        statements.len() >= 40,
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
    for sql in &statements {
        let gap = KNOWN_GAPS
            .iter()
            .position(|(start, _)| sql.starts_with(start));
        let result = client.simple_query(sql).await;
        if let Some(index) = gap {
            gaps[index].0 += 1;
            gaps[index].1 += usize::from(result.is_err());
        } else if let Err(e) = result {
            let message = e
                .as_db_error()
                .map(|db| format!("{} {}", db.code().code(), db.message()))
                .unwrap_or_else(|| e.to_string());
            unexpected.push(format!("{message}\n    {sql}"));
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
