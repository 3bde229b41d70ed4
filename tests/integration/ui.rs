//! The monitoring web UI and the JSON it reads: a running statement listed with its plan
//! and progress and canceled through the API; admins only once the server has users; and
//! the page itself driven in headless Chromium (tests/ui/browser.mjs), which must click
//! through the same steps an admin would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use lakeport::auth::AuthMethod;
use serde_json::Value;
use tokio_postgres::Client;

use crate::activity::{LONG_JOIN, pid_of};
use crate::harness::TestServer;
use crate::monitoring::{get, http};
use crate::security::secure;

async fn get_json(port: u16, path: &str) -> (u16, Value) {
    let (status, _, body) = get(port, path).await;
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, json)
}

async fn post_cancel(port: u16, id: u64, from_the_ui: bool) -> (u16, String) {
    let marker = if from_the_ui {
        "X-Lakeport-UI: 1\r\n"
    } else {
        ""
    };
    let request = format!(
        "POST /api/queries/{id}/cancel HTTP/1.1\r\nHost: localhost\r\n{marker}Content-Length: 0\r\n\r\n"
    );
    let (status, _, body) = http(port, &request).await;
    (status, body)
}

/// Starts the long join on `worker` and returns its query id once the API lists it running.
async fn start_long_query(
    port: u16,
    worker: Client,
) -> (
    u64,
    tokio::task::JoinHandle<Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>>,
) {
    let pid = pid_of(&worker).await;
    let running = tokio::spawn(async move { worker.query(LONG_JOIN, &[]).await });
    for _ in 0..200 {
        let (_, list) = get_json(port, "/api/queries").await;
        let listed = list["running"].as_array().and_then(|running| {
            running
                .iter()
                .find(|q| q["pid"] == pid && q["query"].as_str() == Some(LONG_JOIN))
        });
        if let Some(query) = listed {
            return (query["id"].as_u64().expect("an id"), running);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the long query never showed as running");
}

/// Node types anywhere in a list of plan trees.
fn node_types(plans: &Value) -> Vec<String> {
    fn walk(node: &Value, types: &mut Vec<String>) {
        if let Some(name) = node["Node Type"].as_str() {
            types.push(name.to_string());
        }
        for child in node["Plans"].as_array().into_iter().flatten() {
            walk(child, types);
        }
    }
    let mut types = Vec::new();
    for plan in plans.as_array().into_iter().flatten() {
        walk(plan, &mut types);
    }
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_a_running_query_with_its_plan_and_cancels_it() {
    let server = TestServer::start().await;
    let port = server.http_port.expect("the monitoring listener is on");
    let observer = server.connect().await;
    let (id, running) = start_long_query(port, server.connect().await).await;

    let activity_id: Option<i64> = observer
        .query_one(
            "SELECT query_id FROM pg_stat_activity WHERE query = $1",
            &[&LONG_JOIN],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(activity_id, Some(id as i64), "pg_stat_activity's query_id");

    let (status, live) = get_json(port, &format!("/api/queries/{id}")).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["state"], "running");
    let types = node_types(&live["plans"]);
    assert!(
        types.iter().any(|t| t.contains("Join")) && types.iter().any(|t| t == "DataSourceExec"),
        "a join over scans: {types:?}"
    );

    let (status, body) = post_cancel(port, id, false).await;
    assert_eq!(status, 403, "a cancel without the UI's header: {body}");
    let (status, body) = post_cancel(port, id, true).await;
    assert_eq!(status, 200, "{body}");
    let error = running.await.unwrap().expect_err("the query was canceled");
    assert_eq!(
        error.as_db_error().map(|e| e.code().code()),
        Some("57014"),
        "{error}"
    );

    let mut finished = Value::Null;
    for _ in 0..100 {
        finished = get_json(port, &format!("/api/queries/{id}")).await.1;
        if finished["state"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(finished["state"], "canceled", "{finished}");
    assert_eq!(finished["sqlstate"], "57014");
    let scan_rows = finished["plans"][0].to_string().contains("\"output_rows\"");
    assert!(
        scan_rows,
        "the kept plan carries its final metrics: {finished}"
    );
    let (_, list) = get_json(port, "/api/queries").await;
    assert_eq!(list["recent"][0]["id"], id, "the latest finished statement");
    assert_eq!(
        post_cancel(port, id, true).await.0,
        409,
        "no longer running"
    );
    assert_eq!(get_json(port, "/api/queries/123456789").await.0, 404);
    assert_eq!(get_json(port, "/api/queries/abc").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_files_are_served_from_the_binary() {
    let server = TestServer::start().await;
    let port = server.http_port.expect("the monitoring listener is on");
    let (status, head, page) = get(port, "/").await;
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert!(
        head.contains("Content-Security-Policy: default-src 'self'"),
        "{head}"
    );
    assert!(
        page.contains("/ui/app.js") && page.contains("/ui/style.css"),
        "{page}"
    );
    for (path, kind) in [
        ("/ui/app.js", "text/javascript"),
        ("/ui/style.css", "text/css"),
    ] {
        let (status, head, body) = get(port, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(head.contains(kind), "{path}: {head}");
        assert!(!body.is_empty(), "{path}");
        assert!(
            !body.contains("http://") || path.ends_with(".js"),
            "{path} links out"
        );
    }
    assert_eq!(get(port, "/ui/nothing.js").await.0, 404);
    let (status, _, _) = http(
        port,
        "DELETE /api/queries HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);
    let (status, _, body) = http(
        port,
        "GET /api/queries HTTP/1.1\r\nHost: rebound.example:9430\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403, "a DNS name rebound to this machine: {body}");
    let (status, _, _) = http(
        port,
        &format!("GET /api/queries HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "an address is fine");
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {encoded}\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_users_the_ui_is_for_admins_and_metrics_stay_open() {
    let server = TestServer::start_with(|config| secure(config, AuthMethod::ScramSha256)).await;
    let port = server.http_port.expect("the monitoring listener is on");
    let request = |credentials: String| {
        format!("GET /api/queries HTTP/1.1\r\nHost: localhost\r\n{credentials}\r\n")
    };
    let (status, head, _) = http(port, &request(String::new())).await;
    assert_eq!(status, 401);
    assert!(
        head.contains("WWW-Authenticate: Basic realm=\"lakeport\""),
        "{head}"
    );
    assert_eq!(http(port, &request(basic("admin", "wrong"))).await.0, 401);
    assert_eq!(
        http(port, &request(basic("nobody", "adminpw"))).await.0,
        401
    );
    let (status, _, body) = http(port, &request(basic("reader", "readerpw"))).await;
    assert_eq!(status, 403);
    assert!(body.contains("role admin"), "{body}");
    let (status, _, body) = http(port, &request(basic("admin", "adminpw"))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"running\""), "{body}");
    assert_eq!(get(port, "/").await.0, 401, "the page too");
    assert_eq!(get(port, "/metrics").await.0, 200);
    assert_eq!(get(port, "/healthz").await.0, 200);
}

/// Node, the playwright-core package from `npm ci --prefix tests/ui`, and Chromium; `None`
/// (the test skips, loudly) when one is missing and REQUIRE_BROWSER is not set.
fn browser_kit() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node").arg("--version").output();
    let missing = [
        (node.is_err(), "node"),
        (
            !dir.join("node_modules/playwright-core").exists(),
            "tests/ui/node_modules (npm ci --prefix tests/ui)",
        ),
        (
            !Path::new(&chromium).exists(),
            "chromium (apt-get install chromium)",
        ),
    ]
    .into_iter()
    .filter(|(missing, _)| *missing)
    .map(|(_, what)| what)
    .collect::<Vec<_>>();
    if missing.is_empty() {
        return Some(dir);
    }
    let message = format!("the browser test needs {}", missing.join(", "));
    if std::env::var_os("REQUIRE_BROWSER").is_some() {
        panic!("{message} (REQUIRE_BROWSER is set)");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_an_admin_finds_a_running_query_reads_its_plan_and_cancels_it() {
    let Some(kit) = browser_kit() else { return };
    let server = TestServer::start().await;
    let port = server.http_port.expect("the monitoring listener is on");
    let (id, running) = start_long_query(port, server.connect().await).await;
    let artifacts = kit.join("artifacts");
    let browsing = tokio::process::Command::new("node")
        .arg(kit.join("browser.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(id.to_string())
        .arg(&artifacts)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), browsing)
        .await
        .expect("the browser finished within two minutes")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let seen: Value = serde_json::from_str(stdout.trim()).expect("the script's JSON line");

    assert!(
        seen["listedText"]
            .as_str()
            .unwrap_or("")
            .contains("numbers a"),
        "{seen}"
    );
    let types: Vec<&str> = seen["nodeTypes"]
        .as_array()
        .expect("node types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        types.iter().any(|t| t.contains("Join")) && types.contains(&"DataSourceExec"),
        "the plan graph's operators: {types:?}"
    );
    assert!(
        seen["panelTitle"].as_str().unwrap_or("").contains("Join"),
        "{seen}"
    );
    assert!(
        seen["panelMetrics"].to_string().contains("output_rows"),
        "the operator's metrics: {seen}"
    );
    assert!(
        seen["error"].as_str().unwrap_or("").contains("57014"),
        "{seen}"
    );
    assert!(
        seen["recentText"]
            .as_str()
            .unwrap_or("")
            .contains("canceled"),
        "{seen}"
    );
    assert_eq!(
        seen["requests"],
        serde_json::json!([format!("127.0.0.1:{port}")]),
        "no other host"
    );
    assert!(seen.get("pageError").is_none(), "{seen}");

    let error = running.await.unwrap().expect_err("canceled from the page");
    assert_eq!(error.as_db_error().map(|e| e.code().code()), Some("57014"));
    for shot in ["ui-running.png", "ui-plan.png", "ui-canceled.png"] {
        let png = std::fs::read(artifacts.join(shot)).expect("the screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
    eprintln!("screenshots: {}", artifacts.display());
}
