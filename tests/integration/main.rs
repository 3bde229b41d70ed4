//! lakeport's integration tests: one binary, a real server in-process on port 0 per test,
//! real clients (tokio-postgres, and a raw frontend for exact protocol checks).

mod harness;
mod pgtext;
mod rawwire;
mod stores;

mod activity;
mod bad_input;
mod cancel;
mod catalog;
#[cfg(feature = "distributed")]
mod cluster;
mod corpus;
mod errors;
mod explain;
#[cfg(feature = "hms")]
mod hive;
mod limits;
mod monitoring;
mod object_storage;
mod portals;
mod privileges;
mod protocol;
mod security;
mod slt;
mod types;
mod ui;
