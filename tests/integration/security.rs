//! Authentication, TLS, idle timeouts and shutdown, through real clients: tokio-postgres
//! for plain connections and psql (libpq) for TLS, `verify-full` and channel binding.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lakeport::Config;
use lakeport::auth::{AuthMethod, Role, ScramVerifier, UserConfig};
use tokio_postgres::NoTls;

use crate::harness::{TestServer, free_port, scratch_dir, simple_rows, spawn_server};
use crate::rawwire::RawClient;

/// A CA and a server certificate for `localhost` and 127.0.0.1, made with openssl once.
pub struct TlsFiles {
    pub dir: PathBuf,
}

impl TlsFiles {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

pub fn tls_files() -> &'static TlsFiles {
    static FILES: OnceLock<TlsFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = scratch_dir("tls");
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("openssl is needed to make test certificates");
            assert!(status.success(), "openssl {args:?}");
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=lakeport test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
        ]);
        TlsFiles { dir }
    })
}

pub fn user(name: &str, password: &str, role: Role, schemas: Option<&[&str]>) -> UserConfig {
    UserConfig {
        name: name.into(),
        password: ScramVerifier::generate(password).encode(),
        role,
        schemas: schemas.map(|s| s.iter().map(|s| s.to_string()).collect()),
        settings: Default::default(),
    }
}

/// TLS, `method`, and users admin/adminpw, reader/readerpw (schema public) and old (an md5
/// verifier for oldpw).
pub fn secure(config: &mut Config, method: AuthMethod) {
    let tls = tls_files();
    config.auth.method = Some(method);
    config.auth.failure_delay = "300ms".into();
    config.auth.users = vec![
        user("admin", "adminpw", Role::Admin, None),
        user("reader", "readerpw", Role::Read, Some(&["public"])),
        UserConfig {
            name: "old".into(),
            password: lakeport::auth::verifier::md5_verifier("old", "oldpw"),
            role: Role::Read,
            schemas: None,
            settings: Default::default(),
        },
    ];
    config.tls.certificate = tls.certificate().display().to_string();
    config.tls.private_key = tls.key().display().to_string();
}

/// A server [`secure`]d with `method`, then `adjust`ed.
pub async fn secured_server(method: AuthMethod, adjust: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with(|config| {
        secure(config, method);
        adjust(config);
    })
    .await
}

/// Logs in over plain TCP; the SQLSTATE and message on failure.
pub async fn login(
    port: u16,
    user: &str,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, (String, String)> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .dbname("lakeport");
    if let Some(password) = password {
        config.password(password);
    }
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Err(error) => Err(match error.as_db_error() {
            Some(db) => (db.code().code().to_string(), db.message().to_string()),
            None => (String::new(), error.to_string()),
        }),
    }
}

/// Whether psql is here; without it the TLS cases are skipped, loudly, unless CI requires it.
pub fn psql_available() -> bool {
    let found = Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("REQUIRE_PSQL").is_none(),
            "REQUIRE_PSQL is set but psql is not installed"
        );
        eprintln!(
            "\n*** SKIPPING the psql (libpq TLS) cases: psql is not installed (apt-get install postgresql-client) ***\n"
        );
    }
    found
}

/// Runs `sql` with psql (`-At`) over a connection string; stdout, or stderr on failure.
pub async fn psql(conninfo: String, password: &str, sql: &str) -> Result<String, String> {
    let password = password.to_string();
    let sql = sql.to_string();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("psql")
            .arg(conninfo)
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", &sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("run psql");
        match output.status.success() {
            true => Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()),
            false => Err(String::from_utf8_lossy(&output.stderr).trim().to_string()),
        }
    })
    .await
    .expect("psql task")
}

pub fn conninfo(port: u16, user: &str, options: &str) -> String {
    format!("host=localhost port={port} user={user} dbname=lakeport {options}")
}

fn verify_full(ca: &Path) -> String {
    format!("sslmode=verify-full sslrootcert={}", ca.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_lets_in_the_right_password_and_nobody_else_alike() {
    let server = secured_server(AuthMethod::ScramSha256, |_| {}).await;
    let client = login(server.port, "admin", Some("adminpw"))
        .await
        .expect("admin logs in");
    assert_eq!(
        simple_rows(&client, "SELECT current_user").await,
        vec![vec![Some("admin".to_string())]]
    );

    let wrong = login(server.port, "admin", Some("adminPW"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        wrong,
        (
            "28P01".into(),
            "password authentication failed for user \"admin\"".into()
        )
    );
    let started = Instant::now();
    let ghost = login(server.port, "ghost", Some("adminpw"))
        .await
        .err()
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "a failure waits auth.failure_delay"
    );
    assert_eq!(
        ghost,
        (
            "28P01".into(),
            "password authentication failed for user \"ghost\"".into()
        )
    );
    assert!(
        login(server.port, "admin", None).await.is_err(),
        "no password, no entry"
    );
    // An md5 verifier cannot answer SCRAM: under scram-sha-256 that user cannot log in.
    let old = login(server.port, "old", Some("oldpw"))
        .await
        .err()
        .unwrap();
    assert_eq!(old.0, "28P01");
    let still = login(server.port, "reader", Some("readerpw"))
        .await
        .expect("others still get in");
    assert_eq!(
        simple_rows(&still, "SELECT 1").await,
        vec![vec![Some("1".to_string())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_for_md5_verifiers_and_scram_for_the_rest() {
    let server = secured_server(AuthMethod::Md5, |_| {}).await;
    login(server.port, "old", Some("oldpw"))
        .await
        .expect("md5 user");
    assert_eq!(
        login(server.port, "old", Some("oldpx"))
            .await
            .err()
            .unwrap()
            .0,
        "28P01"
    );
    login(server.port, "admin", Some("adminpw"))
        .await
        .expect("scram user under md5");
    assert_eq!(
        login(server.port, "ghost", Some("x"))
            .await
            .err()
            .unwrap()
            .0,
        "28P01"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_lets_in_configured_users_only_and_only_from_loopback() {
    let server = TestServer::start_with(|config| {
        config.auth.method = Some(AuthMethod::Trust);
        config.auth.users = vec![user("admin", "adminpw", Role::Admin, None)];
    })
    .await;
    login(server.port, "admin", None)
        .await
        .expect("trust: no password");
    let ghost = login(server.port, "ghost", None).await.err().unwrap();
    assert_eq!(
        ghost,
        ("28000".into(), "role \"ghost\" does not exist".into())
    );

    let mut config = Config::default();
    config.server.listen = "0.0.0.0:5432".parse().unwrap();
    let refused = config.validate().unwrap_err().to_string();
    assert!(
        refused.contains("refusing to listen on 0.0.0.0:5432 with trust"),
        "{refused}"
    );
    config.auth.allow_remote_trust = true;
    config.validate().expect("said explicitly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_verify_full_channel_binding_and_cleartext_over_tls() {
    if !psql_available() {
        return;
    }
    let tls = tls_files();
    let server = secured_server(AuthMethod::ScramSha256, |_| {}).await;
    let full = verify_full(&tls.ca());
    let answer = psql(
        conninfo(server.port, "reader", &full),
        "readerpw",
        "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        // pg_stat_ssl may not exist yet: the connection itself is what is tested here.
        Err(_) => psql(
            conninfo(server.port, "reader", &full),
            "readerpw",
            "SELECT current_user",
        )
        .await
        .unwrap(),
    };
    assert!(answer.starts_with("reader"), "{answer}");
    let bound = psql(
        conninfo(
            server.port,
            "admin",
            "sslmode=require channel_binding=require",
        ),
        "adminpw",
        "SELECT 42",
    )
    .await;
    assert_eq!(bound, Ok("42".to_string()));
    let wrong = psql(conninfo(server.port, "admin", &full), "nope", "SELECT 1")
        .await
        .unwrap_err();
    assert!(
        wrong.contains("password authentication failed for user \"admin\""),
        "{wrong}"
    );
    let wrong_host = psql(
        format!(
            "host=127.0.0.2 port={} user=admin dbname=lakeport {full}",
            server.port
        ),
        "adminpw",
        "SELECT 1",
    )
    .await
    .unwrap_err();
    assert!(
        wrong_host.contains("127.0.0.2"),
        "verify-full checks the name: {wrong_host}"
    );

    let cleartext = secured_server(AuthMethod::Password, |_| {}).await;
    let plain = login(cleartext.port, "admin", Some("adminpw"))
        .await
        .err()
        .unwrap();
    assert_eq!(plain.0, "28000", "{plain:?}");
    assert!(plain.1.contains("needs a TLS connection"), "{plain:?}");
    assert_eq!(
        psql(
            conninfo(cleartext.port, "admin", "sslmode=require"),
            "adminpw",
            "SELECT 7"
        )
        .await,
        Ok("7".to_string())
    );
    let md5_user = psql(
        conninfo(cleartext.port, "old", "sslmode=require"),
        "oldpw",
        "SELECT 8",
    )
    .await;
    assert_eq!(md5_user, Ok("8".to_string()));
    let wrong = psql(
        conninfo(cleartext.port, "admin", "sslmode=require"),
        "x",
        "SELECT 1",
    )
    .await
    .unwrap_err();
    assert!(wrong.contains("password authentication failed"), "{wrong}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_closed_with_their_own_sqlstate() {
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.port, false).await;
    raw.run("SET idle_session_timeout = '200ms'").await;
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.read())
        .await
        .expect("closed in time");
    assert_eq!(closed.tag, b'E');
    let fields = closed.error_fields();
    assert_eq!(fields[&'C'], "57P05", "{fields:?}");
    assert_eq!(fields[&'S'], "FATAL");

    let mut raw = RawClient::connect(server.port, false).await;
    raw.run("SET idle_in_transaction_session_timeout = '200ms'")
        .await;
    raw.run("SELECT 1").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    raw.run("SELECT 2").await;
    raw.run("BEGIN").await;
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.read())
        .await
        .expect("closed in time");
    assert_eq!(closed.error_fields()[&'C'], "25P03");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_query_finish_and_exits_cleanly() {
    let warehouse = scratch_dir("shutdown");
    let port = free_port();
    let mut server = spawn_server(
        &warehouse,
        port,
        &[("LAKEPORT_SERVER_SHUTDOWN_GRACE", "\"30s\"")],
    );
    let mut running = None;
    for _ in 0..200 {
        if let Ok(client) = login(port, "tester", None).await {
            running = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = running.expect("the server accepts connections");
    let mut idle = RawClient::connect(port, false).await;
    let slow = "SELECT sum(value % 7) FROM generate_series(1, 300000000)";
    let query = tokio::spawn(async move { running.simple_query(slow).await.map(|m| m.len()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );

    let goodbye = tokio::time::timeout(Duration::from_secs(5), idle.read())
        .await
        .expect("idle session closed");
    assert_eq!(goodbye.error_fields()[&'C'], "57P01");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        login(port, "tester", None).await.is_err(),
        "no new connections while shutting down"
    );
    let finished = tokio::time::timeout(Duration::from_secs(60), query)
        .await
        .expect("query ends")
        .unwrap();
    assert!(
        finished.is_ok(),
        "the running query finished within the grace period: {finished:?}"
    );
    let mut status = None;
    for _ in 0..200 {
        status = server.0.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("the server exits once the query is done");
    assert!(status.success(), "exit status {status:?}");
    let _ = std::fs::remove_dir_all(warehouse);
}

/// The "done when", as a new user would try it: a second user with a password,
/// over TLS from psql, sees only the schemas granted, cannot create tables, and is cut off
/// by the statement timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_user_over_tls_sees_only_its_schemas_and_is_cut_off_by_its_timeout() {
    if !psql_available() {
        return;
    }
    let tls = tls_files();
    let server = secured_server(AuthMethod::ScramSha256, |config| {
        let mut analyst = user("analyst", "s3cret!", Role::Read, Some(&["finance"]));
        analyst
            .settings
            .insert("statement_timeout".into(), "1s".into());
        config.auth.users.push(analyst);
    })
    .await;
    let admin = login(server.port, "admin", Some("adminpw")).await.unwrap();
    for sql in [
        "CREATE SCHEMA finance",
        "CREATE TABLE finance.ledger (id INT) USING parquet",
        "INSERT INTO finance.ledger VALUES (1), (2)",
        "CREATE SCHEMA hr",
        "CREATE TABLE hr.salaries (id INT) USING parquet",
    ] {
        admin.simple_query(sql).await.unwrap();
    }
    let analyst = conninfo(server.port, "analyst", &verify_full(&tls.ca()));
    let schemas = psql(
        analyst.clone(),
        "s3cret!",
        "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace",
    )
    .await
    .unwrap();
    assert_eq!(schemas, "finance,information_schema,lakeport,pg_catalog");
    assert_eq!(
        psql(
            analyst.clone(),
            "s3cret!",
            "SELECT count(*) FROM finance.ledger"
        )
        .await,
        Ok("2".into())
    );
    let create = psql(
        analyst.clone(),
        "s3cret!",
        "CREATE TABLE finance.mine (id INT) USING parquet",
    )
    .await
    .unwrap_err();
    assert!(
        create.contains("permission denied to create table"),
        "{create}"
    );
    let hidden = psql(analyst.clone(), "s3cret!", "SELECT * FROM hr.salaries")
        .await
        .unwrap_err();
    assert!(
        hidden.contains("permission denied for schema hr"),
        "{hidden}"
    );
    let started = Instant::now();
    let slow = psql(
        analyst,
        "s3cret!",
        "SELECT sum(value % 7) FROM generate_series(1, 3000000000)",
    )
    .await
    .unwrap_err();
    assert!(
        slow.contains("canceling statement due to statement timeout"),
        "{slow}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "cut off, not run to the end"
    );
}

#[test]
fn passwd_prints_verifiers_that_match_the_password_read() {
    let run = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_lakeport"))
            .arg("passwd")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run lakeport passwd");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };
    let (ok, scram) = run(&[], "correct horse\n");
    assert!(ok);
    let verifier = lakeport::auth::Verifier::parse(scram.trim()).expect("a SCRAM verifier");
    assert!(verifier.matches_cleartext("anyone", "correct horse"));
    assert!(!verifier.matches_cleartext("anyone", "correct horse\n"));
    let (ok, md5) = run(&["--md5", "ann"], "pw");
    assert!(ok);
    assert_eq!(
        md5.trim(),
        lakeport::auth::verifier::md5_verifier("ann", "pw")
    );
    let (ok, _) = run(&[], "\n");
    assert!(!ok, "an empty password is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_still_running_after_the_grace_period_are_terminated() {
    let mut server =
        TestServer::start_with(|config| config.server.shutdown_grace = "300ms".into()).await;
    let running = server.connect().await;
    let slow = "SELECT sum(value % 7) FROM generate_series(1, 3000000000)";
    let query = tokio::spawn(async move { running.simple_query(slow).await.map(|m| m.len()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    server.begin_shutdown();
    let error = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .expect("terminated, not run to the end")
        .unwrap()
        .unwrap_err();
    assert_eq!(
        error.as_db_error().map(|db| db.code().code()),
        Some("57P01"),
        "{error:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the grace period"
    );
}
