//! A store wrapper that counts requests, so "memcached requests per op" is a
//! measured figure rather than an estimate.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::{Command, Reply, Store, StoreError};

/// Requests sent, by command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommandCounts {
    /// `gets` requests.
    pub gets: u64,
    /// `set` requests.
    pub set: u64,
    /// `add` requests.
    pub add: u64,
    /// `cas` requests.
    pub cas: u64,
    /// `delete` requests.
    pub delete: u64,
    /// `stats` requests (server lifetime checks).
    pub stats: u64,
}

impl CommandCounts {
    /// All requests together.
    pub fn total(&self) -> u64 {
        self.gets + self.set + self.add + self.cas + self.delete + self.stats
    }
}

/// Wraps any store and counts every request that passes through it.
#[derive(Debug, Default)]
pub struct CountingStore<S> {
    inner: S,
    counters: [AtomicU64; 6],
}

impl<S> CountingStore<S> {
    /// Counts the requests sent to `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            counters: Default::default(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The requests counted so far.
    pub fn counts(&self) -> CommandCounts {
        let read = |i: usize| self.counters[i].load(Ordering::Relaxed);
        CommandCounts {
            gets: read(0),
            set: read(1),
            add: read(2),
            cas: read(3),
            delete: read(4),
            stats: read(5),
        }
    }
}

impl<S: Store> Store for CountingStore<S> {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        let slot = match command {
            Command::Gets { .. } => 0,
            Command::Set { .. } => 1,
            Command::Add { .. } => 2,
            Command::Cas { .. } => 3,
            Command::Delete { .. } => 4,
            Command::Lifetime { .. } => 5,
        };
        self.counters[slot].fetch_add(1, Ordering::Relaxed);
        self.inner.call(command)
    }
}
