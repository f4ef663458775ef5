//! A store that applies commands straight to the simulated servers, with no
//! network and no faults: for setting a run up (create, prefill) and for the
//! end-of-run drain, which must see exactly what the servers hold.

use std::cell::RefCell;
use std::future::Future;

use memcache_collections::key::Key;
use memcache_collections::memcore::LostItem;
use memcache_collections::routing::KetamaRing;
use memcache_collections::store::{Command, Reply, Store, StoreError};

use super::world::SimServer;

/// Direct access to the world's servers, routed as clients route.
pub(crate) struct DirectStore<'a> {
    servers: RefCell<&'a mut Vec<SimServer>>,
    ring: &'a KetamaRing,
    lost: RefCell<Vec<(u32, LostItem)>>,
}

impl<'a> DirectStore<'a> {
    pub(crate) fn new(servers: &'a mut Vec<SimServer>, ring: &'a KetamaRing) -> Self {
        DirectStore {
            servers: RefCell::new(servers),
            ring,
            lost: RefCell::new(Vec::new()),
        }
    }

    /// Items the servers dropped while this store was used, with their
    /// server and cause.
    pub(crate) fn take_lost(&self) -> Vec<(u32, LostItem)> {
        self.lost.take()
    }
}

impl Store for DirectStore<'_> {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        let server = self.ring.server_for(command.key().as_bytes());
        let mut servers = self.servers.borrow_mut();
        let reply = servers[server].core.apply(&command);
        let lost = servers[server].core.take_lost();
        self.lost
            .borrow_mut()
            .extend(lost.into_iter().map(|item| (server as u32, item)));
        std::future::ready(Ok(reply))
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.ring.server_for(a.as_bytes()) == self.ring.server_for(b.as_bytes())
    }

    fn server_name(&self, key: &Key) -> String {
        format!("simulated server {}", self.ring.server_for(key.as_bytes()))
    }
}
