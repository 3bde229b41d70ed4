//! lakeport on a real Hive Metastore, shared with a real Spark: tables and views Spark
//! creates are queried from lakeport with Spark's results, tables, partitions and views
//! lakeport creates are read by Spark, and a metastore that stops and comes back
//! mid-session.
//!
//! Needs the metastore `.ci/run` starts with `../shared/tools/hive-metastore.sh`:
//! `HMS_TEST_ADDRESS=host:port` and `HMS_TEST_DIR` (its `--dir`, which `sql` needs to run
//! Spark against it). Without them the tests skip, loudly, unless REQUIRE_HMS is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lakeport::auth::AuthMethod;
use lakeport::config::CatalogBackend;
use lakeport_catalog::Metastore;
use lakeport_catalog::hive::HiveMetastore;
use lakeport_catalog::model::DEFAULT_DATABASE;
use tokio_postgres::SimpleQueryMessage;

use crate::harness::{TestServer, free_port, scratch_dir, simple_rows};
use crate::security::{login, secure};

pub struct SharedMetastore {
    address: String,
    dir: PathBuf,
}

pub fn shared_metastore() -> Option<SharedMetastore> {
    match (
        std::env::var("HMS_TEST_ADDRESS"),
        std::env::var("HMS_TEST_DIR"),
    ) {
        (Ok(address), Ok(dir)) => Some(SharedMetastore {
            address,
            dir: dir.into(),
        }),
        _ => {
            assert!(
                std::env::var_os("REQUIRE_HMS").is_none(),
                "REQUIRE_HMS is set but HMS_TEST_ADDRESS or HMS_TEST_DIR is not"
            );
            eprintln!(
                "\n*** SKIPPED: no Hive Metastore (set HMS_TEST_ADDRESS=host:port and HMS_TEST_DIR) ***\n"
            );
            None
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/hive-metastore.sh")
}

/// Runs Spark SQL against the metastore started in `dir`; its output, one line per row, columns
/// separated by tabs, each statement's output after a `-- statement` line and a header.
fn spark_sql(dir: &Path, sql: &str) -> String {
    // Spark's session leaves a directory in the JVM's temporary directory: in scratch, not /tmp.
    let tmp = scratch_dir("spark-tmp");
    let output = Command::new("bash")
        .arg(script())
        .arg("sql")
        .arg("--dir")
        .arg(dir)
        .args(["-e", sql])
        .env(
            "_JAVA_OPTIONS",
            format!("-Djava.io.tmpdir={}", tmp.display()),
        )
        .output()
        .expect("run Spark SQL");
    assert!(
        output.status.success(),
        "Spark SQL failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The rows Spark printed for the statement starting with `statement`.
fn spark_rows(output: &str, statement: &str) -> Vec<Vec<String>> {
    let marker = format!("-- {statement}");
    let section = output
        .split("\n-- ")
        .map(|s| s.trim_start_matches("-- "))
        .find(|s| format!("-- {s}").starts_with(&marker))
        .unwrap_or_else(|| panic!("no output for {statement} in:\n{output}"));
    section
        .lines()
        .skip(2)
        .filter(|line| !line.is_empty())
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect()
}

/// lakeport's rows as Spark prints them (NULL for nulls).
async fn lakeport_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    simple_rows(client, sql)
        .await
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

async fn server_on(address: &str, warehouse_dir: &Path) -> TestServer {
    server_configured(address, warehouse_dir, |_| {}).await
}

/// A lakeport on the metastore at `address`, whose configuration `adjust` may change too.
async fn server_configured(
    address: &str,
    warehouse_dir: &Path,
    adjust: impl FnOnce(&mut lakeport::Config),
) -> TestServer {
    let uri = format!("thrift://{address}");
    let allowed = warehouse_dir.display().to_string();
    TestServer::start_with(|config| {
        config.catalog.backend = CatalogBackend::Hive;
        config.catalog.uri = uri;
        config.catalog.timeout = "5s".into();
        config.storage.allowed_locations.push(allowed);
        adjust(config);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_and_lakeport_share_tables_through_the_metastore() {
    let Some(hms) = shared_metastore() else {
        return;
    };
    let db = format!("interop{}", std::process::id());
    let lake = scratch_dir("hive-interop");
    let spark = spark_sql(
        &hms.dir,
        &format!(
            "CREATE DATABASE {db} LOCATION '{lake}/{db}.db';
             CREATE TABLE {db}.sales (id BIGINT COMMENT 'order id', userName STRING, amount DECIMAL(10,2), tags ARRAY<STRING>, day STRING) USING parquet PARTITIONED BY (day);
             INSERT INTO {db}.sales VALUES (1, 'Ann', 2.50, array('a', 'b'), '2024-01-01'), (2, NULL, 3.00, array(), '2024-01-02'), (3, 'Bo', 10.25, NULL, '2024-01-02');
             CREATE TABLE {db}.people (id INT, name STRING) USING csv OPTIONS (header 'true');
             INSERT INTO {db}.people VALUES (1, 'x'), (2, 'y, z');
             CREATE TABLE {db}.hive_text (a INT, b STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY '|' STORED AS TEXTFILE;
             INSERT INTO {db}.hive_text VALUES (1, 'one'), (2, NULL), (3, '\"hi\" there');
             CREATE TABLE {db}.clicks (id BIGINT, at TIMESTAMP, price DECIMAL(10,2), tags ARRAY<STRING>, day STRING) USING json PARTITIONED BY (day);
             INSERT INTO {db}.clicks VALUES (1, TIMESTAMP '2024-01-01 10:00:00', 2.50, array('a', 'b'), '2024-01-01'), (2, NULL, NULL, NULL, '2024-01-02');
             CREATE TABLE {db}.orc_events (a INT) USING orc;
             CREATE VIEW {db}.big_sales AS SELECT id, amount FROM {db}.sales WHERE amount > 2.75;
             SELECT * FROM {db}.big_sales ORDER BY id;
             SELECT id, userName, amount, day FROM {db}.sales ORDER BY id;
             SELECT day, count(*), sum(amount) FROM {db}.sales GROUP BY day ORDER BY day;
             SELECT * FROM {db}.people ORDER BY id;
             SELECT * FROM {db}.hive_text ORDER BY a;
             SELECT id, at, price, concat_ws('|', tags), day FROM {db}.clicks ORDER BY id",
            lake = lake.display()
        ),
    );

    let server = server_on(&hms.address, &lake).await;
    let client = server.connect().await;
    let tables = lakeport_rows(
        &client,
        &format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}' ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(
        tables,
        [
            ["big_sales"],
            ["clicks"],
            ["hive_text"],
            ["people"],
            ["sales"]
        ],
        "tables in formats lakeport does not read are left out"
    );
    let orc = client
        .simple_query(&format!("SELECT * FROM {db}.orc_events"))
        .await
        .expect_err("ORC is not read");
    assert_eq!(sqlstate(&orc), "0A000", "{orc:?}");
    for (spark_statement, lakeport_sql) in [
        (
            format!("SELECT id, userName, amount, day FROM {db}.sales ORDER BY id"),
            format!("SELECT id, \"userName\", amount, day FROM {db}.sales ORDER BY id"),
        ),
        (
            format!("SELECT day, count(*), sum(amount) FROM {db}.sales GROUP BY day"),
            format!("SELECT day, count(*), sum(amount) FROM {db}.sales GROUP BY day ORDER BY day"),
        ),
        (
            format!("SELECT * FROM {db}.people ORDER BY id"),
            format!("SELECT * FROM {db}.people ORDER BY id"),
        ),
        (
            format!("SELECT * FROM {db}.hive_text ORDER BY a"),
            format!("SELECT * FROM {db}.hive_text ORDER BY a"),
        ),
        (
            format!("SELECT * FROM {db}.big_sales ORDER BY id"),
            format!("SELECT * FROM {db}.big_sales ORDER BY id"),
        ),
        (
            format!("SELECT id, at, price, concat_ws('|', tags), day FROM {db}.clicks ORDER BY id"),
            format!("SELECT id, at, price, concat_ws('|', tags), day FROM {db}.clicks ORDER BY id"),
        ),
    ] {
        assert_eq!(
            lakeport_rows(&client, &lakeport_sql).await,
            spark_rows(&spark, &spark_statement),
            "{lakeport_sql}"
        );
    }
    // The metastore filters the partitions: only the one asked for reaches the scan.
    assert_eq!(
        lakeport_rows(
            &client,
            &format!("SELECT count(*) FROM {db}.sales WHERE day = '2024-01-02'")
        )
        .await,
        [["2"]]
    );
    assert_eq!(
        lakeport_rows(
            &client,
            &format!(
                "SELECT partitions, partitions_pruned FROM lakeport.query_history \
                 WHERE query LIKE 'SELECT count(*) FROM {db}.sales WHERE day%' \
                 ORDER BY query_id DESC LIMIT 1"
            )
        )
        .await,
        [["1", "0"]],
        "partitions listed by the metastore's filter"
    );
    assert_eq!(
        lakeport_rows(
            &client,
            &format!(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = '{db}' AND table_name = 'sales' ORDER BY ordinal_position"
            )
        )
        .await,
        [
            ["id", "bigint"],
            ["userName", "text"],
            ["amount", "numeric"],
            ["tags", "ARRAY"],
            ["day", "text"]
        ]
    );

    client
        .batch_execute(&format!(
            "CREATE TABLE {db}.made_here (id INT, label VARCHAR(10), region STRING) USING parquet PARTITIONED BY (region);
             INSERT INTO {db}.made_here VALUES (1, 'north one', 'north'), (2, 'south one', 'south'), (3, 'null region', NULL);
             CREATE TABLE {db}.made_csv (id INT, note STRING) USING csv OPTIONS (header 'true', delimiter ';');
             INSERT INTO {db}.made_csv VALUES (1, 'a'), (2, NULL);
             CREATE EXTERNAL TABLE {db}.made_external (id INT, label VARCHAR(10)) USING parquet PARTITIONED BY (region STRING) LOCATION '{lake}/{db}.db/made_here';
             ALTER TABLE {db}.made_external DROP PARTITION (region = 'south');
             CREATE TABLE {db}.made_json (id INT, at TIMESTAMP, price DECIMAL(10,2), tags ARRAY<STRING>) USING json OPTIONS (compression 'gzip');
             INSERT INTO {db}.made_json VALUES (1, TIMESTAMP '2024-01-01 10:00:00', 2.50, array('a', 'b')), (2, NULL, NULL, NULL);
             CREATE VIEW {db}.made_view AS SELECT id, upper(label) AS shout FROM {db}.made_here WHERE id < 3;
             CREATE TABLE {db}.to_rename (id INT) USING parquet;
             INSERT INTO {db}.to_rename VALUES (7);
             ALTER TABLE {db}.to_rename RENAME TO {db}.renamed;",
            lake = lake.display()
        ))
        .await
        .expect("lakeport DDL and INSERT on the metastore");
    let spark = spark_sql(
        &hms.dir,
        &format!(
            "SELECT id, label, region FROM {db}.made_here ORDER BY id;
             SHOW PARTITIONS {db}.made_here;
             SELECT * FROM {db}.made_csv ORDER BY id;
             SELECT * FROM {db}.made_external ORDER BY id;
             SELECT * FROM {db}.made_view ORDER BY id;
             SELECT * FROM {db}.renamed;
             SELECT id, at, price, concat_ws('|', tags) FROM {db}.made_json ORDER BY id"
        ),
    );
    for (spark_statement, lakeport_sql) in [
        (
            format!("SELECT id, label, region FROM {db}.made_here ORDER BY id"),
            format!("SELECT id, label, region FROM {db}.made_here ORDER BY id"),
        ),
        (
            format!("SELECT * FROM {db}.made_csv ORDER BY id"),
            format!("SELECT * FROM {db}.made_csv ORDER BY id"),
        ),
        (
            format!("SELECT * FROM {db}.made_external ORDER BY id"),
            format!("SELECT * FROM {db}.made_external ORDER BY id"),
        ),
        (
            format!("SELECT * FROM {db}.made_view ORDER BY id"),
            format!("SELECT * FROM {db}.made_view ORDER BY id"),
        ),
        (
            format!("SELECT * FROM {db}.renamed"),
            format!("SELECT * FROM {db}.renamed"),
        ),
        (
            format!("SELECT id, at, price, concat_ws('|', tags) FROM {db}.made_json ORDER BY id"),
            format!("SELECT id, at, price, concat_ws('|', tags) FROM {db}.made_json ORDER BY id"),
        ),
    ] {
        assert_eq!(
            spark_rows(&spark, &spark_statement),
            lakeport_rows(&client, &lakeport_sql).await,
            "Spark reads what lakeport wrote: {spark_statement}"
        );
    }
    assert_eq!(
        spark_rows(&spark, &format!("SHOW PARTITIONS {db}.made_here")),
        [
            ["region=__HIVE_DEFAULT_PARTITION__"],
            ["region=north"],
            ["region=south"]
        ]
    );

    client
        .batch_execute(&format!("DROP DATABASE {db} CASCADE"))
        .await
        .expect("drop the test database");
}

/// A metastore of the test's own (the shared one must stay up for the other tests).
pub struct OwnMetastore {
    dir: PathBuf,
    port: u16,
}

impl OwnMetastore {
    fn start(dir: &Path, port: u16) -> Self {
        let status = Command::new("bash")
            .arg(script())
            .args(["start", "--port", &port.to_string(), "--dir"])
            .arg(dir)
            .status()
            .expect("run hive-metastore.sh start");
        assert!(status.success(), "the metastore did not start");
        Self {
            dir: dir.to_path_buf(),
            port,
        }
    }

    /// A new metastore in a scratch directory, on a free port.
    pub fn start_fresh(purpose: &str) -> Self {
        Self::start(&scratch_dir(purpose), free_port())
    }

    fn stop(&self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", "--dir"])
            .arg(&self.dir)
            .status();
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A lakeport using this metastore.
    pub async fn lakeport(&self) -> TestServer {
        server_on(&self.address(), &self.dir).await
    }

    /// Drops every database but `default`, every table of `default`, and the files of
    /// managed tables, as if the metastore were new.
    pub async fn empty(&self) {
        let metastore = HiveMetastore::new(
            &format!("thrift://{}", self.address()),
            Duration::from_secs(30),
        )
        .expect("the metastore's URI");
        for database in metastore.list_databases().await.expect("list databases") {
            if database == DEFAULT_DATABASE {
                for table in metastore.list_tables(&database).await.expect("list tables") {
                    metastore
                        .drop_table(&database, &table)
                        .await
                        .expect("drop a table");
                }
            } else {
                metastore
                    .drop_database(&database, true)
                    .await
                    .expect("drop a database");
            }
        }
        let warehouse = self.dir.join("warehouse");
        let _ = std::fs::remove_dir_all(&warehouse);
        std::fs::create_dir_all(&warehouse).expect("recreate the warehouse");
    }
}

impl Drop for OwnMetastore {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metastore_that_restarts_mid_session_is_reconnected() {
    if shared_metastore().is_none() {
        return;
    }
    let metastore = OwnMetastore::start_fresh("hive-restart");
    let (dir, port) = (metastore.dir.clone(), metastore.port);
    let server = server_configured(&metastore.address(), &dir, |config| {
        secure(config, AuthMethod::ScramSha256)
    })
    .await;
    let login = |user, password| login(server.port, user, Some(password));
    let client = login("admin", "adminpw").await.expect("admin login");
    client
        .batch_execute(
            "CREATE DATABASE restart_db;
             CREATE TABLE restart_db.t (id INT) USING parquet;
             INSERT INTO restart_db.t VALUES (1), (2)",
        )
        .await
        .expect("set up");
    let count = "SELECT count(*) FROM restart_db.t";
    assert_eq!(lakeport_rows(&client, count).await, [["2"]]);

    metastore.stop();
    // Past the catalog cache's TTL, the next statement needs the metastore.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let error = client
        .simple_query("SELECT count(*) FROM restart_db.t")
        .await
        .expect_err("the metastore is down");
    assert!(sqlstate(&error).starts_with("58"), "{error:?}");
    assert!(
        error
            .as_db_error()
            .is_some_and(|e| e.message().contains(&format!("127.0.0.1:{port}"))),
        "the error names the metastore: {error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a down metastore fails fast: {:?}",
        started.elapsed()
    );
    // A reader's privileges come from grants in the metastore; they cannot be read now,
    // and statements that need no catalog still run.
    let reader = login("reader", "readerpw").await.expect("reader login");
    let rows = reader
        .simple_query("SELECT 1")
        .await
        .expect("unrelated statements still run");
    assert!(rows.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))));

    let _metastore = OwnMetastore::start(&dir, port);
    assert_eq!(
        lakeport_rows(&client, count).await,
        [["2"]],
        "the same session goes on once the metastore is back"
    );
}

/// Issue 11's "done when": a Spark SQL notebook's queries over tables Spark made run on
/// lakeport unchanged, with Spark's rows (every query here is sent to both as the same text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spark_notebook_runs_unchanged_with_sparks_results() {
    let Some(hms) = shared_metastore() else {
        return;
    };
    let db = format!("notebook{}", std::process::id());
    let setup = format!(
        "CREATE DATABASE {db};
         CREATE TABLE {db}.orders (id INT, customer STRING, region STRING, day DATE, qty INT, tags STRING, note STRING, payload STRING) USING parquet;
         INSERT INTO {db}.orders VALUES
           (1, 'ann', 'north', DATE'2023-12-30', 3, 'red,blue', NULL, '{{\"size\":\"L\",\"n\":[1,2]}}'),
           (2, 'bob', 'south', DATE'2024-01-02', 1, 'blue', 'gift', '{{\"size\":\"M\"}}'),
           (3, 'ann', 'north', DATE'2024-02-29', 5, '', NULL, 'not json'),
           (4, 'cid', 'east', DATE'2024-03-01', 2, 'red', 'rush', NULL),
           (5, 'bob', 'south', DATE'2023-11-15', 4, NULL, NULL, '{{\"size\":\"S\"}}');
         CREATE TABLE {db}.customers (name STRING, since DATE) USING parquet;
         INSERT INTO {db}.customers VALUES ('ann', DATE'2020-05-31'), ('bob', DATE'2021-01-31'), ('dee', DATE'2022-08-15');
         CREATE VIEW {db}.big_orders AS SELECT `id`, `customer`, qty * 10 AS `points` FROM {db}.orders WHERE qty > 2;
         ANALYZE TABLE {db}.orders COMPUTE STATISTICS FOR COLUMNS qty, customer"
    );
    let notebook = [
        format!(
            "SELECT `region`, count(*) AS n, sum(`qty`) AS total FROM `{db}`.`orders` GROUP BY `region` ORDER BY `region`"
        ),
        format!(
            "SELECT c.name FROM {db}.customers c LEFT SEMI JOIN {db}.orders o ON c.name = o.customer ORDER BY c.name"
        ),
        format!(
            "SELECT c.name FROM {db}.customers c LEFT ANTI JOIN {db}.orders o ON c.name = o.customer"
        ),
        format!(
            "SELECT id, tag FROM {db}.orders LATERAL VIEW explode(split(tags, ',')) t AS tag ORDER BY id, tag"
        ),
        format!(
            "SELECT id, pos, tag FROM {db}.orders LATERAL VIEW OUTER posexplode(split(tags, ',')) t AS pos, tag WHERE id > 3 ORDER BY id, pos"
        ),
        format!(
            "SELECT * FROM (SELECT region, date_format(day, 'yyyy') AS y, qty FROM {db}.orders) PIVOT (sum(qty) FOR y IN ('2023' AS y2023, '2024' AS y2024)) ORDER BY region"
        ),
        format!(
            "SELECT customer, datediff(max(day), min(day)) AS span, date_format(min(day), 'yyyy-MM') AS first_month, months_between(max(day), min(day)) > 1 AS long FROM {db}.orders GROUP BY customer ORDER BY customer"
        ),
        format!(
            "SELECT id, date_add(day, 1) AS next, add_months(day, 1) AS month_later, last_day(day) AS month_end, trunc(day, 'MM') AS month_start FROM {db}.orders ORDER BY id"
        ),
        format!(
            "SELECT id, qty DIV 2 AS half, nvl(note, 'none') AS note, if(qty > 2, 'big', 'small') AS size FROM {db}.orders ORDER BY id"
        ),
        format!(
            "SELECT customer, day, sum(qty) OVER (PARTITION BY customer ORDER BY day) AS running FROM {db}.orders ORDER BY customer, day"
        ),
        format!(
            "SELECT percentile_approx(qty, 0.5) AS median, approx_count_distinct(customer) AS customers FROM {db}.orders"
        ),
        format!(
            "SELECT customer, concat_ws(',', array_sort(collect_set(region))) AS regions, size(collect_list(tags)) AS tagged FROM {db}.orders GROUP BY customer ORDER BY customer"
        ),
        format!(
            "SELECT id, get_json_object(payload, '$.size') AS size, get_json_object(payload, '$.n[1]') AS second FROM {db}.orders ORDER BY id"
        ),
        format!(
            "SELECT customer, sum(points) AS points FROM {db}.big_orders GROUP BY customer ORDER BY customer"
        ),
        format!("SELECT count(*) AS n FROM {db}.orders TABLESAMPLE (100 PERCENT)"),
        format!(
            "WITH recent AS (SELECT * FROM {db}.orders WHERE day >= DATE'2024-01-01') SELECT r.customer, count(*) AS n FROM recent r GROUP BY r.customer ORDER BY r.customer"
        ),
        format!(
            "SELECT id, customer <=> 'ann' AS is_ann FROM {db}.orders WHERE note IS NULL ORDER BY id"
        ),
        format!(
            "SELECT year(day) AS y, month(day) AS m, count_if(qty > 2) AS big, max_by(customer, qty) AS top FROM {db}.orders GROUP BY year(day), month(day) ORDER BY y, m"
        ),
        format!(
            "SELECT customer, string(sum(qty)) AS total, dayofweek(min(day)) AS dow FROM {db}.orders WHERE customer RLIKE '^(ann|bob)$' GROUP BY customer ORDER BY customer"
        ),
        format!(
            "SELECT region, grouping_id() AS g, sum(qty) AS qty FROM {db}.orders GROUP BY ROLLUP(region) ORDER BY g, region"
        ),
        format!(
            "SELECT id, size(filter(split(tags, ','), t -> t <> '')) AS n, exists(split(tags, ','), t -> t = 'red') AS red FROM {db}.orders WHERE tags IS NOT NULL ORDER BY id"
        ),
    ];
    let spark = spark_sql(&hms.dir, &format!("{setup};\n{}", notebook.join(";\n")));
    let server = server_on(&hms.address, &scratch_dir("notebook")).await;
    let client = server.connect().await;
    for query in &notebook {
        let expected: Vec<Vec<String>> = spark_rows(&spark, query)
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|cell| match cell.as_str() {
                        "True" => "t".to_string(),
                        "False" => "f".to_string(),
                        _ => cell,
                    })
                    .collect()
            })
            .collect();
        assert!(!expected.is_empty(), "Spark returned no rows for {query}");
        assert_eq!(
            lakeport_rows(&client, query).await,
            expected,
            "lakeport gives Spark's rows for {query}"
        );
    }

    let counted = format!(
        "SELECT reltuples FROM pg_class c JOIN pg_namespace n ON c.relnamespace = n.oid \
         WHERE n.nspname = '{db}' AND c.relname = 'orders'"
    );
    assert_eq!(
        lakeport_rows(&client, &counted).await,
        [["5"]],
        "Spark's ANALYZE reaches lakeport"
    );
    let info = |rows: Vec<Vec<String>>, names: &[&str]| -> Vec<String> {
        names
            .iter()
            .map(|name| {
                rows.iter()
                    .find(|row| row[0] == *name)
                    .map(|row| row[1].clone())
                    .unwrap_or_else(|| panic!("no {name} in {rows:?}"))
            })
            .collect()
    };
    let bounds = ["min", "max", "num_nulls", "distinct_count"];
    let qty = format!("DESCRIBE EXTENDED {db}.orders qty");
    assert_eq!(
        info(lakeport_rows(&client, &qty).await, &bounds),
        ["1", "5", "0", "5"],
        "Spark's column statistics reach lakeport"
    );
    let customer = format!("DESCRIBE EXTENDED {db}.orders customer");
    assert_eq!(
        info(
            lakeport_rows(&client, &customer).await,
            &["min", "num_nulls", "distinct_count", "max_col_len"]
        ),
        ["NULL", "0", "3", "3"],
    );
    client
        .batch_execute(&format!(
            "ANALYZE TABLE {db}.customers COMPUTE STATISTICS FOR COLUMNS since"
        ))
        .await
        .unwrap();
    let described = format!("DESCRIBE TABLE EXTENDED {db}.customers");
    let since = format!("DESCRIBE EXTENDED {db}.customers since");
    let spark = spark_sql(
        &hms.dir,
        &format!("{described};\n{since};\nDROP DATABASE {db} CASCADE"),
    );
    let statistics = spark_rows(&spark, &described)
        .into_iter()
        .find(|row| row[0] == "Statistics")
        .unwrap_or_else(|| panic!("Spark shows no statistics:\n{spark}"));
    assert!(
        statistics[1].ends_with(" bytes, 3 rows"),
        "lakeport's ANALYZE reaches Spark: {statistics:?}"
    );
    assert_eq!(
        info(spark_rows(&spark, &since), &bounds),
        ["2020-05-31", "2022-08-15", "0", "3"],
        "lakeport's column statistics reach Spark"
    );
}
