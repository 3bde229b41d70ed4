//! Stopping queries: CancelRequest, statement_timeout, and clients that hang up mid-result.

use std::time::Duration;

use tokio_postgres::NoTls;

use crate::harness::TestServer;

const ENDLESS: &str =
    "SELECT count(*) FROM generate_series(1, 1000000000000) AS t(v) WHERE v % 7 = 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_the_query() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await
    });
    let error = client.simple_query(ENDLESS).await.unwrap_err();
    canceller.await.unwrap().unwrap();
    assert_eq!(error.code().unwrap().code(), "57014");
    assert_eq!(
        error.as_db_error().unwrap().message(),
        "canceling statement due to user request"
    );
    assert!(
        server.queries_drain().await,
        "the canceled query still runs"
    );
    let rows = client.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(rows.len(), 1, "the connection survives a cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_works_under_the_extended_protocol() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let token = client.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = token.cancel_query(NoTls).await;
    });
    let error = client.query(ENDLESS, &[]).await.unwrap_err();
    assert_eq!(error.code().unwrap().code(), "57014");
    assert!(server.queries_drain().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    let error = client.simple_query(ENDLESS).await.unwrap_err();
    assert_eq!(error.code().unwrap().code(), "57014");
    assert_eq!(
        error.as_db_error().unwrap().message(),
        "canceling statement due to statement timeout"
    );
    client
        .batch_execute("RESET statement_timeout")
        .await
        .unwrap();
    let rows = client
        .query("SELECT count(*) FROM generate_series(1, 1000)", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_with_the_wrong_secret_is_ignored() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let (pid, secret) = client.backend_key.unwrap();
    let mut stray = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut packet = vec![0, 0, 0, 16, 4, 210, 22, 46];
    packet.extend_from_slice(&pid.to_be_bytes());
    packet.extend_from_slice(&secret.wrapping_add(1).to_be_bytes());
    tokio::io::AsyncWriteExt::write_all(&mut stray, &packet)
        .await
        .unwrap();
    drop(stray);
    let messages = client
        .run("SELECT count(*) FROM generate_series(1, 3000000)")
        .await;
    assert_eq!(crate::rawwire::tags(&messages), "TDCZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_mid_result_stops_the_query() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client
        .query("SELECT v, v * 2 FROM generate_series(1, 1000000000000) AS t(v)")
        .await;
    assert_eq!(client.read().await.tag, b'T');
    for _ in 0..1000 {
        assert_eq!(client.read().await.tag, b'D');
    }
    assert_eq!(server.service.engine.running_queries(), 1);
    client.hang_up();
    assert!(
        server.queries_drain().await,
        "the query outlived its client"
    );
    let other = server.connect().await;
    assert_eq!(other.query("SELECT 1", &[]).await.unwrap().len(), 1);
}

/// A cross join of Parquet scans emits its rows from memory once the scans are read; the
/// query must still stop when canceled, and must not keep other queries from running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_cross_join_and_others_keep_running() {
    const CROSS_JOIN: &str = "SELECT count(*) FROM numbers a, numbers b, numbers c, numbers d \
        WHERE a.n + b.n + c.n + d.n > 0";
    let server = TestServer::start().await;
    let client = server.connect().await;
    let other = server.connect().await;
    let token = client.cancel_token();
    let running = tokio::spawn(async move { client.simple_query(CROSS_JOIN).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answered = tokio::time::timeout(
        Duration::from_secs(10),
        other.query_one("SELECT 1 + 1", &[]),
    )
    .await;
    assert!(
        answered.is_ok(),
        "a second connection waited behind the cross join"
    );
    token.cancel_query(NoTls).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the canceled cross join did not end")
        .unwrap();
    assert_eq!(outcome.unwrap_err().code().unwrap().code(), "57014");
    assert!(
        server.queries_drain().await,
        "the canceled cross join still runs"
    );
}
