//! A store wrapper that counts requests, so "memcached requests per op" is a
//! measured figure rather than an estimate.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::key::Key;
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
    /// Round trips: one per single request, and one per server a batch
    /// spans (a batch is pipelined per server).
    pub round_trips: u64,
}

impl CommandCounts {
    /// All requests together (not round trips: a batch sends several
    /// requests in one).
    pub fn total(&self) -> u64 {
        self.gets + self.set + self.add + self.cas + self.delete + self.stats
    }
}

/// Wraps any store and counts every request that passes through it.
#[derive(Debug, Default)]
pub struct CountingStore<S> {
    inner: S,
    counters: [AtomicU64; 7],
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
            round_trips: read(6),
        }
    }
}

impl<S> CountingStore<S> {
    fn count(&self, command: &Command) {
        let slot = match command {
            Command::Gets { .. } | Command::Version { .. } => 0,
            Command::Set { .. } => 1,
            Command::Add { .. } => 2,
            Command::Cas { .. } => 3,
            Command::Delete { .. } | Command::DeleteCas { .. } => 4,
            Command::Lifetime { .. } => 5,
        };
        self.counters[slot].fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: Store> Store for CountingStore<S> {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        self.count(&command);
        self.counters[6].fetch_add(1, Ordering::Relaxed);
        self.inner.call(command)
    }

    fn call_batch(&self, commands: Vec<Command>) -> impl Future<Output = Vec<Result<Reply, StoreError>>> {
        // One round trip per server the batch touches.
        let mut servers: Vec<&Key> = Vec::new();
        for command in &commands {
            self.count(command);
            if !servers.iter().any(|key| self.inner.colocated(key, command.key())) {
                servers.push(command.key());
            }
        }
        self.counters[6].fetch_add(servers.len() as u64, Ordering::Relaxed);
        self.inner.call_batch(commands)
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.inner.colocated(a, b)
    }

    fn server_name(&self, key: &Key) -> String {
        self.inner.server_name(key)
    }

    fn pause(&self, duration: std::time::Duration) -> impl Future<Output = ()> {
        self.inner.pause(duration)
    }
}
