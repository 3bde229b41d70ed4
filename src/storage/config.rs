//! The `[storage]` section: which locations tables may use, how requests to object stores
//! are timed out and retried, what is cached, and the options of each kind of store.
//!
//! A store section (`[storage.s3]`, `[storage.azure]`, `[storage.gcs]`) holds `object_store`
//! configuration keys as they are spelled there (`endpoint`, `region`, `access_key_id`,
//! `allow_http`, ...), applied over the standard environment variables; a nested
//! `[storage.s3.buckets.NAME]` (`containers` for Azure) overrides them for one bucket. Values
//! of keys that hold secrets never appear in `Debug` output.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, parse_byte_size, parse_duration};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Location prefixes tables, partitions, databases and file-backed views may point into,
    /// besides the warehouse. Empty: the warehouse and every bucket named in a store section.
    pub allowed_locations: Vec<String>,
    /// How long opening a connection to a store may take.
    pub connect_timeout: String,
    /// How long one request may take, including reading its response.
    pub request_timeout: String,
    /// How often a failed request is retried (with exponential backoff).
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt.
    pub retry_timeout: String,
    /// How long a directory listing stays cached; "0s" keeps it until REFRESH TABLE, DDL or
    /// INSERT replaces it.
    pub listing_ttl: String,
    /// Memory for cached file listings.
    pub listing_cache: String,
    /// Memory for cached Parquet footers (file metadata and statistics).
    pub metadata_cache: String,
    pub s3: StoreSection,
    pub azure: StoreSection,
    pub gcs: StoreSection,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            allowed_locations: Vec::new(),
            connect_timeout: "5s".into(),
            request_timeout: "30s".into(),
            max_retries: 3,
            retry_timeout: "30s".into(),
            listing_ttl: "0s".into(),
            listing_cache: "32MiB".into(),
            metadata_cache: "64MiB".into(),
            s3: StoreSection::default(),
            azure: StoreSection::default(),
            gcs: StoreSection::default(),
        }
    }
}

/// Store options, then per-bucket (or per-container) overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct StoreSection {
    pub options: StoreOptions,
    pub buckets: BTreeMap<String, StoreOptions>,
}

/// `object_store` configuration keys and their values as text.
#[derive(Clone, Default, PartialEq)]
pub struct StoreOptions(pub BTreeMap<String, String>);

/// The table names that hold per-bucket overrides in a store section.
const BUCKET_TABLES: [&str; 2] = ["buckets", "containers"];

impl StoreOptions {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The values of keys that hold secrets, for scrubbing them out of messages.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(key, value)| is_secret_key(key) && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    fn from_table(table: toml::Table, section: &str) -> Result<Self, String> {
        let mut options = BTreeMap::new();
        for (key, value) in table {
            let text = match value {
                toml::Value::String(text) => text,
                toml::Value::Boolean(flag) => flag.to_string(),
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Float(number) => number.to_string(),
                _ => {
                    return Err(format!(
                        "{section}.{key} must be a string, number or boolean"
                    ));
                }
            };
            options.insert(key, text);
        }
        Ok(Self(options))
    }

    fn to_table(&self) -> toml::Table {
        self.0
            .iter()
            .map(|(key, value)| (key.clone(), toml::Value::String(value.clone())))
            .collect()
    }
}

/// Whether a store option's value is a credential, by its name.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "access_key",
        "token",
        "password",
        "sas",
        "service_account_key",
    ]
    .iter()
    .any(|word| key.contains(word))
        && !key.ends_with("_id")
        && !key.ends_with("_file")
        && !key.ends_with("_uri")
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(key, value)| {
                let shown = if is_secret_key(key) {
                    "<redacted>"
                } else {
                    value
                };
                (key, shown)
            }))
            .finish()
    }
}

impl TryFrom<toml::Table> for StoreSection {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let mut buckets = BTreeMap::new();
        for name in BUCKET_TABLES {
            let Some(value) = table.remove(name) else {
                continue;
            };
            let toml::Value::Table(entries) = value else {
                return Err(format!("{name} must be a table of [.{name}.NAME] sections"));
            };
            for (bucket, options) in entries {
                let toml::Value::Table(options) = options else {
                    return Err(format!("{name}.{bucket} must be a table of options"));
                };
                buckets.insert(
                    bucket.clone(),
                    StoreOptions::from_table(options, &format!("{name}.{bucket}"))?,
                );
            }
        }
        Ok(Self {
            options: StoreOptions::from_table(table, "storage")?,
            buckets,
        })
    }
}

impl From<StoreSection> for toml::Table {
    fn from(section: StoreSection) -> toml::Table {
        let mut table = section.options.to_table();
        if !section.buckets.is_empty() {
            let buckets = section
                .buckets
                .iter()
                .map(|(name, options)| (name.clone(), toml::Value::Table(options.to_table())))
                .collect();
            table.insert("buckets".into(), toml::Value::Table(buckets));
        }
        table
    }
}

impl StoreSection {
    /// The options for one bucket: the section's, then the bucket's overrides.
    pub fn for_bucket(&self, bucket: &str) -> StoreOptions {
        let mut options = self.options.clone();
        if let Some(overrides) = self.buckets.get(bucket) {
            options
                .0
                .extend(overrides.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        options
    }
}

/// The `[storage]` durations and sizes, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageLimits {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_retries: usize,
    pub retry_timeout: Duration,
    /// `None`: listings stay cached until invalidated.
    pub listing_ttl: Option<Duration>,
    pub listing_cache: usize,
    pub metadata_cache: usize,
}

impl StorageConfig {
    pub fn limits(&self) -> Result<StorageLimits, ConfigError> {
        let listing_ttl = parse_duration("storage.listing_ttl", &self.listing_ttl)?;
        Ok(StorageLimits {
            connect_timeout: parse_duration("storage.connect_timeout", &self.connect_timeout)?,
            request_timeout: parse_duration("storage.request_timeout", &self.request_timeout)?,
            max_retries: self.max_retries,
            retry_timeout: parse_duration("storage.retry_timeout", &self.retry_timeout)?,
            listing_ttl: (!listing_ttl.is_zero()).then_some(listing_ttl),
            listing_cache: parse_byte_size(&self.listing_cache)?,
            metadata_cache: parse_byte_size(&self.metadata_cache)?,
        })
    }

    /// Every configured secret value, for scrubbing messages.
    pub fn secrets(&self) -> Vec<String> {
        [&self.s3, &self.azure, &self.gcs]
            .into_iter()
            .flat_map(|section| {
                std::iter::once(&section.options)
                    .chain(section.buckets.values())
                    .flat_map(StoreOptions::secrets)
            })
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_sections_take_scalars_and_bucket_overrides() {
        let config: StorageConfig = toml::from_str(
            r#"
            allowed_locations = ["s3://warehouse/"]
            [s3]
            endpoint = "http://127.0.0.1:9900"
            allow_http = true
            secret_access_key = "hush"
            [s3.buckets.archive]
            region = "eu-west-1"
            secret_access_key = "quiet"
            "#,
        )
        .unwrap();
        assert_eq!(config.s3.options.get("allow_http"), Some("true"));
        let archive = config.s3.for_bucket("archive");
        assert_eq!(archive.get("region"), Some("eu-west-1"));
        assert_eq!(archive.get("endpoint"), Some("http://127.0.0.1:9900"));
        assert_eq!(archive.get("secret_access_key"), Some("quiet"));
        assert_eq!(config.s3.for_bucket("other").get("region"), None);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hush") && !shown.contains("quiet"),
            "{shown}"
        );
        let mut secrets = config.secrets();
        secrets.sort();
        assert_eq!(secrets, ["hush", "quiet"]);
    }

    #[test]
    fn store_sections_round_trip_through_toml() {
        let config: StorageConfig = toml::from_str(
            "[azure]\naccount_name = \"a\"\n[azure.containers.c]\nuse_emulator = true\n",
        )
        .unwrap();
        let text = toml::to_string(&config).unwrap();
        let again: StorageConfig = toml::from_str(&text).unwrap();
        assert_eq!(again, config);
        assert_eq!(
            again.azure.for_bucket("c").get("use_emulator"),
            Some("true")
        );
    }

    #[test]
    fn secret_keys_by_name() {
        for key in [
            "secret_access_key",
            "access_key",
            "session_token",
            "sas_key",
            "client_secret",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "access_key_id",
            "endpoint",
            "region",
            "web_identity_token_file",
            "account_name",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("k", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse_duration("k", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            parse_duration("k", "2min").unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(parse_duration("k", "7").unwrap(), Duration::from_secs(7));
        let err = parse_duration("storage.request_timeout", "soon").unwrap_err();
        assert!(err.0.contains("storage.request_timeout"), "{err}");
    }
}
