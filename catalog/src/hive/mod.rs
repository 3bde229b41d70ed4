//! The Hive Metastore backend (issue 9, in progress): a client of the metastore's Thrift
//! service. So far: [`thrift`], the binary protocol it speaks, and [`client`], a blocking
//! connection that makes calls and turns replies and exceptions into results.

pub mod client;
pub mod thrift;
