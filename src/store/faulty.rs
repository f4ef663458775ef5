//! A store that loses messages on purpose, so that any store can be tested
//! under the two transport faults every client of memcached meets: a
//! request lost before the server saw it (the command had no effect) and a
//! reply lost after the server applied it (the effect is unknown to the
//! caller). The deque promises to report the first as a failure without
//! effect and to surface the second as an unknown outcome, never a silent
//! wrong answer; wrapping an application's store in a `FaultyStore` lets
//! its own tests check what it does with those answers.
//!
//! The faults are drawn from a ChaCha stream seeded by the caller, so a run
//! over a deterministic inner store (such as [`MemoryStore`](super::MemoryStore))
//! is reproducible from its seed.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use super::{Command, Key, Reply, Store, StoreError, call_one_by_one};

/// How often each fault strikes, as a probability per request in `[0, 1]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    /// A request is lost before the server sees it: `StoreError::NotApplied`.
    pub lose_request: f64,
    /// The server applies a request and its reply is lost:
    /// `StoreError::OutcomeUnknown`.
    pub lose_reply: f64,
}

/// How many faults a [`FaultyStore`] injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests sent to the inner store or lost on the way.
    pub requests: u64,
    /// Requests lost before the server saw them.
    pub requests_lost: u64,
    /// Replies lost after the server applied the request.
    pub replies_lost: u64,
}

/// Wraps a store and loses requests and replies at the given rates.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    rates: FaultRates,
    rng: Mutex<ChaCha8Rng>,
    counters: [AtomicU64; 3],
}

impl<S> FaultyStore<S> {
    /// Loses `inner`'s messages at `rates`, drawing from a stream seeded by
    /// `seed`.
    ///
    /// # Panics
    /// If a rate is outside `[0, 1]`: a test asking for that has a bug.
    pub fn new(inner: S, rates: FaultRates, seed: u64) -> Self {
        for rate in [rates.lose_request, rates.lose_reply] {
            assert!((0.0..=1.0).contains(&rate), "fault rate {rate} is not a probability");
        }
        FaultyStore {
            inner,
            rates,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            counters: Default::default(),
        }
    }

    /// The wrapped store (for setup and checks without faults).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        let read = |i: usize| self.counters[i].load(Ordering::Relaxed);
        FaultCounts {
            requests: read(0),
            requests_lost: read(1),
            replies_lost: read(2),
        }
    }

    /// Draws this request's fate: (request lost, reply lost).
    fn fate(&self) -> (bool, bool) {
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut draw = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let request_lost = draw() < self.rates.lose_request;
        let reply_lost = draw() < self.rates.lose_reply;
        (request_lost, reply_lost && !request_lost)
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        let (request_lost, reply_lost) = self.fate();
        self.counters[0].fetch_add(1, Ordering::Relaxed);
        async move {
            let name = command.name();
            let key: Key = command.key().clone();
            if request_lost {
                self.counters[1].fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::NotApplied {
                    command: name,
                    key,
                    detail: "request lost (FaultyStore)".into(),
                });
            }
            let reply = self.inner.call(command).await;
            if reply_lost {
                self.counters[2].fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::OutcomeUnknown {
                    command: name,
                    key,
                    detail: "reply lost (FaultyStore)".into(),
                });
            }
            reply
        }
    }

    /// One command at a time, each with its own fate; a lost message breaks
    /// the rest of the batch, as on a connection.
    fn call_batch(&self, commands: Vec<Command>) -> impl Future<Output = Vec<Result<Reply, StoreError>>> {
        call_one_by_one(self, commands)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, block_on};

    fn key() -> Key {
        Key::new("k").unwrap()
    }

    #[test]
    fn a_lost_request_has_no_effect_and_a_lost_reply_had_one() {
        let lose_requests = FaultyStore::new(
            MemoryStore::default(),
            FaultRates {
                lose_request: 1.0,
                lose_reply: 0.0,
            },
            1,
        );
        let error = block_on(lose_requests.set(&key(), b"v".to_vec())).unwrap_err();
        assert!(matches!(error, StoreError::NotApplied { .. }), "{error}");
        assert_eq!(block_on(lose_requests.inner().gets(&key())).unwrap(), None);
        let lose_replies = FaultyStore::new(
            MemoryStore::default(),
            FaultRates {
                lose_request: 0.0,
                lose_reply: 1.0,
            },
            1,
        );
        let error = block_on(lose_replies.set(&key(), b"v".to_vec())).unwrap_err();
        assert!(matches!(error, StoreError::OutcomeUnknown { .. }), "{error}");
        assert!(block_on(lose_replies.inner().gets(&key())).unwrap().is_some());
        assert_eq!(
            lose_replies.counts(),
            FaultCounts {
                requests: 1,
                requests_lost: 0,
                replies_lost: 1
            }
        );
    }

    #[test]
    fn the_same_seed_loses_the_same_messages() {
        let fates = |seed| {
            let store = FaultyStore::new(
                MemoryStore::default(),
                FaultRates {
                    lose_request: 0.3,
                    lose_reply: 0.3,
                },
                seed,
            );
            (0..64)
                .map(|_| block_on(store.set(&key(), b"v".to_vec())).is_ok())
                .collect::<Vec<_>>()
        };
        assert_eq!(fates(7), fates(7));
        assert_ne!(fates(7), fates(8));
    }
}
