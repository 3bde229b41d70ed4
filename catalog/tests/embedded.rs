//! The embedded metastore against the backend contract, across reopening, and with two
//! handles (two processes' worth of connections) on one file.

use std::sync::Arc;

use lakeport_catalog::contract;
use lakeport_catalog::embedded::{EmbeddedMetastore, FILE_NAME};
use lakeport_catalog::{CatalogErrorKind, Metastore, Partition};

fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lakeport-catalog-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(dir: &std::path::Path) -> EmbeddedMetastore {
    EmbeddedMetastore::open(&dir.join(FILE_NAME), "file:///warehouse").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_backend_passes_the_contract() {
    let dir = scratch("contract");
    let metastore = open(&dir);
    contract::run(Arc::new(metastore.clone()), "contract", "file:///warehouse").await;
    assert_eq!(
        metastore.check_integrity().await.unwrap(),
        Vec::<String>::new()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn everything_survives_reopening() {
    let dir = scratch("reopen");
    let table = contract::table("sales", "events", &["year", "region"]);
    let partition = Partition {
        values: vec![Some("2024".into()), None],
        location: "file:///lake/sales/events/year=2024/region=__HIVE_DEFAULT_PARTITION__".into(),
        create_time: 1,
    };
    {
        let metastore = open(&dir);
        metastore
            .create_database(&contract::database("sales"))
            .await
            .unwrap();
        metastore.create_table(&table, &[]).await.unwrap();
        metastore
            .add_partitions("sales", "events", std::slice::from_ref(&partition), false)
            .await
            .unwrap();
    }
    let metastore = open(&dir);
    assert_eq!(
        metastore.get_database("sales").await.unwrap(),
        contract::database("sales")
    );
    assert_eq!(metastore.get_table("sales", "events").await.unwrap(), table);
    assert_eq!(
        metastore.list_partitions("sales", "events").await.unwrap(),
        vec![partition]
    );
    assert_eq!(
        metastore.get_database("default").await.unwrap().location,
        "file:///warehouse",
        "reopening keeps the default database as it was"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Two handles stand for two server processes sharing one warehouse: SQLite's file lock
/// serialises them, and each create is still all-or-nothing and exactly-once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_race_safely() {
    let dir = scratch("handles");
    let first: Arc<dyn Metastore> = Arc::new(open(&dir));
    let second: Arc<dyn Metastore> = Arc::new(open(&dir));
    first
        .create_database(&contract::database("race"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for round in 0..40 {
        for metastore in [&first, &second] {
            let metastore = metastore.clone();
            let table = contract::table("race", &format!("t{}", round % 10), &[]);
            tasks.push(tokio::spawn(async move {
                metastore.create_table(&table, &[]).await
            }));
        }
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => created += 1,
            Err(e) => assert_eq!(e.kind, CatalogErrorKind::AlreadyExists, "{e}"),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(second.list_tables("race").await.unwrap().len(), 10);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_newer_layout_is_refused() {
    let dir = scratch("newer");
    drop(open(&dir));
    let connection = rusqlite::Connection::open(dir.join(FILE_NAME)).unwrap();
    connection
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    drop(connection);
    let error = EmbeddedMetastore::open(&dir.join(FILE_NAME), "file:///warehouse").unwrap_err();
    assert_eq!(error.kind, CatalogErrorKind::Backend);
    assert!(error.message.contains("layout version 99"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_first_layout_file_gains_grants_and_keeps_its_tables() {
    let dir = scratch("layout1");
    let path = dir.join(FILE_NAME);
    {
        let metastore = open(&dir);
        metastore
            .create_table(
                &lakeport_catalog::contract::table("default", "kept", &[]),
                &[],
            )
            .await
            .unwrap();
    }
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DROP TABLE database_grants; DROP TABLE table_grants; PRAGMA user_version = 1",
        )
        .unwrap();
    drop(connection);
    let metastore = open(&dir);
    assert!(metastore.get_table("default", "kept").await.is_ok());
    let grant = lakeport_catalog::Grant {
        grantee: "reader".into(),
        database: "default".into(),
        table: Some("kept".into()),
    };
    assert!(metastore.grant(&grant).await.unwrap());
    assert_eq!(metastore.list_grants().await.unwrap(), vec![grant]);
    std::fs::remove_dir_all(dir).unwrap();
}
