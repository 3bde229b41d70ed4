//! Catalog statements: Spark SQL / HiveQL DDL and the SHOW / DESCRIBE statements that read
//! the catalog, parsed in [`parse`] and run against the metastore in [`run`].
//!
//! Names: each Hive database is a PostgreSQL schema of the one database clients connect
//! to. A qualified name (`db.t`, `lakeport.db.t`) says where; an unqualified one looks
//! among the connection's temporary views and then along the search path, and an
//! unqualified CREATE goes to the first schema on the path that is a database.
//!
//! Catalog statements take effect when they run: inside a transaction block they are not
//! undone by ROLLBACK (the metastore has no transactions spanning statements).

mod analyze;
pub mod ast;
mod cache;
mod describe;
mod insert;
pub mod parse;
pub mod run;
mod tables;
mod truncate;

pub use run::run;
