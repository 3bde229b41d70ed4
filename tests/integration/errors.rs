//! Every error class reaches the client as an ErrorResponse with its SQLSTATE, under both
//! protocols, and the connection goes on working.

use crate::harness::TestServer;

const CASES: &[(&str, &str)] = &[
    ("SELEC 1", "42601"),
    ("SELECT (1", "42601"),
    ("SELECT * FROM nosuch", "42P01"),
    ("SELECT * FROM sales.nosuch", "42P01"),
    ("SELECT nosuch FROM cities", "42703"),
    ("SELECT nosuchfunction(1)", "42883"),
    ("SELECT id FROM cities WHERE name", "42804"),
    ("SELECT 'abc'::int4", "22P02"),
    ("SELECT 1 / 0", "22012"),
    ("SELECT id / 0 FROM cities", "22012"),
    ("CREATE INDEX i ON cities (id)", "0A000"),
    ("LISTEN channel", "0A000"),
    ("SET no_such_setting = 1", "42704"),
    ("SET statement_timeout = 'soon'", "22023"),
    ("FETCH 1 FROM no_such_cursor", "34000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlstates_under_both_protocols() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let mut failures = Vec::new();
    for (sql, expected) in CASES {
        let simple = client
            .simple_query(sql)
            .await
            .err()
            .and_then(|e| e.code().cloned());
        let extended = client
            .query(*sql, &[])
            .await
            .err()
            .and_then(|e| e.code().cloned());
        for (protocol, code) in [("simple", simple), ("extended", extended)] {
            let code = code.map(|c| c.code().to_string());
            if code.as_deref() != Some(*expected) {
                failures.push(format!(
                    "{sql} [{protocol}]: got {code:?}, expected {expected}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        2,
        "the connection survives its errors"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_carry_the_position() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let messages = client.run("SELECT 1 FROM cities WHER id = 1").await;
    let fields = messages[0].error_fields();
    assert_eq!(fields[&'C'], "42601");
    assert_eq!(fields[&'S'], "ERROR");
    assert_eq!(fields[&'M'], "syntax error at or near \"id\"");
    assert_eq!(fields[&'P'], "27");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_read_like_postgres() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let message = |e: tokio_postgres::Error| {
        e.as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default()
    };
    let e = client
        .simple_query("SELECT * FROM nosuch")
        .await
        .unwrap_err();
    assert_eq!(message(e), "relation \"nosuch\" does not exist");
    let e = client.simple_query("SELECT 1/0").await.unwrap_err();
    assert_eq!(message(e), "division by zero");
    let e = client
        .simple_query("SELECT nosuch FROM cities")
        .await
        .unwrap_err();
    assert!(message(e).starts_with("column \"nosuch\" does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_exhaustion_is_a_resources_error() {
    let server = TestServer::start_with(|config| config.engine.memory_limit = "1MiB".into()).await;
    let client = server.connect().await;
    let error = client
        .simple_query("SELECT v, count(*) FROM generate_series(1, 2000000) AS t(v) GROUP BY v ORDER BY v DESC LIMIT 1")
        .await
        .unwrap_err();
    let code = error
        .code()
        .map(|c| c.code().to_string())
        .unwrap_or_default();
    assert!(
        code.starts_with("53"),
        "expected a 53xxx SQLSTATE, got {code}: {error}"
    );
}

/// The WARNINGs of transaction statements in the wrong state carry PostgreSQL's codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_statements_in_the_wrong_state_warn_with_postgres_codes() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let warning_code = |messages: &[crate::rawwire::Message]| {
        let notice = messages.iter().find(|m| m.tag == b'N').expect("a warning");
        let fields = notice.error_fields();
        assert_eq!(fields[&'S'], "WARNING");
        fields[&'C'].clone()
    };
    assert_eq!(warning_code(&raw.run("COMMIT").await), "25P01");
    assert_eq!(warning_code(&raw.run("ROLLBACK").await), "25P01");
    raw.run("BEGIN").await;
    assert_eq!(warning_code(&raw.run("BEGIN").await), "25001");
    raw.run("ROLLBACK").await;
}

/// A Spark execution-only setting is accepted, but never silently: a NOTICE says it changes
/// nothing, and SHOW gives back the value set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_execution_settings_are_accepted_with_a_notice() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let messages = raw.run("SET spark.sql.adaptive.enabled = false").await;
    let notice = messages
        .iter()
        .find(|m| m.tag == b'N')
        .expect("a notice that the setting changes nothing");
    let fields = notice.error_fields();
    assert_eq!(fields[&'S'], "NOTICE");
    assert!(
        fields[&'M'].contains("spark.sql.adaptive.enabled")
            && fields[&'M'].contains("changes nothing"),
        "{}",
        fields[&'M']
    );
    let messages = raw.run("SET search_path = public").await;
    assert!(
        messages.iter().all(|m| m.tag != b'N'),
        "an ordinary SET sends no notice"
    );
}
