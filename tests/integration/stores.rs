//! Object stores for tests: the local S3 (moto) and Azure (Azurite) emulators that
//! `../shared/tools/object-stores.sh` starts, found through the variables its `env` command
//! prints (`.ci/run` exports them).
//!
//! Without them, tests that need a store say so loudly on stderr and run only on local
//! disk — unless `REQUIRE_OBJECT_STORES=1` (set by `.ci/run`), when a missing
//! emulator fails the test.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lakeport::Config;
use lakeport::storage::config::{StoreOptions, StoreSection};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Where a test's tables live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
    Azure,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::S3 => "s3",
            Backend::Azure => "azure",
        }
    }

    /// Local disk, and each emulator that is running.
    pub fn available() -> Vec<Backend> {
        [Backend::Local, Backend::S3, Backend::Azure]
            .into_iter()
            .filter(|backend| backend.running())
            .collect()
    }

    /// Whether this store can be used; a missing emulator is reported (see the module docs).
    pub fn running(self) -> bool {
        let running = self == Backend::Local || self.options().is_some();
        if !running {
            missing(self);
        }
        running
    }

    /// The store options for this emulator, from the environment; `None` when not running.
    pub fn options(self) -> Option<StoreOptions> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let pairs: Vec<(&str, String)> = match self {
            Backend::Local => return None,
            Backend::S3 => vec![
                ("endpoint", var("AWS_ENDPOINT_URL")?),
                (
                    "region",
                    var("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
                ),
                ("access_key_id", var("AWS_ACCESS_KEY_ID")?),
                ("secret_access_key", var("AWS_SECRET_ACCESS_KEY")?),
                ("allow_http", "true".into()),
                ("virtual_hosted_style_request", "false".into()),
            ],
            Backend::Azure => vec![
                ("endpoint", var("AZURE_STORAGE_ENDPOINT")?),
                ("account_name", var("AZURE_STORAGE_ACCOUNT_NAME")?),
                ("access_key", var("AZURE_STORAGE_ACCOUNT_KEY")?),
                ("allow_http", "true".into()),
            ],
        };
        Some(StoreOptions(
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ))
    }

    /// A fresh, unique root in the emulator's `warehouse` bucket (or container).
    pub fn fresh_root(self, purpose: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let scheme = match self {
            Backend::Local => "file",
            Backend::S3 => "s3",
            Backend::Azure => "az",
        };
        format!("{scheme}://warehouse/{purpose}-{}-{n}/", std::process::id())
    }

    /// Points `config`'s store section at this emulator and allows `root`.
    pub fn configure(self, config: &mut Config, root: &str) {
        let Some(options) = self.options() else {
            return;
        };
        let section = StoreSection {
            options,
            buckets: Default::default(),
        };
        match self {
            Backend::S3 => config.storage.s3 = section,
            Backend::Azure => config.storage.azure = section,
            Backend::Local => {}
        }
        config.storage.allowed_locations.push(root.to_string());
    }

    /// A client of the emulator's `warehouse` bucket, for putting and checking files.
    pub fn store(self) -> Arc<dyn ObjectStore> {
        let options = self.options().expect("the emulator is running");
        let get = |key: &str| options.get(key).unwrap_or_default().to_string();
        match self {
            Backend::S3 => Arc::new(
                AmazonS3Builder::new()
                    .with_bucket_name("warehouse")
                    .with_endpoint(get("endpoint"))
                    .with_region(get("region"))
                    .with_access_key_id(get("access_key_id"))
                    .with_secret_access_key(get("secret_access_key"))
                    .with_allow_http(true)
                    .build()
                    .expect("an S3 client"),
            ),
            Backend::Azure => Arc::new(
                MicrosoftAzureBuilder::new()
                    .with_container_name("warehouse")
                    .with_account(get("account_name"))
                    .with_access_key(get("access_key"))
                    .with_endpoint(get("endpoint"))
                    .with_allow_http(true)
                    .build()
                    .expect("an Azure client"),
            ),
            Backend::Local => unreachable!("local disk needs no client"),
        }
    }
}

/// The path inside the `warehouse` bucket of a root made by [`Backend::fresh_root`].
pub fn bucket_path(root: &str) -> String {
    root.split_once("://warehouse/")
        .map(|(_, path)| path.trim_end_matches('/').to_string())
        .unwrap_or_default()
}

/// Copies every file under `dir` to `prefix` in `store`.
pub async fn upload(store: &Arc<dyn ObjectStore>, dir: &Path, prefix: &str) {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)
            .expect("read a fixture directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).expect("a path under the directory");
            let target = StorePath::from(format!("{prefix}/{}", relative.display()));
            let bytes = std::fs::read(&path).expect("read a fixture file");
            store
                .put(&target, PutPayload::from(bytes))
                .await
                .expect("upload a fixture file");
        }
    }
}

/// The paths of every object under `prefix`.
pub async fn object_paths(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let mut paths: Vec<String> = store
        .list(Some(&StorePath::from(prefix)))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("list the bucket");
    paths.sort();
    paths
}

fn missing(backend: Backend) {
    if std::env::var("REQUIRE_OBJECT_STORES").is_ok_and(|v| v == "1") {
        panic!(
            "the {} emulator is required (REQUIRE_OBJECT_STORES=1) but its variables are not set; \
             run `eval \"$(../shared/tools/object-stores.sh env)\"` after starting it",
            backend.label()
        );
    }
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        eprintln!(
            "\n*** SKIPPING object-store runs: no S3/Azure emulator variables. Start them with \
             `../shared/tools/object-stores.sh start` and `eval \"$(../shared/tools/object-stores.sh env)\"`. ***\n"
        );
    });
}
