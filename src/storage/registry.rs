//! DataFusion's object-store registry, filled lazily from `[storage]`.
//!
//! The first time a statement touches a bucket (`s3://warehouse/...`), a container
//! (`az://data/...`, `abfss://data@account.dfs.core.windows.net/...`) or a GCS bucket, its
//! store is built from the standard environment variables, then the store section's options,
//! then the bucket's overrides, with `[storage]`'s timeouts and retries, and kept for every
//! later statement. Local files share one store; each `memory://` host has its own. Every
//! store is [`Metered`]: its requests are counted.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use datafusion::common::DataFusionError;
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};
use url::Url;

use crate::config::ConfigError;
use crate::storage::config::{StorageConfig, StorageLimits, StoreOptions, StoreSection};
use crate::storage::metered::{Metered, Requests};

/// The kinds of store a location can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Local,
    Memory,
    S3,
    Azure,
    Gcs,
}

impl StoreKind {
    /// The kind a URL scheme names, if lakeport supports it.
    pub fn from_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "file" => Some(Self::Local),
            "memory" => Some(Self::Memory),
            "s3" | "s3a" => Some(Self::S3),
            "az" | "azure" | "adl" | "abfs" | "abfss" => Some(Self::Azure),
            "gs" => Some(Self::Gcs),
            _ => None,
        }
    }

    /// The `[storage.*]` section holding this kind's options.
    fn section(self, config: &StorageConfig) -> Option<(&'static str, &StoreSection)> {
        match self {
            Self::S3 => Some(("s3", &config.s3)),
            Self::Azure => Some(("azure", &config.azure)),
            Self::Gcs => Some(("gcs", &config.gcs)),
            Self::Local | Self::Memory => None,
        }
    }
}

/// The bucket (or container) a store URL names: the host, or for
/// `abfss://container@account.dfs.core.windows.net` the user part.
pub fn bucket_of(url: &Url) -> &str {
    match url.username() {
        "" => url.host_str().unwrap_or(""),
        container => container,
    }
}

/// The registry key of a URL: everything before its path.
fn store_key(url: &Url) -> &str {
    &url[..url::Position::BeforePath]
}

/// A cloud store from the environment, then `options` (each key parsed as that store's
/// configuration key), with the registry's timeouts and retries.
macro_rules! cloud_store {
    ($builder:ident, $key:ident, $registry:expr, $base:expr, $options:expr) => {{
        let mut builder = $builder::from_env().with_url($base);
        for (key, value) in $registry.with_limits($options) {
            builder = builder.with_config($key::from_str(&key)?, value);
        }
        builder.with_retry($registry.retry()).build().map(|store| {
            Arc::new(Metered::new(Arc::new(store), $registry.requests.clone()))
                as Arc<dyn ObjectStore>
        })
    }};
}

pub struct StoreRegistry {
    config: StorageConfig,
    limits: StorageLimits,
    requests: Arc<Requests>,
    local: Arc<dyn ObjectStore>,
    stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl std::fmt::Debug for StoreRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self
            .stores
            .read()
            .map(|stores| stores.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("StoreRegistry")
            .field("stores", &keys)
            .finish()
    }
}

impl StoreRegistry {
    /// The stores of a process's `[storage]` section, their secrets remembered so that no
    /// error message shows them: what the server and the cluster roles read data through.
    pub fn open(config: &StorageConfig) -> crate::error::Result<Self> {
        let stores =
            Self::try_new(config).map_err(|e| crate::error::Error::invalid_parameter(e.0))?;
        crate::storage::errors::remember_secrets(config.secrets());
        Ok(stores)
    }

    /// A registry for `config`, checked first (see [`check_config`]).
    pub fn try_new(config: &StorageConfig) -> Result<Self, ConfigError> {
        let limits = check_config(config)?;
        let requests = Arc::new(Requests::default());
        Ok(Self {
            config: config.clone(),
            limits,
            local: Arc::new(Metered::new(
                Arc::new(LocalFileSystem::new()),
                requests.clone(),
            )),
            requests,
            stores: RwLock::default(),
        })
    }

    /// The `[storage]` durations and sizes.
    pub fn limits(&self) -> StorageLimits {
        self.limits
    }

    /// The requests every store opened here has made.
    pub fn requests(&self) -> Arc<Requests> {
        self.requests.clone()
    }

    fn build(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        let kind = StoreKind::from_scheme(url.scheme()).ok_or_else(|| {
            DataFusionError::Configuration(format!(
                "locations with scheme \"{}\" are not supported; use file://, s3://, az://, abfss://, gs:// or memory://",
                url.scheme()
            ))
        })?;
        let options = kind
            .section(&self.config)
            .map(|(_, section)| section.for_bucket(bucket_of(url)))
            .unwrap_or_default();
        let base = store_key(url).to_string();
        let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match kind {
            StoreKind::Local => Ok(self.local.clone()),
            StoreKind::Memory => Ok(Arc::new(Metered::new(
                Arc::new(InMemory::new()),
                self.requests.clone(),
            ))),
            StoreKind::S3 => {
                cloud_store!(AmazonS3Builder, AmazonS3ConfigKey, self, &base, &options)
            }
            StoreKind::Azure => {
                cloud_store!(MicrosoftAzureBuilder, AzureConfigKey, self, &base, &options)
            }
            StoreKind::Gcs => {
                cloud_store!(
                    GoogleCloudStorageBuilder,
                    GoogleConfigKey,
                    self,
                    &base,
                    &options
                )
            }
        };
        built.map_err(|e| {
            let cause = crate::storage::errors::scrub(&e.to_string(), &self.config.secrets());
            DataFusionError::ObjectStore(Box::new(object_store::Error::Generic {
                store: "registry",
                source: format!("cannot open the object store for \"{base}\": {cause}").into(),
            }))
        })
    }

    /// The options with `[storage]`'s timeouts added where the options leave them unset.
    fn with_limits(&self, options: &StoreOptions) -> Vec<(String, String)> {
        let mut all = options.0.clone();
        all.entry("timeout".into())
            .or_insert_with(|| format!("{}ms", self.limits.request_timeout.as_millis()));
        all.entry("connect_timeout".into())
            .or_insert_with(|| format!("{}ms", self.limits.connect_timeout.as_millis()));
        all.into_iter().collect()
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: self.limits.max_retries,
            retry_timeout: self.limits.retry_timeout,
        }
    }
}

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        stores.insert(store_key(url).to_string(), store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        stores.remove(store_key(url)).ok_or_else(|| {
            DataFusionError::Execution(format!("no object store is registered for {url}"))
        })
    }

    fn get_store(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        let key = store_key(url);
        if let Some(store) = self
            .stores
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            return Ok(store.clone());
        }
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = stores.get(key) {
            return Ok(store.clone());
        }
        let store = self.build(url)?;
        tracing::debug!(store = key, "object store opened");
        stores.insert(key.to_string(), store.clone());
        Ok(store)
    }
}

/// Checks `[storage]`: its durations and sizes parse (returned), and every store option is a
/// key its kind of store knows. An error names the key.
pub fn check_config(config: &StorageConfig) -> Result<StorageLimits, ConfigError> {
    let limits = config.limits()?;
    for kind in [StoreKind::S3, StoreKind::Azure, StoreKind::Gcs] {
        let Some((name, section)) = kind.section(config) else {
            continue;
        };
        check_keys(kind, &format!("storage.{name}"), &section.options)?;
        for (bucket, options) in &section.buckets {
            check_keys(kind, &format!("storage.{name}.buckets.{bucket}"), options)?;
        }
    }
    Ok(limits)
}

/// Checks that every option of a store section is a key that kind of store knows.
fn check_keys(kind: StoreKind, section: &str, options: &StoreOptions) -> Result<(), ConfigError> {
    for key in options.0.keys() {
        let known = match kind {
            StoreKind::S3 => AmazonS3ConfigKey::from_str(key).is_ok(),
            StoreKind::Azure => AzureConfigKey::from_str(key).is_ok(),
            StoreKind::Gcs => GoogleConfigKey::from_str(key).is_ok(),
            StoreKind::Local | StoreKind::Memory => true,
        };
        if !known {
            return Err(ConfigError(format!("unknown key \"{key}\" in [{section}]")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(text: &str) -> Result<StoreRegistry, ConfigError> {
        let config: StorageConfig = toml::from_str(text).unwrap();
        StoreRegistry::try_new(&config)
    }

    #[test]
    fn unknown_store_keys_are_named() {
        let err = registry("[s3]\nendpiont = \"http://x\"\n").unwrap_err();
        assert!(
            err.0.contains("endpiont") && err.0.contains("storage.s3"),
            "{err}"
        );
        let err = registry("[gcs.buckets.b]\nregion = \"x\"\n").unwrap_err();
        assert!(err.0.contains("storage.gcs.buckets.b"), "{err}");
    }

    #[test]
    fn stores_are_built_once_per_bucket() {
        let registry = registry(
            "[s3]\nendpoint = \"http://127.0.0.1:1\"\nallow_http = true\nregion = \"us-east-1\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n",
        )
        .unwrap();
        let a = registry
            .get_store(&Url::parse("s3://one/x/").unwrap())
            .unwrap();
        let again = registry
            .get_store(&Url::parse("s3://one/y/").unwrap())
            .unwrap();
        let b = registry
            .get_store(&Url::parse("s3://two/").unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(a.to_string().contains("one"), "{a}");
    }

    #[test]
    fn gcs_azure_and_local_urls_open_stores() {
        let registry = registry(
            "[gcs]\nskip_signature = true\n[azure]\naccount_name = \"acct\"\naccess_key = \"a2V5\"\n",
        )
        .unwrap();
        let gcs = registry
            .get_store(&Url::parse("gs://bucket/t/").unwrap())
            .unwrap();
        assert!(gcs.to_string().contains("bucket"), "{gcs}");
        let azure = registry
            .get_store(&Url::parse("abfss://data@acct.dfs.core.windows.net/t/").unwrap())
            .unwrap();
        assert!(azure.to_string().contains("data"), "{azure}");
        registry
            .get_store(&Url::parse("file:///tmp/").unwrap())
            .unwrap();
        let err = registry
            .get_store(&Url::parse("hdfs://nn/x/").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("hdfs"), "{err}");
    }

    #[test]
    fn a_store_that_cannot_be_built_is_a_storage_error_without_secrets() {
        let registry = registry(
            "[s3]\nregion = \"us-east-1\"\nsecret_access_key = \"hunter2xyz\"\nchecksum_algorithm = \"nope\"\n",
        )
        .unwrap();
        let err = registry
            .get_store(&Url::parse("s3://bucket/t/").unwrap())
            .unwrap_err();
        let err = crate::error::Error::from(err);
        assert_eq!(err.kind, crate::error::ErrorKind::Storage, "{err:?}");
        assert!(err.message.contains("s3://bucket"), "{err:?}");
        assert!(!format!("{err:?}").contains("hunter2xyz"), "{err:?}");
    }

    #[test]
    fn bucket_names() {
        assert_eq!(
            bucket_of(&Url::parse("s3://warehouse/a").unwrap()),
            "warehouse"
        );
        assert_eq!(
            bucket_of(&Url::parse("abfss://data@acct.dfs.core.windows.net/a").unwrap()),
            "data"
        );
    }
}
