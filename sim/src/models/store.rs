//! The model checkers' memcached: the semantics core behind a [`World`]
//! lock, with a global request counter as the clock and faults chosen by the
//! world's scheduler.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use memcache_collections::key::Key;
use memcache_collections::memcore::{CoreConfig, LossReason, ServerCore};
use memcache_collections::store::{Command, Reply, Store, StoreError};

use super::world::World;
use crate::history::{Loss, LossCause};

/// Faults per thousand requests, drawn with [`World::choose`] (so only
/// worlds with controlled randomness, shuttle, inject them this way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultRates {
    /// Lose one stored item (the first key in key order that is not the
    /// anchor, else the anchor), as an eviction would.
    pub lose_item_per_mille: u32,
    /// Restart the server: every item gone, the CAS counter back at 1.
    pub restart_per_mille: u32,
    /// Apply a write but lose its reply (the client sees outcome unknown).
    pub drop_reply_per_mille: u32,
}

impl FaultRates {
    /// Whether any fault is on.
    pub fn any(&self) -> bool {
        self.lose_item_per_mille + self.restart_per_mille + self.drop_reply_per_mille > 0
    }
}

/// Everything the clients share: the server and the clock.
#[derive(Debug)]
pub struct Shared {
    pub core: ServerCore,
    /// Requests applied so far: the history's clock.
    pub requests: u64,
    /// Entries lost, with the request count at the time.
    pub losses: Vec<Loss>,
}

impl Shared {
    /// A fresh server.
    pub fn new() -> Shared {
        Shared {
            core: ServerCore::new(CoreConfig::default()),
            requests: 0,
            losses: Vec::new(),
        }
    }

    /// Loses the first non-anchor item in key order (else the anchor):
    /// deterministic, so a schedule replays, and usually a node.
    pub fn lose_one(&mut self, anchor: &[u8]) {
        let keys = self.core.keys_sorted();
        let victim = keys.iter().find(|k| k.as_bytes() != anchor).or(keys.first()).cloned();
        if let Some(key) = victim
            && self.core.lose(&key)
        {
            self.record(Some(key.to_string()), LossCause::Injected);
        }
    }

    /// Restarts the server.
    pub fn restart(&mut self) {
        self.core.restart();
        self.record(None, LossCause::Restart);
    }

    fn record(&mut self, key: Option<String>, cause: LossCause) {
        self.losses.push(Loss {
            at_us: super::time_of(self.requests),
            server: 0,
            key,
            cause,
        });
    }

    fn apply(&mut self, command: &Command) -> (u64, Reply) {
        self.requests += 1;
        let reply = self.core.apply(command);
        for (key, reason) in self.core.take_lost() {
            let cause = match reason {
                LossReason::Evicted => LossCause::Eviction,
                LossReason::RefusedStore => LossCause::RefusedStore,
            };
            self.record(Some(key.to_string()), cause);
        }
        (self.requests, reply)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

/// One client's connection: the shared server plus the span of request
/// numbers its current operation used, which become the operation's
/// invoke and return times (an operation takes effect at one of its own
/// requests, so the span is exactly its window).
pub struct ModelStore<W: World> {
    shared: Arc<W::Lock<Shared>>,
    faults: Cell<FaultRates>,
    anchor: Vec<u8>,
    first_request: Cell<Option<u64>>,
    last_request: Cell<u64>,
}

impl<W: World> ModelStore<W> {
    /// A connection to `shared` for the deque whose anchor key is `anchor`.
    pub fn new(shared: Arc<W::Lock<Shared>>, faults: FaultRates, anchor: &str) -> Self {
        ModelStore {
            shared,
            faults: Cell::new(faults),
            anchor: anchor.as_bytes().to_vec(),
            first_request: Cell::new(None),
            last_request: Cell::new(0),
        }
    }

    /// Switches faults on (or off) from now on: a handle is bound on a quiet
    /// connection, then handed to its thread with the case's faults.
    pub fn set_faults(&self, faults: FaultRates) {
        self.faults.set(faults);
    }

    /// Starts a new operation's span.
    pub fn begin(&self) {
        self.first_request.set(None);
    }

    /// The first and last request numbers of the operation since
    /// [`begin`](ModelStore::begin), if it sent any.
    pub fn span(&self) -> Option<(u64, u64)> {
        self.first_request.get().map(|first| (first, self.last_request.get()))
    }

    fn roll(&self, per_mille: u32) -> bool {
        per_mille > 0 && W::choose(1000).is_some_and(|draw| draw < per_mille)
    }
}

impl<W: World> Store for ModelStore<W> {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        let (lose, restart) = (
            self.roll(self.faults.get().lose_item_per_mille),
            self.roll(self.faults.get().restart_per_mille),
        );
        let (request, reply) = W::with(&self.shared, |shared| {
            if lose {
                shared.lose_one(&self.anchor);
            }
            if restart {
                shared.restart();
            }
            shared.apply(&command)
        });
        if self.first_request.get().is_none() {
            self.first_request.set(Some(request));
        }
        self.last_request.set(request);
        let dropped = command.has_side_effect() && self.roll(self.faults.get().drop_reply_per_mille);
        std::future::ready(if dropped {
            Err(StoreError::OutcomeUnknown {
                command: command.name(),
                key: command.key().clone(),
                detail: "reply dropped by the model's fault injection".to_owned(),
            })
        } else {
            Ok(reply)
        })
    }

    /// One server. Batches take the trait's default, one request at a time,
    /// so the model checker may interleave other clients between them.
    fn colocated(&self, _: &Key, _: &Key) -> bool {
        true
    }
}
