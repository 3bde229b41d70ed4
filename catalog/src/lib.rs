//! lakeport-catalog: the Hive metastore model (databases, tables with Hive type strings,
//! partitions, views) and the `Metastore` trait with its backends.
//!
//! The crate knows nothing of pgwire, DataFusion or Arrow. Its model and the embedded
//! backend arrive with the catalog issue; until then the server serves tables declared in
//! its configuration (see `lakeport::exec::tables`).
