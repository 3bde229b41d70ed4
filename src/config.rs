//! Configuration: serde structs mirroring `config/lakeport.toml`.
//!
//! Precedence, lowest first: built-in defaults, the config file, `LAKEPORT_<SECTION>_<KEY>`
//! environment variables, command-line flags (applied by `main.rs`). Unknown keys are errors
//! that name the key, wherever they come from. `config/lakeport.toml` documents every key at its
//! default; a test keeps the two equal.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub engine: EngineConfig,
    pub cluster: ClusterConfig,
    pub catalog: CatalogConfig,
    pub demo: DemoConfig,
    pub session: SessionDefaults,
    pub log: LogConfig,
    pub monitoring: MonitoringConfig,
    pub storage: crate::storage::StorageConfig,
    pub auth: crate::auth::AuthConfig,
    pub tls: TlsConfig,
    /// Tables declared over Parquet or CSV files (repeatable `[[tables]]`).
    pub tables: Vec<TableConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the PostgreSQL listener binds.
    pub listen: SocketAddr,
    /// The one database name clients connect to.
    pub database: String,
    /// Connections beyond this many are refused with SQLSTATE 53300.
    pub max_connections: usize,
    /// The largest protocol message a client may send; a longer length prefix ends the
    /// connection before its body is read.
    pub max_message_size: String,
    /// On SIGTERM or SIGINT, how long running statements may go on before they are canceled.
    pub shutdown_grace: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5432)),
            database: "lakeport".into(),
            max_connections: 100,
            max_message_size: "256MiB".into(),
            shutdown_grace: "30s".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Threads of the execution runtime and DataFusion's target partitions; 0 = CPU cores.
    pub threads: usize,
    /// Rows per Arrow batch.
    pub batch_size: usize,
    /// Memory the engine may use for all queries together (e.g. "2GiB", "512MiB").
    pub memory_limit: String,
    /// Memory one query may use, inside `memory_limit`.
    pub query_memory_limit: String,
    /// Batches buffered between the engine and a client socket, per query.
    pub result_buffer_batches: usize,
    /// Rows one query may return to a client; past it the query fails with 54000. 0: no cap.
    pub max_result_rows: u64,
    /// Where queries run: in this process, or on the Ballista cluster at `scheduler`.
    pub mode: EngineMode,
    /// The cluster's scheduler, `HOST:PORT` (`--scheduler`), in distributed mode.
    pub scheduler: String,
    /// In distributed mode, queries whose files add up to less than this run here: a cluster
    /// job costs round trips that a small scan does not repay.
    pub distributed_min_input: String,
    /// In distributed mode, what a query does when the scheduler cannot be reached: fail
    /// with SQLSTATE 58030, or run in this process.
    pub distributed_fallback: DistributedFallback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineMode {
    Local,
    Distributed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistributedFallback {
    Error,
    Local,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            threads: 0,
            batch_size: 8192,
            memory_limit: "4GiB".into(),
            query_memory_limit: "2GiB".into(),
            result_buffer_batches: 2,
            max_result_rows: 0,
            mode: EngineMode::Local,
            scheduler: String::new(),
            distributed_min_input: "16MiB".into(),
            distributed_fallback: DistributedFallback::Error,
        }
    }
}

/// The cluster roles: `lakeport scheduler` and `lakeport executor` (feature `distributed`).
/// Both read the same file as the server, so executors use its `[storage]` credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Address the scheduler listens on (`lakeport scheduler --listen`).
    pub scheduler_listen: SocketAddr,
    /// An executor that has not sent a heartbeat for this long is lost: the scheduler runs
    /// its tasks again elsewhere.
    pub executor_timeout: String,
    /// Address an executor serves its results on over Arrow Flight (`lakeport executor
    /// --listen`); it takes tasks from the scheduler on the next port.
    pub executor_listen: SocketAddr,
    /// How often an executor tells the scheduler it is alive; below `executor_timeout`.
    pub heartbeat_interval: String,
    /// Tasks an executor runs at once; 0 = CPU cores.
    pub executor_slots: usize,
    /// Memory an executor's tasks may use together.
    pub executor_memory: String,
    /// Where an executor keeps shuffle files between stages; empty: the system's temporary
    /// directory.
    pub work_dir: PathBuf,
    /// How long the server waits to reach the scheduler before the query fails (or falls
    /// back to local execution).
    pub connect_timeout: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            scheduler_listen: SocketAddr::from(([127, 0, 0, 1], 50050)),
            executor_timeout: "30s".into(),
            executor_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            heartbeat_interval: "5s".into(),
            executor_slots: 0,
            executor_memory: "4GiB".into(),
            work_dir: PathBuf::new(),
            connect_timeout: "5s".into(),
        }
    }
}

impl ClusterConfig {
    pub fn executor_timeout(&self) -> Result<Duration, ConfigError> {
        parse_duration("cluster.executor_timeout", &self.executor_timeout)
    }

    pub fn heartbeat_interval(&self) -> Result<Duration, ConfigError> {
        parse_duration("cluster.heartbeat_interval", &self.heartbeat_interval)
    }

    pub fn connect_timeout(&self) -> Result<Duration, ConfigError> {
        parse_duration("cluster.connect_timeout", &self.connect_timeout)
    }

    fn check(&self) -> Result<(), ConfigError> {
        parse_byte_size(&self.executor_memory)?;
        self.connect_timeout()?;
        if self.heartbeat_interval()? >= self.executor_timeout()? {
            return Err(ConfigError(
                "cluster.heartbeat_interval must be shorter than cluster.executor_timeout".into(),
            ));
        }
        if self.executor_listen.port() == u16::MAX {
            return Err(ConfigError(
                "cluster.executor_listen: the port after it takes tasks, so it cannot be 65535"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Local warehouse directory: the embedded metastore, the demo data, and the managed
    /// tables of the `default` database live here.
    pub warehouse: PathBuf,
    /// Where new databases without a LOCATION keep their managed tables: a URL such as
    /// `s3://warehouse/managed/`, or empty for the warehouse directory (with the `hive`
    /// backend: the metastore's warehouse, where its `default` database lives).
    pub managed_location: String,
    /// Where databases and tables are kept: the embedded store under the warehouse, or a
    /// Hive Metastore shared with Spark, Hive and Trino (`--metastore thrift://…`).
    pub backend: CatalogBackend,
    /// The Hive Metastore of the `hive` backend: `thrift://host:9083`.
    pub uri: String,
    /// How long a metastore call may take (connecting, then each request).
    pub timeout: String,
    /// How long the `hive` backend's definitions (database and table names, tables and
    /// their partitions) are reused before they are read again: others change the
    /// metastore too. lakeport's own DDL refreshes them at once. The embedded store has no
    /// other writers and keeps them until lakeport's DDL changes them.
    pub cache_ttl: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogBackend {
    Embedded,
    Hive,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            warehouse: PathBuf::from("warehouse"),
            managed_location: String::new(),
            backend: CatalogBackend::Embedded,
            uri: String::new(),
            timeout: "10s".into(),
            cache_ttl: "2s".into(),
        }
    }
}

impl CatalogConfig {
    /// How long cached definitions live: `None` for as long as lakeport's own DDL allows.
    pub fn cache_ttl(&self) -> Result<Option<Duration>, ConfigError> {
        match self.backend {
            CatalogBackend::Embedded => Ok(None),
            CatalogBackend::Hive => parse_duration("catalog.cache_ttl", &self.cache_ttl).map(Some),
        }
    }

    pub fn timeout(&self) -> Result<Duration, ConfigError> {
        parse_duration("catalog.timeout", &self.timeout)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Generate (on first start) and serve the TPC-H demo tables.
    pub enabled: bool,
    /// TPC-H scale factor of the demo data (1.0 is about 1 GB of CSV, 6 M lineitem rows).
    pub scale_factor: f64,
    /// Schema the demo tables appear in.
    pub schema: String,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            scale_factor: 0.1,
            schema: "tpch".into(),
        }
    }
}

/// Defaults of the session variables each new connection starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionDefaults {
    pub timezone: String,
    pub search_path: String,
    /// Milliseconds; 0 disables the timeout.
    pub statement_timeout: u64,
    /// Milliseconds a session may sit idle outside a transaction before it is closed; 0: never.
    pub idle_session_timeout: u64,
    /// Milliseconds a session may sit idle inside a transaction before it is closed; 0: never.
    pub idle_in_transaction_session_timeout: u64,
}

impl Default for SessionDefaults {
    fn default() -> Self {
        Self {
            timezone: "UTC".into(),
            search_path: "\"$user\", public, default".into(),
            statement_timeout: 0,
            idle_session_timeout: 0,
            idle_in_transaction_session_timeout: 0,
        }
    }
}

/// TLS for client connections: on when a certificate and key are given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate (and its chain).
    pub certificate: String,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: String,
    /// Refuse clients from non-loopback addresses that do not use TLS.
    pub require_remote: bool,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.certificate.is_empty() || !self.private_key.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: "info", "lakeport=debug", ...; `RUST_LOG` overrides it.
    pub level: String,
    /// "text" (human-readable) or "json".
    pub format: LogFormat,
    /// Statements running at least this many milliseconds are logged at info level with
    /// their plan and its metrics; 0 logs every statement, -1 none (PostgreSQL's
    /// log_min_duration_statement).
    pub min_duration_statement: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            min_duration_statement: -1,
        }
    }
}

/// What the server shows of its own work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Whether the HTTP listener for /metrics, /healthz and /readyz runs.
    pub http: bool,
    /// Address the HTTP listener binds.
    pub http_listen: SocketAddr,
    /// Finished statements kept in memory for `lakeport.query_history`; 0 keeps none.
    pub query_history: usize,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            http: true,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9430)),
            query_history: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A table over Parquet or CSV files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// `name` or `schema.name`; a bare name goes to schema `public`.
    pub name: String,
    /// A file or a directory of files.
    pub path: PathBuf,
    /// "parquet" or "csv"; guessed from the file extension when absent.
    #[serde(default)]
    pub format: Option<FileFormat>,
    /// CSV: the first line holds column names.
    #[serde(default = "default_true")]
    pub header: bool,
    /// CSV: field delimiter, one character.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
}

fn default_true() -> bool {
    true
}

fn default_delimiter() -> String {
    ",".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Parquet,
    Csv,
    /// JSON Lines: one object per line.
    Json,
}

impl TableConfig {
    /// Parses the `--table [schema.]name=path` flag form.
    pub fn from_flag(flag: &str) -> Result<Self, ConfigError> {
        let (name, path) = flag
            .split_once('=')
            .filter(|(name, path)| !name.is_empty() && !path.is_empty())
            .ok_or_else(|| {
                ConfigError(format!(
                    "invalid --table \"{flag}\": expected [schema.]name=path"
                ))
            })?;
        Ok(Self {
            name: name.trim().to_string(),
            path: PathBuf::from(path.trim()),
            format: None,
            header: true,
            delimiter: ",".into(),
        })
    }

    /// The schema and table name this entry declares.
    pub fn qualified_name(&self) -> (String, String) {
        match self.name.split_once('.') {
            Some((schema, table)) => (schema.to_string(), table.to_string()),
            None => ("public".to_string(), self.name.clone()),
        }
    }
}

/// A configuration error, reported before the server starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Parses a config file's text.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(format!("{origin}: {}", e.message())))
    }

    /// Reads a config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Applies `LAKEPORT_<SECTION>_<KEY>=value` overrides from `vars`.
    ///
    /// Section names hold no underscore, so the first underscore after the prefix splits section
    /// from key: `LAKEPORT_SERVER_MAX_CONNECTIONS` sets `server.max_connections`. A value is read
    /// as a TOML scalar when it parses as one (`8`, `true`) and as a string otherwise.
    pub fn apply_env<I>(self, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut tree = toml::Value::try_from(&self)
            .map_err(|e| ConfigError(format!("cannot serialise configuration: {e}")))?;
        let mut changed = false;
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("LAKEPORT_") else {
                continue;
            };
            let (section, key) = rest
                .split_once('_')
                .map(|(s, k)| (s.to_ascii_lowercase(), k.to_ascii_lowercase()))
                .ok_or_else(|| ConfigError(format!("unknown environment variable {name}")))?;
            let table = tree
                .get_mut(&section)
                .and_then(toml::Value::as_table_mut)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "unknown environment variable {name}: no section [{section}]"
                    ))
                })?;
            let scalar = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"));
            let parsed = match (table.get(&key), scalar) {
                // A text key stays text: `LAKEPORT_ENGINE_DISTRIBUTED_MIN_INPUT=0` is "0".
                (Some(toml::Value::String(_)), Some(text @ toml::Value::String(_))) => text,
                (Some(toml::Value::String(_)), _) | (_, None) => toml::Value::String(value),
                (_, Some(scalar)) => scalar,
            };
            table.insert(key, parsed);
            changed = true;
        }
        if !changed {
            return Ok(self);
        }
        tree.try_into()
            .map_err(|e: toml::de::Error| ConfigError(format!("environment: {}", e.message())))
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        parse_byte_size(&self.engine.memory_limit)?;
        parse_byte_size(&self.engine.query_memory_limit)?;
        parse_byte_size(&self.engine.distributed_min_input)?;
        self.cluster.check()?;
        if self.engine.mode == EngineMode::Distributed {
            check_distributed(&self.engine.scheduler)?;
        }
        parse_byte_size(&self.server.max_message_size)?;
        crate::config::parse_duration("server.shutdown_grace", &self.server.shutdown_grace)?;
        self.auth.check()?;
        for user in &self.auth.users {
            let variables = crate::session::variables::Variables::new(
                &self.session,
                datafusion::config::ConfigOptions::default(),
                &user.name,
                "",
                false,
            );
            for (name, value) in &user.settings {
                variables.set(name, value).map_err(|e| {
                    ConfigError(format!(
                        "auth.users \"{}\" settings: {}",
                        user.name, e.message
                    ))
                })?;
            }
        }
        if self.tls.enabled()
            && (self.tls.certificate.is_empty() || self.tls.private_key.is_empty())
        {
            return Err(ConfigError(
                "tls: both tls.certificate and tls.private_key are needed".into(),
            ));
        }
        if self.tls.require_remote && !self.tls.enabled() {
            return Err(ConfigError(
                "tls.require_remote needs tls.certificate and tls.private_key".into(),
            ));
        }
        if !self.server.listen.ip().is_loopback()
            && self.auth.method() == crate::auth::AuthMethod::Trust
            && !self.auth.allow_remote_trust
        {
            return Err(ConfigError(format!(
                "refusing to listen on {} with trust authentication: anyone who can reach it would get in; configure [[auth.users]] with auth.method = \"scram-sha-256\", or set auth.allow_remote_trust = true if that is really meant",
                self.server.listen
            )));
        }
        self.catalog.cache_ttl()?;
        let timeout = self.catalog.timeout()?;
        if self.catalog.backend == CatalogBackend::Hive {
            check_metastore_uri(&self.catalog.uri, timeout)?;
        }
        crate::storage::registry::check_config(&self.storage)?;
        crate::storage::AllowedLocations::from_config(self).map_err(|e| ConfigError(e.message))?;
        if self.engine.batch_size == 0 {
            return Err(ConfigError("engine.batch_size must be positive".into()));
        }
        if self.engine.result_buffer_batches == 0 {
            return Err(ConfigError(
                "engine.result_buffer_batches must be positive".into(),
            ));
        }
        if !(self.demo.scale_factor > 0.0 && self.demo.scale_factor <= 10.0) {
            return Err(ConfigError("demo.scale_factor must be in (0, 10]".into()));
        }
        for table in &self.tables {
            if table.delimiter.len() != 1 {
                return Err(ConfigError(format!(
                    "table {}: delimiter must be one ASCII character",
                    table.name
                )));
            }
        }
        Ok(())
    }

    /// Engine threads, resolving 0 to the number of CPU cores.
    pub fn engine_threads(&self) -> usize {
        match self.engine.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

/// Parses sizes such as `4GiB`, `512MiB`, `1GB`, `1048576`.
pub fn parse_byte_size(text: &str) -> Result<usize, ConfigError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| ConfigError(format!("invalid size \"{text}\"")))?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(ConfigError(format!("invalid size unit in \"{text}\""))),
    };
    Ok((number * multiplier) as usize)
}

#[cfg(feature = "hms")]
fn check_metastore_uri(uri: &str, timeout: Duration) -> Result<(), ConfigError> {
    lakeport_catalog::hive::HiveMetastore::new(uri, timeout)
        .map(drop)
        .map_err(|e| ConfigError(format!("catalog.uri: {e}")))
}

#[cfg(not(feature = "hms"))]
fn check_metastore_uri(_uri: &str, _timeout: Duration) -> Result<(), ConfigError> {
    Err(ConfigError(
        "catalog.backend = \"hive\" needs lakeport built with the hms feature".into(),
    ))
}

#[cfg(feature = "distributed")]
fn check_distributed(scheduler: &str) -> Result<(), ConfigError> {
    crate::cluster::scheduler_url(scheduler)
        .map(drop)
        .map_err(|e| ConfigError(format!("engine.scheduler: {e}")))
}

#[cfg(not(feature = "distributed"))]
fn check_distributed(_scheduler: &str) -> Result<(), ConfigError> {
    Err(ConfigError(
        "engine.mode = \"distributed\" needs lakeport built with the distributed feature".into(),
    ))
}

/// Parses durations such as `500ms`, `30s`, `5min`, `1h`; a bare number is seconds.
pub fn parse_duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let invalid = || ConfigError(format!("{key}: invalid duration \"{text}\""));
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "min" | "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_equals_defaults() {
        let shipped = include_str!("../config/lakeport.toml");
        let parsed = Config::from_toml(shipped, "config/lakeport.toml").unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn shipped_config_mentions_every_key() {
        fn check(shipped: &str, path: &str, table: &toml::Table) {
            assert!(shipped.contains(&format!("[{path}]")), "[{path}] missing");
            for (key, value) in table {
                match value.as_table() {
                    Some(nested) => check(shipped, &format!("{path}.{key}"), nested),
                    None => assert!(
                        shipped.contains(&format!("\n{key} = ")),
                        "{path}.{key} is not documented in config/lakeport.toml"
                    ),
                }
            }
        }
        let shipped = include_str!("../config/lakeport.toml");
        let tree = toml::Value::try_from(Config::default()).unwrap();
        for (section, value) in tree.as_table().unwrap() {
            if let Some(table) = value.as_table() {
                check(shipped, section, table);
            }
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml("[server]\nlisten_port = 1\n", "test").unwrap_err();
        assert!(err.0.contains("listen_port"), "{err}");
        let err = Config::from_toml("[nope]\n", "test").unwrap_err();
        assert!(err.0.contains("nope"), "{err}");
    }

    #[test]
    fn environment_overrides_file() {
        let config = Config::from_toml("[server]\nmax_connections = 5\n", "t")
            .unwrap()
            .apply_env([
                (
                    "LAKEPORT_SERVER_MAX_CONNECTIONS".to_string(),
                    "7".to_string(),
                ),
                ("LAKEPORT_SERVER_DATABASE".to_string(), "kitdb".to_string()),
                (
                    "LAKEPORT_ENGINE_MEMORY_LIMIT".to_string(),
                    "1024".to_string(),
                ),
                (
                    "LAKEPORT_SERVER_SHUTDOWN_GRACE".to_string(),
                    "\"5s\"".to_string(),
                ),
                ("PATH".to_string(), "/bin".to_string()),
            ])
            .unwrap();
        assert_eq!(config.server.max_connections, 7);
        assert_eq!(config.server.database, "kitdb");
        assert_eq!(
            config.engine.memory_limit, "1024",
            "a number for a text key is text"
        );
        assert_eq!(
            config.server.shutdown_grace, "5s",
            "a quoted value is unquoted"
        );
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let err = Config::default()
            .apply_env([("LAKEPORT_SERVER_COLOUR".to_string(), "x".to_string())])
            .unwrap_err();
        assert!(err.0.contains("colour"), "{err}");
        let err = Config::default()
            .apply_env([("LAKEPORT_WHATEVER_X".to_string(), "x".to_string())])
            .unwrap_err();
        assert!(err.0.contains("LAKEPORT_WHATEVER_X"), "{err}");
    }

    #[test]
    fn cluster_settings_are_checked() {
        let mut config = Config::default();
        config.engine.mode = EngineMode::Distributed;
        let err = config.validate().unwrap_err();
        assert!(err.0.contains("engine.scheduler"), "{err}");
        config.engine.scheduler = "127.0.0.1:50050".into();
        config.validate().unwrap();
        config.cluster.heartbeat_interval = "30s".into();
        let err = config.validate().unwrap_err();
        assert!(err.0.contains("cluster.heartbeat_interval"), "{err}");
    }

    #[test]
    fn table_flag_forms() {
        let t = TableConfig::from_flag("public.trips=/data/trips").unwrap();
        assert_eq!(t.qualified_name(), ("public".into(), "trips".into()));
        let t = TableConfig::from_flag("zones=z.csv").unwrap();
        assert_eq!(t.qualified_name(), ("public".into(), "zones".into()));
        assert!(TableConfig::from_flag("nopath").is_err());
        assert!(TableConfig::from_flag("=x").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_byte_size("512 MiB").unwrap(), 512 << 20);
        assert_eq!(parse_byte_size("1000").unwrap(), 1000);
        assert!(parse_byte_size("12 parsecs").is_err());
    }
}
