//! lakeport-catalog: the Hive metastore model (databases, tables with Hive type strings,
//! partitions, views) and the [`Metastore`] trait its backends implement.
//!
//! The crate knows nothing of pgwire, DataFusion or Arrow: Hive types become Arrow types
//! in the server's `exec` bridge. The embedded backend (a transactional single-file store
//! under the warehouse) and the contract suite every backend passes come next; until they
//! land, the server serves the tables declared in its configuration
//! (`lakeport::exec::tables`).

pub mod error;
pub mod metastore;
pub mod model;
pub mod types;

pub use error::{CatalogError, CatalogErrorKind, CatalogResult};
pub use metastore::Metastore;
pub use model::{Column, Database, Partition, Storage, StorageFormat, Table, TableKind};
pub use types::{HiveType, StructField};
