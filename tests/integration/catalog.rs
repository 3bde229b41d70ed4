//! The catalog over the wire: what survives a restart, what `kill -9` in the middle of DDL
//! leaves behind (nothing half-written), connections racing the same DDL, the lifetime of
//! temporary views, MSCK REPAIR against directories that come and go, and SHOW CREATE TABLE's text (also of a table made `LIKE` another). The statements themselves are covered by
//! `tests/slt/catalog/`.

use std::path::Path;

use std::sync::Arc;
use std::time::Duration;

use lakeport_catalog::{EmbeddedMetastore, Metastore};
use tokio_postgres::NoTls;

use crate::harness::{TestServer, free_port, lake, scratch_dir, simple_rows, spawn_server};

fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {error}"))
}

fn text(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|row| row.into_iter().map(|v| v.unwrap_or_default()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_views_and_partitions_survive_a_restart() {
    let warehouse = scratch_dir("restart");
    let lake = lake().display().to_string();
    const OIDS: &str = "SELECT c.relname, c.oid, n.oid FROM pg_catalog.pg_class c \
                        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                        WHERE n.nspname = 'shop' ORDER BY 1";
    let oids_before: Vec<Vec<String>>;
    {
        let server = TestServer::start_in(&warehouse, |_| {}).await;
        let client = server.connect().await;
        client
            .batch_execute(&format!(
                "CREATE DATABASE shop COMMENT 'kept';
                 CREATE EXTERNAL TABLE shop.events USING parquet LOCATION '{lake}/events';
                 CREATE TABLE shop.cities USING csv OPTIONS (header 'true') LOCATION '{lake}/cities';
                 ALTER TABLE shop.events DROP PARTITION (year=2025, month=1);
                 ALTER TABLE shop.events SET TBLPROPERTIES ('kept' = 'yes');
                 CREATE VIEW shop.big AS SELECT name FROM shop.cities WHERE population > 600000;
                 CREATE TEMPORARY VIEW scratch AS SELECT 1 AS one;"
            ))
            .await
            .expect("set up the catalog");
        assert_eq!(
            text(simple_rows(&client, "SELECT one FROM scratch").await),
            [["1"]]
        );
        oids_before = text(simple_rows(&client, OIDS).await);
    }
    let server = TestServer::start_in(&warehouse, |_| {}).await;
    let client = server.connect().await;
    assert_eq!(
        text(simple_rows(&client, "SELECT count(*) FROM shop.events").await),
        [["6"]],
        "the dropped partition stays dropped"
    );
    assert_eq!(
        text(simple_rows(&client, "SHOW PARTITIONS shop.events").await),
        [["year=2024/month=1"], ["year=2024/month=2"]]
    );
    assert_eq!(
        text(simple_rows(&client, "SELECT * FROM shop.big").await),
        [["Amsterdam"]]
    );
    assert_eq!(
        text(simple_rows(&client, "SHOW TBLPROPERTIES shop.events ('kept')").await),
        [["kept", "yes"]]
    );
    let oids_after = text(simple_rows(&client, OIDS).await);
    assert_eq!(oids_before.len(), 3, "{oids_before:?}");
    assert_eq!(oids_after, oids_before, "OIDs are stable across restarts");
    let gone = client
        .simple_query("SELECT * FROM scratch")
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&gone),
        "42P01",
        "temporary views end with their connection"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(warehouse);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_views_belong_to_one_connection_global_ones_to_all() {
    let server = TestServer::start().await;
    let first = server.connect().await;
    let second = server.connect().await;
    first
        .batch_execute(
            "CREATE TEMP VIEW mine AS SELECT 1 AS x;
             CREATE GLOBAL TEMP VIEW ours AS SELECT 2 AS y",
        )
        .await
        .unwrap();
    let error = second.simple_query("SELECT x FROM mine").await.unwrap_err();
    assert_eq!(sqlstate(&error), "42P01");
    assert_eq!(
        text(simple_rows(&second, "SELECT y FROM global_temp.ours").await),
        [["2"]]
    );
    drop(first);
    let third = server.connect().await;
    assert_eq!(
        text(simple_rows(&third, "SELECT y FROM global_temp.ours").await),
        [["2"]],
        "global temporary views outlive the connection that made them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_racing_the_same_ddl_see_exactly_one_winner() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(Arc::new(server.connect().await));
    }
    async fn race(clients: &[Arc<tokio_postgres::Client>], sql: &str) -> (usize, Vec<String>) {
        let tasks: Vec<_> = clients
            .iter()
            .map(|client| {
                let client = client.clone();
                let sql = sql.to_string();
                tokio::spawn(async move { client.batch_execute(&sql).await })
            })
            .collect();
        let mut winners = 0;
        let mut losers = Vec::new();
        for task in tasks {
            match task.await.expect("racer finished") {
                Ok(()) => winners += 1,
                Err(e) => losers.push(sqlstate(&e)),
            }
        }
        (winners, losers)
    }
    let expect = |(winners, losers): (usize, Vec<String>), code: &str, what: &str| {
        assert_eq!(winners, 1, "{what}: {losers:?}");
        assert!(losers.iter().all(|c| c == code), "{what}: {losers:?}");
    };
    expect(
        race(&clients, "CREATE DATABASE race").await,
        "42P06",
        "CREATE DATABASE",
    );
    expect(
        race(&clients, "CREATE TABLE race.t (id int) USING parquet").await,
        "42P07",
        "CREATE TABLE",
    );
    expect(
        race(&clients, "CREATE VIEW race.v AS SELECT 1 AS one").await,
        "42P07",
        "CREATE VIEW",
    );
    expect(
        race(&clients, "DROP TABLE race.t").await,
        "42P01",
        "DROP TABLE",
    );
    expect(
        race(&clients, "DROP DATABASE race CASCADE").await,
        "3F000",
        "DROP DATABASE",
    );
    assert_eq!(
        text(simple_rows(&clients[0], "SHOW DATABASES LIKE 'race'").await),
        Vec::<Vec<String>>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_create_table_prints_spark_ddl() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE shaped (id int COMMENT 'the key', word string, day date)
             USING csv OPTIONS (delimiter '|') PARTITIONED BY (day) COMMENT 'it''s managed'
             TBLPROPERTIES ('a' = 'b')",
        )
        .await
        .unwrap();
    let rows = text(simple_rows(&client, "SHOW CREATE TABLE shaped").await);
    assert_eq!(
        rows[0][0],
        "CREATE TABLE `default`.`shaped` (\n  `id` INT COMMENT 'the key',\n  `word` STRING,\n  `day` DATE)\n\
         USING csv\nOPTIONS (\n  'delimiter' = '|')\nPARTITIONED BY (`day`)\nCOMMENT 'it\\'s managed'\n\
         TBLPROPERTIES (\n  'a' = 'b')"
    );
    client
        .batch_execute(
            "CREATE TABLE copied LIKE shaped; CREATE TABLE as_parquet LIKE shaped USING parquet",
        )
        .await
        .unwrap();
    let rows = text(simple_rows(&client, "SHOW CREATE TABLE copied").await);
    assert_eq!(
        rows[0][0],
        "CREATE TABLE `default`.`copied` (\n  `id` INT COMMENT 'the key',\n  `word` STRING,\n  `day` DATE)\n\
         USING csv\nOPTIONS (\n  'delimiter' = '|')\nPARTITIONED BY (`day`)",
        "LIKE copies columns, partitioning, format and options, not the comment or properties"
    );
    let rows = text(simple_rows(&client, "SHOW CREATE TABLE as_parquet").await);
    assert_eq!(
        rows[0][0],
        "CREATE TABLE `default`.`as_parquet` (\n  `id` INT COMMENT 'the key',\n  `word` STRING,\n  `day` DATE)\n\
         USING parquet\nPARTITIONED BY (`day`)"
    );
}

/// A port that was free a moment ago, for a server process started by the test.
async fn connect_with_retry(port: u16) -> tokio_postgres::Client {
    let config = format!("host=127.0.0.1 port={port} user=tester dbname=lakeport");
    for _ in 0..200 {
        if let Ok((client, connection)) = tokio_postgres::connect(&config, NoTls).await {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the lakeport process on port {port} did not accept connections");
}

/// DDL in a loop until the server dies: every statement is a whole step the catalog must
/// either hold or not.
async fn ddl_until_killed(client: tokio_postgres::Client, round: usize, lake: String) -> usize {
    let mut done = 0;
    for i in 0.. {
        let db = format!("r{round}_{i}");
        let statements = [
            format!("CREATE DATABASE {db}"),
            format!("CREATE EXTERNAL TABLE {db}.events USING parquet LOCATION '{lake}/events'"),
            format!("CREATE VIEW {db}.v AS SELECT count(*) AS n FROM {db}.events"),
            format!("ALTER TABLE {db}.events DROP PARTITION (year=2025, month=1)"),
            format!("ALTER TABLE {db}.events ADD PARTITION (year=2025, month=1)"),
            format!("ALTER TABLE {db}.events SET TBLPROPERTIES ('round' = '{round}')"),
            format!("CREATE TABLE {db}.managed (id bigint) USING parquet"),
            format!("DROP TABLE {db}.managed"),
        ];
        for statement in statements {
            if client.batch_execute(&statement).await.is_err() {
                return done;
            }
            done += 1;
        }
        if i % 2 == 1
            && client
                .batch_execute(&format!("DROP DATABASE {db} CASCADE"))
                .await
                .is_err()
        {
            return done;
        }
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ddl_leaves_nothing_half_written() {
    let warehouse = scratch_dir("kill9");
    let lake = lake().display().to_string();
    let rounds = 15;
    let mut statements = 0;
    for round in 0..rounds {
        let port = free_port();
        let mut server = spawn_server(&warehouse, port, &[]);
        let client = connect_with_retry(port).await;
        let ddl = tokio::spawn(ddl_until_killed(client, round, lake.clone()));
        tokio::time::sleep(Duration::from_millis(40 + 37 * round as u64 % 300)).await;
        server.0.kill().expect("kill -9 the server");
        server.0.wait().expect("reap the server");
        let ran = ddl.await.expect("the DDL loop ends when the server dies");
        eprintln!("round {round}: killed after {ran} DDL statements");
        statements += ran;

        let metastore = EmbeddedMetastore::open(
            &warehouse.join(lakeport_catalog::embedded::FILE_NAME),
            "file:///unused",
        )
        .expect("the metastore opens after kill -9");
        let problems = metastore.check_integrity().await.unwrap();
        assert!(problems.is_empty(), "round {round}: {problems:?}");
        for database in metastore.list_databases().await.unwrap() {
            for name in metastore.list_tables(&database).await.unwrap() {
                let table = metastore.get_table(&database, &name).await.unwrap();
                match name.as_str() {
                    "events" => {
                        let partitions = metastore.list_partitions(&database, &name).await.unwrap();
                        assert!(
                            matches!(partitions.len(), 2 | 3),
                            "round {round}: {database}.events has {} partitions",
                            partitions.len()
                        );
                        assert_eq!(table.columns.len(), 4, "round {round}: {database}.events");
                    }
                    "v" => assert!(table.view_text.is_some(), "round {round}: {database}.v"),
                    "managed" => assert_eq!(table.columns.len(), 1),
                    other => panic!("round {round}: unexpected table {database}.{other}"),
                }
            }
        }
    }
    assert!(
        statements >= rounds,
        "the servers were killed before running any DDL ({statements} statements)"
    );
    let port = free_port();
    let _server = spawn_server(&warehouse, port, &[]);
    let client = connect_with_retry(port).await;
    let databases = simple_rows(&client, "SHOW DATABASES LIKE 'r*'").await;
    assert!(
        !databases.is_empty(),
        "some databases were created and kept"
    );
    let _ = std::fs::remove_dir_all(&warehouse);
}

/// The files under a managed table's directory, by visibility: (visible, hidden).
fn table_files(warehouse: &Path, table: &str) -> (Vec<String>, Vec<String>) {
    let mut visible = Vec::new();
    let mut hidden = Vec::new();
    let mut pending = vec![warehouse.join(table)];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory)
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                pending.push(path);
            } else if name.starts_with('.') || name.starts_with('_') {
                hidden.push(name);
            } else {
                visible.push(name);
            }
        }
    }
    (visible, hidden)
}

/// Waits (up to five seconds) until the table directory holds no hidden in-progress files.
async fn hidden_files_drain(warehouse: &Path, table: &str) -> Vec<String> {
    for _ in 0..100 {
        let (_, hidden) = table_files(warehouse, table);
        if hidden.is_empty() {
            return hidden;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    table_files(warehouse, table).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_cancelled_writes_leave_the_table_as_it_was() {
    let server = TestServer::start_with(|config| config.engine.batch_size = 64).await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE kept (n bigint) USING parquet;
             INSERT INTO kept VALUES (1);
             CREATE TABLE parts (n bigint, k bigint) USING parquet PARTITIONED BY (k);
             INSERT INTO parts VALUES (1, 1);",
        )
        .await
        .unwrap();
    let before = table_files(&server.warehouse, "kept").0;
    assert_eq!(before.len(), 1, "{before:?}");

    // Rows 1..899 are written before the division fails.
    let failed = client
        .batch_execute("INSERT INTO kept SELECT 10 / (n - 900) FROM public.numbers")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&failed), "22012");
    let failed = client
        .batch_execute("INSERT INTO parts SELECT n, n % 7 / (n - 900) FROM public.numbers")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&failed), "22012");
    let failed = client
        .batch_execute("CREATE TABLE never AS SELECT 10 / (n - 900) AS x FROM public.numbers")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&failed), "22012");

    client
        .batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    let cancelled = client
        .batch_execute("INSERT INTO kept SELECT a.n * b.n FROM public.numbers a, public.numbers b, public.numbers c")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&cancelled), "57014");
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();

    assert_eq!(
        text(simple_rows(&client, "SELECT count(*) FROM kept").await),
        [["1"]]
    );
    assert_eq!(
        text(simple_rows(&client, "SHOW PARTITIONS parts").await),
        [["k=1"]]
    );
    assert_eq!(
        sqlstate(
            &client
                .simple_query("SELECT * FROM never")
                .await
                .unwrap_err()
        ),
        "42P01"
    );
    assert_eq!(table_files(&server.warehouse, "kept").0, before);
    assert_eq!(table_files(&server.warehouse, "parts").0.len(), 1);
    assert!(
        !server.warehouse.join("never").exists(),
        "a failed CREATE TABLE AS leaves no directory"
    );
    assert_eq!(
        hidden_files_drain(&server.warehouse, "kept").await,
        Vec::<String>::new()
    );
    assert_eq!(
        hidden_files_drain(&server.warehouse, "parts").await,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_listings_are_cached_until_refresh_table() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let data = scratch_dir("refresh");
    std::fs::write(data.join("a.csv"), "1\n2\n").unwrap();
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE numbers_here (n int) USING csv LOCATION '{}'",
            data.display()
        ))
        .await
        .unwrap();
    assert_eq!(
        text(simple_rows(&client, "SELECT count(*) FROM numbers_here").await),
        [["2"]]
    );
    std::fs::write(data.join("b.csv"), "3\n").unwrap();
    assert_eq!(
        text(simple_rows(&client, "SELECT count(*) FROM numbers_here").await),
        [["2"]],
        "the listing is cached"
    );
    client
        .batch_execute("REFRESH TABLE numbers_here")
        .await
        .unwrap();
    assert_eq!(
        text(simple_rows(&client, "SELECT count(*) FROM numbers_here").await),
        [["3"]],
        "REFRESH TABLE lists the files again"
    );
    let _ = std::fs::remove_dir_all(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msck_repair_adds_new_partition_directories_and_forgets_vanished_ones() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let data = scratch_dir("repair");
    let elsewhere = scratch_dir("repair-elsewhere");
    let write_partition = |name: &str| {
        std::fs::create_dir_all(data.join(name)).unwrap();
        std::fs::write(data.join(name).join("part-0.csv"), "1\n").unwrap();
    };
    write_partition("d=1");
    write_partition("d=2");
    write_partition("d=3");
    std::fs::write(elsewhere.join("part-0.csv"), "1\n").unwrap();
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE visits (n int) USING csv PARTITIONED BY (d int) LOCATION '{}';
             ALTER TABLE visits ADD PARTITION (d=9) LOCATION '{}'",
            data.display(),
            elsewhere.display()
        ))
        .await
        .unwrap();
    let partitions = async || text(simple_rows(&client, "SHOW PARTITIONS visits").await);
    assert_eq!(partitions().await, [["d=1"], ["d=2"], ["d=3"], ["d=9"]]);

    std::fs::remove_dir_all(data.join("d=2")).unwrap();
    write_partition("d=4");
    client
        .batch_execute("MSCK REPAIR TABLE visits")
        .await
        .unwrap();
    assert_eq!(
        partitions().await,
        [["d=1"], ["d=2"], ["d=3"], ["d=4"], ["d=9"]],
        "plain MSCK REPAIR only adds"
    );
    client
        .batch_execute("MSCK REPAIR TABLE visits DROP PARTITIONS")
        .await
        .unwrap();
    assert_eq!(
        partitions().await,
        [["d=1"], ["d=3"], ["d=4"], ["d=9"]],
        "DROP forgets the vanished directory and keeps the one elsewhere"
    );

    std::fs::remove_dir_all(data.join("d=3")).unwrap();
    write_partition("d=5");
    client
        .batch_execute("MSCK REPAIR TABLE visits SYNC PARTITIONS")
        .await
        .unwrap();
    assert_eq!(partitions().await, [["d=1"], ["d=4"], ["d=5"], ["d=9"]]);
    assert_eq!(
        text(simple_rows(&client, "SELECT count(*) FROM visits").await),
        [["4"]]
    );
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(elsewhere);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_relations_show_other_connections_ddl_at_once() {
    let server = TestServer::start().await;
    let reader = server.connect().await;
    let writer = server.connect().await;
    let count = "SELECT count(*) FROM pg_catalog.pg_class WHERE relname IN ('fresh', 'shared')";
    assert_eq!(text(simple_rows(&reader, count).await), [["0"]]);
    writer
        .batch_execute("CREATE TABLE fresh (id int) USING parquet")
        .await
        .unwrap();
    assert_eq!(
        text(simple_rows(&reader, count).await),
        [["1"]],
        "a new table"
    );
    writer
        .batch_execute("CREATE GLOBAL TEMPORARY VIEW shared AS SELECT 1 AS one")
        .await
        .unwrap();
    assert_eq!(
        text(simple_rows(&reader, count).await),
        [["2"]],
        "a new global view"
    );
    writer.batch_execute("DROP TABLE fresh").await.unwrap();
    assert_eq!(
        text(simple_rows(&reader, count).await),
        [["1"]],
        "a dropped table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_literals_are_kept_and_volatile_ones_are_not() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    for _ in 0..3 {
        assert_eq!(text(simple_rows(&client, "SELECT 1").await), [["1"]]);
        let row = client
            .query_one("SELECT 1 AS one, 'x' AS x", &[])
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, i32>("one"), row.get::<_, String>("x")),
            (1, "x".into())
        );
    }
    let by_value = client.prepare("SELECT $1::int8 + 1").await.unwrap();
    for value in [1i64, 41, 1] {
        let row = client.query_one(&by_value, &[&value]).await.unwrap();
        assert_eq!(row.get::<_, i64>(0), value + 1, "kept per parameter value");
    }
    let random = "SELECT random()";
    assert_ne!(
        text(simple_rows(&client, random).await),
        text(simple_rows(&client, random).await),
        "a volatile function's answer is computed every time"
    );
    let rows = "SELECT unnest(ARRAY[1, 2, 3])";
    assert_eq!(text(simple_rows(&client, rows).await).len(), 3);
    assert_eq!(text(simple_rows(&client, rows).await).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_catalog_answers_follow_ddl_and_skip_session_values() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let names = "SELECT relname FROM pg_class WHERE relname LIKE 'kept%' ORDER BY 1";
    client
        .batch_execute("CREATE TABLE kept_a (id int) USING parquet")
        .await
        .unwrap();
    let relnames = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|row| row.get::<_, String>(0)).collect()
    };
    // The first run keeps the answer; the statement prepared next is served from it.
    let first = client.prepare(names).await.unwrap();
    assert_eq!(
        relnames(client.query(&first, &[]).await.unwrap()),
        ["kept_a"]
    );
    let kept = client.prepare(names).await.unwrap();
    assert_eq!(
        relnames(client.query(&kept, &[]).await.unwrap()),
        ["kept_a"]
    );
    client
        .batch_execute("CREATE TABLE kept_b (id int) USING parquet")
        .await
        .unwrap();
    assert_eq!(
        relnames(client.query(&kept, &[]).await.unwrap()),
        ["kept_a", "kept_b"],
        "a statement prepared from a kept answer plans afresh once the catalog changed"
    );
    assert_eq!(
        text(simple_rows(&client, names).await),
        [["kept_a"], ["kept_b"]]
    );
    // Answers with parameters are kept per value; a statement prepared before DDL plans
    // afresh after it.
    let by_name = client
        .prepare("SELECT count(*) FROM pg_catalog.pg_class WHERE relname = $1")
        .await
        .unwrap();
    let count = |name: &'static str| {
        let by_name = by_name.clone();
        let client = &client;
        async move {
            client
                .query_one(&by_name, &[&name])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(count("kept_a").await, 1);
    assert_eq!(count("kept_c").await, 0);
    assert_eq!(count("kept_a").await, 1);
    client
        .batch_execute("CREATE TABLE kept_c (id int) USING parquet")
        .await
        .unwrap();
    assert_eq!(count("kept_c").await, 1, "a statement prepared before DDL");
    // Answers that depend on more than the catalog are never kept.
    let txid = "SELECT txid_current() FROM pg_catalog.pg_class WHERE relname = 'kept_a'";
    let once = text(simple_rows(&client, txid).await);
    let again = text(simple_rows(&client, txid).await);
    assert_ne!(once, again, "txid_current() moves between statements");
    let setting = "SELECT current_setting('application_name') FROM pg_catalog.pg_class WHERE relname = 'kept_a'";
    client
        .batch_execute("SET application_name = 'one'")
        .await
        .unwrap();
    assert_eq!(text(simple_rows(&client, setting).await), [["one"]]);
    client
        .batch_execute("SET application_name = 'two'")
        .await
        .unwrap();
    assert_eq!(text(simple_rows(&client, setting).await), [["two"]]);
    let path =
        "SELECT current_setting('search_path') FROM pg_catalog.pg_class WHERE relname = 'kept_a'";
    client
        .batch_execute("SET search_path = public")
        .await
        .unwrap();
    assert_eq!(text(simple_rows(&client, path).await), [["public"]]);
    client
        .batch_execute("SET search_path = default, public")
        .await
        .unwrap();
    assert_eq!(
        text(simple_rows(&client, path).await),
        [["default, public"]]
    );
}
