//! Session variables: what `SET`, `RESET`, `SHOW`, `current_setting()` and `set_config()` read
//! and write, with PostgreSQL's names, defaults and validation.
//!
//! Three families: the PostgreSQL settings clients expect (validated, some reported to the
//! client in ParameterStatus when they change), DataFusion's execution options under their own
//! `datafusion.*` names (validated by DataFusion), and custom dotted names (`myapp.x`), which
//! PostgreSQL accepts without validation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::config::ConfigOptions;

use crate::config::SessionDefaults;
use crate::error::{Error, ErrorKind, Result};

/// The PostgreSQL version lakeport reports; `version()` adds lakeport's own.
pub const SERVER_VERSION: &str = "16.6";
pub const SERVER_VERSION_NUM: &str = "160006";

/// How a PostgreSQL setting behaves.
struct Definition {
    /// Name as PostgreSQL spells it in SHOW's column and ParameterStatus.
    name: &'static str,
    /// Sent to the client in ParameterStatus at startup and on change.
    reported: bool,
    read_only: bool,
    normalize: fn(&str) -> Result<String>,
    description: &'static str,
}

fn any_value(value: &str) -> Result<String> {
    Ok(value.to_string())
}

fn boolean(value: &str) -> Result<String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Ok("on".into()),
        "off" | "false" | "no" | "0" | "f" | "n" => Ok("off".into()),
        _ => Err(invalid_value("boolean", value)),
    }
}

/// A value for a DataFusion option, with PostgreSQL's boolean spellings (`on`, `yes`, `1`, …)
/// read as DataFusion's `true`/`false` when the option is a boolean (`SET x = true` arrives
/// as `on`).
fn datafusion_value(options: &ConfigOptions, key: &str, value: &str) -> String {
    let is_boolean = options
        .entries()
        .iter()
        .any(|e| e.key == key && matches!(e.value.as_deref(), Some("true" | "false")));
    match boolean(value) {
        Ok(on_off) if is_boolean => (if on_off == "on" { "true" } else { "false" }).into(),
        _ => value.to_string(),
    }
}

fn invalid_value(kind: &str, value: &str) -> Error {
    Error::invalid_parameter(format!("invalid value for {kind} parameter: \"{value}\""))
}

fn client_encoding(value: &str) -> Result<String> {
    let unquoted = value.trim().trim_matches(|c| c == '\'' || c == '"');
    match unquoted
        .to_ascii_uppercase()
        .replace(['-', '_'], "")
        .as_str()
    {
        "UTF8" | "UNICODE" => Ok("UTF8".into()),
        _ => Err(
            Error::unsupported(format!("client encoding \"{value}\" is not supported"))
                .with_hint("lakeport speaks UTF8 only"),
        ),
    }
}

fn date_style(value: &str) -> Result<String> {
    let mut order = "MDY";
    for part in value.split(',').map(|p| p.trim().to_ascii_uppercase()) {
        match part.as_str() {
            "ISO" => {}
            "MDY" | "US" | "NONEURO" | "NONEUROPEAN" => order = "MDY",
            "DMY" | "EURO" | "EUROPEAN" => order = "DMY",
            "YMD" => order = "YMD",
            "SQL" | "POSTGRES" | "GERMAN" => {
                return Err(
                    Error::unsupported(format!("DateStyle \"{part}\" is not supported"))
                        .with_hint("lakeport writes dates in the ISO style only"),
                );
            }
            _ => return Err(invalid_value("\"DateStyle\"", value)),
        }
    }
    Ok(format!("ISO, {order}"))
}

fn interval_style(value: &str) -> Result<String> {
    if value.eq_ignore_ascii_case("postgres") {
        Ok("postgres".into())
    } else {
        Err(
            Error::unsupported(format!("IntervalStyle \"{value}\" is not supported"))
                .with_hint("lakeport writes intervals in the postgres style only"),
        )
    }
}

/// Accepts IANA zone names and `UTC`-like aliases; numeric hours become fixed offsets.
pub fn time_zone(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("utc")
        || trimmed.eq_ignore_ascii_case("z")
        || trimmed.eq_ignore_ascii_case("zulu")
    {
        return Ok("UTC".into());
    }
    if trimmed.eq_ignore_ascii_case("gmt") {
        return Ok("GMT".into());
    }
    if let Ok(zone) = trimmed.parse::<chrono_tz::Tz>() {
        return Ok(zone.name().to_string());
    }
    if let Some(zone) = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|z| z.name().eq_ignore_ascii_case(trimmed))
    {
        return Ok(zone.name().to_string());
    }
    if let Ok(hours) = trimmed.parse::<f64>()
        && hours.abs() <= 15.0
    {
        return Ok(format_offset_zone((hours * 3600.0).round() as i32));
    }
    Err(Error::invalid_parameter(format!(
        "invalid value for parameter \"TimeZone\": \"{value}\""
    )))
}

/// A fixed offset east of UTC in seconds, written as PostgreSQL shows such zones.
fn format_offset_zone(seconds_east: i32) -> String {
    let sign = if seconds_east < 0 { '-' } else { '+' };
    let s = seconds_east.unsigned_abs();
    let (h, m) = (s / 3600, (s % 3600) / 60);
    if m == 0 {
        format!("{sign}{h:02}")
    } else {
        format!("{sign}{h:02}:{m:02}")
    }
}

fn extra_float_digits(value: &str) -> Result<String> {
    match value.trim().parse::<i32>() {
        Ok(n) if (-15..=3).contains(&n) => Ok(n.to_string()),
        Ok(n) => Err(Error::invalid_parameter(format!(
            "{n} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"
        ))),
        Err(_) => Err(Error::invalid_parameter(format!(
            "invalid value for parameter \"extra_float_digits\": \"{value}\""
        ))),
    }
}

/// Milliseconds, from `5000`, `'5s'`, `'1min'`, `'250ms'`, `'1h'`.
pub fn parse_duration_ms(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = number * factor;
    (ms >= 0.0 && ms < i32::MAX as f64).then_some(ms.round() as u64)
}

/// Writes milliseconds as PostgreSQL shows time settings: `0`, `250ms`, `5s`, `2min`, `1h`.
pub fn format_duration_ms(ms: u64) -> String {
    match ms {
        0 => "0".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}min", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

fn statement_timeout(value: &str) -> Result<String> {
    timeout_setting("statement_timeout", value)
}

fn idle_session_timeout(value: &str) -> Result<String> {
    timeout_setting("idle_session_timeout", value)
}

fn idle_in_transaction_session_timeout(value: &str) -> Result<String> {
    timeout_setting("idle_in_transaction_session_timeout", value)
}

fn timeout_setting(name: &str, value: &str) -> Result<String> {
    parse_duration_ms(value)
        .map(format_duration_ms)
        .ok_or_else(|| {
            Error::invalid_parameter(format!(
                "invalid value for parameter \"{name}\": \"{value}\""
            ))
            .with_hint("Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".")
        })
}

fn search_path(value: &str) -> Result<String> {
    Ok(split_search_path(value).join(", "))
}

/// Splits a search_path value into its entries, keeping double quotes where they were.
pub fn split_search_path(value: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => {
                entries.push(std::mem::take(&mut current).trim().to_string());
            }
            c => current.push(c),
        }
    }
    entries.push(current.trim().to_string());
    entries.retain(|e| !e.is_empty());
    entries
}

fn isolation(value: &str) -> Result<String> {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "read committed" | "read uncommitted" | "repeatable read" | "serializable" => Ok(lower),
        _ => Err(invalid_value("\"transaction_isolation\"", value)),
    }
}

const DEFINITIONS: &[Definition] = &[
    Definition {
        name: "application_name",
        reported: true,
        read_only: false,
        normalize: any_value,
        description: "Sets the application name to be reported in statistics and logs.",
    },
    Definition {
        name: "bytea_output",
        reported: false,
        read_only: false,
        normalize: only_hex,
        description: "Sets the output format for bytea.",
    },
    Definition {
        name: "client_encoding",
        reported: true,
        read_only: false,
        normalize: client_encoding,
        description: "Sets the client's character set encoding.",
    },
    Definition {
        name: "client_min_messages",
        reported: false,
        read_only: false,
        normalize: any_value,
        description: "Sets the message levels that are sent to the client.",
    },
    Definition {
        name: "DateStyle",
        reported: true,
        read_only: false,
        normalize: date_style,
        description: "Sets the display format for date and time values.",
    },
    Definition {
        name: "default_table_access_method",
        reported: false,
        read_only: false,
        normalize: only_heap,
        description: "Sets the default table access method for new tables.",
    },
    Definition {
        name: "default_transaction_isolation",
        reported: false,
        read_only: false,
        normalize: isolation,
        description: "Sets the transaction isolation level of each new transaction.",
    },
    Definition {
        name: "default_transaction_read_only",
        reported: true,
        read_only: false,
        normalize: boolean,
        description: "Sets the default read-only status of new transactions.",
    },
    Definition {
        name: "extra_float_digits",
        reported: false,
        read_only: false,
        normalize: extra_float_digits,
        description: "Sets the number of digits displayed for floating-point values.",
    },
    Definition {
        name: "idle_in_transaction_session_timeout",
        reported: false,
        read_only: false,
        normalize: idle_in_transaction_session_timeout,
        description: "Sets the maximum allowed idle time between queries, when in a transaction.",
    },
    Definition {
        name: "idle_session_timeout",
        reported: false,
        read_only: false,
        normalize: idle_session_timeout,
        description: "Sets the maximum allowed idle time between queries, when not in a transaction.",
    },
    Definition {
        name: "in_hot_standby",
        reported: true,
        read_only: true,
        normalize: boolean,
        description: "Shows whether hot standby is currently active.",
    },
    Definition {
        name: "integer_datetimes",
        reported: true,
        read_only: true,
        normalize: boolean,
        description: "Shows whether datetimes are integer based.",
    },
    Definition {
        name: "IntervalStyle",
        reported: true,
        read_only: false,
        normalize: interval_style,
        description: "Sets the display format for interval values.",
    },
    Definition {
        name: "is_superuser",
        reported: true,
        read_only: true,
        normalize: boolean,
        description: "Shows whether the current user is a superuser.",
    },
    Definition {
        name: "jit",
        reported: false,
        read_only: false,
        normalize: boolean,
        description: "Allow JIT compilation.",
    },
    Definition {
        name: "lc_collate",
        reported: false,
        read_only: true,
        normalize: any_value,
        description: "Shows the collation order locale.",
    },
    Definition {
        name: "lc_ctype",
        reported: false,
        read_only: true,
        normalize: any_value,
        description: "Shows the character classification and case conversion locale.",
    },
    Definition {
        name: "lc_messages",
        reported: false,
        read_only: false,
        normalize: any_value,
        description: "Sets the language in which messages are displayed.",
    },
    Definition {
        name: "lc_monetary",
        reported: false,
        read_only: false,
        normalize: any_value,
        description: "Sets the locale for formatting monetary amounts.",
    },
    Definition {
        name: "lc_numeric",
        reported: false,
        read_only: false,
        normalize: any_value,
        description: "Sets the locale for formatting numbers.",
    },
    Definition {
        name: "lc_time",
        reported: false,
        read_only: false,
        normalize: any_value,
        description: "Sets the locale for formatting date and time values.",
    },
    Definition {
        name: "max_identifier_length",
        reported: false,
        read_only: true,
        normalize: any_value,
        description: "Shows the maximum identifier length.",
    },
    Definition {
        name: "search_path",
        reported: false,
        read_only: false,
        normalize: search_path,
        description: "Sets the schema search order for names that are not schema-qualified.",
    },
    Definition {
        name: "server_encoding",
        reported: true,
        read_only: true,
        normalize: any_value,
        description: "Shows the server (database) character set encoding.",
    },
    Definition {
        name: "server_version",
        reported: true,
        read_only: true,
        normalize: any_value,
        description: "Shows the server version.",
    },
    Definition {
        name: "server_version_num",
        reported: false,
        read_only: true,
        normalize: any_value,
        description: "Shows the server version as an integer.",
    },
    Definition {
        name: "session_authorization",
        reported: true,
        read_only: true,
        normalize: any_value,
        description: "Sets the session user name.",
    },
    Definition {
        name: "standard_conforming_strings",
        reported: true,
        read_only: false,
        normalize: only_on,
        description: "Causes '...' strings to treat backslashes literally.",
    },
    Definition {
        name: "statement_timeout",
        reported: false,
        read_only: false,
        normalize: statement_timeout,
        description: "Sets the maximum allowed duration of any statement.",
    },
    Definition {
        name: "TimeZone",
        reported: true,
        read_only: false,
        normalize: time_zone,
        description: "Sets the time zone for displaying and interpreting time stamps.",
    },
    Definition {
        name: "timezone_abbreviations",
        reported: false,
        read_only: false,
        normalize: any_value,
        description: "Selects a file of time zone abbreviations.",
    },
    Definition {
        name: "transaction_isolation",
        reported: false,
        read_only: false,
        normalize: isolation,
        description: "Sets the current transaction's isolation level.",
    },
    Definition {
        name: "transaction_read_only",
        reported: false,
        read_only: false,
        normalize: boolean,
        description: "Sets the current transaction's read-only status.",
    },
];

fn only_on(value: &str) -> Result<String> {
    match boolean(value)?.as_str() {
        "on" => Ok("on".into()),
        _ => Err(Error::unsupported(format!(
            "cannot set this parameter to \"{value}\""
        ))),
    }
}

fn only_hex(value: &str) -> Result<String> {
    if value.eq_ignore_ascii_case("hex") {
        Ok("hex".into())
    } else {
        Err(Error::unsupported(format!(
            "bytea_output \"{value}\" is not supported"
        )))
    }
}

fn only_heap(value: &str) -> Result<String> {
    if value == "heap" {
        Ok("heap".into())
    } else {
        Err(Error::invalid_parameter(format!(
            "invalid value for parameter \"default_table_access_method\": \"{value}\""
        ))
        .with_detail(format!("Table access method \"{value}\" does not exist.")))
    }
}

fn definition(name: &str) -> Option<&'static Definition> {
    DEFINITIONS
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// DataFusion options a session may change; the rest are the server's.
fn is_tunable_datafusion_option(key: &str) -> bool {
    [
        "datafusion.execution.",
        "datafusion.optimizer.",
        "datafusion.explain.",
        "datafusion.sql_parser.",
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
        && !key.starts_with("datafusion.sql_parser.dialect")
        && !key.starts_with("datafusion.sql_parser.enable_ident_normalization")
}

/// One row of `SHOW ALL`.
pub struct SettingRow {
    pub name: String,
    pub setting: String,
    pub description: String,
}

/// A session's variables. Cloning shares them: the clone handed to `set_config()` changes
/// the same session.
#[derive(Clone)]
pub struct Variables {
    inner: Arc<Mutex<VariableStore>>,
}

struct VariableStore {
    /// PostgreSQL settings by lowercase name.
    values: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
    datafusion: ConfigOptions,
    datafusion_defaults: ConfigOptions,
    custom: BTreeMap<String, String>,
    /// Reported settings changed since the wire layer last asked.
    changed_reported: Vec<String>,
}

impl Variables {
    /// The variables of a new session.
    pub fn new(
        defaults: &SessionDefaults,
        datafusion: ConfigOptions,
        user: &str,
        application_name: &str,
        superuser: bool,
    ) -> Self {
        let mut values = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            values.insert(name.to_ascii_lowercase(), value);
        };
        put("application_name", application_name.to_string());
        put("bytea_output", "hex".into());
        put("client_encoding", "UTF8".into());
        put("client_min_messages", "notice".into());
        put("DateStyle", "ISO, MDY".into());
        put("default_table_access_method", "heap".into());
        put("default_transaction_isolation", "read committed".into());
        put("default_transaction_read_only", "off".into());
        put("extra_float_digits", "1".into());
        put(
            "idle_in_transaction_session_timeout",
            format_duration_ms(defaults.idle_in_transaction_session_timeout),
        );
        put(
            "idle_session_timeout",
            format_duration_ms(defaults.idle_session_timeout),
        );
        put("in_hot_standby", "off".into());
        put("integer_datetimes", "on".into());
        put("IntervalStyle", "postgres".into());
        put("is_superuser", if superuser { "on" } else { "off" }.into());
        put("jit", "off".into());
        put("lc_collate", "C".into());
        put("lc_ctype", "C".into());
        put("lc_messages", "C".into());
        put("lc_monetary", "C".into());
        put("lc_numeric", "C".into());
        put("lc_time", "C".into());
        put("max_identifier_length", "63".into());
        put(
            "search_path",
            search_path(&defaults.search_path).unwrap_or_default(),
        );
        put("server_encoding", "UTF8".into());
        put("server_version", SERVER_VERSION.into());
        put("server_version_num", SERVER_VERSION_NUM.into());
        put("session_authorization", user.to_string());
        put("standard_conforming_strings", "on".into());
        put(
            "statement_timeout",
            format_duration_ms(defaults.statement_timeout),
        );
        put(
            "TimeZone",
            time_zone(&defaults.timezone).unwrap_or_else(|_| "UTC".into()),
        );
        put("timezone_abbreviations", "Default".into());
        put("transaction_isolation", "read committed".into());
        put("transaction_read_only", "off".into());
        let store = VariableStore {
            defaults: values.clone(),
            values,
            datafusion_defaults: datafusion.clone(),
            datafusion,
            custom: BTreeMap::new(),
            changed_reported: Vec::new(),
        };
        Self {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VariableStore> {
        // A panic while holding this lock cannot leave the map half-written: every write is a
        // single insert. Recover the data rather than poison the session.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `SET name = value` (or `set_config`). Returns the value as stored.
    pub fn set(&self, name: &str, value: &str) -> Result<String> {
        let key = name.to_ascii_lowercase();
        let key = canonical_alias(&key);
        let mut store = self.lock();
        if let Some(def) = definition(key) {
            if def.read_only {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("parameter \"{key}\" cannot be changed"),
                )
                .with_detail("lakeport sets it"));
            }
            let normalized = (def.normalize)(value)?;
            if def.reported && store.values.get(key) != Some(&normalized) {
                store.changed_reported.push(def.name.to_string());
            }
            store.values.insert(key.to_string(), normalized.clone());
            return Ok(normalized);
        }
        if key.starts_with("datafusion.") {
            if !is_tunable_datafusion_option(key) {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("parameter \"{key}\" cannot be changed by a session"),
                ));
            }
            let value = datafusion_value(&store.datafusion, key, value);
            store
                .datafusion
                .set(key, &value)
                .map_err(|e| Error::invalid_parameter(e.strip_backtrace()))?;
            return Ok(value);
        }
        if key.starts_with("spark.") {
            let value = spark_setting(name, value)?;
            store.custom.insert(key.to_string(), value.clone());
            return Ok(value);
        }
        if key.contains('.') {
            store.custom.insert(key.to_string(), value.to_string());
            return Ok(value.to_string());
        }
        Err(unrecognized(name))
    }

    /// `RESET name`.
    pub fn reset(&self, name: &str) -> Result<()> {
        let key = name.to_ascii_lowercase();
        let key = canonical_alias(&key);
        let default = {
            let store = self.lock();
            if let Some(def) = definition(key) {
                if def.read_only {
                    return Err(Error::invalid_parameter(format!(
                        "parameter \"{key}\" cannot be changed"
                    )));
                }
                store.defaults.get(key).cloned()
            } else if key.starts_with("datafusion.") {
                let entry = store
                    .datafusion_defaults
                    .entries()
                    .into_iter()
                    .find(|e| e.key == key)
                    .ok_or_else(|| unrecognized(name))?;
                entry.value
            } else if key.contains('.') {
                drop(store);
                self.lock().custom.remove(key);
                return Ok(());
            } else {
                return Err(unrecognized(name));
            }
        };
        match default {
            Some(value) => self.set(key, &value).map(|_| ()),
            None => {
                // A DataFusion option whose default is "unset" (None): restore from defaults.
                let mut store = self.lock();
                store.datafusion = store.datafusion_defaults.clone();
                Ok(())
            }
        }
    }

    /// `RESET ALL`.
    pub fn reset_all(&self) {
        let mut store = self.lock();
        let defaults = store.defaults.clone();
        for def in DEFINITIONS.iter().filter(|d| d.reported) {
            let key = def.name.to_ascii_lowercase();
            if store.values.get(&key) != defaults.get(&key) {
                store.changed_reported.push(def.name.to_string());
            }
        }
        store.values = defaults;
        store.datafusion = store.datafusion_defaults.clone();
        store.custom.clear();
    }

    /// `SHOW name` / `current_setting(name)`: the display name and the value.
    pub fn get(&self, name: &str) -> Result<(String, String)> {
        let key = name.to_ascii_lowercase();
        let key = canonical_alias(&key);
        let store = self.lock();
        if let Some(def) = definition(key) {
            let value = store.values.get(key).cloned().unwrap_or_default();
            return Ok((def.name.to_string(), value));
        }
        if key.starts_with("datafusion.") {
            return store
                .datafusion
                .entries()
                .into_iter()
                .find(|e| e.key == key)
                .map(|e| (e.key, e.value.unwrap_or_default()))
                .ok_or_else(|| unrecognized(name));
        }
        let fixed = spark_fixed_setting(key).map(str::to_string);
        store
            .custom
            .get(key)
            .cloned()
            .or(fixed)
            .map(|v| (key.to_string(), v))
            .ok_or_else(|| unrecognized(name))
    }

    /// `SHOW ALL`, sorted by name as PostgreSQL shows it.
    pub fn all(&self) -> Vec<SettingRow> {
        let store = self.lock();
        let mut rows: Vec<SettingRow> = DEFINITIONS
            .iter()
            .map(|def| SettingRow {
                name: def.name.to_string(),
                setting: store
                    .values
                    .get(&def.name.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default(),
                description: def.description.to_string(),
            })
            .collect();
        rows.extend(
            store
                .datafusion
                .entries()
                .into_iter()
                .filter(|e| is_tunable_datafusion_option(&e.key))
                .map(|e| SettingRow {
                    name: e.key,
                    setting: e.value.unwrap_or_default(),
                    description: e.description.to_string(),
                }),
        );
        rows.extend(store.custom.iter().map(|(k, v)| SettingRow {
            name: k.clone(),
            setting: v.clone(),
            description: String::new(),
        }));
        rows.sort_by_key(|r| r.name.to_ascii_lowercase());
        rows
    }

    /// Reported settings with their values, for the startup ParameterStatus messages.
    pub fn reported(&self) -> Vec<(String, String)> {
        let store = self.lock();
        DEFINITIONS
            .iter()
            .filter(|d| d.reported)
            .map(|d| {
                let value = store.values.get(&d.name.to_ascii_lowercase()).cloned();
                (d.name.to_string(), value.unwrap_or_default())
            })
            .collect()
    }

    /// Reported settings that changed since the last call, with their new values.
    pub fn take_changed_reported(&self) -> Vec<(String, String)> {
        let mut store = self.lock();
        let names = std::mem::take(&mut store.changed_reported);
        let mut out: Vec<(String, String)> = Vec::new();
        for name in names {
            if out.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let value = store.values.get(&name.to_ascii_lowercase()).cloned();
            out.push((name, value.unwrap_or_default()));
        }
        out
    }

    /// The DataFusion options this session plans and runs with.
    pub fn datafusion_options(&self) -> ConfigOptions {
        self.lock().datafusion.clone()
    }

    pub fn value(&self, name: &str) -> String {
        self.lock()
            .values
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    pub fn time_zone(&self) -> String {
        self.value("timezone")
    }

    pub fn extra_float_digits(&self) -> i32 {
        self.value("extra_float_digits").parse().unwrap_or(1)
    }

    pub fn statement_timeout_ms(&self) -> u64 {
        parse_duration_ms(&self.value("statement_timeout")).unwrap_or(0)
    }

    /// How long the session may wait for its next message: in a transaction or not; 0: forever.
    pub fn idle_timeout_ms(&self, in_transaction: bool) -> u64 {
        let name = match in_transaction {
            true => "idle_in_transaction_session_timeout",
            false => "idle_session_timeout",
        };
        parse_duration_ms(&self.value(name)).unwrap_or(0)
    }

    pub fn search_path(&self) -> Vec<String> {
        split_search_path(&self.value("search_path"))
    }

    pub fn application_name(&self) -> String {
        self.value("application_name")
    }
}

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Variables")
    }
}

/// Spark settings whose one value is how lakeport behaves: setting them to it is accepted,
/// to anything else refused. (`spark.sql.session.timeZone` and `spark.sql.shuffle.partitions`
/// are spellings of `TimeZone` and `datafusion.execution.target_partitions`.)
const SPARK_FIXED_SETTINGS: &[(&str, &str)] = &[
    ("spark.sql.ansi.enabled", "true"),
    ("spark.sql.caseSensitive", "false"),
    ("spark.sql.crossJoin.enabled", "true"),
    ("spark.sql.sources.partitionOverwriteMode", "dynamic"),
];

/// Spark settings that only steer how Spark itself runs a query — adaptive execution, code
/// generation, join strategies, file splitting, the Arrow transfer to PySpark. No result
/// depends on them, so notebooks that start by tuning them run unchanged: any value is
/// accepted and kept for SHOW, and the client is told that it changes nothing here.
const SPARK_EXECUTION_SETTINGS: &[&str] = &[
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.broadcastTimeout",
    "spark.sql.cbo.enabled",
    "spark.sql.cbo.joinReorder.enabled",
    "spark.sql.codegen.wholeStage",
    "spark.sql.execution.arrow.maxRecordsPerBatch",
    "spark.sql.execution.arrow.pyspark.enabled",
    "spark.sql.execution.arrow.pyspark.fallback.enabled",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.files.openCostInBytes",
    "spark.sql.inMemoryColumnarStorage.batchSize",
    "spark.sql.inMemoryColumnarStorage.compressed",
    "spark.sql.join.preferSortMergeJoin",
    "spark.sql.optimizer.dynamicPartitionPruning.enabled",
    "spark.sql.parquet.filterPushdown",
    "spark.sql.statistics.histogram.enabled",
];

/// Families of execution-only settings: every adaptive query execution knob.
const SPARK_EXECUTION_PREFIXES: &[&str] = &["spark.sql.adaptive."];

fn is_spark_execution_setting(key: &str) -> bool {
    SPARK_EXECUTION_SETTINGS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
        || SPARK_EXECUTION_PREFIXES
            .iter()
            .any(|prefix| key.to_ascii_lowercase().starts_with(prefix))
}

/// The notice for `SET name = …` when `name` is a Spark execution-only setting: accepted,
/// but the client should know that nothing changed.
pub fn no_effect_notice(name: &str) -> Option<String> {
    is_spark_execution_setting(name).then(|| {
        format!(
            "Spark setting \"{name}\" only tunes Spark's own execution; lakeport accepts it and \
             it changes nothing here"
        )
    })
}

fn spark_fixed_setting(key: &str) -> Option<&'static str> {
    SPARK_FIXED_SETTINGS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| *v)
}

/// Checks `SET spark.… = value`: a Spark setting lakeport does not implement is refused
/// rather than ignored, so that no query silently runs with other semantics than asked.
fn spark_setting(name: &str, value: &str) -> Result<String> {
    let supported = || {
        let fixed: Vec<String> = SPARK_FIXED_SETTINGS
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!(
            "lakeport honours spark.sql.session.timeZone and spark.sql.shuffle.partitions, \
             accepts {} and accepts Spark's execution tuning (spark.sql.adaptive.*, \
             spark.sql.autoBroadcastJoinThreshold and the like) without effect",
            fixed.join(", ")
        )
    };
    let value = value.trim().trim_matches('\'');
    if is_spark_execution_setting(name) {
        return Ok(value.to_string());
    }
    let Some(fixed) = spark_fixed_setting(name) else {
        return Err(Error::new(
            ErrorKind::FeatureNotSupported,
            format!("Spark setting \"{name}\" is not supported"),
        )
        .with_hint(supported()));
    };
    let given = match value.to_ascii_lowercase().as_str() {
        "on" | "yes" | "1" | "true" => "true".to_string(),
        "off" | "no" | "0" | "false" => "false".to_string(),
        other => other.to_string(),
    };
    if given != fixed {
        return Err(Error::new(
            ErrorKind::FeatureNotSupported,
            format!(
                "Spark setting \"{name}\" cannot be {given}: lakeport always runs with {fixed}"
            ),
        )
        .with_hint(supported()));
    }
    Ok(given)
}

/// PostgreSQL's alternative spellings of a few settings.
fn canonical_alias(key: &str) -> &str {
    match key {
        "time zone" | "time_zone" => "timezone",
        "names" => "client_encoding",
        "transaction isolation level" => "transaction_isolation",
        "session authorization" => "session_authorization",
        "spark.sql.session.timezone" => "timezone",
        "spark.sql.shuffle.partitions" => "datafusion.execution.target_partitions",
        other => other,
    }
}

fn unrecognized(name: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedObject,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        Variables::new(
            &SessionDefaults::default(),
            ConfigOptions::default(),
            "kit",
            "psql",
            true,
        )
    }

    #[test]
    fn defaults_and_reported() {
        let v = vars();
        assert_eq!(
            v.get("datestyle").unwrap(),
            ("DateStyle".into(), "ISO, MDY".into())
        );
        assert_eq!(v.get("TIMEZONE").unwrap().1, "UTC");
        let reported = v.reported();
        for name in [
            "server_version",
            "server_encoding",
            "client_encoding",
            "DateStyle",
            "TimeZone",
            "integer_datetimes",
            "standard_conforming_strings",
            "application_name",
        ] {
            assert!(
                reported.iter().any(|(n, _)| n == name),
                "{name} not reported"
            );
        }
    }

    #[test]
    fn set_validates_and_reports_changes() {
        let v = vars();
        assert_eq!(v.set("TimeZone", "europe/berlin").unwrap(), "Europe/Berlin");
        assert_eq!(v.set("application_name", "x").unwrap(), "x");
        assert_eq!(v.set("extra_float_digits", "3").unwrap(), "3");
        let changed = v.take_changed_reported();
        assert_eq!(
            changed,
            vec![
                ("TimeZone".into(), "Europe/Berlin".into()),
                ("application_name".into(), "x".into())
            ]
        );
        assert!(v.take_changed_reported().is_empty());
        assert!(v.set("extra_float_digits", "9").is_err());
        assert!(v.set("TimeZone", "Mars/Olympus").is_err());
        assert_eq!(
            v.set("nope", "1").unwrap_err().kind,
            ErrorKind::UndefinedObject
        );
        assert!(v.set("server_version", "1").is_err());
        assert_eq!(v.set("DateStyle", "ISO").unwrap(), "ISO, MDY");
        assert!(v.set("DateStyle", "German").is_err());
        assert_eq!(v.set("client_encoding", "'utf-8'").unwrap(), "UTF8");
    }

    #[test]
    fn datafusion_and_custom_options() {
        let v = vars();
        v.set("datafusion.execution.batch_size", "1024").unwrap();
        assert_eq!(v.get("datafusion.execution.batch_size").unwrap().1, "1024");
        assert!(v.set("datafusion.execution.batch_size", "lots").is_err());
        assert!(v.set("datafusion.catalog.default_catalog", "x").is_err());
        for (spelling, expected) in [
            ("on", "true"),
            ("YES", "true"),
            ("0", "false"),
            ("off", "false"),
        ] {
            v.set("datafusion.optimizer.repartition_joins", spelling)
                .unwrap();
            assert_eq!(
                v.get("datafusion.optimizer.repartition_joins").unwrap().1,
                expected
            );
        }
        assert!(v.set("datafusion.execution.batch_size", "on").is_err());
        v.reset("datafusion.execution.batch_size").unwrap();
        assert_eq!(
            v.datafusion_options().execution.batch_size,
            ConfigOptions::default().execution.batch_size
        );
        v.set("myapp.flag", "yes").unwrap();
        assert_eq!(v.get("myapp.flag").unwrap().1, "yes");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("5s"), Some(5000));
        assert_eq!(parse_duration_ms("1500"), Some(1500));
        assert_eq!(parse_duration_ms("2min"), Some(120_000));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(format_duration_ms(5000), "5s");
        assert_eq!(format_duration_ms(1500), "1500ms");
        let v = vars();
        v.set("statement_timeout", "2s").unwrap();
        assert_eq!(v.statement_timeout_ms(), 2000);
    }

    #[test]
    fn search_path_entries() {
        assert_eq!(
            split_search_path("\"$user\", public,default"),
            vec!["\"$user\"", "public", "default"]
        );
        assert_eq!(split_search_path("\"a,b\", c"), vec!["\"a,b\"", "c"]);
    }
}
