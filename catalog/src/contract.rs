//! The contract every [`Metastore`] backend passes: run [`run`] against a fresh backend in
//! that backend's tests. It checks behaviour a SQL layer relies on — round trips of every
//! field, kind-classified errors, case-insensitive names, all-or-none batches, cascades,
//! renames carrying partitions, and racing creators — and panics on the first breach.
//!
//! Everything it creates lives in databases named `{prefix}_…`, so it can run against a
//! shared metastore; it drops them at the end.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{CatalogErrorKind, CatalogObject, CatalogResult};
use crate::metastore::Metastore;
use crate::model::{
    Column, ColumnStatistics, Comparison, DEFAULT_DATABASE, Database, Grant, Partition,
    PartitionFilter, PartitionTerm, Storage, StorageFormat, Table, TableKind, TableStatistics,
};
use crate::types::HiveType;

/// Runs the whole contract. `prefix` keeps its databases apart from anything else; the
/// locations of what it creates are under `root` (a URL: a metastore that creates
/// directories creates them there).
pub async fn run(metastore: Arc<dyn Metastore>, prefix: &str, root: &str) {
    let db = format!("{prefix}_sales");
    let other = format!("{prefix}_archive");
    let ms = metastore.as_ref();
    databases(ms, root, &db).await;
    tables(ms, root, &db).await;
    renames(ms, root, &db, &other).await;
    partitions(ms, root, &db).await;
    racing_creators(metastore.clone(), root, &db).await;
    grants(ms, root, &db).await;
    drops(ms, root, &db, &other).await;
}

/// Where [`database`] and [`table`] put things.
const DEFAULT_ROOT: &str = "file:///warehouse";

pub fn database(name: &str) -> Database {
    database_in(DEFAULT_ROOT, name)
}

pub fn database_in(root: &str, name: &str) -> Database {
    Database {
        name: name.into(),
        location: format!("{root}/{name}.db"),
        comment: Some("contract database".into()),
        properties: BTreeMap::from([("owner.team".into(), "data".into())]),
    }
}

fn column(name: &str, data_type: &str) -> Column {
    Column {
        name: name.into(),
        data_type: HiveType::parse(data_type).expect("contract types parse"),
        comment: None,
    }
}

pub fn table(database: &str, name: &str, partition_keys: &[&str]) -> Table {
    table_in(DEFAULT_ROOT, database, name, partition_keys)
}

pub fn table_in(root: &str, database: &str, name: &str, partition_keys: &[&str]) -> Table {
    let mut amount = column("amount", "decimal(10,2)");
    amount.comment = Some("in euros".into());
    Table {
        database: database.into(),
        name: name.into(),
        kind: TableKind::External,
        columns: vec![
            column("id", "bigint"),
            amount,
            column("tags", "array<string>"),
            column("attributes", "map<string,int>"),
            column("address", "struct<street:string,zip:int>"),
        ],
        partition_keys: partition_keys
            .iter()
            .map(|key| column(key, if *key == "year" { "int" } else { "string" }))
            .collect(),
        storage: Some(Storage {
            location: format!("{root}/lake/{database}/{name}"),
            format: StorageFormat::Csv,
            options: BTreeMap::from([
                ("header".into(), "true".into()),
                ("field.delim".into(), "|".into()),
            ]),
        }),
        view_text: None,
        comment: Some("orders from the shop".into()),
        properties: BTreeMap::from([("source".into(), "shop".into())]),
        owner: Some("analyst".into()),
        create_time: 1_700_000_000,
        statistics: Some(TableStatistics::size(4096, Some(100))),
    }
}

fn view(database: &str, name: &str) -> Table {
    Table {
        database: database.into(),
        name: name.into(),
        kind: TableKind::View,
        columns: vec![column("id", "bigint")],
        partition_keys: Vec::new(),
        storage: None,
        view_text: Some("SELECT id FROM orders".into()),
        comment: None,
        properties: BTreeMap::new(),
        owner: Some("analyst".into()),
        create_time: 1_700_000_001,
        statistics: None,
    }
}

fn partition(table: &Table, values: &[Option<&str>]) -> Partition {
    let mut partition = Partition {
        values: values.iter().map(|v| v.map(str::to_string)).collect(),
        location: String::new(),
        create_time: 1_700_000_002,
    };
    let base = &table
        .storage
        .as_ref()
        .expect("tables have storage")
        .location;
    partition.location = format!("{base}/{}", partition.relative_path(&table.partition_keys));
    partition
}

/// Whether a creation time read back is the one given or, for a metastore that keeps its
/// own clock (Hive's sets it when the object is created), a recent one.
fn plausible_time(read: i64, given: i64) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    read == given || (now - 86_400..=now + 86_400).contains(&read)
}

#[track_caller]
fn same_table(mut read: Table, expected: &Table, what: &str) {
    assert!(
        plausible_time(read.create_time, expected.create_time),
        "{what}: created at {}",
        read.create_time
    );
    read.create_time = expected.create_time;
    assert_eq!(&read, expected, "{what}");
}

#[track_caller]
fn same_partitions(mut read: Vec<Partition>, expected: &[Partition], what: &str) {
    assert_eq!(read.len(), expected.len(), "{what}: {read:?}");
    for (read, expected) in read.iter_mut().zip(expected) {
        assert!(
            plausible_time(read.create_time, expected.create_time),
            "{what}: created at {}",
            read.create_time
        );
        read.create_time = expected.create_time;
    }
    assert_eq!(read, expected, "{what}");
}

#[track_caller]
fn expect_error<T: std::fmt::Debug>(
    result: CatalogResult<T>,
    kind: CatalogErrorKind,
    object: Option<CatalogObject>,
    what: &str,
) {
    match result {
        Ok(value) => panic!("{what}: expected a {kind:?} error, got {value:?}"),
        Err(error) => {
            assert_eq!(error.kind, kind, "{what}: {error}");
            if object.is_some() {
                assert_eq!(error.object, object, "{what}: {error}");
            }
        }
    }
}

async fn databases(metastore: &dyn Metastore, root: &str, db: &str) {
    let names = metastore.list_databases().await.expect("list databases");
    assert!(names.iter().any(|n| n == DEFAULT_DATABASE), "{names:?}");
    metastore
        .get_database(DEFAULT_DATABASE)
        .await
        .expect("the default database always exists");

    let created = database_in(root, db);
    metastore
        .create_database(&created)
        .await
        .expect("create database");
    assert_eq!(metastore.get_database(db).await.unwrap(), created);
    assert_eq!(
        metastore.get_database(&db.to_uppercase()).await.unwrap(),
        created,
        "database names are case-insensitive"
    );
    expect_error(
        metastore.create_database(&created).await,
        CatalogErrorKind::AlreadyExists,
        Some(CatalogObject::Database),
        "second create database",
    );
    expect_error(
        metastore.get_database(&format!("{db}_missing")).await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "get a missing database",
    );
    let names = metastore.list_databases().await.unwrap();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "databases are listed sorted");
    assert!(names.contains(&db.to_string()));
}

async fn tables(metastore: &dyn Metastore, root: &str, db: &str) {
    let orders = table_in(root, db, "orders", &[]);
    metastore
        .create_table(&orders, &[])
        .await
        .expect("create table");
    same_table(
        metastore.get_table(db, "orders").await.unwrap(),
        &orders,
        "create table",
    );
    same_table(
        metastore.get_table(db, "ORDERS").await.unwrap(),
        &orders,
        "table names are case-insensitive",
    );
    expect_error(
        metastore.create_table(&orders, &[]).await,
        CatalogErrorKind::AlreadyExists,
        Some(CatalogObject::Table),
        "second create table",
    );
    expect_error(
        metastore.get_table(db, "missing").await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "get a missing table",
    );
    expect_error(
        metastore
            .get_table(&format!("{db}_missing"), "orders")
            .await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "get a table of a missing database",
    );
    expect_error(
        metastore
            .create_table(
                &table_in(root, &format!("{db}_missing"), "orders", &[]),
                &[],
            )
            .await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "create a table in a missing database",
    );
    let mut duplicated = table_in(root, db, "duplicated", &["id"]);
    duplicated.partition_keys[0].data_type = HiveType::BigInt;
    expect_error(
        metastore.create_table(&duplicated, &[]).await,
        CatalogErrorKind::Invalid,
        None,
        "a partition key that repeats a column",
    );

    let recent = view(db, "recent_orders");
    metastore
        .create_table(&recent, &[])
        .await
        .expect("create view");
    let read = metastore.get_table(db, "recent_orders").await.unwrap();
    assert!(read.is_view());
    same_table(read, &recent, "create view");
    assert_eq!(
        metastore.list_tables(db).await.unwrap(),
        vec!["orders".to_string(), "recent_orders".to_string()]
    );
    let mut several: Vec<String> = metastore
        .get_tables(
            db,
            &["RECENT_ORDERS".into(), "missing".into(), "orders".into()],
        )
        .await
        .expect("get tables")
        .into_iter()
        .map(|t| t.expect("a readable table").name)
        .collect();
    several.sort();
    assert_eq!(
        several,
        ["orders", "recent_orders"],
        "get_tables skips the missing"
    );

    let mut altered = orders.clone();
    altered
        .properties
        .insert("last_modified_by".into(), "contract".into());
    altered.columns.push(column("note", "varchar(200)"));
    let mut measured = TableStatistics::size(8192, Some(90));
    measured.columns.insert(
        "qty".into(),
        ColumnStatistics {
            distinct: Some(12),
            nulls: Some(0),
            min: Some("1".into()),
            max: Some("40".into()),
            avg_len: Some(4),
            max_len: Some(4),
        },
    );
    let measured = Some(measured);
    for (statistics, what) in [(measured, "alter table"), (None, "statistics dropped")] {
        altered.statistics = statistics;
        metastore
            .alter_table(db, "orders", &altered)
            .await
            .expect(what);
        same_table(
            metastore.get_table(db, "orders").await.unwrap(),
            &altered,
            what,
        );
    }
    expect_error(
        metastore.alter_table(db, "missing", &altered).await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "alter a missing table",
    );
}

async fn renames(metastore: &dyn Metastore, root: &str, db: &str, other: &str) {
    let events = table_in(root, db, "events", &["year", "region"]);
    metastore.create_table(&events, &[]).await.unwrap();
    let first = partition(&events, &[Some("2024"), Some("eu")]);
    metastore
        .add_partitions(db, "events", std::slice::from_ref(&first), false)
        .await
        .unwrap();

    let mut renamed = events.clone();
    renamed.name = "events_v2".into();
    metastore
        .alter_table(db, "events", &renamed)
        .await
        .expect("rename");
    expect_error(
        metastore.get_table(db, "events").await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "the old name after a rename",
    );
    same_partitions(
        metastore.list_partitions(db, "events_v2").await.unwrap(),
        std::slice::from_ref(&first),
        "partitions follow a rename",
    );

    let mut onto_existing = renamed.clone();
    onto_existing.name = "orders".into();
    expect_error(
        metastore.alter_table(db, "events_v2", &onto_existing).await,
        CatalogErrorKind::AlreadyExists,
        Some(CatalogObject::Table),
        "rename onto an existing table",
    );

    metastore
        .create_database(&database_in(root, other))
        .await
        .unwrap();
    let mut moved = renamed.clone();
    moved.database = other.into();
    moved.name = "events".into();
    metastore
        .alter_table(db, "events_v2", &moved)
        .await
        .expect("move to another database");
    same_table(
        metastore.get_table(other, "events").await.unwrap(),
        &moved,
        "move",
    );
    same_partitions(
        metastore.list_partitions(other, "events").await.unwrap(),
        &[first],
        "partitions follow a move",
    );
    let mut to_missing = moved.clone();
    to_missing.database = format!("{db}_missing");
    expect_error(
        metastore.alter_table(other, "events", &to_missing).await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "move to a missing database",
    );
}

async fn partitions(metastore: &dyn Metastore, root: &str, db: &str) {
    let visits = table_in(root, db, "visits", &["year", "region"]);
    metastore.create_table(&visits, &[]).await.unwrap();
    let p2024eu = partition(&visits, &[Some("2024"), Some("eu")]);
    let p2023us = partition(&visits, &[Some("2023"), Some("us")]);
    let p2024null = partition(&visits, &[Some("2024"), None]);
    let p2025eu = partition(&visits, &[Some("2025"), Some("eu")]);
    metastore
        .add_partitions(
            db,
            "visits",
            &[p2024eu.clone(), p2023us.clone(), p2024null.clone()],
            false,
        )
        .await
        .expect("add partitions");
    same_partitions(
        metastore.list_partitions(db, "visits").await.unwrap(),
        &[p2023us.clone(), p2024null.clone(), p2024eu.clone()],
        "partitions are listed by name; NULL values round trip",
    );

    expect_error(
        metastore
            .add_partitions(db, "visits", &[p2025eu.clone(), p2024eu.clone()], false)
            .await,
        CatalogErrorKind::AlreadyExists,
        Some(CatalogObject::Partition),
        "adding an existing partition",
    );
    assert_eq!(
        metastore.list_partitions(db, "visits").await.unwrap().len(),
        3,
        "a failed batch adds nothing"
    );
    metastore
        .add_partitions(db, "visits", &[p2025eu.clone(), p2024eu.clone()], true)
        .await
        .expect("add partitions if not exists");
    assert_eq!(
        metastore.list_partitions(db, "visits").await.unwrap().len(),
        4
    );

    filtered_listing(metastore, db, &[&p2024eu, &p2025eu], &[&p2023us]).await;

    expect_error(
        metastore
            .add_partitions(db, "visits", &[partition(&visits, &[Some("2026")])], false)
            .await,
        CatalogErrorKind::Invalid,
        Some(CatalogObject::Partition),
        "a partition spec with too few values",
    );
    expect_error(
        metastore
            .add_partitions(db, "orders", std::slice::from_ref(&p2025eu), false)
            .await,
        CatalogErrorKind::Invalid,
        Some(CatalogObject::Partition),
        "a partition of an unpartitioned table",
    );
    expect_error(
        metastore
            .add_partitions(db, "missing", std::slice::from_ref(&p2025eu), false)
            .await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "a partition of a missing table",
    );

    expect_error(
        metastore
            .drop_partitions(
                db,
                "visits",
                &[p2025eu.values.clone(), vec![Some("1999".into()), None]],
            )
            .await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Partition),
        "dropping a missing partition",
    );
    assert_eq!(
        metastore.list_partitions(db, "visits").await.unwrap().len(),
        4,
        "a failed drop drops nothing"
    );
    metastore
        .drop_partitions(db, "visits", &[p2025eu.values.clone(), p2024null.values])
        .await
        .expect("drop partitions");
    same_partitions(
        metastore.list_partitions(db, "visits").await.unwrap(),
        &[p2023us, p2024eu],
        "after dropping partitions",
    );

    metastore
        .drop_table(db, "visits")
        .await
        .expect("drop table");
    metastore.create_table(&visits, &[]).await.unwrap();
    assert!(
        metastore
            .list_partitions(db, "visits")
            .await
            .unwrap()
            .is_empty(),
        "a dropped table's partitions go with it"
    );
    expect_error(
        metastore.drop_table(db, "missing").await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "drop a missing table",
    );
}

/// Listing `visits` by a filter on its string key `region`: `eu` and `us` are the
/// partitions whose region is that (those whose region is NULL may come too).
async fn filtered_listing(
    metastore: &dyn Metastore,
    db: &str,
    eu: &[&Partition],
    us: &[&Partition],
) {
    let term = |comparison, values: &[&str]| PartitionTerm {
        key: "region".into(),
        comparison,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    let listed = |filter: PartitionFilter| async move {
        let mut values: Vec<Vec<Option<String>>> = metastore
            .list_partitions_by_filter(db, "visits", &filter)
            .await
            .expect("list partitions by filter")
            .into_iter()
            .filter(|p| p.values[1].is_some())
            .map(|p| p.values)
            .collect();
        values.sort();
        values
    };
    let values = |partitions: &[&Partition]| {
        let mut values: Vec<_> = partitions.iter().map(|p| p.values.clone()).collect();
        values.sort();
        values
    };
    let eu_only = PartitionFilter {
        terms: vec![term(Comparison::Eq, &["eu"])],
    };
    assert_eq!(listed(eu_only.clone()).await, values(eu), "region = 'eu'");
    let us_only = PartitionFilter {
        terms: vec![
            term(Comparison::In, &["us", "eu"]),
            term(Comparison::NotEq, &["eu"]),
        ],
    };
    assert_eq!(
        listed(us_only).await,
        values(us),
        "region IN (us, eu) AND region <> 'eu'"
    );
    assert_eq!(
        listed(PartitionFilter::default()).await.len(),
        eu.len() + us.len(),
        "no terms: every partition"
    );
    expect_error(
        metastore
            .list_partitions_by_filter(db, "missing", &eu_only)
            .await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "filtered partitions of a missing table",
    );
}

/// Connections racing to create and drop the same object: exactly one of them wins.
async fn racing_creators(metastore: Arc<dyn Metastore>, root: &str, db: &str) {
    let racers = 8;
    let mut tasks = Vec::new();
    for _ in 0..racers {
        let metastore = metastore.clone();
        let contested = table_in(root, db, "contested", &[]);
        tasks.push(tokio::spawn(async move {
            metastore.create_table(&contested, &[]).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("racer finished") {
            Ok(()) => created += 1,
            Err(e) => assert_eq!(e.kind, CatalogErrorKind::AlreadyExists, "{e}"),
        }
    }
    assert_eq!(created, 1, "exactly one racing create succeeds");

    let mut tasks = Vec::new();
    for _ in 0..racers {
        let metastore = metastore.clone();
        let db = db.to_string();
        tasks.push(tokio::spawn(async move {
            metastore.drop_table(&db, "contested").await
        }));
    }
    let mut dropped = 0;
    for task in tasks {
        match task.await.expect("racer finished") {
            Ok(()) => dropped += 1,
            Err(e) => assert_eq!(e.kind, CatalogErrorKind::NotFound, "{e}"),
        }
    }
    assert_eq!(dropped, 1, "exactly one racing drop succeeds");
}

async fn grants(metastore: &dyn Metastore, root: &str, db: &str) {
    let reader = format!("{db}_reader");
    let grant = |database: &str, table: Option<&str>| Grant {
        grantee: reader.clone(),
        database: database.into(),
        table: table.map(Into::into),
    };
    let mine = |all: Vec<Grant>| {
        all.into_iter()
            .filter(|g| g.grantee == reader)
            .collect::<Vec<_>>()
    };
    metastore
        .create_table(&table_in(root, db, "ledger", &[]), &[])
        .await
        .unwrap();
    assert!(
        metastore
            .grant(&grant(&db.to_uppercase(), None))
            .await
            .unwrap()
    );
    assert!(
        !metastore.grant(&grant(db, None)).await.unwrap(),
        "a grant made twice is one grant"
    );
    assert!(metastore.grant(&grant(db, Some("LEDGER"))).await.unwrap());
    assert_eq!(
        mine(metastore.list_grants().await.unwrap()),
        vec![grant(db, None), grant(db, Some("ledger"))]
    );
    expect_error(
        metastore.grant(&grant(db, Some("missing"))).await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Table),
        "a grant on a missing table",
    );
    expect_error(
        metastore
            .grant(&grant(&format!("{db}_missing"), None))
            .await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "a grant on a missing database",
    );
    metastore
        .alter_table(db, "ledger", &table_in(root, db, "journal", &[]))
        .await
        .unwrap();
    assert_eq!(
        mine(metastore.list_grants().await.unwrap()),
        vec![grant(db, None), grant(db, Some("journal"))],
        "a rename carries the grant along"
    );
    metastore.drop_table(db, "journal").await.unwrap();
    assert_eq!(
        mine(metastore.list_grants().await.unwrap()),
        vec![grant(db, None)],
        "a dropped table's grants go with it"
    );
    assert!(metastore.revoke(&grant(db, None)).await.unwrap());
    assert!(!metastore.revoke(&grant(db, None)).await.unwrap());
    let scratch = format!("{db}_granted");
    metastore
        .create_database(&database_in(root, &scratch))
        .await
        .unwrap();
    metastore.grant(&grant(&scratch, None)).await.unwrap();
    metastore.drop_database(&scratch, true).await.unwrap();
    assert!(
        mine(metastore.list_grants().await.unwrap()).is_empty(),
        "a dropped database's grants go with it"
    );
}

async fn drops(metastore: &dyn Metastore, root: &str, db: &str, other: &str) {
    expect_error(
        metastore.drop_database(db, false).await,
        CatalogErrorKind::Conflict,
        Some(CatalogObject::Database),
        "drop a non-empty database without cascade",
    );
    assert!(metastore.get_table(db, "orders").await.is_ok());
    metastore
        .drop_database(db, true)
        .await
        .expect("drop database cascade");
    expect_error(
        metastore.get_database(db).await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "a dropped database",
    );
    metastore
        .create_database(&database_in(root, db))
        .await
        .unwrap();
    assert!(
        metastore.list_tables(db).await.unwrap().is_empty(),
        "a cascaded drop leaves no tables behind"
    );
    metastore
        .drop_database(db, false)
        .await
        .expect("drop an empty database");
    metastore.drop_database(other, true).await.unwrap();
    expect_error(
        metastore.drop_database(other, false).await,
        CatalogErrorKind::NotFound,
        Some(CatalogObject::Database),
        "drop a missing database",
    );
    assert!(
        metastore
            .drop_database(DEFAULT_DATABASE, true)
            .await
            .is_err(),
        "the default database cannot be dropped"
    );
}
