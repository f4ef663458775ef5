//! Worlds for integration tests: the same test body runs against the
//! in-process store and against real memcached servers that the test starts
//! on free loopback ports and stops when it ends.

#![allow(dead_code)]

use memcache_collections::memcached::{LocalServer, LocalServerConfig};
use memcache_collections::{MemcachedOptions, MemcachedStore};

/// Real memcached processes and a store spanning them.
pub struct RealCluster {
    pub servers: Vec<LocalServer>,
    pub store: MemcachedStore,
}

impl RealCluster {
    /// Starts `count` servers with default settings.
    pub fn start(count: usize) -> RealCluster {
        RealCluster::start_with(count, LocalServerConfig::default())
    }

    /// Starts `count` servers with `config`.
    pub fn start_with(count: usize, config: LocalServerConfig) -> RealCluster {
        let servers: Vec<LocalServer> = (0..count)
            .map(|_| {
                LocalServer::start(config.clone()).unwrap_or_else(|e| {
                    panic!("{e}\n(the README's test command installs memcached: bash scripts/test.sh)")
                })
            })
            .collect();
        let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
        let store =
            MemcachedStore::connect(&addresses, &MemcachedOptions::default()).expect("connect to local memcached");
        RealCluster { servers, store }
    }
}

/// Declares `$body` as a test on every world: `fn $body<S: Store>(store: &S)`.
#[macro_export]
macro_rules! on_every_world {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            #[test]
            fn in_memory() {
                super::$body(&memcache_collections::MemoryStore::default());
            }

            #[test]
            fn real_memcached_1_server() {
                let cluster = super::common::RealCluster::start(1);
                super::$body(&cluster.store);
            }

            #[test]
            fn real_memcached_3_servers() {
                let cluster = super::common::RealCluster::start(3);
                super::$body(&cluster.store);
            }
        }
    )*};
}
