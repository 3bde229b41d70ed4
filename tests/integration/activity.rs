//! What the server is doing, seen from another session: pg_stat_activity with progress, and
//! pg_cancel_backend / pg_terminate_backend with PostgreSQL's permission rules.

use std::time::Duration;

use lakeport::auth::{AuthMethod, Role};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::harness::{TestServer, simple_rows};
use crate::security::{login, secure, user};

/// Scans the Parquet fixture four times and joins them into 10^12 rows: it reads storage at
/// once and then runs until stopped.
pub const LONG_JOIN: &str = "SELECT count(*) FROM numbers a, numbers b, numbers c, numbers d \
    WHERE a.n + b.n + c.n + d.n > 0";

const ACTIVITY_OF: &str = "SELECT state, query, rows_read, bytes_read, wait_event, \
    query_start IS NOT NULL, xact_start IS NOT NULL, usename, application_name \
    FROM pg_stat_activity WHERE pid = $1";

/// One connection's row of pg_stat_activity as text, `None` once it is gone.
async fn activity_of(observer: &Client, pid: i32) -> Option<Vec<Option<String>>> {
    let rows = observer.query(ACTIVITY_OF, &[&pid]).await.unwrap();
    rows.first().map(|row| {
        (0..row.len())
            .map(|i| match i {
                2 | 3 => row.get::<_, Option<i64>>(i).map(|v| v.to_string()),
                5 | 6 => row.get::<_, Option<bool>>(i).map(|v| v.to_string()),
                _ => row.get::<_, Option<String>>(i),
            })
            .collect()
    })
}

/// Polls `pid`'s activity (up to ten seconds) until `until` holds, and returns that row.
async fn wait_for(
    observer: &Client,
    pid: i32,
    until: impl Fn(&Option<Vec<Option<String>>>) -> bool,
) -> Option<Vec<Option<String>>> {
    for _ in 0..200 {
        let row = activity_of(observer, pid).await;
        if until(&row) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "pid {pid}'s activity never reached the expected state; last: {:?}; all: {:?}",
        activity_of(observer, pid).await,
        simple_rows(observer, "SELECT pid, state, query FROM pg_stat_activity").await
    );
}

fn count(row: &Option<Vec<Option<String>>>, column: usize) -> i64 {
    row.as_ref()
        .and_then(|row| row[column].as_deref())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub async fn pid_of(client: &Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

fn boolean(messages: &[SimpleQueryMessage]) -> Option<String> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_query_shows_its_progress_and_pg_cancel_backend_stops_it() {
    let server = TestServer::start().await;
    let worker = server.connect().await;
    let observer = server.connect().await;
    let pid = pid_of(&worker).await;
    let idle = activity_of(&observer, pid).await.expect("the worker's row");
    assert_eq!(idle[0].as_deref(), Some("idle"));
    assert_eq!(idle[1].as_deref(), Some("SELECT pg_backend_pid()"));
    assert_eq!(idle[4].as_deref(), Some("ClientRead"));
    assert_eq!(
        idle[6].as_deref(),
        Some("false"),
        "no transaction when idle"
    );
    assert_eq!(idle[7].as_deref(), Some("tester"));
    assert_eq!(idle[8].as_deref(), Some("lakeport-tests"));

    let running = tokio::spawn(async move {
        let outcome = worker.simple_query(LONG_JOIN).await;
        (outcome, worker)
    });
    let active = wait_for(&observer, pid, |row| {
        row.as_ref()
            .is_some_and(|r| r[0].as_deref() == Some("active"))
            && count(row, 2) > 0
            && count(row, 3) > 0
    })
    .await
    .unwrap();
    assert_eq!(active[1].as_deref(), Some(LONG_JOIN));
    assert_eq!(active[4], None, "no wait event while running");
    assert_eq!(active[5].as_deref(), Some("true"));
    assert_eq!(active[6].as_deref(), Some("true"));

    let own = simple_rows(
        &observer,
        "SELECT state, query FROM pg_stat_activity WHERE pid = pg_backend_pid()",
    )
    .await;
    assert_eq!(
        own,
        vec![vec![
            Some("active".to_string()),
            Some(
                "SELECT state, query FROM pg_stat_activity WHERE pid = pg_backend_pid()"
                    .to_string()
            )
        ]]
    );

    let signalled = observer
        .simple_query(&format!("SELECT pg_cancel_backend({pid})"))
        .await
        .unwrap();
    assert_eq!(boolean(&signalled).as_deref(), Some("t"));
    let (outcome, _worker) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the canceled query stopped")
        .unwrap();
    assert_eq!(outcome.unwrap_err().code().unwrap().code(), "57014");
    assert!(
        server.queries_drain().await,
        "the canceled query still runs"
    );

    let after = wait_for(&observer, pid, |row| {
        row.as_ref()
            .is_some_and(|r| r[0].as_deref() == Some("idle"))
    })
    .await;
    assert_eq!(after.as_ref().unwrap()[1].as_deref(), Some(LONG_JOIN));
    assert!(
        count(&after, 2) >= count(&Some(active.clone()), 2),
        "the finished statement keeps the rows it read"
    );

    let nobody = observer
        .simple_query("SELECT pg_cancel_backend(1)")
        .await
        .unwrap();
    assert_eq!(boolean(&nobody).as_deref(), Some("f"), "no such backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signalling_a_pid_that_is_no_backend_warns_as_postgresql_does() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let messages = raw.run("SELECT pg_terminate_backend(1)").await;
    let tags: Vec<u8> = messages.iter().map(|m| m.tag).collect();
    let notice = tags.iter().position(|t| *t == b'N').expect("a notice");
    let others: Vec<u8> = tags.iter().copied().filter(|t| *t != b'N').collect();
    assert_eq!(others, b"TDCZ");
    assert!(
        notice < tags.len() - 2,
        "the warning comes before the completion: {tags:?}"
    );
    let warning = messages[notice].error_fields();
    assert_eq!(warning[&'S'], "WARNING");
    assert_eq!(warning[&'C'], "01000");
    assert_eq!(warning[&'M'], "PID 1 is not a PostgreSQL backend process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_block_is_idle_in_transaction_between_statements() {
    let server = TestServer::start().await;
    let worker = server.connect().await;
    let observer = server.connect().await;
    let pid = pid_of(&worker).await;
    worker.batch_execute("BEGIN").await.unwrap();
    let row = activity_of(&observer, pid).await.unwrap();
    assert_eq!(row[0].as_deref(), Some("idle in transaction"));
    assert_eq!(row[6].as_deref(), Some("true"));
    let _ = worker.batch_execute("SELECT 1/0").await.unwrap_err();
    let row = activity_of(&observer, pid).await.unwrap();
    assert_eq!(row[0].as_deref(), Some("idle in transaction (aborted)"));
    worker.batch_execute("ROLLBACK").await.unwrap();
    let row = activity_of(&observer, pid).await.unwrap();
    assert_eq!(row[0].as_deref(), Some("idle"));
    assert_eq!(row[6].as_deref(), Some("false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_terminate_backend_ends_running_and_idle_connections() {
    let server = TestServer::start().await;
    let observer = server.connect().await;

    let idle = server.connect().await;
    let idle_pid = pid_of(&idle).await;
    let signalled = observer
        .query_one("SELECT pg_terminate_backend($1)", &[&idle_pid])
        .await
        .unwrap();
    assert!(signalled.get::<_, bool>(0));
    wait_for(&observer, idle_pid, Option::is_none).await;
    let error = idle.simple_query("SELECT 1").await.unwrap_err();
    assert!(
        idle.is_closed(),
        "the terminated connection is closed: {error}"
    );

    let busy = server.connect().await;
    let busy_pid = pid_of(&busy).await;
    let running = tokio::spawn(async move {
        let outcome = busy.simple_query(LONG_JOIN).await;
        (outcome, busy)
    });
    wait_for(&observer, busy_pid, |row| {
        row.as_ref()
            .is_some_and(|r| r[0].as_deref() == Some("active"))
    })
    .await;
    observer
        .query_one("SELECT pg_terminate_backend($1)", &[&busy_pid])
        .await
        .unwrap();
    let (outcome, busy) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the terminated query stopped")
        .unwrap();
    let error = outcome.unwrap_err();
    let db = error.as_db_error().expect("an error from the server");
    assert_eq!(db.code().code(), "57P01");
    assert_eq!(db.severity(), "FATAL");
    assert_eq!(
        db.message(),
        "terminating connection due to administrator command"
    );
    assert!(busy.is_closed() || busy.simple_query("SELECT 1").await.is_err());
    assert!(server.queries_drain().await);
    wait_for(&observer, busy_pid, Option::is_none).await;
}

fn configure(config: &mut lakeport::Config) {
    secure(config, AuthMethod::ScramSha256);
    for name in ["ann", "bob"] {
        config
            .auth
            .users
            .push(user(name, "pw", Role::Read, Some(&["public"])));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_signal_only_their_own_sessions_and_admins_everyone() {
    let server = TestServer::start_with(configure).await;
    let admin = login(server.port, "admin", Some("adminpw")).await.unwrap();
    let ann = login(server.port, "ann", Some("pw")).await.unwrap();
    let ann_again = login(server.port, "ann", Some("pw")).await.unwrap();
    let bob = login(server.port, "bob", Some("pw")).await.unwrap();
    let (admin_pid, ann_pid, bob_pid) = (
        pid_of(&admin).await,
        pid_of(&ann_again).await,
        pid_of(&bob).await,
    );

    let seen = simple_rows(
        &ann,
        &format!(
            "SELECT pid, usename, state, query FROM pg_stat_activity \
             WHERE pid IN ({admin_pid}, {bob_pid}) ORDER BY pid"
        ),
    )
    .await;
    assert_eq!(seen.len(), 2, "every session is listed: {seen:?}");
    for row in &seen {
        assert_eq!(row[2], None, "another user's state is hidden: {row:?}");
        assert_eq!(row[3].as_deref(), Some("<insufficient privilege>"));
    }
    let own = activity_of(&ann, ann_pid).await.unwrap();
    assert_eq!(
        own[0].as_deref(),
        Some("idle"),
        "a user's own sessions are shown"
    );

    for (pid, message) in [
        (
            bob_pid,
            "must be a member of the role whose query is being canceled",
        ),
        (admin_pid, "must be a superuser to cancel superuser query"),
    ] {
        let error = ann
            .query_one("SELECT pg_cancel_backend($1)", &[&pid])
            .await
            .unwrap_err();
        let db = error.as_db_error().unwrap();
        assert_eq!(db.code().code(), "42501");
        assert!(db.message().starts_with(message), "{}", db.message());
    }
    let error = bob
        .query_one("SELECT pg_terminate_backend($1)", &[&ann_pid])
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "42501");
    assert!(
        !ann_again.is_closed(),
        "a refused terminate leaves it alone"
    );

    let allowed = ann
        .query_one("SELECT pg_cancel_backend($1)", &[&ann_pid])
        .await
        .unwrap();
    assert!(
        allowed.get::<_, bool>(0),
        "a user may cancel their own session"
    );
    let everyone = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query <> '<insufficient privilege>'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        everyone.get::<_, i64>(0),
        4,
        "an admin sees every statement"
    );
    let history_users =
        simple_rows(&ann, "SELECT DISTINCT usename FROM lakeport.query_history").await;
    assert_eq!(history_users, vec![vec![Some("ann".to_string())]]);
    let all_users = simple_rows(
        &admin,
        "SELECT DISTINCT usename FROM lakeport.query_history ORDER BY 1",
    )
    .await;
    assert_eq!(all_users.len(), 3, "admin, ann and bob: {all_users:?}");
    let terminated = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&bob_pid])
        .await
        .unwrap();
    assert!(terminated.get::<_, bool>(0));
    wait_for(&admin, bob_pid, Option::is_none).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_history_keeps_finished_failed_and_canceled_statements() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let rows = client
        .query("SELECT n FROM numbers WHERE n <= 10", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    client.simple_query("SELECT 1/0").await.unwrap_err();
    client
        .batch_execute("SET statement_timeout = 300")
        .await
        .unwrap();
    let timeout = client.simple_query(LONG_JOIN).await.unwrap_err();
    assert_eq!(timeout.code().unwrap().code(), "57014");
    client
        .batch_execute("RESET statement_timeout")
        .await
        .unwrap();
    let history = simple_rows(
        &client,
        "SELECT query, state, sqlstate, rows, rows_read > 0, bytes_read > 0, \
         duration_ms >= 0, usename, application_name, query_start <= now() \
         FROM lakeport.query_history WHERE pid = pg_backend_pid() \
         AND query NOT LIKE 'SET%' AND query NOT LIKE 'RESET%' ORDER BY query_id",
    )
    .await;
    let text = |v: &str| Some(v.to_string());
    assert_eq!(
        history,
        vec![
            vec![
                text("SELECT n FROM numbers WHERE n <= 10"),
                text("finished"),
                None,
                text("10"),
                text("t"),
                text("t"),
                text("t"),
                text("tester"),
                text("lakeport-tests"),
                text("t"),
            ],
            vec![
                text("SELECT 1/0"),
                text("failed"),
                text("22012"),
                text("0"),
                text("f"),
                text("f"),
                text("t"),
                text("tester"),
                text("lakeport-tests"),
                text("t"),
            ],
            vec![
                text(LONG_JOIN),
                text("canceled"),
                text("57014"),
                text("0"),
                text("t"),
                text("t"),
                text("t"),
                text("tester"),
                text("lakeport-tests"),
                text("t"),
            ],
        ]
    );
    let error = client
        .simple_query("CREATE SCHEMA lakeport")
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "42P06");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_history_is_bounded_by_its_setting() {
    let server = TestServer::start_with(|config| config.monitoring.query_history = 3).await;
    let client = server.connect().await;
    for i in 0..5 {
        client.simple_query(&format!("SELECT {i}")).await.unwrap();
    }
    let kept = simple_rows(
        &client,
        "SELECT query FROM lakeport.query_history ORDER BY query_id",
    )
    .await;
    assert_eq!(
        kept,
        vec![
            vec![Some("SELECT 2".to_string())],
            vec![Some("SELECT 3".to_string())],
            vec![Some("SELECT 4".to_string())],
        ]
    );
}
