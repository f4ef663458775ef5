//! A store that applies commands straight to the simulated servers, with no
//! network and no faults: for setting a run up (create, prefill) and for the
//! end-of-run drain, which must see exactly what the servers hold.

use std::cell::RefCell;
use std::future::Future;

use memcache_collections::key::Key;
use memcache_collections::routing::KetamaRing;
use memcache_collections::store::{Command, Reply, Store, StoreError};

use super::world::SimServer;

/// Direct access to the world's servers, routed as clients route.
pub(crate) struct DirectStore<'a> {
    servers: RefCell<&'a mut Vec<SimServer>>,
    ring: &'a KetamaRing,
    evicted: RefCell<Vec<(u32, Key)>>,
}

impl<'a> DirectStore<'a> {
    pub(crate) fn new(servers: &'a mut Vec<SimServer>, ring: &'a KetamaRing) -> Self {
        DirectStore {
            servers: RefCell::new(servers),
            ring,
            evicted: RefCell::new(Vec::new()),
        }
    }

    /// Keys evicted while this store was used, with their server.
    pub(crate) fn take_evicted(&self) -> Vec<(u32, Key)> {
        self.evicted.take()
    }
}

impl Store for DirectStore<'_> {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        let server = self.ring.server_for(command.key().as_bytes());
        let mut servers = self.servers.borrow_mut();
        let reply = servers[server].core.apply(&command);
        let evicted = servers[server].core.take_evicted();
        self.evicted
            .borrow_mut()
            .extend(evicted.into_iter().map(|key| (server as u32, key)));
        std::future::ready(Ok(reply))
    }
}
