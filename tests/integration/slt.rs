//! The sqllogictest runner: every `tests/slt/**/*.slt` file runs through the real server,
//! once under the simple protocol and once under the extended protocol.
//!
//! - `SLT_FILTER=substring` runs only the files whose path contains it.
//! - `SLT_COMPLETE=1` rewrites the files' expected results from what the server returns
//!   (under the extended protocol, which reports column types); review the diff.
//!
//! Records can be limited to one protocol with `onlyif simple` / `onlyif extended`. Files
//! that say `control substitution on` may write `$LAKE` for the fixture lake directory
//! (see `harness::write_lake`).
//!
//! The files under `tests/slt/catalog/` run once more on each object-store emulator that is
//! running (see `stores`): the lake is copied to a fresh prefix of the bucket, `$LAKE` names
//! it there, and managed tables are written there too (`catalog.managed_location`).
//! Records can be limited to a store with `onlyif local` / `skipif s3` / `skipif azure`.
//! With a Hive Metastore (see `hive`), they run once more with the catalog in one
//! (`skipif hive` / `onlyif hive`).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Runner, default_normalizer, default_validator,
};
use tokio_postgres::{Client, SimpleQueryMessage, types::Type};

use crate::harness::TestServer;
use crate::pgtext::AsText;
use crate::stores::{Backend, bucket_path, upload};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Protocol {
    Simple,
    Extended,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Simple => "simple",
            Protocol::Extended => "extended",
        }
    }
}

struct WireDb {
    client: Client,
    protocol: Protocol,
}

/// A client error that shows the server's SQLSTATE and message when a record fails.
#[derive(Debug)]
struct WireError(tokio_postgres::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{} {}", db.code().code(), db.message()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for WireError {}

impl From<tokio_postgres::Error> for WireError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self(error)
    }
}

#[async_trait]
impl AsyncDB for WireDb {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        match self.protocol {
            Protocol::Simple => run_simple(&self.client, sql).await,
            Protocol::Extended => run_extended(&self.client, sql).await,
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "lakeport"
    }

    fn error_sql_state(error: &Self::Error) -> Option<String> {
        error.0.code().map(|code| code.code().to_string())
    }
}

async fn run_simple(client: &Client, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
    let mut columns = None;
    let mut rows = Vec::new();
    let mut count = 0;
    for message in client.simple_query(sql).await? {
        match message {
            SimpleQueryMessage::RowDescription(description) => {
                columns = Some(vec![DefaultColumnType::Any; description.len()]);
            }
            SimpleQueryMessage::Row(row) => {
                rows.push(
                    (0..row.len())
                        .map(|i| cell_text(row.get(i).map(str::to_string)))
                        .collect(),
                );
            }
            SimpleQueryMessage::CommandComplete(n) => count = n,
            _ => {}
        }
    }
    Ok(match columns {
        Some(types) => DBOutput::Rows { types, rows },
        None => DBOutput::StatementComplete(count),
    })
}

async fn run_extended(
    client: &Client,
    sql: &str,
) -> Result<DBOutput<DefaultColumnType>, WireError> {
    let statement = client.prepare(sql).await?;
    if statement.columns().is_empty() {
        let count = client.execute(&statement, &[]).await?;
        return Ok(DBOutput::StatementComplete(count));
    }
    let types = statement
        .columns()
        .iter()
        .map(|c| column_type(c.type_()))
        .collect();
    let mut rows = Vec::new();
    for row in client.query(&statement, &[]).await? {
        let mut cells = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            cells.push(cell_text(row.try_get::<_, AsText>(i)?.0));
        }
        rows.push(cells);
    }
    Ok(DBOutput::Rows { types, rows })
}

/// How a value is written in an `.slt` file: NULL as `NULL`, the empty string as `(empty)`.
fn cell_text(value: Option<String>) -> String {
    match value {
        None => "NULL".into(),
        Some(text) if text.is_empty() => "(empty)".into(),
        Some(text) => text,
    }
}

fn column_type(ty: &Type) -> DefaultColumnType {
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => DefaultColumnType::Integer,
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

/// Column types must agree where both sides know them; the simple protocol reports none.
/// (sqllogictest's validator type takes `&Vec`.)
#[allow(clippy::ptr_arg)]
fn column_types_agree(actual: &Vec<DefaultColumnType>, expected: &Vec<DefaultColumnType>) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a == e || *a == DefaultColumnType::Any || *e == DefaultColumnType::Any)
}

fn slt_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "slt") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt"),
        &mut files,
    );
    files.sort();
    let filter = std::env::var("SLT_FILTER").unwrap_or_default();
    files.retain(|f| f.to_string_lossy().contains(&filter));
    files
}

fn runner(
    server: &TestServer,
    protocol: Protocol,
    label: &str,
    lake: &str,
) -> Runner<WireDb, impl sqllogictest::MakeConnection<Conn = WireDb>> {
    let connection_string = server.connection_string();
    let mut runner = Runner::new(move || {
        let connection_string = connection_string.clone();
        async move {
            let (client, connection) =
                tokio_postgres::connect(&connection_string, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(WireDb { client, protocol })
        }
    });
    runner.add_label(protocol.label());
    runner.add_label(label);
    runner.set_var("LAKE".into(), lake.to_string());
    runner.with_column_validator(column_types_agree);
    runner
}

/// A server whose lake and managed tables are on `backend`, and the lake's location.
async fn server_on(backend: Backend) -> (TestServer, String) {
    if backend == Backend::Local {
        let server = TestServer::start().await;
        return (server, crate::harness::lake().display().to_string());
    }
    let root = backend.fresh_root("slt");
    upload(
        &backend.store(),
        &crate::harness::lake(),
        &format!("{}/lake", bucket_path(&root)),
    )
    .await;
    let server = TestServer::start_with(|config| {
        backend.configure(config, &root);
        config.catalog.managed_location = format!("{root}managed/");
    })
    .await;
    (server, format!("{root}lake"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_under_both_protocols() {
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files matched SLT_FILTER");
    let complete = std::env::var("SLT_COMPLETE").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let backends = Backend::available();
    for file in &files {
        let on_stores = file.components().any(|c| c.as_os_str() == "catalog");
        for (backend, protocol) in backends
            .iter()
            .filter(|b| on_stores || **b == Backend::Local)
            .flat_map(|b| [(*b, Protocol::Extended), (*b, Protocol::Simple)])
        {
            if complete && (protocol, backend) != (Protocol::Extended, Backend::Local) {
                continue;
            }
            let (server, lake) = server_on(backend).await;
            let mut runner = runner(&server, protocol, backend.label(), &lake);
            if complete {
                if let Err(e) = runner
                    .update_test_file(
                        file,
                        " ",
                        default_validator,
                        default_normalizer,
                        column_types_agree,
                    )
                    .await
                {
                    failures.push(format!("{} (completing): {e}", file.display()));
                }
                continue;
            }
            if let Err(e) = runner.run_file_async(file).await {
                failures.push(format!(
                    "{} [{} protocol, {}]:\n{}",
                    file.display(),
                    protocol.label(),
                    backend.label(),
                    e.display(true)
                ));
            }
        }
    }
    #[cfg(feature = "hms")]
    if !complete {
        failures.extend(catalog_files_on_a_hive_metastore(&files).await);
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The catalog files once more with the catalog in a Hive Metastore of their own (emptied
/// before each run), when the Hive tests run (see `hive`). Records can be limited with
/// `skipif hive` / `onlyif hive`.
#[cfg(feature = "hms")]
async fn catalog_files_on_a_hive_metastore(files: &[PathBuf]) -> Vec<String> {
    let catalog_files: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "catalog"))
        .collect();
    if catalog_files.is_empty() || crate::hive::shared_metastore().is_none() {
        return Vec::new();
    }
    let metastore = crate::hive::OwnMetastore::start_fresh("slt-hms");
    let mut failures = Vec::new();
    for file in catalog_files {
        for protocol in [Protocol::Extended, Protocol::Simple] {
            metastore.empty().await;
            let server = metastore.lakeport().await;
            let lake = crate::harness::lake().display().to_string();
            let mut runner = runner(&server, protocol, "hive", &lake);
            if let Err(e) = runner.run_file_async(file).await {
                failures.push(format!(
                    "{} [{} protocol, hive]:\n{}",
                    file.display(),
                    protocol.label(),
                    e.display(true)
                ));
            }
        }
    }
    failures
}
