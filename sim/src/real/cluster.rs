//! The real backend's memcached servers: started by the harness on free
//! loopback ports, restarted, flushed and stripped of chosen keys on a
//! fault's order, and stopped when the run ends.

use std::io;
use std::sync::Mutex;

use memcache_collections::key::Key;
use memcache_collections::memcached::{
    LocalServer, LocalServerConfig, LocalServerError, MemcachedOptions, MemcachedStore,
};
use memcache_collections::routing::{KetamaRing, ServerSpec};

/// The servers of one run.
pub struct Cluster {
    /// One lock per server: a restart replaces its process.
    servers: Vec<Mutex<LocalServer>>,
    /// `127.0.0.1:<port>` of each server: the ring's names, which every
    /// client uses whatever proxy it dials.
    addresses: Vec<String>,
    ring: KetamaRing,
}

impl Cluster {
    /// Starts `count` servers with `config`.
    pub fn start(count: u32, config: &LocalServerConfig) -> Result<Self, LocalServerError> {
        let servers = (0..count)
            .map(|_| LocalServer::start(config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
        // Parsed as `MemcachedStore::connect` parses them, so this ring and
        // every client's place each key on the same server.
        let specs: Vec<ServerSpec> = addresses
            .iter()
            .map(|a| ServerSpec::parse(a).expect("LocalServer::address is host:port"))
            .collect();
        Ok(Cluster {
            ring: KetamaRing::new(&specs),
            servers: servers.into_iter().map(Mutex::new).collect(),
            addresses,
        })
    }

    /// The servers' addresses, in ring order.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// A client connected straight to the servers (no proxy, no faults):
    /// for setup, the drain, loss targets and filler traffic.
    pub fn direct_store(&self, options: &MemcachedOptions) -> Result<MemcachedStore, String> {
        MemcachedStore::connect(&self.addresses, options).map_err(|e| e.to_string())
    }

    /// The index of the server that owns `key`, as clients route it.
    pub fn server_for(&self, key: &Key) -> usize {
        self.ring.server_for(key.as_bytes())
    }

    /// Kills server `index` and starts it again on its port.
    pub fn restart(&self, index: usize) -> Result<(), LocalServerError> {
        self.lock(index).restart()
    }

    /// `flush_all` on server `index`.
    pub fn flush_all(&self, index: usize) -> io::Result<()> {
        self.lock(index).flush_all()
    }

    /// Makes `key` a miss on the server that owns it; the server's index
    /// and whether the key was there.
    pub fn expire(&self, key: &Key) -> io::Result<(usize, bool)> {
        let index = self.ring.server_for(key.as_bytes());
        Ok((index, self.lock(index).expire(key)?))
    }

    /// Items server `index` has dropped on its own so far: evictions plus
    /// stores refused for lack of memory (a refused store unlinks the value
    /// its key held, docs/memcached.md). Counters restart at 0 with the process.
    pub fn dropped_items(&self, index: usize) -> io::Result<u64> {
        let stats = self.lock(index).stats()?;
        let counter = |name: &str| -> u64 {
            stats
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(counter("evictions") + counter("store_no_memory"))
    }

    /// Every live key on every server that starts with `prefix`, sorted
    /// (`lru_crawler metadump`): what a loss target is chosen from.
    pub fn keys_with_prefix(&self, prefix: &str) -> io::Result<Vec<Key>> {
        let mut keys = Vec::new();
        for index in 0..self.servers.len() {
            let listed = self.lock(index).keys()?;
            keys.extend(
                listed
                    .into_iter()
                    .filter(|k| k.as_bytes().starts_with(prefix.as_bytes())),
            );
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// How many servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether there are none (never, once started).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    fn lock(&self, index: usize) -> std::sync::MutexGuard<'_, LocalServer> {
        self.servers[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
