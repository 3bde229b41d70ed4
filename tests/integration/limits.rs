//! Resource limits and sizing: per-query memory budgets inside the shared pool, the
//! result-row cap, the connection limit, and the engine settings chosen from its thread count.

use crate::harness::{TestServer, simple_rows};
use crate::rawwire::RawClient;

fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|db| db.code().code().to_string())
        .unwrap_or_else(|| error.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_memory_budget_spills_or_fails_while_others_go_on() {
    let server = TestServer::start_with(|config| {
        config.engine.memory_limit = "512MiB".into();
        config.engine.query_memory_limit = "32MiB".into();
    })
    .await;
    let big = server.connect().await;
    let small = server.connect().await;
    // A hash join's build side cannot spill: 3 million keys do not fit in 32 MiB.
    let join = "SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b ON a = b";
    let (joined, other) = tokio::join!(big.simple_query(join), async {
        simple_rows(&small, "SELECT sum(value) FROM generate_series(1, 1000)").await
    });
    let error = joined.expect_err("the join cannot fit its budget");
    assert_eq!(sqlstate(&error), "53200", "{error:?}");
    let message = error
        .as_db_error()
        .map(|db| db.message().to_string())
        .unwrap_or_default();
    assert!(message.contains("engine.query_memory_limit"), "{message}");
    assert_eq!(other, vec![vec![Some("500500".to_string())]]);
    // A sort can spill to disk: the same budget sorts 2 million rows.
    let sorted = big
        .simple_query(
            "SELECT value FROM (SELECT value FROM generate_series(1, 3000000) ORDER BY value DESC OFFSET 2999999)",
        )
        .await
        .map(|messages| messages.len())
        .map_err(|e| e.as_db_error().map(|db| db.message().to_string()));
    assert!(sorted.is_ok(), "{sorted:?}");
    let port = server.http_port.expect("the monitoring listener is on");
    let (_, _, metrics) = crate::monitoring::get(port, "/metrics").await;
    let counter = |name: &str| {
        metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    assert!(
        counter("lakeport_spills_total") >= 1.0 && counter("lakeport_spilled_bytes_total") > 0.0,
        "the sort's spills are counted in /metrics"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_row_cap_stops_a_query_after_exactly_that_many_rows() {
    let server = TestServer::start_with(|config| config.engine.max_result_rows = 1000).await;
    let mut raw = RawClient::connect(server.port, false).await;
    let messages = raw.run("SELECT value FROM generate_series(1, 50000)").await;
    let rows = messages.iter().filter(|m| m.tag == b'D').count();
    let error = messages
        .iter()
        .find(|m| m.tag == b'E')
        .expect("an error after the cap");
    assert_eq!((rows, error.error_fields()[&'C'].as_str()), (1000, "54000"));
    let client = server.connect().await;
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM generate_series(1, 50000)").await,
        vec![vec![Some("50000".to_string())]],
        "the cap counts result rows, not rows read"
    );
    let at_cap = simple_rows(&client, "SELECT value FROM generate_series(1, 1000)").await;
    assert_eq!(at_cap.len(), 1000);
    client
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SELECT value FROM generate_series(1, 5000)")
        .await
        .unwrap();
    assert_eq!(simple_rows(&client, "FETCH 600 FROM c").await.len(), 600);
    let error = client.simple_query("FETCH 600 FROM c").await.unwrap_err();
    assert_eq!(sqlstate(&error), "54000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused_with_53300() {
    let server = TestServer::start_with(|config| config.server.max_connections = 2).await;
    let first = server.connect().await;
    let _second = server.connect().await;
    let refused = tokio_postgres::connect(&server.connection_string(), tokio_postgres::NoTls)
        .await
        .err()
        .expect("a third connection is refused");
    assert_eq!(sqlstate(&refused), "53300");
    assert_eq!(
        simple_rows(&first, "SELECT 1").await,
        vec![vec![Some("1".to_string())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_stuck_in_authentication_count_against_the_limit() {
    let server =
        crate::security::secured_server(lakeport::auth::AuthMethod::ScramSha256, |config| {
            config.server.max_connections = 1;
        })
        .await;
    // A startup packet, then silence: the server waits for the SCRAM answer.
    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut body = 196608i32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0admin\0database\0lakeport\0\0");
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    tokio::io::AsyncWriteExt::write_all(&mut stalled, &packet)
        .await
        .unwrap();
    let mut request = [0u8; 1];
    tokio::io::AsyncReadExt::read_exact(&mut stalled, &mut request)
        .await
        .unwrap();
    assert_eq!(request[0], b'R', "an authentication request");
    let refused = crate::security::login(server.port, "admin", Some("adminpw"))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, "53300", "{refused:?}");
    drop(stalled);
    let mut admitted = None;
    for _ in 0..50 {
        if let Ok(client) = crate::security::login(server.port, "admin", Some("adminpw")).await {
            admitted = Some(client);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        admitted.is_some(),
        "the slot is free once the stalled client is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_are_repartitioned_only_beyond_two_threads() {
    for (threads, expected) in [(2, "false"), (4, "true")] {
        let server = TestServer::start_with(|config| config.engine.threads = threads).await;
        let client = server.connect().await;
        let show = |name: &'static str| {
            let client = &client;
            async move { simple_rows(client, &format!("SHOW {name}")).await[0][0].clone() }
        };
        assert_eq!(
            show("datafusion.execution.target_partitions").await,
            Some(threads.to_string())
        );
        assert_eq!(
            show("datafusion.optimizer.repartition_joins")
                .await
                .as_deref(),
            Some(expected),
            "with {threads} threads"
        );
        client
            .batch_execute("SET datafusion.optimizer.repartition_joins = true")
            .await
            .expect("SET");
        assert_eq!(
            show("datafusion.optimizer.repartition_joins")
                .await
                .as_deref(),
            Some("true")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_tables_hold_memory_in_the_pool_and_must_fit_it() {
    let server = TestServer::start_with(|config| {
        config.engine.memory_limit = "16MiB".into();
        config.engine.query_memory_limit = "16MiB".into();
    })
    .await;
    let client = server.connect().await;
    for sql in [
        "CREATE TABLE small USING parquet AS SELECT value AS id FROM generate_series(1, 1000)",
        "CREATE TABLE large USING parquet AS SELECT value AS id, repeat(md5(CAST(value AS VARCHAR)), 3) AS pad FROM generate_series(1, 400000)",
    ] {
        client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let engine = &server.service.engine;
    let before = engine.memory_reserved();
    client.simple_query("CACHE TABLE small").await.unwrap();
    let cached = engine.memory_reserved();
    assert!(
        cached > before,
        "cached rows are charged to the pool: {before} → {cached}"
    );
    let error = client
        .simple_query("CACHE TABLE large")
        .await
        .expect_err("40 MB of rows cannot be cached in a 16 MiB pool");
    assert_eq!(sqlstate(&error), "53200", "{error:?}");
    assert_eq!(
        engine.memory_reserved(),
        cached,
        "a cache that did not fit gives its memory back"
    );
    client.simple_query("UNCACHE TABLE small").await.unwrap();
    assert_eq!(
        engine.memory_reserved(),
        before,
        "UNCACHE gives the memory back"
    );
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM large").await,
        vec![vec![Some("400000".to_string())]]
    );
}
