//! The Hive Metastore backend: [`HiveMetastore`] implements the [`Metastore`] trait over
//! the metastore's Thrift service, so lakeport shares databases, tables, partitions and
//! views with Spark, Hive and Trino.
//!
//! [`thrift`] is the binary protocol, [`client`] one blocking connection, [`convert`] the
//! model to and from Hive's structs (written as Spark writes them), [`spark`] Spark's
//! schema JSON, [`metastore`] the backend itself.
//!
//! [`Metastore`]: crate::Metastore

pub mod client;
pub mod convert;
pub mod metastore;
pub mod spark;
pub mod thrift;

pub use metastore::HiveMetastore;
