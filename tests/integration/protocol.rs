//! Protocol behaviour: startup, simple and extended query flows, error recovery and the
//! transaction status byte.

use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::Type;

use crate::harness::TestServer;
use crate::rawwire::{RawClient, completions, tags};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_reports_parameters_and_backend_key() {
    let server = TestServer::start().await;
    let client = RawClient::connect(server.port, true).await;
    let p = &client.parameters;
    let version = p.get("server_version").expect("server_version");
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .expect("numeric version");
    assert!(
        major >= 14,
        "server_version {version} should be a modern PostgreSQL version"
    );
    for (key, value) in [
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("TimeZone", "UTC"),
        ("standard_conforming_strings", "on"),
        ("application_name", "rawwire"),
    ] {
        assert_eq!(
            p.get(key).map(String::as_str),
            Some(value),
            "parameter {key}"
        );
    }
    let (pid, _) = client.backend_key.expect("BackendKeyData");
    assert!(pid > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_names_lakeport_and_functions_answer() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let row = client
        .query_one(
            "SELECT version(), current_database(), current_schema(), current_user, session_user, pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let version: String = row.get(0);
    assert!(version.contains("lakeport"), "{version}");
    assert_eq!(row.get::<_, String>(1), "lakeport");
    assert_eq!(row.get::<_, String>(2), "public");
    assert_eq!(row.get::<_, String>(3), "tester");
    assert_eq!(row.get::<_, String>(4), "tester");
    assert!(row.get::<_, i32>(5) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_statements_in_one_simple_query() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let messages = client
        .run("SELECT 1 AS a; SELECT name FROM cities WHERE id <= 2 ORDER BY id; SET TimeZone = 'UTC'; SHOW TimeZone")
        .await;
    assert_eq!(tags(&messages), "TDCTDDCCTDCZ");
    assert_eq!(
        completions(&messages),
        ["SELECT 1", "SELECT 2", "SET", "SHOW"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_query_gets_empty_query_response() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    assert_eq!(tags(&client.run("").await), "IZ");
    assert_eq!(tags(&client.run("  ;  ").await), "IZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_ends_the_simple_query_but_not_the_connection() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let messages = client.run("SELECT 1; SELECT * FROM nosuch; SELECT 2").await;
    assert_eq!(tags(&messages), "TDCEZ");
    assert_eq!(messages[3].error_fields()[&'C'], "42P01");
    assert_eq!(tags(&client.run("SELECT 3").await), "TDCZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_named_and_unnamed() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client
        .parse("by_id", "SELECT name FROM cities WHERE id = $1", &[])
        .await;
    client.describe(b'S', "by_id").await;
    client.bind("", "by_id", &[Some("2")], 0).await;
    client.execute("", 0).await;
    client.parse("", "SELECT $1::int4 + 1", &[]).await;
    client.bind("p", "", &[Some("41")], 0).await;
    client.describe(b'P', "p").await;
    client.execute("p", 0).await;
    client.sync().await;
    let messages = client.until_ready().await;
    assert_eq!(tags(&messages), "1tT2DC12TDCZ");
    let param_type = u32::from_be_bytes(messages[1].body[2..6].try_into().unwrap());
    assert_eq!(
        param_type,
        Type::INT8.oid(),
        "the CSV id column is int8, so $1 is"
    );
    assert_eq!(&messages[4].body[6..], b"Lisbon");
    assert_eq!(&messages[9].body[6..], b"42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_does_not_run_the_query() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let statement = client
        .prepare("SELECT 1 / 0 AS boom, 'x' AS label")
        .await
        .unwrap();
    let names: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["boom", "label"]);
    assert_eq!(statement.columns()[0].type_(), &Type::INT8);
    let error = client.query(&statement, &[]).await.unwrap_err();
    assert_eq!(error.code().unwrap().code(), "22012");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_types_come_from_parse_or_inference() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let inferred = client
        .prepare("SELECT id FROM sales.orders WHERE amount > $1 AND status = $2")
        .await
        .unwrap();
    assert_eq!(inferred.params(), [Type::NUMERIC, Type::TEXT]);
    let declared = client
        .prepare_typed("SELECT $1 AS v", &[Type::VARCHAR])
        .await
        .unwrap();
    assert_eq!(declared.params(), [Type::VARCHAR]);
    let rows = client.query(&declared, &[&"hello"]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "hello");
    let rows = client
        .query(
            "SELECT count(*) FROM sales.orders WHERE id > $1 AND status = $2",
            &[&2i64, &"open"],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_error_messages_are_skipped_until_sync() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client.parse("", "SELECT * FROM nosuch", &[]).await;
    client.bind("", "", &[], 0).await;
    client.execute("", 0).await;
    client.parse("", "SELECT 1", &[]).await;
    client.sync().await;
    let messages = client.until_ready().await;
    assert_eq!(tags(&messages), "EZ");
    assert_eq!(messages[0].error_fields()[&'C'], "42P01");
    client.parse("", "SELECT 1", &[]).await;
    client.bind("", "", &[], 0).await;
    client.execute("", 0).await;
    client.sync().await;
    assert_eq!(tags(&client.until_ready().await), "12DCZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_sends_results_before_sync() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client.parse("", "SELECT 7", &[]).await;
    client.bind("", "", &[], 1).await;
    client.execute("", 0).await;
    client.flush().await;
    let expected = [b'1', b'2', b'D', b'C'];
    for tag in expected {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), client.read())
            .await
            .expect("Flush must deliver results without Sync");
        assert_eq!(message.tag, tag);
        if tag == b'D' {
            assert_eq!(
                &message.body[2..],
                &[0, 0, 0, 4, 0, 0, 0, 7],
                "binary int4 7"
            );
        }
    }
    client.sync().await;
    assert_eq!(tags(&client.until_ready().await), "Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_status_follows_postgres() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let status = |messages: &[crate::rawwire::Message]| messages.last().unwrap().body[0] as char;
    for (sql, tag, state) in [
        ("BEGIN", "BEGIN", 'T'),
        ("SAVEPOINT s1", "SAVEPOINT", 'T'),
        ("RELEASE SAVEPOINT s1", "RELEASE", 'T'),
        ("COMMIT", "COMMIT", 'I'),
        ("START TRANSACTION", "START TRANSACTION", 'T'),
        ("ROLLBACK", "ROLLBACK", 'I'),
    ] {
        let messages = client.run(sql).await;
        assert_eq!(messages[0].strings()[0], tag, "{sql}");
        assert_eq!(status(&messages), state, "{sql}");
    }
    assert_eq!(status(&client.run("BEGIN; SELECT 1/0").await), 'E');
    let messages = client.run("SELECT 1").await;
    assert_eq!(messages[0].error_fields()[&'C'], "25P02");
    assert_eq!(status(&messages), 'E');
    assert_eq!(status(&client.run("ROLLBACK").await), 'I');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_query_reports_selected_rows_through_tokio_postgres() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let messages = client
        .simple_query("SELECT id FROM sales.orders ORDER BY id")
        .await
        .unwrap();
    let ids: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    assert!(matches!(
        messages.last(),
        Some(SimpleQueryMessage::CommandComplete(6))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_streams_csv_and_text() {
    use futures::TryStreamExt;
    let server = TestServer::start().await;
    let client = server.connect().await;
    let copy = |sql: &'static str| {
        let client = &client;
        async move {
            let chunks: Vec<bytes::Bytes> = client
                .copy_out(sql)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            String::from_utf8(chunks.concat()).unwrap()
        }
    };
    let csv = copy("COPY (SELECT id, name, population FROM cities ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)").await;
    assert_eq!(
        csv,
        "id,name,population\n1,Amsterdam,921402\n2,Lisbon,545796\n3,Zürich,423193\n4,Oslo,\n"
    );
    let text = copy("COPY (SELECT s, b FROM alltypes ORDER BY id) TO STDOUT").await;
    assert_eq!(text, "héllo, 'world'\tt\n\\N\t\\N\n");
}
