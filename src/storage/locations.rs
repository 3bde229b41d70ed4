//! Locations as DDL writes them, made canonical, and the roots they must stay inside.
//!
//! A location is a URL (`s3://bucket/dir/`, `abfss://c@acct.dfs.core.windows.net/dir/`,
//! `file:///data/dir/`) or a local path, made absolute. `.` and `..` segments (also
//! percent-encoded) are resolved before anything else, so `file:///data/../etc` is
//! `file:///etc/`; local paths are also checked through symbolic links. A location outside
//! every allowed root is refused with SQLSTATE 42501 before any store is touched.

use std::path::{Component, Path, PathBuf};

use url::Url;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::registry::StoreKind;

/// A location as written in DDL, canonical: a URL ending with `/`, dot segments resolved,
/// local paths absolute (`file:///...`).
pub fn normalise(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid_parameter("a location must not be empty"));
    }
    let invalid =
        |why: &str| Error::invalid_parameter(format!("invalid location \"{text}\": {why}"));
    let Some((scheme, _)) = text.split_once("://").filter(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    }) else {
        let path = text.strip_prefix("file:").unwrap_or(text);
        let absolute = std::path::absolute(path).map_err(|e| invalid(&e.to_string()))?;
        return Ok(local_url(&lexical(&absolute)?));
    };
    let scheme = scheme.to_ascii_lowercase();
    if StoreKind::from_scheme(&scheme).is_none() {
        return Err(Error::invalid_parameter(format!(
            "invalid location \"{text}\": scheme \"{scheme}\" is not supported"
        ))
        .with_hint("use file://, s3://, az://, abfss://, gs:// or memory://"));
    }
    let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if url.password().is_some() {
        return Err(Error::invalid_parameter(
            "invalid location: credentials belong in [storage], not in locations",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a location takes no query or fragment"));
    }
    if scheme == "file" {
        if url
            .host_str()
            .is_some_and(|h| !h.is_empty() && h != "localhost")
        {
            return Err(invalid("a file location names no host"));
        }
        let path = url
            .to_file_path()
            .map_err(|_| invalid("not an absolute local path"))?;
        return Ok(local_url(&lexical(&path)?));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no bucket or container"));
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        match decoded(segment).as_str() {
            "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(invalid("it leaves its bucket"));
                }
            }
            _ => segments.push(segment),
        }
    }
    let base = &url[..url::Position::BeforePath];
    let mut location = format!("{scheme}{}/", &base[url.scheme().len()..]);
    for segment in segments {
        location.push_str(segment);
        location.push('/');
    }
    Ok(location)
}

/// `file:///abs/dir/` for a local directory.
/// The local directory of a `file://` location, if it is one.
pub fn local_directory(location: &str) -> Option<PathBuf> {
    location
        .strip_prefix("file://")
        .map(|path| PathBuf::from(path.trim_end_matches('/')))
        .filter(|path| path.is_absolute())
}

pub fn local_url(directory: &Path) -> String {
    let mut location = format!("file://{}", directory.display());
    if !location.ends_with('/') {
        location.push('/');
    }
    location
}

fn decoded(segment: &str) -> String {
    segment.replace("%2e", ".").replace("%2E", ".")
}

/// `path` with `.` and `..` resolved without touching the file system (`/..` is `/`).
fn lexical(path: &Path) -> Result<PathBuf> {
    let mut resolved = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    if !resolved.is_absolute() {
        return Err(Error::invalid_parameter(format!(
            "invalid location \"{}\": not an absolute path",
            path.display()
        )));
    }
    Ok(resolved)
}

/// `path` through any symbolic links in its existing part.
fn through_links(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |dir, part| dir.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The location prefixes tables, partitions, databases and file views may use.
#[derive(Debug, Clone)]
pub struct AllowedLocations {
    roots: Vec<String>,
}

impl AllowedLocations {
    /// The warehouse, its managed-table location, and `[storage] allowed_locations` — or,
    /// when that list is empty, every bucket a store section names.
    pub fn from_config(config: &Config) -> Result<Self> {
        let mut roots = vec![normalise(&config.catalog.warehouse.display().to_string())?];
        if !config.catalog.managed_location.is_empty() {
            roots.push(normalise(&config.catalog.managed_location)?);
        }
        let storage = &config.storage;
        if storage.allowed_locations.is_empty() {
            for (scheme, section) in [
                ("s3", &storage.s3),
                ("az", &storage.azure),
                ("gs", &storage.gcs),
            ] {
                for bucket in section.buckets.keys() {
                    roots.push(format!("{scheme}://{bucket}/"));
                }
                if let Some(bucket) = section.options.get("bucket") {
                    roots.push(format!("{scheme}://{bucket}/"));
                }
            }
        }
        for root in &storage.allowed_locations {
            roots.push(normalise(root).map_err(|e| {
                Error::invalid_parameter(format!("storage.allowed_locations: {}", e.message))
            })?);
        }
        Ok(Self {
            roots: roots.iter().map(|root| real(root)).collect(),
        })
    }

    /// The roots, canonical.
    pub fn roots(&self) -> &[String] {
        &self.roots
    }

    /// Refuses (42501) a canonical location outside every root.
    pub fn check(&self, location: &str) -> Result<()> {
        let real = real(location);
        if self
            .roots
            .iter()
            .any(|root| real.starts_with(root.as_str()))
        {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("location \"{location}\" is outside the allowed storage locations"),
        )
        .with_hint(
            "add it (or a prefix of it) to [storage] allowed_locations in the server configuration",
        ))
    }
}

/// A canonical location with local paths followed through symbolic links.
fn real(location: &str) -> String {
    match location.strip_prefix("file://") {
        Some(path) => local_url(&through_links(Path::new(path))),
        None => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_canonical_urls() {
        assert_eq!(
            normalise("s3://warehouse/trips").unwrap(),
            "s3://warehouse/trips/"
        );
        assert_eq!(
            normalise("S3://warehouse/a/./b/../c").unwrap(),
            "s3://warehouse/a/c/"
        );
        assert_eq!(
            normalise("s3://warehouse/a/%2e%2e/b").unwrap(),
            "s3://warehouse/b/"
        );
        assert_eq!(normalise("file:///data/x/../y").unwrap(), "file:///data/y/");
        assert_eq!(normalise("/data/./x/").unwrap(), "file:///data/x/");
        assert_eq!(normalise("/data/../../../etc").unwrap(), "file:///etc/");
        assert_eq!(
            normalise("abfss://c@acct.dfs.core.windows.net/t").unwrap(),
            "abfss://c@acct.dfs.core.windows.net/t/"
        );
        assert_eq!(
            normalise("s3://warehouse/../other").unwrap(),
            "s3://warehouse/other/"
        );
        for bad in [
            "s3:///path",
            "hdfs://nn/x",
            "s3://k:secret@warehouse/x",
            "s3://warehouse/x?versionId=1",
            "",
        ] {
            assert!(normalise(bad).is_err(), "{bad}");
        }
        let err = normalise("s3://k:hunter2@warehouse/x").unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);
    }

    fn allowed(roots: &[&str]) -> AllowedLocations {
        let mut config = Config::default();
        config.catalog.warehouse = PathBuf::from("/srv/lakeport/warehouse");
        config.storage.allowed_locations = roots.iter().map(|r| r.to_string()).collect();
        AllowedLocations::from_config(&config).unwrap()
    }

    #[test]
    fn only_locations_inside_a_root_pass() {
        let allowed = allowed(&["s3://warehouse/lake", "file:///data/"]);
        for ok in [
            "s3://warehouse/lake/",
            "s3://warehouse/lake/trips/",
            "file:///data/x/",
            "file:///srv/lakeport/warehouse/sales.db/t/",
        ] {
            allowed.check(ok).unwrap();
        }
        for refused in [
            "s3://warehouse/lakehouse/",
            "s3://warehouse/",
            "s3://other/lake/",
            "file:///etc/",
            "file:///database/",
        ] {
            let e = allowed.check(refused).unwrap_err();
            assert_eq!(e.kind, ErrorKind::PermissionDenied, "{refused}");
        }
        let dotted = normalise("file:///data/../etc").unwrap();
        assert!(allowed.check(&dotted).is_err());
    }

    #[test]
    fn configured_buckets_are_the_default_roots() {
        let mut config = Config::default();
        config.storage.s3 =
            toml::from_str("[buckets.warehouse]\nregion = \"us-east-1\"\n").unwrap();
        let allowed = AllowedLocations::from_config(&config).unwrap();
        allowed.check("s3://warehouse/t/").unwrap();
        assert!(allowed.check("s3://elsewhere/t/").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_a_root_are_refused() {
        let dir = std::env::temp_dir().join(format!("lakeport-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("root/escape")).unwrap();
        let mut config = Config::default();
        config.catalog.warehouse = dir.join("warehouse");
        config.storage.allowed_locations = vec![local_url(&dir.join("root"))];
        let allowed = AllowedLocations::from_config(&config).unwrap();
        allowed
            .check(&local_url(&dir.join("root/data/new")))
            .unwrap();
        assert!(
            allowed
                .check(&local_url(&dir.join("root/escape/x")))
                .is_err()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
