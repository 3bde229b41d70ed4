//! Object storage: where table files live and how lakeport reaches them.
//!
//! - [`config`]: the `[storage]` section (allowed roots, timeouts, retries, caches, and the
//!   options of S3, Azure and GCS stores with per-bucket overrides).
//! - [`registry`]: DataFusion's object-store registry, opening each bucket's store on first
//!   use from that configuration. Every read and write goes through it.
//! - [`locations`]: locations as DDL writes them, made canonical, and the allowed roots they
//!   must stay inside (SQLSTATE 42501 otherwise).
//! - [`listings`]: listing a directory's data files, and the bounded cache of listings.
//! - [`metered`]: counts (and logs at debug) every store request by kind.
//! - [`errors`]: store failures as SQLSTATE 58030 naming the location, credentials scrubbed.

pub mod config;
pub mod errors;
pub mod listings;
pub mod locations;
pub mod metered;
pub mod registry;

pub use config::StorageConfig;
pub use errors::storage_error;
pub use locations::AllowedLocations;
pub use registry::StoreRegistry;
