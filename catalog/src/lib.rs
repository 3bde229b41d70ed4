//! lakeport-catalog: the Hive metastore model (databases, tables with Hive type strings,
//! partitions, views) and the [`Metastore`] trait its backends implement.
//!
//! The crate knows nothing of pgwire, DataFusion or Arrow: Hive types become Arrow types
//! in the server's `exec` bridge. Backends: [`embedded`] (a transactional single-file
//! SQLite store under the warehouse, the default) and [`hive`] (a Hive Metastore over
//! Thrift, shared with Spark, Hive and Trino; cargo feature `hms`). [`contract`] is the
//! suite every backend's tests run.

pub mod contract;
pub mod embedded;
pub mod error;
#[cfg(feature = "hms")]
pub mod hive;
pub mod metastore;
pub mod model;
pub mod types;
mod validate;

pub use embedded::EmbeddedMetastore;
pub use error::{CatalogError, CatalogErrorKind, CatalogObject, CatalogResult};
pub use metastore::Metastore;
pub use model::{
    Column, ColumnStatistics, Comparison, Database, Grant, Partition, PartitionFilter,
    PartitionTerm, Storage, StorageFormat, Table, TableKind, TableStatistics,
};
pub use types::{HiveType, StructField};
