//! Tables on object storage, end to end: the allowed-location rules, a partitioned table on
//! S3 read, written and refreshed through the wire, a store that stops in the middle of a
//! query and comes back, a store that never answers, and secrets that never leak. The
//! catalog statements themselves run on every store through `tests/slt/catalog/` (see `slt`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use tokio_postgres::Client;

use crate::harness::{TestServer, lake, scratch_dir, simple_rows};
use crate::stores::{Backend, bucket_path, object_paths, upload};

fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {error}"))
}

/// The whole text a client sees of an error: message, detail and hint.
fn error_text(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!(
            "{} | {} | {}",
            db.message(),
            db.detail().unwrap_or_default(),
            db.hint().unwrap_or_default()
        ),
        None => error.to_string(),
    }
}

async fn fails_with(client: &Client, sql: &str, code: &str) -> tokio_postgres::Error {
    match client.simple_query(sql).await {
        Ok(_) => panic!("{sql}: succeeded, expected {code}"),
        Err(e) => {
            assert_eq!(sqlstate(&e), code, "{sql}: {}", error_text(&e));
            e
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_outside_the_allowed_roots_are_refused_before_any_read() {
    let allowed = scratch_dir("allowed");
    std::fs::create_dir_all(allowed.join("data")).unwrap();
    let outside = scratch_dir("outside");
    std::fs::write(outside.join("secret.csv"), "a\n1\n").unwrap();
    let server = TestServer::start_with(|config| {
        config.storage.allowed_locations = vec![allowed.display().to_string()];
    })
    .await;
    let client = server.connect().await;
    let inside = allowed.join("data").display().to_string();
    let sneaky = format!(
        "{inside}/../../{}",
        outside.file_name().unwrap().to_string_lossy()
    );
    for sql in [
        "CREATE EXTERNAL TABLE t USING csv LOCATION 'file:///etc'".to_string(),
        "CREATE EXTERNAL TABLE t USING csv LOCATION '/etc/'".to_string(),
        format!("CREATE EXTERNAL TABLE t USING csv LOCATION '{sneaky}'"),
        format!("CREATE EXTERNAL TABLE t USING csv LOCATION 'file://{sneaky}'"),
        "CREATE EXTERNAL TABLE t (a int) USING parquet LOCATION 's3://unconfigured/x'".to_string(),
        "CREATE DATABASE d LOCATION '/etc/lakeport'".to_string(),
        format!(
            "CREATE TEMPORARY VIEW v USING csv OPTIONS (path '{}')",
            outside.display()
        ),
        format!("CREATE TABLE c USING parquet LOCATION '{sneaky}' AS SELECT 1 AS a"),
    ] {
        fails_with(&client, &sql, "42501").await;
    }
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE p (a int) USING csv PARTITIONED BY (k int) LOCATION '{inside}'"
        ))
        .await
        .unwrap();
    fails_with(
        &client,
        &format!(
            "ALTER TABLE p ADD PARTITION (k=1) LOCATION '{}'",
            outside.display()
        ),
        "42501",
    )
    .await;
    fails_with(&client, "ALTER TABLE p SET LOCATION 'file:///etc'", "42501").await;
    let rows = simple_rows(&client, "SELECT count(*) FROM p").await;
    assert_eq!(rows, vec![vec![Some("0".to_string())]]);
    assert!(
        std::fs::read_dir(allowed.join("data"))
            .unwrap()
            .next()
            .is_none(),
        "refused statements wrote nothing"
    );
}

/// The "done when", on the S3 emulator: an external partitioned table over existing
/// Parquet, queried, inserted into (new partition files in the bucket), refreshed after a
/// write behind lakeport's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_table_on_s3_is_read_written_and_refreshed() {
    let backend = Backend::S3;
    if !backend.running() {
        return;
    }
    let store = backend.store();
    let root = backend.fresh_root("trips");
    let prefix = bucket_path(&root);
    upload(&store, &lake().join("events"), &format!("{prefix}/events")).await;
    let server = TestServer::start_with(|config| backend.configure(config, &root)).await;
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE trips USING parquet LOCATION '{root}events/'"
        ))
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let client = &client;
        async move { simple_rows(client, sql).await[0][0].clone().unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM trips").await, "10");
    assert_eq!(
        count("SELECT count(*) FROM trips WHERE year = 2024").await,
        "6"
    );
    client
        .batch_execute(
            "INSERT INTO trips PARTITION (year = 2026, month = 3) \
             SELECT id + 100, customer, amount, status FROM trips WHERE year = 2025",
        )
        .await
        .unwrap();
    assert_eq!(
        count("SELECT count(*) FROM trips WHERE year = 2026").await,
        "4"
    );
    let written = object_paths(&store, &format!("{prefix}/events/year=2026/month=3")).await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].contains("/part-") && written[0].ends_with(".parquet"),
        "{written:?}"
    );
    let partitions = simple_rows(&client, "SHOW PARTITIONS trips").await;
    assert!(
        partitions.contains(&vec![Some("year=2026/month=3".to_string())]),
        "{partitions:?}"
    );

    // A file added behind lakeport's back shows after REFRESH TABLE.
    let extra = lake().join("events/year=2024/month=01/part-00000.parquet");
    let bytes = std::fs::read(&extra).unwrap();
    store
        .put(
            &object_store::path::Path::from(format!(
                "{prefix}/events/year=2026/month=3/extra.parquet"
            )),
            object_store::PutPayload::from(bytes),
        )
        .await
        .unwrap();
    assert_eq!(
        count("SELECT count(*) FROM trips WHERE year = 2026").await,
        "4"
    );
    client.batch_execute("REFRESH TABLE trips").await.unwrap();
    assert_eq!(
        count("SELECT count(*) FROM trips WHERE year = 2026").await,
        "7"
    );
}

/// The listing and footer caches: a query run a second time on S3 lists nothing and reads
/// no Parquet footer, only data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_lists_nothing_and_reads_no_footer() {
    let backend = Backend::S3;
    if !backend.running() {
        return;
    }
    let root = backend.fresh_root("cached");
    upload(
        &backend.store(),
        &lake().join("events"),
        &format!("{}/events", bucket_path(&root)),
    )
    .await;
    let warehouse = scratch_dir("cached");
    {
        let server =
            TestServer::start_in(&warehouse, |config| backend.configure(config, &root)).await;
        server
            .connect()
            .await
            .batch_execute(&format!(
                "CREATE EXTERNAL TABLE events USING parquet LOCATION '{root}events/'"
            ))
            .await
            .unwrap();
    }
    // A new server: nothing of the table is cached yet.
    let server = TestServer::start_in(&warehouse, |config| backend.configure(config, &root)).await;
    let client = server.connect().await;
    let query = "SELECT year, count(*), sum(amount) FROM events WHERE month = 1 GROUP BY year ORDER BY year";
    let requests = || server.service.engine.storage_requests();
    let before = requests();
    let first = simple_rows(&client, query).await;
    let cold = requests() - before;
    let before = requests();
    let second = simple_rows(&client, query).await;
    let warm = requests() - before;
    assert_eq!(first, second);
    assert!(
        cold.lists > 0,
        "the first run lists the partitions: {cold:?}"
    );
    assert_eq!(warm.lists, 0, "second run: {warm:?}");
    assert_eq!(warm.footer_reads, 0, "second run: {warm:?}");
    assert!(warm.reads > 0, "the second run still reads data: {warm:?}");

    client.batch_execute("REFRESH TABLE events").await.unwrap();
    let before = requests();
    simple_rows(&client, query).await;
    assert!(
        (requests() - before).lists > 0,
        "REFRESH TABLE forgets the listings"
    );
}

/// `[storage] listing_ttl`: files added behind lakeport's back show once the listing expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_expire_after_the_configured_ttl() {
    let dir = scratch_dir("ttl");
    std::fs::create_dir_all(dir.join("t")).unwrap();
    std::fs::write(dir.join("t/a.csv"), "1\n").unwrap();
    let server = TestServer::start_with(|config| {
        config.storage.listing_ttl = "300ms".into();
        config.storage.allowed_locations = vec![dir.display().to_string()];
    })
    .await;
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE t (n int) USING csv LOCATION '{}'",
            dir.join("t").display()
        ))
        .await
        .unwrap();
    let total = || async { simple_rows(&client, "SELECT sum(n) FROM t").await[0][0].clone() };
    assert_eq!(total().await.as_deref(), Some("1"));
    std::fs::write(dir.join("t/b.csv"), "2\n").unwrap();
    assert_eq!(total().await.as_deref(), Some("1"), "cached listing");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(total().await.as_deref(), Some("3"), "listing expired");
}

/// A moto server of the test's own, started and stopped through the shared script by the
/// PIDs it records.
struct OwnS3 {
    dir: PathBuf,
    port: u16,
}

impl OwnS3 {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/object-stores.sh")
    }

    fn start(dir: &Path, port: u16) -> Option<Self> {
        let ok = Command::new("bash")
            .arg(Self::script())
            .args([
                "start",
                "--azure-port",
                "0",
                "--s3-port",
                &port.to_string(),
                "--dir",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self {
            dir: dir.to_path_buf(),
            port,
        })
    }

    fn stop(&self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .args(["stop", "--dir"])
            .arg(&self.dir)
            .status();
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn put_numbers(store: &std::sync::Arc<dyn object_store::ObjectStore>, files: usize) {
    let dir = scratch_dir("numbers-upload");
    for i in 0..files {
        let rows: String = (0..2000).map(|n| format!("{}\n", i * 2000 + n)).collect();
        std::fs::write(dir.join(format!("part-{i:03}.csv")), rows).unwrap();
    }
    upload(store, &dir, "numbers").await;
}

/// The S3 server stops while a query streams: that query fails with 58030 naming the
/// location, within the configured timeouts; other statements carry on; once the server is
/// back (moto keeps its objects in memory, so the test puts them back), the next query works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_mid_query_fails_it_cleanly_and_the_next_query_works() {
    if !Backend::S3.running() {
        return;
    }
    let options = Backend::S3.options().expect("the S3 emulator is running");
    let port = free_port();
    let dir = scratch_dir("own-s3");
    let Some(s3) = OwnS3::start(&dir, port) else {
        panic!(
            "cannot start a moto server with {}",
            OwnS3::script().display()
        );
    };
    let endpoint = format!("http://127.0.0.1:{}", s3.port);
    let client_store = || -> std::sync::Arc<dyn object_store::ObjectStore> {
        std::sync::Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_bucket_name("warehouse")
                .with_endpoint(&endpoint)
                .with_region("us-east-1")
                .with_access_key_id(options.get("access_key_id").unwrap())
                .with_secret_access_key(options.get("secret_access_key").unwrap())
                .with_allow_http(true)
                .build()
                .unwrap(),
        )
    };
    put_numbers(&client_store(), 40).await;
    let server = TestServer::start_with(|config| {
        let mut options = options.clone();
        options.0.insert("endpoint".into(), endpoint.clone());
        config.storage.s3.options = options;
        config
            .storage
            .allowed_locations
            .push("s3://warehouse/".into());
        config.storage.request_timeout = "2s".into();
        config.storage.connect_timeout = "1s".into();
        config.storage.max_retries = 2;
        config.storage.retry_timeout = "3s".into();
        config.engine.result_buffer_batches = 1;
        config.engine.batch_size = 500;
    })
    .await;
    let mut client = server.connect().await;
    client
        .batch_execute("CREATE EXTERNAL TABLE streamed (n bigint) USING csv LOCATION 's3://warehouse/numbers/'")
        .await
        .unwrap();
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM streamed").await,
        vec![vec![Some("80000".to_string())]]
    );

    client
        .batch_execute("SET datafusion.execution.target_partitions = 1")
        .await
        .unwrap();
    let transaction = client.transaction().await.unwrap();
    let portal = transaction
        .bind("SELECT n FROM streamed", &[])
        .await
        .unwrap();
    let first = transaction.query_portal(&portal, 10).await.unwrap();
    assert_eq!(first.len(), 10);
    s3.stop();
    let started = Instant::now();
    let mut failure = None;
    for _ in 0..200 {
        match transaction.query_portal(&portal, 1000).await {
            Ok(rows) if rows.is_empty() => break,
            Ok(_) => continue,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("the query fails once the store is gone");
    assert_eq!(sqlstate(&failure), "58030", "{}", error_text(&failure));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failed after {:?}",
        started.elapsed()
    );
    let text = error_text(&failure);
    assert!(text.contains("numbers/"), "names the location: {text}");
    drop(transaction);

    let other = server.connect().await;
    assert_eq!(
        simple_rows(&other, "SELECT 1").await,
        vec![vec![Some("1".to_string())]]
    );

    let s3_again = OwnS3::start(&dir, port).expect("restart the moto server");
    put_numbers(&client_store(), 40).await;
    client
        .batch_execute("REFRESH TABLE streamed")
        .await
        .unwrap();
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM streamed").await,
        vec![vec![Some("80000".to_string())]]
    );
    drop(s3_again);
}

/// A "store" that accepts connections and never answers: statements on it fail with 58030
/// after about the configured timeouts, other connections are served meanwhile, and the
/// configured secret appears nowhere a client can look.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_never_answers_times_out_without_leaking_secrets() {
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", black_hole.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            sockets.push(socket);
        }
    });
    const SECRET: &str = "hunter2-very-secret-key";
    let server = TestServer::start_with(|config| {
        config.storage.s3 = toml::from_str(&format!(
            "endpoint = \"{endpoint}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKIATEST\"\n\
             secret_access_key = \"{SECRET}\"\nallow_http = true\n[buckets.slow]\n"
        ))
        .unwrap();
        config.storage.allowed_locations.push("s3://slow/".into());
        config.storage.request_timeout = "1s".into();
        config.storage.max_retries = 1;
        config.storage.retry_timeout = "1s".into();
    })
    .await;
    let client = server.connect().await;
    let other = server.connect().await;
    let started = Instant::now();
    let pending = tokio::spawn(async move {
        let result = client
            .simple_query("CREATE EXTERNAL TABLE slow USING parquet LOCATION 's3://slow/t/'")
            .await;
        (result, client)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        simple_rows(&other, "SELECT 1").await,
        vec![vec![Some("1".to_string())]]
    );
    let (result, client) = pending.await.unwrap();
    let elapsed = started.elapsed();
    let error = result.expect_err("an unanswered store fails the statement");
    assert_eq!(sqlstate(&error), "58030", "{}", error_text(&error));
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let text = error_text(&error);
    assert!(text.contains("s3://slow/t/"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    for sql in [
        "SHOW ALL",
        "SELECT name, setting FROM pg_catalog.pg_settings",
    ] {
        let rows = simple_rows(&client, sql).await;
        assert!(
            !format!("{rows:?}").contains(SECRET),
            "{sql} shows the secret"
        );
    }
    held.abort();
}

/// Failed and cancelled writes on S3 leave the table as it was: no new visible file, and
/// the hidden staging files are removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_cancelled_writes_on_s3_leave_the_table_as_it_was() {
    let backend = Backend::S3;
    if !backend.running() {
        return;
    }
    let store = backend.store();
    let root = backend.fresh_root("failed-writes");
    let server = TestServer::start_with(|config| {
        backend.configure(config, &root);
        config.catalog.managed_location = format!("{root}managed/");
        config.engine.batch_size = 64;
    })
    .await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE DATABASE shop;
             CREATE TABLE shop.kept (n bigint) USING parquet;
             INSERT INTO shop.kept VALUES (1);",
        )
        .await
        .unwrap();
    let prefix = format!("{}/managed/shop.db", bucket_path(&root));
    let before = object_paths(&store, &prefix).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(
        before[0].starts_with(&format!("{prefix}/kept/part-")),
        "{before:?}"
    );

    for (sql, code) in [
        (
            "INSERT INTO shop.kept SELECT 10 / (n - 900) FROM public.numbers",
            "22012",
        ),
        (
            "CREATE TABLE shop.never AS SELECT 10 / (n - 900) AS x FROM public.numbers",
            "22012",
        ),
    ] {
        fails_with(&client, sql, code).await;
    }
    client
        .batch_execute("SET statement_timeout = 300")
        .await
        .unwrap();
    fails_with(
        &client,
        "INSERT INTO shop.kept SELECT a.n * b.n FROM public.numbers a, public.numbers b, public.numbers c",
        "57014",
    )
    .await;
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();

    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM shop.kept").await,
        vec![vec![Some("1".to_string())]]
    );
    fails_with(&client, "SELECT * FROM shop.never", "42P01").await;
    let mut after = object_paths(&store, &prefix).await;
    for _ in 0..100 {
        if after == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = object_paths(&store, &prefix).await;
    }
    assert_eq!(after, before, "only the first INSERT's file remains");
}
