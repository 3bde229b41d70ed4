//! The monitoring listener: /metrics in Prometheus' text format with counters that move as
//! statements run, /healthz, /readyz (also when storage is down), and HTTP errors.

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::TestServer;

/// Sends one raw HTTP request and returns (status, headers, body).
pub async fn http(port: u16, request: &str) -> (u16, String, String) {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the monitoring listener");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_string(), body.to_string())
}

pub async fn get(port: u16, path: &str) -> (u16, String, String) {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"),
    )
    .await
}

/// Samples of a Prometheus text exposition, by name and label set, checked against the
/// format as it is parsed: every sample's family has HELP and TYPE lines before it, names
/// and labels are well formed, values are numbers.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    let valid_name = |name: &str| {
        !name.is_empty()
            && name.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name), "bad HELP line {line:?}");
            helped.insert(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad TYPE line {line:?}"
            );
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "two TYPE lines for {name}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "bad metric name in {line:?}");
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels in {line:?}"
            );
            for pair in labels[1..labels.len() - 1].split(',') {
                let (key, quoted) = pair.split_once('=').expect("label=value");
                assert!(
                    valid_name(key) && quoted.starts_with('"') && quoted.ends_with('"'),
                    "bad label {pair:?}"
                );
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            typed.contains_key(family) && helped.contains(family),
            "{name} has no HELP/TYPE"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

/// All statements ended, by the sum of the outcome counters.
fn statements_of(samples: &HashMap<String, f64>) -> f64 {
    ["finished", "failed", "canceled"]
        .iter()
        .map(|o| samples[&format!("lakeport_statements_total{{outcome=\"{o}\"}}")])
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_statements_run() {
    let server = TestServer::start().await;
    let port = server.http_port.expect("the monitoring listener is on");
    let client = server.connect().await;
    let rows = client
        .query("SELECT n FROM numbers WHERE n <= 5", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    client.simple_query("SELECT 1/0").await.unwrap_err();

    let (status, head, body) = get(port, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let before = parse_exposition(&body);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("a standard parser reads the page");
    let finished = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "lakeport_statements_total" && s.labels.get("outcome") == Some("finished")
        })
        .expect("statements by outcome");
    assert!(matches!(finished.value, prometheus_parse::Value::Counter(v) if v >= 1.0));
    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "lakeport_statement_duration_seconds")
        .expect("the duration histogram");
    let prometheus_parse::Value::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram: {histogram:?}");
    };
    assert_eq!(
        buckets.last().map(|b| b.count),
        Some(statements_of(&before))
    );
    for sample in &scrape.samples {
        let family = ["_sum", "_count"]
            .iter()
            .find_map(|suffix| sample.metric.strip_suffix(suffix))
            .filter(|family| scrape.docs.contains_key(*family))
            .unwrap_or(&sample.metric);
        assert!(
            scrape.docs.contains_key(family),
            "no HELP for {}",
            sample.metric
        );
    }
    let value = |samples: &HashMap<String, f64>, series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {samples:?}"))
    };
    assert_eq!(value(&before, "lakeport_connections"), 1.0);
    assert!(value(&before, "lakeport_statements_total{outcome=\"finished\"}") >= 1.0);
    assert_eq!(
        value(&before, "lakeport_statements_total{outcome=\"failed\"}"),
        1.0
    );
    let statements = statements_of(&before);
    assert_eq!(
        value(&before, "lakeport_statement_duration_seconds_count"),
        statements
    );
    assert_eq!(
        value(
            &before,
            "lakeport_statement_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        statements
    );
    assert!(value(&before, "lakeport_rows_sent_total") >= 5.0);
    assert!(value(&before, "lakeport_rows_read_total") > 0.0);
    assert!(value(&before, "lakeport_storage_read_bytes_total") > 0.0);
    assert!(value(&before, "lakeport_storage_requests_total{kind=\"read\"}") > 0.0);

    client
        .query("SELECT n FROM numbers WHERE n <= 5", &[])
        .await
        .unwrap();
    let (_, _, body) = get(port, "/metrics").await;
    let after = parse_exposition(&body);
    assert_eq!(
        value(&after, "lakeport_statements_total{outcome=\"finished\"}"),
        value(&before, "lakeport_statements_total{outcome=\"finished\"}") + 1.0
    );
    assert_eq!(
        value(&after, "lakeport_rows_sent_total"),
        value(&before, "lakeport_rows_sent_total") + 5.0
    );
    assert!(
        value(&after, "lakeport_storage_read_bytes_total")
            > value(&before, "lakeport_storage_read_bytes_total")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_http_errors() {
    let server = TestServer::start().await;
    let port = server.http_port.expect("the monitoring listener is on");
    assert_eq!(get(port, "/healthz").await.0, 200);
    let (status, _, body) = get(port, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert_eq!(get(port, "/nowhere").await.0, 404);
    let (status, _, _) = http(
        port,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
    )
    .await;
    assert_eq!(status, 405);
    let (status, head, body) = http(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200);
    assert!(
        body.is_empty() && head.contains("Content-Length: "),
        "{head}"
    );
    assert_eq!(http(port, "NONSENSE\r\n\r\n").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_storage_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = TestServer::start_with(|config| {
        config.storage.s3 = toml::from_str(&format!(
            "endpoint = \"{endpoint}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKIATEST\"\n\
             secret_access_key = \"secret\"\nallow_http = true\n[buckets.down]\n"
        ))
        .unwrap();
        config.storage.allowed_locations.push("s3://down/".into());
        config.storage.max_retries = 0;
        config.storage.request_timeout = "1s".into();
        config.storage.retry_timeout = "1s".into();
        config.catalog.managed_location = "s3://down/managed/".into();
    })
    .await;
    let port = server.http_port.expect("the monitoring listener is on");
    assert_eq!(
        get(port, "/healthz").await.0,
        200,
        "the process itself is alive"
    );
    let (status, _, body) = get(port, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready:"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_can_be_turned_off() {
    let server = TestServer::start_with(|config| config.monitoring.http = false).await;
    assert_eq!(server.http_port, None);
    let client = server.connect().await;
    assert_eq!(client.query("SELECT 1", &[]).await.unwrap().len(), 1);
}
