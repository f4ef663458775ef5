//! An in-process store: the semantics core behind a mutex.
//!
//! For unit tests, examples and the demo: it behaves exactly like one healthy
//! memcached server with unlimited memory and never loses a reply. Faults
//! belong to the simulator, not here.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::key::Key;
use crate::memcore::{CoreConfig, ServerCore};
use crate::store::{Command, Reply, Store, StoreError};

/// One memcached server in this process's memory, shareable across threads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    core: Mutex<ServerCore>,
}

impl MemoryStore {
    /// An empty server with the given limits.
    pub fn new(config: CoreConfig) -> Self {
        MemoryStore {
            core: Mutex::new(ServerCore::new(config)),
        }
    }

    /// Direct access to the item table, for tests that inject garbage or
    /// losses. A panic while the lock was held cannot leave the table half
    /// updated (every core method is a single step), so poisoning is ignored.
    pub fn core(&self) -> MutexGuard<'_, ServerCore> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        std::future::ready(Ok(self.core().apply(&command)))
    }

    /// One server: every key is on it.
    fn colocated(&self, _: &Key, _: &Key) -> bool {
        true
    }
}
