//! Roles, schema allow lists and GRANT / REVOKE, each role against each kind of statement,
//! through real logins.

use lakeport::auth::{AuthMethod, Role};
use tokio_postgres::Client;

use crate::harness::scratch_dir;
use crate::harness::{TestServer, simple_rows};
use crate::security::{login, secure, user};

fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|db| format!("{} {}", db.code().code(), db.message()))
        .unwrap_or_else(|| error.to_string())
}

async fn outcome(client: &Client, sql: &str) -> String {
    match client.simple_query(sql).await {
        Ok(_) => "ok".to_string(),
        Err(error) => sqlstate(&error),
    }
}

async fn column(client: &Client, sql: &str) -> Vec<String> {
    simple_rows(client, sql)
        .await
        .into_iter()
        .map(|row| row[0].clone().unwrap_or_default())
        .collect()
}

fn configure(config: &mut lakeport::Config) {
    secure(config, AuthMethod::ScramSha256);
    config
        .auth
        .users
        .push(user("writer", "writerpw", Role::Write, Some(&["finance"])));
    config
        .auth
        .users
        .push(user("nobody", "nobodypw", Role::Read, Some(&[])));
}

async fn server() -> TestServer {
    TestServer::start_with(configure).await
}

async fn setup(admin: &Client) {
    for sql in [
        "CREATE SCHEMA finance",
        "CREATE TABLE finance.ledger (id INT, amount DOUBLE) USING parquet",
        "INSERT INTO finance.ledger VALUES (1, 9.5)",
        "CREATE SCHEMA hr",
        "CREATE TABLE hr.salaries (name STRING, salary INT) USING parquet",
        "CREATE TABLE hr.holidays (name STRING, days INT) USING parquet",
        "INSERT INTO hr.holidays VALUES ('ann', 25)",
    ] {
        admin
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_runs_what_it_may_and_sees_what_it_may_read() {
    let server = server().await;
    let admin = login(server.port, "admin", Some("adminpw")).await.unwrap();
    setup(&admin).await;
    let reader = login(server.port, "reader", Some("readerpw"))
        .await
        .unwrap();
    let writer = login(server.port, "writer", Some("writerpw"))
        .await
        .unwrap();

    // reader: role read, schema public only.
    assert_eq!(
        outcome(&reader, "SELECT count(*) FROM public.numbers").await,
        "ok"
    );
    assert_eq!(
        outcome(&reader, "SELECT * FROM numbers LIMIT 1").await,
        "ok"
    );
    assert_eq!(
        outcome(&reader, "SELECT * FROM finance.ledger").await,
        "42501 permission denied for schema finance"
    );
    assert_eq!(
        outcome(&reader, "SET search_path = finance; SELECT * FROM ledger").await,
        "42P01 relation \"ledger\" does not exist",
        "a schema the user may not read is skipped on the search path"
    );
    reader.simple_query("RESET search_path").await.unwrap();
    assert_eq!(
        outcome(
            &reader,
            "SELECT * FROM public.numbers n JOIN hr.salaries s ON true"
        )
        .await,
        "42501 permission denied for schema hr"
    );
    for statement in [
        "CREATE TABLE public.mine (id INT) USING parquet",
        "CREATE SCHEMA mine",
        "INSERT INTO finance.ledger VALUES (2, 1.0)",
        "DROP TABLE hr.salaries",
        "CREATE VIEW public.v AS SELECT 1",
        "ALTER TABLE finance.ledger SET TBLPROPERTIES ('a' = 'b')",
    ] {
        let result = outcome(&reader, statement).await;
        assert!(
            result.starts_with("42501 permission denied to"),
            "{statement}: {result}"
        );
    }
    assert_eq!(
        outcome(
            &reader,
            "CREATE TEMPORARY VIEW mine AS SELECT * FROM public.numbers"
        )
        .await,
        "ok",
        "temporary views are the session's own"
    );
    assert_eq!(
        outcome(&reader, "DESCRIBE TABLE finance.ledger").await,
        "42501 permission denied for schema finance"
    );
    let events = crate::harness::lake().join("events");
    let file_query = format!("SELECT count(*) FROM parquet.`{}`", events.display());
    assert_eq!(
        outcome(&reader, &file_query).await,
        "42501 permission denied to read files directly: user \"reader\" reads only some schemas",
        "a file query would reach around the schema allow list"
    );
    assert_eq!(outcome(&admin, &file_query).await, "ok");
    assert_eq!(
        outcome(&reader, "GRANT SELECT ON SCHEMA hr TO reader").await,
        "42501 permission denied to grant privileges"
    );
    let schemas = column(&reader, "SELECT nspname FROM pg_namespace ORDER BY 1").await;
    assert!(schemas.contains(&"public".to_string()), "{schemas:?}");
    for hidden in ["finance", "hr", "sales", "default"] {
        assert!(
            !schemas.contains(&hidden.to_string()),
            "{hidden} in {schemas:?}"
        );
    }
    assert_eq!(
        column(
            &reader,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('finance', 'hr')"
        )
        .await,
        vec!["0"]
    );
    assert_eq!(column(&reader, "SHOW DATABASES").await, vec!["public"]);

    // writer: role write, schema finance only.
    assert_eq!(
        outcome(&writer, "INSERT INTO finance.ledger VALUES (2, 1.5)").await,
        "ok"
    );
    assert_eq!(
        outcome(
            &writer,
            "CREATE TABLE finance.budget (id INT) USING parquet"
        )
        .await,
        "ok"
    );
    assert_eq!(outcome(&writer, "DROP TABLE finance.budget").await, "ok");
    assert_eq!(
        outcome(&writer, "CREATE TABLE hr.mine (id INT) USING parquet").await,
        "42501 permission denied for schema hr"
    );
    assert_eq!(
        outcome(&writer, "INSERT INTO hr.holidays VALUES ('bob', 1)").await,
        "42501 permission denied for schema hr"
    );
    assert_eq!(
        outcome(
            &writer,
            "CREATE TABLE finance.copied AS SELECT * FROM hr.salaries"
        )
        .await,
        "42501 permission denied for schema hr",
        "CTAS reads through the same checks"
    );
    assert_eq!(
        column(&writer, "SELECT sum(amount) FROM finance.ledger").await,
        vec!["11"]
    );

    // nobody: an empty allow list sees the system catalogs and nothing else.
    let nobody = login(server.port, "nobody", Some("nobodypw"))
        .await
        .unwrap();
    assert_eq!(
        outcome(&nobody, "SELECT * FROM public.numbers").await,
        "42501 permission denied for schema public"
    );
    assert_eq!(
        column(
            &nobody,
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        )
        .await
        .len(),
        1
    );
    assert_eq!(outcome(&nobody, "SELECT 1").await, "ok");

    // What BI tools ask before they offer a table or a schema.
    assert_eq!(
        column(
            &reader,
            "SELECT has_table_privilege('public.numbers', 'SELECT')::text || has_table_privilege('public.numbers', 'INSERT')::text || has_schema_privilege('public', 'USAGE')::text || has_schema_privilege('public', 'CREATE')::text"
        )
        .await,
        vec!["truefalsetruefalse"]
    );
    assert_eq!(
        column(
            &writer,
            "SELECT has_table_privilege('finance.ledger', 'INSERT')::text || has_schema_privilege(current_user, 'finance', 'CREATE')::text || has_table_privilege('pg_class', 'select')::text || has_table_privilege('pg_class', 'INSERT')::text"
        )
        .await,
        vec!["truetruetruefalse"]
    );
    assert_eq!(
        column(
            &reader,
            "SELECT coalesce(has_table_privilege('finance.ledger', 'SELECT')::text, 'unknown')"
        )
        .await,
        vec!["unknown"],
        "a table the user may not see is unknown to it"
    );

    // admin: everything.
    assert_eq!(
        outcome(&admin, "SELECT count(*) FROM hr.salaries").await,
        "ok"
    );
    assert_eq!(column(&admin, "SHOW is_superuser").await, vec!["on"]);
    assert_eq!(column(&reader, "SHOW is_superuser").await, vec!["off"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_widen_reading_survive_restarts_and_revoke_narrows_it() {
    let warehouse = scratch_dir("grants");
    let server = TestServer::start_in(&warehouse, configure).await;
    let admin = login(server.port, "admin", Some("adminpw")).await.unwrap();
    setup(&admin).await;
    let reader = login(server.port, "reader", Some("readerpw"))
        .await
        .unwrap();

    admin
        .simple_query("GRANT SELECT ON SCHEMA finance TO reader")
        .await
        .unwrap();
    admin
        .simple_query("GRANT SELECT ON hr.holidays TO reader")
        .await
        .unwrap();
    assert_eq!(
        column(&reader, "SELECT id FROM finance.ledger").await,
        vec!["1"]
    );
    assert_eq!(
        column(&reader, "SELECT days FROM hr.holidays").await,
        vec!["25"]
    );
    assert_eq!(
        outcome(&reader, "SELECT * FROM hr.salaries").await,
        "42501 permission denied for table salaries"
    );
    assert_eq!(
        column(&reader, "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'hr'").await,
        vec!["holidays"],
        "the catalog shows the granted table only"
    );
    assert_eq!(column(&reader, "SHOW TABLES IN hr").await, vec!["hr"]);
    assert_eq!(
        outcome(&reader, "INSERT INTO finance.ledger VALUES (3, 1)").await,
        "42501 permission denied to insert into table",
        "a grant gives reading only"
    );
    for (statement, expected) in [
        (
            "GRANT SELECT ON SCHEMA finance TO ghost",
            "42704 role \"ghost\" does not exist",
        ),
        (
            "GRANT INSERT ON finance.ledger TO reader",
            "0A000 lakeport grants SELECT only, not INSERT",
        ),
        (
            "GRANT SELECT ON SCHEMA nowhere TO reader",
            "3F000 schema \"nowhere\" does not exist",
        ),
        (
            "GRANT SELECT ON hr.nothing TO reader",
            "42P01 relation \"hr.nothing\" does not exist",
        ),
    ] {
        assert_eq!(outcome(&admin, statement).await, expected, "{statement}");
    }

    drop((admin, reader));
    drop(server);
    let restarted = TestServer::start_in(&warehouse, configure).await;
    let reader = login(restarted.port, "reader", Some("readerpw"))
        .await
        .unwrap();
    assert_eq!(
        column(&reader, "SELECT days FROM hr.holidays").await,
        vec!["25"],
        "grants are durable"
    );
    let admin = login(restarted.port, "admin", Some("adminpw"))
        .await
        .unwrap();
    admin
        .simple_query("REVOKE SELECT ON SCHEMA finance FROM reader")
        .await
        .unwrap();
    assert_eq!(
        outcome(&reader, "SELECT * FROM finance.ledger").await,
        "42501 permission denied for schema finance"
    );
    admin.simple_query("DROP TABLE hr.holidays").await.unwrap();
    admin
        .simple_query("CREATE TABLE hr.holidays (name STRING) USING parquet")
        .await
        .unwrap();
    assert_eq!(
        outcome(&reader, "SELECT * FROM hr.holidays").await,
        "42501 permission denied for schema hr",
        "a dropped table's grant does not pass to a new table of the same name"
    );
    let _ = std::fs::remove_dir_all(&warehouse);
}
