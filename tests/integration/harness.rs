//! The test server: a real lakeport, in-process on port 0, over fixture tables the tests
//! generate themselves, and real tokio-postgres clients connected to it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, ListArray, StringArray, StructArray,
    Time64MicrosecondArray, TimestampMicrosecondArray, UInt8Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use lakeport::Config;
use lakeport::config::TableConfig;
use lakeport::sql::Service;
use tokio::sync::oneshot;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::rawwire::RawClient;

pub struct TestServer {
    pub port: u16,
    /// The monitoring listener's port, unless the test turned it off.
    pub http_port: Option<u16>,
    pub service: Arc<Service>,
    pub warehouse: PathBuf,
    /// A warehouse this server made for itself, deleted when it stops.
    owned_warehouse: Option<PathBuf>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A new empty directory under cargo's temporary directory for integration tests.
pub fn scratch_dir(purpose: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scratch")
        .join(format!("{purpose}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

impl TestServer {
    /// A server with the fixture tables, default settings and an empty warehouse of its own.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let warehouse = scratch_dir("warehouse");
        let mut server = Self::start_in(&warehouse, adjust).await;
        if server.warehouse == warehouse {
            server.owned_warehouse = Some(warehouse);
        } else {
            let _ = std::fs::remove_dir_all(&warehouse);
        }
        server
    }

    /// A server on an existing warehouse (which outlives it), to test what survives restarts.
    pub async fn start_in(warehouse: &Path, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::default();
        config.demo.enabled = false;
        config.engine.threads = 2;
        config.server.listen = "127.0.0.1:0".parse().expect("a socket address");
        config.monitoring.http_listen = "127.0.0.1:0".parse().expect("a socket address");
        config.catalog.warehouse = warehouse.to_path_buf();
        config.tables = fixture_tables();
        // Scratch space and fixtures, and a bucket only ever named in metadata (databases.slt).
        config.storage.allowed_locations = vec![
            env!("CARGO_TARGET_TMPDIR").to_string(),
            "s3://bucket/".to_string(),
        ];
        adjust(&mut config);
        let warehouse = config.catalog.warehouse.clone();
        let listeners = lakeport::server::bind(&config).await.expect("bind port 0");
        let port = listeners
            .postgres
            .local_addr()
            .expect("local address")
            .port();
        let http_port = listeners
            .monitoring
            .as_ref()
            .map(|http| http.local_addr().expect("local address").port());
        let service = lakeport::server::build(config)
            .await
            .expect("build the server");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serving = service.clone();
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            if let Err(e) = lakeport::server::serve(serving, listeners, stopped).await {
                panic!("test server failed: {e}");
            }
        });
        Self {
            port,
            http_port,
            service,
            warehouse,
            owned_warehouse: None,
            shutdown: Some(shutdown),
        }
    }

    pub fn connection_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=tester dbname=lakeport application_name=lakeport-tests",
            self.port
        )
    }

    /// Waits (up to five seconds) until no query is executing, and says whether that happened.
    pub async fn queries_drain(&self) -> bool {
        for _ in 0..100 {
            if self.service.engine.running_queries() == 0 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    /// A raw protocol client past startup.
    pub async fn raw(&self) -> RawClient {
        RawClient::connect(self.port, false).await
    }

    /// A connected client; its connection task runs until the client is dropped.
    pub async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.connection_string(), NoTls)
            .await
            .expect("connect to the test server");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

impl TestServer {
    /// Starts the server's shutdown (as SIGTERM does for the binary).
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(warehouse) = self.owned_warehouse.take() {
            let _ = std::fs::remove_dir_all(warehouse);
        }
    }
}

/// The rows of a simple-protocol query as text (`None` for NULL), all statements' together.
pub async fn simple_rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows_of(&messages)
}

/// The rows among a simple query's messages, as text.
pub fn rows_of(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The fixture directory, generated once per machine (atomically, so concurrent test
/// processes share it) under cargo's temporary directory for integration tests.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lakeport-fixtures-v6");
        if !dir.join("_SUCCESS").exists() {
            let staging = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("lakeport-fixtures-staging-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&staging);
            if let Err(e) = write_fixtures(&staging) {
                let _ = std::fs::remove_dir_all(&staging);
                panic!("cannot write the test fixtures: {e}");
            }
            if std::fs::rename(&staging, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&staging);
            }
        }
        dir
    })
}

fn fixture_tables() -> Vec<TableConfig> {
    let dir = fixtures();
    let table = |name: &str, path: &str| {
        TableConfig::from_flag(&format!("{name}={}", dir.join(path).display()))
            .expect("a table flag")
    };
    vec![
        table("public.alltypes", "alltypes"),
        table("public.cities", "cities.csv"),
        table("sales.orders", "orders"),
        table("public.numbers", "numbers"),
    ]
}

fn write_fixtures(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("alltypes"))?;
    std::fs::create_dir_all(dir.join("orders"))?;
    write_parquet(&dir.join("alltypes/part-0.parquet"), alltypes_batch())?;
    write_parquet(&dir.join("orders/part-0.parquet"), orders_batch(0, 3))?;
    write_parquet(&dir.join("orders/part-1.parquet"), orders_batch(3, 6))?;
    std::fs::create_dir_all(dir.join("numbers"))?;
    write_parquet(&dir.join("numbers/part-0.parquet"), numbers_batch(1000))?;
    std::fs::write(
        dir.join("cities.csv"),
        "id,name,country,population\n\
         1,Amsterdam,NL,921402\n\
         2,Lisbon,PT,545796\n\
         3,Zürich,CH,423193\n\
         4,Oslo,NO,\n",
    )?;
    write_lake(&dir.join("lake"))?;
    std::fs::write(dir.join("_SUCCESS"), "")
}

/// Files laid out as a data lake holds them, for tables declared over existing files:
/// `events/` (Parquet, Hive-partitioned by year and zero-padded month, with Hadoop's
/// marker and checksum files), `cities/` (CSV with a header), `pipes/` (`|`-delimited
/// text, no header), `logs/` (CSV partitioned by date, one partition NULL) and `clicks/`
/// (JSON Lines partitioned by region: nested objects, arrays, keys in any order, a field
/// that is always null), `clicks_pretty/` (JSON arrays of objects spread over lines, for
/// `multiLine` tables) and `clicks_gz/` (gzip-compressed JSON Lines).
fn write_lake(lake: &Path) -> std::io::Result<()> {
    for (directory, start, end) in [
        ("events/year=2024/month=01", 0, 3),
        ("events/year=2024/month=02", 3, 6),
        ("events/year=2025/month=01", 6, 10),
    ] {
        std::fs::create_dir_all(lake.join(directory))?;
        write_parquet(
            &lake.join(directory).join("part-00000.parquet"),
            orders_batch(start, end),
        )?;
    }
    std::fs::write(lake.join("events/_SUCCESS"), "")?;
    std::fs::write(
        lake.join("events/year=2024/month=02/.part-00000.parquet.crc"),
        "not parquet",
    )?;
    std::fs::create_dir_all(lake.join("cities"))?;
    std::fs::write(
        lake.join("cities/cities.csv"),
        "id,name,country,population\n1,Amsterdam,NL,921402\n2,Lisbon,PT,545796\n3,Zürich,CH,423193\n",
    )?;
    std::fs::create_dir_all(lake.join("pipes"))?;
    std::fs::write(lake.join("pipes/data.txt"), "1|one\n2|two\n3|NULL\n")?;
    for (directory, body) in [
        (
            "clicks/region=eu",
            concat!(
                r#"{"name":"ann","id":1,"tags":["a","b"],"device":{"os":"ios","version":17},"amount":2.5,"at":"2024-01-01T10:00:00Z"}"#,
                "\n",
                r#"{"id":2,"name":"bo","tags":[],"device":{"version":14,"os":"android"},"amount":null,"extra":null}"#,
                "\n",
            ),
        ),
        (
            "clicks/region=us",
            concat!(r#"{"id":3,"name":"cy","amount":10,"extra":null}"#, "\n"),
        ),
    ] {
        std::fs::create_dir_all(lake.join(directory))?;
        std::fs::write(lake.join(directory).join("part-00000.json"), body)?;
    }
    std::fs::create_dir_all(lake.join("clicks_pretty"))?;
    std::fs::write(
        lake.join("clicks_pretty/part-00000.json"),
        concat!(
            "[\n",
            "  {\n    \"id\": 1,\n    \"name\": \"ann\",\n    \"tags\": [\n      \"a\",\n      \"b\"\n    ],\n",
            "    \"device\": {\"os\": \"ios\",\n               \"version\": 17}\n  },\n",
            "  {\"id\": 2, \"name\": \"bo, \\\"the\\\" ]one[\", \"tags\": []}\n",
            "]\n",
        ),
    )?;
    std::fs::write(
        lake.join("clicks_pretty/part-00001.json"),
        "[{\"id\": 3,\n  \"name\": \"cy\"}]",
    )?;
    std::fs::create_dir_all(lake.join("clicks_gz"))?;
    let mut gzip = flate2::write::GzEncoder::new(
        std::fs::File::create(lake.join("clicks_gz/part-00000.json.gz"))?,
        flate2::Compression::default(),
    );
    gzip.write_all(b"{\"id\":1,\"page\":\"/home\"}\n{\"id\":2,\"page\":\"/cart\"}\n")?;
    gzip.finish()?;
    for (directory, body) in [
        ("logs/dt=2024-01-01", "1,start\n2,stop\n"),
        ("logs/dt=2024-01-02", "3,start\n"),
        ("logs/dt=__HIVE_DEFAULT_PARTITION__", "4,orphan\n"),
    ] {
        std::fs::create_dir_all(lake.join(directory))?;
        std::fs::write(lake.join(directory).join("part-0.csv"), body)?;
    }
    Ok(())
}

/// The lake directory of the fixtures, for `LOCATION` clauses.
pub fn lake() -> PathBuf {
    fixtures().join("lake")
}

fn write_parquet(path: &Path, batch: RecordBatch) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), None).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

/// `n`: 1 to `count`.
fn numbers_batch(count: i64) -> RecordBatch {
    let schema = Schema::new(vec![Field::new("n", DataType::Int64, false)]);
    let column: ArrayRef = Arc::new(Int64Array::from((1..=count).collect::<Vec<_>>()));
    RecordBatch::try_new(Arc::new(schema), vec![column]).expect("numbers batch")
}

/// Orders `start..end`: id, customer, amount (decimal(10,2)), status.
fn orders_batch(start: i64, end: i64) -> RecordBatch {
    let ids: Vec<i64> = (start + 1..=end).collect();
    let customers: Vec<String> = ids
        .iter()
        .map(|id| format!("customer-{}", id % 3))
        .collect();
    let amounts: Vec<i128> = ids.iter().map(|id| (*id as i128) * 1050).collect();
    let statuses: Vec<&str> = ids
        .iter()
        .map(|id| if id % 2 == 0 { "shipped" } else { "open" })
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(StringArray::from(customers)),
        Arc::new(
            Decimal128Array::from(amounts)
                .with_precision_and_scale(10, 2)
                .expect("decimal"),
        ),
        Arc::new(StringArray::from(statuses)),
    ];
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer", DataType::Utf8, false),
        Field::new("amount", DataType::Decimal128(10, 2), false),
        Field::new("status", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), columns).expect("orders batch")
}

/// One row of values and one row of nulls for every Arrow type the wire layer maps that
/// Parquet can store (intervals cannot; they are checked through SQL literals).
fn alltypes_batch() -> RecordBatch {
    let struct_fields = vec![
        Arc::new(Field::new("a", DataType::Int32, true)),
        Arc::new(Field::new("b", DataType::Utf8, true)),
    ];
    let structs = StructArray::try_new(
        struct_fields.clone().into(),
        vec![
            Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
            Arc::new(StringArray::from(vec![Some("x\"y"), None])),
        ],
        Some(vec![true, false].into()),
    )
    .expect("struct array");
    let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1), None, Some(3)]),
        None,
    ]);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2]))),
        ("b", Arc::new(BooleanArray::from(vec![Some(true), None]))),
        ("i16", Arc::new(Int16Array::from(vec![Some(-32768), None]))),
        (
            "i32",
            Arc::new(Int32Array::from(vec![Some(2147483647), None])),
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![Some(-9223372036854775808), None])),
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![Some(1.1f32), None])),
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![Some(f64::NAN), None])),
        ),
        (
            "dec",
            Arc::new(
                Decimal128Array::from(vec![Some(-1234567), None])
                    .with_precision_and_scale(12, 3)
                    .expect("decimal"),
            ),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("héllo, 'world'"), None])),
        ),
        (
            "bin",
            Arc::new(BinaryArray::from(vec![Some(&b"\x00\xffab"[..]), None])),
        ),
        ("d", Arc::new(Date32Array::from(vec![Some(19723), None]))),
        (
            "t",
            Arc::new(Time64MicrosecondArray::from(vec![
                Some(45_296_789_000),
                None,
            ])),
        ),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_704_164_645_123_456),
                None,
            ])),
        ),
        (
            "tstz",
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(1_704_164_645_000_000), None])
                    .with_timezone("UTC"),
            ),
        ),
        ("u8", Arc::new(UInt8Array::from(vec![Some(255), None]))),
        (
            "u64",
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])),
        ),
        ("l", Arc::new(lists)),
        ("st", Arc::new(structs)),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .expect("alltypes batch")
}

/// A free loopback port for a server process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A lakeport process; killed (SIGKILL) when dropped, so a failing test leaves no server behind.
pub struct ServerProcess(pub std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the lakeport binary on `port` over `warehouse`, with extra environment `env`.
/// Where a spawned server's warnings and errors go, to read when its test fails.
fn spawned_log(port: u16) -> std::process::Stdio {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lakeport-{port}.log"));
    match std::fs::File::create(&path) {
        Ok(file) => file.into(),
        Err(_) => std::process::Stdio::null(),
    }
}

pub fn spawn_server(warehouse: &Path, port: u16, env: &[(&str, &str)]) -> ServerProcess {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lakeport"))
        .args(["--no-demo", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--http-listen", "127.0.0.1:0"])
        .arg("--warehouse")
        .arg(warehouse)
        .env("RUST_LOG", "warn")
        .env(
            "LAKEPORT_STORAGE_ALLOWED_LOCATIONS",
            format!("[\"{}\"]", env!("CARGO_TARGET_TMPDIR")),
        )
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(spawned_log(port))
        .spawn()
        .expect("start the lakeport binary");
    ServerProcess(child)
}
