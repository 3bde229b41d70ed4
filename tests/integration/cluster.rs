//! Distributed execution: a Ballista scheduler and executors, processes of the lakeport
//! binary on loopback started here, and servers in this process in local and distributed
//! mode over the same TPC-H SF0.1 tables.
//!
//! What proves a query ran on the cluster: executors log every task they start ("running a
//! task", with its job), and the tests count those lines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lakeport::config::{Config, DistributedFallback, EngineMode};
use tokio_postgres::Client;

use crate::harness::{ServerProcess, TestServer, free_port, rows_of, scratch_dir, simple_rows};
use crate::stores::{Backend, bucket_path, upload};

const TPCH_TABLES: [&str; 8] = [
    "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

/// A scheduler and executors of the lakeport binary, killed when dropped.
struct TestCluster {
    dir: PathBuf,
    config_file: PathBuf,
    scheduler_port: u16,
    scheduler: Option<ServerProcess>,
    executors: Vec<Executor>,
}

struct Executor {
    process: Option<ServerProcess>,
    log: PathBuf,
}

impl TestCluster {
    /// A scheduler and `executors` executors whose configuration `adjust` may change (its
    /// `[storage]` is what executors read data with).
    async fn start(executors: usize, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = scratch_dir("cluster");
        let mut config = Config::default();
        config.cluster.executor_timeout = "4s".into();
        config.cluster.heartbeat_interval = "1s".into();
        config.cluster.executor_slots = 2;
        config.cluster.executor_memory = "1GiB".into();
        config.engine.threads = 2;
        adjust(&mut config);
        let config_file = dir.join("lakeport.toml");
        std::fs::write(
            &config_file,
            toml::to_string(&config).expect("serialise the configuration"),
        )
        .expect("write the cluster's configuration");
        let mut cluster = Self {
            dir,
            config_file,
            scheduler_port: free_port(),
            scheduler: None,
            executors: Vec::new(),
        };
        cluster.start_scheduler().await;
        for _ in 0..executors {
            cluster.add_executor().await;
        }
        cluster
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.scheduler_port)
    }

    fn spawn(&self, args: &[String], log: &Path, work_dir: Option<&Path>) -> ServerProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open a role's log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_lakeport"));
        command
            .arg("--config")
            .arg(&self.config_file)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("share a role's log"))
            .stderr(log);
        if let Some(work_dir) = work_dir {
            command.env("LAKEPORT_CLUSTER_WORK_DIR", work_dir);
        }
        ServerProcess(command.spawn().expect("start the lakeport binary"))
    }

    fn scheduler_log(&self) -> PathBuf {
        self.dir.join("scheduler.log")
    }

    async fn start_scheduler(&mut self) {
        let args = ["scheduler", "--listen", &self.address()].map(String::from);
        self.scheduler = Some(self.spawn(&args, &self.scheduler_log(), None));
        wait_for_port(self.scheduler_port).await;
    }

    fn kill_scheduler(&mut self) {
        self.scheduler = None;
    }

    async fn add_executor(&mut self) {
        let port = loop {
            let port = free_port();
            if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
                break port;
            }
        };
        let n = self.executors.len();
        let log = self.dir.join(format!("executor-{n}.log"));
        let work_dir = self.dir.join(format!("work-{n}"));
        let args = [
            "executor".to_string(),
            "--scheduler".into(),
            self.address(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        let process = self.spawn(&args, &log, Some(&work_dir));
        wait_for_port(port).await;
        self.executors.push(Executor {
            process: Some(process),
            log,
        });
    }

    /// Kills executor `n` with SIGKILL: no goodbye to the scheduler.
    fn kill_executor(&mut self, n: usize) {
        self.executors[n].process = None;
    }

    /// Tasks executor `n` has started so far.
    fn tasks_run(&self, n: usize) -> usize {
        read(&self.executors[n].log)
            .matches("running a task")
            .count()
    }

    fn total_tasks(&self) -> usize {
        (0..self.executors.len()).map(|n| self.tasks_run(n)).sum()
    }

    /// The jobs executor `n` has started tasks of.
    fn jobs_seen(&self, n: usize) -> Vec<String> {
        read(&self.executors[n].log)
            .lines()
            .filter(|line| line.contains("running a task"))
            .filter_map(|line| line.split("job=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// Points `config` at this cluster, every scan going to it.
    fn join(&self, config: &mut Config) {
        config.engine.mode = EngineMode::Distributed;
        config.engine.scheduler = self.address();
        config.engine.distributed_min_input = "0".into();
        config.cluster.connect_timeout = "2s".into();
    }

    /// What the roles wrote, for a failing test's message.
    fn logs(&self) -> String {
        let mut text = format!("--- scheduler\n{}", tail(&read(&self.scheduler_log())));
        for (n, executor) in self.executors.iter().enumerate() {
            text.push_str(&format!(
                "\n--- executor {n}\n{}",
                tail(&read(&executor.log))
            ));
        }
        text
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.executors.clear();
        self.scheduler = None;
        if !std::thread::panicking() && std::env::var("KEEP").is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nothing listens on port {port} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// TPC-H SF0.1 as Parquet, generated once per machine and shared by the tests.
async fn tpch_dir() -> PathBuf {
    let warehouse = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tpch-data");
    let demo = lakeport::config::DemoConfig {
        enabled: true,
        scale_factor: 0.1,
        schema: "tpch".into(),
    };
    lakeport::demo::ensure_demo(&warehouse, &demo)
        .await
        .expect("generate TPC-H SF0.1");
    lakeport::demo::demo_dir(&warehouse, &demo)
}

/// Where the tables are for `backend`: the local directory, or a copy in the emulator.
async fn tpch_root(backend: Backend) -> String {
    let dir = tpch_dir().await;
    match backend {
        Backend::Local => format!("file://{}/", dir.display()),
        _ => {
            let root = backend.fresh_root("tpch");
            upload(&backend.store(), &dir, &bucket_path(&root)).await;
            root
        }
    }
}

/// Rows in a canonical order: ties an ORDER BY leaves may come in any order.
fn sorted(mut rows: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    rows.sort();
    rows
}

fn tpch_query(n: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("bench/tpch/q{n:02}.sql"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn tpch_client(server: &TestServer) -> Client {
    let client = server.connect().await;
    client
        .batch_execute("SET search_path TO tpch")
        .await
        .expect("set the search path");
    client
}

/// A server with `backend`'s TPC-H tables at `root` in schema `tpch`, local or joined to
/// `cluster`.
async fn tpch_server(backend: Backend, root: &str, cluster: Option<&TestCluster>) -> TestServer {
    let server = TestServer::start_with(|config| {
        backend.configure(config, root);
        if let Some(cluster) = cluster {
            cluster.join(config);
        }
    })
    .await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE SCHEMA tpch")
        .await
        .expect("create schema tpch");
    for table in TPCH_TABLES {
        let ddl =
            format!("CREATE EXTERNAL TABLE tpch.{table} USING parquet LOCATION '{root}{table}/'");
        client
            .batch_execute(&ddl)
            .await
            .unwrap_or_else(|e| panic!("{ddl}: {e}"));
    }
    server
}

/// Every TPC-H query gives the same rows in local and distributed mode, each one's tasks
/// ran on the cluster, and both executors took part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_gives_the_same_results_on_the_cluster() {
    for backend in Backend::available() {
        let root = tpch_root(backend).await;
        let cluster = TestCluster::start(2, |config| backend.configure(config, &root)).await;
        let local = tpch_server(backend, &root, None).await;
        let distributed = tpch_server(backend, &root, Some(&cluster)).await;
        let (local, distributed) = (tpch_client(&local).await, tpch_client(&distributed).await);
        for n in 1..=22 {
            let sql = tpch_query(n);
            let expected = sorted(simple_rows(&local, &sql).await);
            let before = cluster.total_tasks();
            let rows = match distributed.simple_query(&sql).await {
                Ok(messages) => sorted(rows_of(&messages)),
                Err(e) => panic!("q{n} on {}: {e:?}\n{}", backend.label(), cluster.logs()),
            };
            assert_eq!(rows, expected, "q{n} on {}", backend.label());
            assert!(
                cluster.total_tasks() > before,
                "q{n} on {} ran no task on the cluster\n{}",
                backend.label(),
                cluster.logs()
            );
        }
        let spark = [
            "SELECT l_returnflag, \
            sum(aggregate(array(l_linenumber, l_suppkey), 0, (acc, x) -> acc + x)), \
            sum(size(filter(transform(array(l_partkey, l_suppkey), (x, i) -> x + i), y -> y % 2 = 0))), \
            min(hash(l_comment, l_shipdate)) FROM lineitem GROUP BY l_returnflag",
            "SELECT window.start, count(*), sum(l_quantity) FROM lineitem \
            GROUP BY window(l_shipdate, '7 days', '2 days')",
        ];
        for sql in spark {
            let before = cluster.total_tasks();
            assert_eq!(
                sorted(simple_rows(&distributed, sql).await),
                sorted(simple_rows(&local, sql).await),
                "{sql} on {}",
                backend.label()
            );
            assert!(
                cluster.total_tasks() > before,
                "{sql} ran no task on the cluster\n{}",
                cluster.logs()
            );
        }
        let explained = simple_rows(&distributed, &format!("EXPLAIN {}", tpch_query(1))).await;
        assert!(
            format!("{explained:?}").contains("ClusterQueryExec"),
            "EXPLAIN shows where the plan runs: {explained:?}"
        );
        let joins: String = (1..60)
            .map(|i| format!(" JOIN nation n{i} ON n{i}.n_nationkey = n0.n_nationkey"))
            .collect();
        let deep = format!("SELECT count(*) FROM nation n0{joins}");
        let before = cluster.total_tasks();
        assert_eq!(
            simple_rows(&distributed, &deep).await,
            vec![vec![Some("25".to_string())]],
            "a plan too deep to send runs on the server"
        );
        assert_eq!(
            cluster.total_tasks(),
            before,
            "the 60-way join went to the cluster"
        );
        let before = cluster.total_tasks();
        simple_rows(&distributed, "SELECT count(*) FROM pg_catalog.pg_class").await;
        simple_rows(&distributed, "SELECT 1 + 1").await;
        assert_eq!(
            cluster.total_tasks(),
            before,
            "catalog-only queries run on the server"
        );
        for n in 0..2 {
            assert!(
                cluster.tasks_run(n) > 0,
                "executor {n} ran no task on {}\n{}",
                backend.label(),
                cluster.logs()
            );
        }
    }
}

/// A join heavy enough to still run when an executor is killed (about a second per task).
const HEAVY_JOIN: &str = "SELECT count(*), sum(a.l_quantity) FROM lineitem a \
     JOIN lineitem b ON a.l_partkey = b.l_partkey AND a.l_suppkey <> b.l_suppkey";

/// In distributed mode, scans smaller than `engine.distributed_min_input` run on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_scans_stay_on_the_server() {
    let root = tpch_root(Backend::Local).await;
    let cluster = TestCluster::start(1, |_| {}).await;
    let server = TestServer::start_with(|config| {
        cluster.join(config);
        config.engine.distributed_min_input = "1MiB".into();
    })
    .await;
    let client = server.connect().await;
    for table in ["nation", "lineitem"] {
        client
            .batch_execute(&format!(
                "CREATE EXTERNAL TABLE {table} USING parquet LOCATION '{root}{table}/'"
            ))
            .await
            .expect("create a table");
    }
    let before = cluster.total_tasks();
    let nations = simple_rows(&client, "SELECT count(*) FROM nation").await;
    assert_eq!(nations, vec![vec![Some("25".to_string())]]);
    assert_eq!(
        cluster.total_tasks(),
        before,
        "a 2 KB scan ran on the cluster"
    );
    let lines = simple_rows(
        &client,
        "SELECT count(*) FROM lineitem WHERE l_quantity > 0",
    )
    .await;
    assert_eq!(lines, vec![vec![Some("600572".to_string())]]);
    assert!(
        cluster.total_tasks() > before,
        "a 20 MB scan stayed on the server"
    );
    let error = client
        .simple_query("SELECT sum(l_orderkey / (l_linenumber - l_linenumber)) FROM lineitem")
        .await
        .expect_err("division by zero");
    let error = error.as_db_error().expect("a server error");
    assert_eq!(
        (error.code().code(), error.message()),
        ("22012", "division by zero"),
        "a failed task reads as the same error in local mode"
    );
}

/// An executor killed with SIGKILL while the query's tasks run: Ballista runs its work again
/// on the other executor and the answer is the one local mode gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_executor_does_not_change_the_answer() {
    let root = tpch_root(Backend::Local).await;
    let mut cluster = TestCluster::start(2, |_| {}).await;
    let local = tpch_server(Backend::Local, &root, None).await;
    let distributed = tpch_server(Backend::Local, &root, Some(&cluster)).await;
    let expected = simple_rows(&tpch_client(&local).await, HEAVY_JOIN).await;
    let client = tpch_client(&distributed).await;
    client
        .batch_execute("SET datafusion.execution.target_partitions = 8")
        .await
        .expect("more partitions");
    let jobs_before: Vec<String> = (0..2).flat_map(|n| cluster.jobs_seen(n)).collect();
    let query = tokio::spawn(async move {
        let started = Instant::now();
        let rows = client.simple_query(HEAVY_JOIN).await.map(|m| rows_of(&m));
        (rows, started.elapsed())
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim = loop {
        let started = (0..2).find(|n| {
            cluster
                .jobs_seen(*n)
                .iter()
                .any(|job| !jobs_before.contains(job))
        });
        if let Some(n) = started {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "the job never started\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    cluster.kill_executor(victim);
    let (rows, took) = tokio::time::timeout(Duration::from_secs(120), query)
        .await
        .unwrap_or_else(|_| panic!("the query hung after the kill\n{}", cluster.logs()))
        .expect("the query task");
    let rows = rows.unwrap_or_else(|e| panic!("{e:?} after {took:?}\n{}", cluster.logs()));
    assert_eq!(rows, expected, "after killing executor {victim}");
    assert!(
        read(&cluster.scheduler_log()).contains("lost Executor"),
        "the scheduler never ran the lost executor's work again: was it killed after the job?\n{}",
        cluster.logs()
    );
    let survivor = 1 - victim;
    assert!(cluster.tasks_run(survivor) > 0, "{}", cluster.logs());
}

/// A scheduler that is down: a clear 58030 within the connect timeout (or the query runs on
/// the server when `distributed_fallback = "local"`); restarted, it takes jobs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scheduler_takes_jobs_again() {
    let root = tpch_root(Backend::Local).await;
    let mut cluster = TestCluster::start(1, |_| {}).await;
    let strict = tpch_server(Backend::Local, &root, Some(&cluster)).await;
    let lenient = TestServer::start_with(|config| {
        cluster.join(config);
        config.engine.distributed_fallback = DistributedFallback::Local;
    })
    .await;
    let lenient_client = lenient.connect().await;
    lenient_client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE nation USING parquet LOCATION '{root}nation/'"
        ))
        .await
        .expect("create nation");
    let client = tpch_client(&strict).await;
    let q06 = tpch_query(6);
    let expected = simple_rows(&client, &q06).await;
    let nations = simple_rows(&lenient_client, "SELECT count(*) FROM nation").await;
    assert_eq!(nations, vec![vec![Some("25".to_string())]]);

    cluster.kill_scheduler();
    let started = Instant::now();
    let error = client
        .simple_query(&q06)
        .await
        .expect_err("no scheduler, no answer");
    let error = error.as_db_error().expect("a server error");
    assert_eq!(error.code().code(), "58030", "{error:?}");
    assert!(
        error.message().contains(&cluster.address()),
        "{}",
        error.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        simple_rows(&lenient_client, "SELECT count(*) FROM nation").await,
        nations,
        "the fallback runs the query on the server"
    );

    cluster.start_scheduler().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = cluster.total_tasks();
    loop {
        match client.simple_query(&q06).await {
            Ok(messages) => {
                assert_eq!(rows_of(&messages), expected);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!(
                "the restarted scheduler took no job: {e:?}\n{}",
                cluster.logs()
            ),
        }
    }
    assert!(cluster.total_tasks() > before, "{}", cluster.logs());
}

/// A query stopped by statement_timeout, then one stopped by a cancel request, cancel their
/// jobs on the cluster: the executors stop their tasks, and the next query does not wait
/// for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels_the_cluster_job() {
    let root = tpch_root(Backend::Local).await;
    let cluster = TestCluster::start(2, |_| {}).await;
    let server = tpch_server(Backend::Local, &root, Some(&cluster)).await;
    let client = tpch_client(&server).await;
    let endless = "SELECT count(*) FROM lineitem, part WHERE l_extendedprice > p_retailprice * 3";
    client
        .batch_execute(
            "SET datafusion.execution.target_partitions = 4; SET statement_timeout = 2000",
        )
        .await
        .expect("set statement_timeout");
    let started = Instant::now();
    let error = client.simple_query(endless).await.expect_err("timed out");
    let error = error.as_db_error().expect("a server error");
    assert_eq!(error.code().code(), "57014", "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !read(&cluster.scheduler_log()).contains("Job cancelled") {
        assert!(
            Instant::now() < deadline,
            "the scheduler never cancelled the job\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .expect("reset statement_timeout");
    let token = client.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        token.cancel_query(tokio_postgres::NoTls).await
    });
    let error = client.simple_query(endless).await.expect_err("cancelled");
    let error = error.as_db_error().expect("a server error");
    assert_eq!(error.code().code(), "57014", "{error:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while read(&cluster.scheduler_log())
        .matches("Job cancelled")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the scheduler never cancelled the second job\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    simple_rows(&client, &tpch_query(6)).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the cancelled job's tasks still held the executors: {:?}\n{}",
        started.elapsed(),
        cluster.logs()
    );
}
