//! The `lakeport` binary: flags → configuration → logging → `lakeport::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lakeport::config::{Config, LogFormat, TableConfig};

/// A PostgreSQL-wire SQL server for Parquet and CSV data, on DataFusion.
#[derive(Debug, Parser)]
#[command(name = "lakeport", version, about)]
struct Flags {
    /// Configuration file (TOML); see config/lakeport.toml for every key.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (server.listen).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Warehouse directory (catalog.warehouse).
    #[arg(long, value_name = "DIR")]
    warehouse: Option<PathBuf>,
    /// Use the Hive Metastore at this URI as the catalog (catalog.backend = "hive",
    /// catalog.uri).
    #[arg(long, value_name = "thrift://HOST:PORT")]
    metastore: Option<String>,
    /// A table over Parquet or CSV files: [schema.]name=path (repeatable).
    #[arg(long = "table", value_name = "[SCHEMA.]NAME=PATH")]
    tables: Vec<String>,
    /// Do not generate or serve the TPC-H demo data.
    #[arg(long)]
    no_demo: bool,
    /// Run queries on the Ballista cluster whose scheduler is at HOST:PORT
    /// (engine.mode = "distributed", engine.scheduler).
    #[arg(long, value_name = "HOST:PORT")]
    scheduler: Option<String>,
    /// Address of the monitoring HTTP listener (monitoring.http_listen).
    #[arg(long, value_name = "HOST:PORT")]
    http_listen: Option<String>,
    /// Do not start the monitoring HTTP listener (monitoring.http = false).
    #[arg(long)]
    no_http: bool,
    /// Log format: text or json (log.format).
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Read a password on stdin and print its verifier for an [[auth.users]] entry.
    Passwd {
        /// Print an md5 verifier for this user name instead of SCRAM-SHA-256 (for clients
        /// without SCRAM; needs auth.method = "md5").
        #[arg(long, value_name = "USER")]
        md5: Option<String>,
    },
    /// Run a cluster scheduler: servers with `--scheduler` send it their large queries, and
    /// it hands their tasks to executors.
    Scheduler {
        /// Address to listen on (cluster.scheduler_listen).
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
    /// Run a cluster executor, taking tasks from the scheduler at --scheduler. It reads the
    /// same configuration file as the server, for the [storage] credentials.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address to serve results on (cluster.executor_listen); tasks arrive on the next
        /// port.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
}

fn load_config(flags: &Flags) -> Result<Config, String> {
    let config = match &flags.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let mut config = config
        .apply_env(std::env::vars())
        .map_err(|e| e.to_string())?;
    if let Some(listen) = &flags.listen {
        config.server.listen = listen
            .parse()
            .map_err(|_| format!("invalid --listen \"{listen}\": expected HOST:PORT"))?;
    }
    if let Some(warehouse) = &flags.warehouse {
        config.catalog.warehouse = warehouse.clone();
    }
    if let Some(scheduler) = &flags.scheduler {
        config.engine.mode = lakeport::config::EngineMode::Distributed;
        config.engine.scheduler = scheduler.clone();
    }
    match &flags.command {
        Some(Command::Scheduler {
            listen: Some(listen),
        }) => config.cluster.scheduler_listen = parse_address("--listen", listen)?,
        Some(Command::Executor {
            listen: Some(listen),
            ..
        }) => config.cluster.executor_listen = parse_address("--listen", listen)?,
        _ => {}
    }
    if let Some(uri) = &flags.metastore {
        config.catalog.backend = lakeport::config::CatalogBackend::Hive;
        config.catalog.uri = uri.clone();
    }
    for table in &flags.tables {
        config
            .tables
            .push(TableConfig::from_flag(table).map_err(|e| e.to_string())?);
    }
    if flags.no_demo {
        config.demo.enabled = false;
    }
    if let Some(listen) = &flags.http_listen {
        config.monitoring.http_listen = listen
            .parse()
            .map_err(|_| format!("invalid --http-listen \"{listen}\": expected HOST:PORT"))?;
        config.monitoring.http = true;
    }
    if flags.no_http {
        config.monitoring.http = false;
    }
    if let Some(format) = &flags.log_format {
        config.log.format = match format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(format!(
                    "invalid --log-format \"{other}\": expected text or json"
                ));
            }
        };
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn parse_address(flag: &str, text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("invalid {flag} \"{text}\": expected HOST:PORT"))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    if let Some(Command::Passwd { md5 }) = &flags.command {
        return passwd(md5.as_deref());
    }
    let config = match load_config(&flags) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("lakeport: {message}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lakeport-io")
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lakeport: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match &flags.command {
        Some(Command::Scheduler { .. }) => runtime.block_on(cluster_role(&config, Role::Scheduler)),
        Some(Command::Executor { scheduler, .. }) => {
            runtime.block_on(cluster_role(&config, Role::Executor(scheduler)))
        }
        _ => runtime.block_on(serve(config)),
    };
    match result {
        Ok(()) => {
            tracing::info!("lakeport stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "lakeport failed");
            eprintln!("lakeport: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), lakeport::Error> {
    let listeners = lakeport::server::bind(&config).await?;
    let address = listeners
        .postgres
        .local_addr()
        .map_err(|e| lakeport::Error::internal(e.to_string()))?;
    let service = lakeport::server::build(config).await?;
    tracing::info!(%address, version = env!("CARGO_PKG_VERSION"), "lakeport is ready: psql -h {} -p {} -U lakeport", address.ip(), address.port());
    lakeport::server::serve(service, listeners, shutdown_signal()).await
}

enum Role<'a> {
    Scheduler,
    Executor(&'a str),
}

#[cfg(feature = "distributed")]
async fn cluster_role(config: &Config, role: Role<'_>) -> Result<(), lakeport::Error> {
    match role {
        Role::Scheduler => lakeport::cluster::run_scheduler(config, shutdown_signal()).await,
        Role::Executor(scheduler) => lakeport::cluster::run_executor(config, scheduler).await,
    }
}

#[cfg(not(feature = "distributed"))]
async fn cluster_role(_config: &Config, _role: Role<'_>) -> Result<(), lakeport::Error> {
    Err(lakeport::Error::invalid_parameter(
        "the cluster roles need lakeport built with the distributed feature",
    ))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `lakeport passwd`: one line from stdin (hidden when typed at a terminal) → a verifier.
fn passwd(md5_user: Option<&str>) -> ExitCode {
    let password = match lakeport::auth::terminal::read_password("Password: ") {
        Ok(password) => password,
        Err(e) => {
            eprintln!("lakeport passwd: cannot read the password: {e}");
            return ExitCode::FAILURE;
        }
    };
    if password.is_empty() {
        eprintln!("lakeport passwd: empty password");
        return ExitCode::from(2);
    }
    let verifier = match md5_user {
        Some(user) => lakeport::auth::verifier::md5_verifier(user, &password),
        None => lakeport::auth::ScramVerifier::generate(&password).encode(),
    };
    println!("{verifier}");
    ExitCode::SUCCESS
}
