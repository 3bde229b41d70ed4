//! EXPLAIN as psql and tools expect it: one `QUERY PLAN` column of text lines, ANALYZE
//! with metrics and timing, FORMAT JSON, and PostgreSQL's errors for bad options.

use tokio_postgres::SimpleQueryMessage;

use crate::harness::TestServer;

/// The QUERY PLAN lines of `sql` (simple protocol), checking the column name and the tag.
async fn plan_lines(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let messages = client.simple_query(sql).await.unwrap();
    let mut lines = Vec::new();
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(columns) => {
                assert_eq!(columns.len(), 1);
                assert_eq!(columns[0].name(), "QUERY PLAN");
            }
            SimpleQueryMessage::Row(row) => lines.push(row.get(0).unwrap().to_string()),
            SimpleQueryMessage::CommandComplete(_) => {}
            _ => {}
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_physical_plan_one_line_per_row() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let lines = plan_lines(&client, "EXPLAIN SELECT n FROM numbers WHERE n > 990").await;
    assert!(lines.len() > 1, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("FilterExec")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("DataSourceExec")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("output_rows")),
        "no metrics without ANALYZE"
    );

    let analyzed = plan_lines(
        &client,
        "EXPLAIN ANALYZE SELECT n FROM numbers WHERE n > 990",
    )
    .await;
    assert!(
        analyzed
            .iter()
            .any(|l| l.contains("FilterExec") && l.contains("output_rows=10")),
        "{analyzed:?}"
    );
    assert_eq!(analyzed[analyzed.len() - 2], "Rows: 10");
    assert!(
        analyzed.last().unwrap().starts_with("Execution Time: "),
        "{analyzed:?}"
    );

    let rows = client
        .query("EXPLAIN SELECT n FROM numbers WHERE n > $1", &[&990i64])
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.get::<_, String>(0).contains("FilterExec"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_format_json_gives_the_plan_tree_with_metrics() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let lines = plan_lines(
        &client,
        "EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) SELECT count(*) FROM numbers WHERE n > 500",
    )
    .await;
    assert_eq!(lines.len(), 1, "one row holds the document");
    let document: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let top = &document[0];
    assert!(top["Execution Time"].as_f64().unwrap() >= 0.0);
    assert_eq!(top["Actual Rows"], 1);
    let mut stack = vec![&top["Plan"]];
    let mut filter_rows = None;
    while let Some(node) = stack.pop() {
        assert!(
            node["Node Type"].is_string() && node["Output"].is_array(),
            "{node}"
        );
        if node["Node Type"] == "FilterExec" {
            filter_rows = node["Metrics"]["output_rows"].as_str().map(str::to_string);
        }
        if let Some(children) = node["Plans"].as_array() {
            stack.extend(children);
        }
    }
    assert_eq!(filter_rows.as_deref(), Some("500"));

    let plain = plan_lines(&client, "EXPLAIN (FORMAT JSON) SELECT 1").await;
    let document: serde_json::Value = serde_json::from_str(&plain[0]).unwrap();
    assert!(document[0]["Execution Time"].is_null(), "nothing ran");
    assert!(document[0]["Plan"]["Metrics"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_options_are_checked_as_postgresql_checks_them() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let accepted = plan_lines(
        &client,
        "EXPLAIN (COSTS OFF, BUFFERS, TIMING false, ANALYZE off) SELECT 1",
    )
    .await;
    assert!(!accepted.is_empty());
    for (sql, code, message) in [
        (
            "EXPLAIN (BOGUS) SELECT 1",
            "42601",
            "unrecognized EXPLAIN option \"bogus\"",
        ),
        (
            "EXPLAIN (FORMAT XML) SELECT 1",
            "0A000",
            "EXPLAIN format \"xml\" is not supported",
        ),
        (
            "EXPLAIN (ANALYZE maybe) SELECT 1",
            "42601",
            "analyze requires a Boolean value",
        ),
    ] {
        let error = client.simple_query(sql).await.unwrap_err();
        let db = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: {error}"));
        assert_eq!((db.code().code(), db.message()), (code, message), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyzed_statistics_reach_the_planner_where_files_give_none() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .simple_query(
            "CREATE TABLE analyzed USING csv AS SELECT value AS id FROM generate_series(1, 500)",
        )
        .await
        .unwrap();
    let scan_statistics = |lines: Vec<String>| {
        lines
            .into_iter()
            .find(|l| l.contains("DataSourceExec"))
            .and_then(|l| l.split("statistics=[").nth(1).map(|s| s.to_string()))
            .unwrap_or_default()
    };
    let verbose = "EXPLAIN VERBOSE SELECT * FROM analyzed";
    let before = scan_statistics(plan_lines(&client, verbose).await);
    assert!(before.starts_with("Rows=Absent"), "{before}");
    client
        .simple_query("ANALYZE TABLE analyzed COMPUTE STATISTICS")
        .await
        .unwrap();
    let after = scan_statistics(plan_lines(&client, verbose).await);
    assert!(after.starts_with("Rows=Inexact(500)"), "{after}");
    assert!(
        !after.contains("Min=Inexact"),
        "no column analyzed yet: {after}"
    );
    client
        .simple_query("ANALYZE TABLE analyzed COMPUTE STATISTICS FOR COLUMNS id")
        .await
        .unwrap();
    let columns = scan_statistics(plan_lines(&client, verbose).await);
    for expected in [
        "Rows=Inexact(500)",
        "Null=Inexact(0)",
        "Min=Inexact(Int64(1))",
        "Max=Inexact(Int64(500))",
        "Distinct=Inexact(",
    ] {
        assert!(columns.contains(expected), "{expected} in {columns}");
    }
}
