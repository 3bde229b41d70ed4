//! The cluster roles of the `lakeport` binary, on Apache DataFusion Ballista (feature
//! `distributed`): `lakeport scheduler` plans stages and hands out tasks, `lakeport executor`
//! runs them. Both are Ballista's own processes started through its library entry points,
//! with lakeport's pieces put in: the same DataFusion session options and functions as the
//! server ([`crate::exec::state_with_functions`]), and the object stores of the `[storage]`
//! section of the configuration file each role reads itself, so credentials never travel
//! with a query.
//!
//! The server's side of a cluster (which queries go there, submitting them, streaming the
//! results back, cancelling) is in [`crate::exec::distributed`].

mod executor;
mod scheduler;

use std::sync::Arc;

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

pub use executor::run_executor;
pub use scheduler::run_scheduler;

use crate::config::{Config, parse_byte_size};
use crate::error::{Error, Result};
use crate::storage::StoreRegistry;

/// The gRPC URL of the scheduler at `address` (`HOST:PORT`).
pub fn scheduler_url(address: &str) -> Result<String> {
    let (host, port) = host_and_port(address)?;
    Ok(match host.contains(':') {
        true => format!("http://[{host}]:{port}"),
        false => format!("http://{host}:{port}"),
    })
}

/// `HOST:PORT` split, with the port checked.
pub fn host_and_port(address: &str) -> Result<(String, u16)> {
    let invalid = || {
        Error::invalid_parameter(format!(
            "invalid scheduler address \"{address}\": expected HOST:PORT"
        ))
    };
    let (host, port) = address.trim().rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(invalid());
    }
    Ok((host.to_string(), port))
}

/// The runtime a role's plans run in: the configured object stores, and a memory pool of
/// `memory` bytes.
fn role_runtime(config: &Config, memory: usize) -> Result<Arc<RuntimeEnv>> {
    Ok(RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
        .with_object_store_registry(Arc::new(StoreRegistry::open(&config.storage)?))
        .build_arc()?)
}

fn executor_memory(config: &Config) -> Result<usize> {
    parse_byte_size(&config.cluster.executor_memory).map_err(|e| Error::invalid_parameter(e.0))
}

fn seconds(duration: std::time::Duration) -> u64 {
    duration.as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses() {
        assert_eq!(
            scheduler_url("127.0.0.1:50050").unwrap(),
            "http://127.0.0.1:50050"
        );
        assert_eq!(scheduler_url("[::1]:7000").unwrap(), "http://[::1]:7000");
        assert_eq!(
            host_and_port("sched.internal:7000").unwrap(),
            ("sched.internal".to_string(), 7000)
        );
        assert_eq!(
            host_and_port("[::1]:7000").unwrap(),
            ("::1".to_string(), 7000)
        );
        for bad in ["", "host", "host:", ":50050", "host:0", "host:99999"] {
            assert!(host_and_port(bad).is_err(), "{bad} should be refused");
        }
    }
}
