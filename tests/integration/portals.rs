//! Portal suspension: Execute with a row limit returns PortalSuspended and the next Execute
//! resumes where it stopped (JDBC setFetchSize, psycopg named cursors).

use crate::harness::TestServer;
use crate::rawwire::{completions, tags};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sizes_page_through_every_row_once() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let statement = client
        .prepare("SELECT v FROM generate_series(1, 25) AS t(v) ORDER BY v")
        .await
        .unwrap();
    for fetch_size in [1, 3, 10, 25, 1000] {
        let transaction = client.transaction().await.unwrap();
        let portal = transaction.bind(&statement, &[]).await.unwrap();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let rows = transaction.query_portal(&portal, fetch_size).await.unwrap();
            if rows.is_empty() {
                break;
            }
            assert!(rows.len() <= fetch_size as usize);
            seen.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
            pages += 1;
        }
        transaction.commit().await.unwrap();
        assert_eq!(
            seen,
            (1..=25).collect::<Vec<i64>>(),
            "fetch size {fetch_size}"
        );
        assert_eq!(
            pages,
            25usize.div_ceil(fetch_size as usize),
            "fetch size {fetch_size}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_with_a_limit_suspends_and_resumes() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client
        .parse("", "SELECT id FROM sales.orders ORDER BY id", &[])
        .await;
    client.bind("c", "", &[], 0).await;
    client.execute("c", 4).await;
    client.execute("c", 4).await;
    client.execute("c", 4).await;
    client.sync().await;
    let messages = client.until_ready().await;
    assert_eq!(tags(&messages), "12DDDDsDDCCZ");
    assert_eq!(completions(&messages), ["SELECT 2", "SELECT 0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_suspended_portal_stops_its_query() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client
        .parse(
            "",
            "SELECT v FROM generate_series(1, 1000000000000) AS t(v)",
            &[],
        )
        .await;
    client.bind("big", "", &[], 1).await;
    client.execute("big", 5).await;
    client.flush().await;
    let mut received = Vec::new();
    loop {
        let message = client.read().await;
        let tag = message.tag;
        received.push(message);
        if tag == b's' {
            break;
        }
    }
    assert_eq!(tags(&received), "12DDDDDs");
    assert_eq!(server.service.engine.running_queries(), 1);
    let mut close = vec![b'P'];
    close.extend_from_slice(b"big\0");
    client.send(b'C', &close).await;
    client.sync().await;
    assert_eq!(tags(&client.until_ready().await), "3Z");
    assert!(
        server.queries_drain().await,
        "the closed portal's query still runs"
    );
}
