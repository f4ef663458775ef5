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
use crate::history::{Held, Loss, LossCause};
use crate::nemesis::held;

/// Where every loss strikes: the one server, holding the model's deque.
const PLACE: held::Place<'static> = held::Place {
    deque: super::case::DEQUE_NAME,
    anchor_server: true,
};

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

    /// Loses the first node in key order (else the first other item, such
    /// as the anchor or the server's life mark): deterministic, so a
    /// schedule replays.
    pub fn lose_one(&mut self, anchor: &[u8]) {
        let keys = self.core.keys_sorted();
        let is_node = |k: &&Key| k.as_bytes().len() > anchor.len() && k.as_bytes().starts_with(anchor);
        let victim = keys.iter().find(is_node).or(keys.first()).cloned();
        if let Some(key) = victim
            && let Some(bytes) = self.core.lose(&key)
        {
            let held = held::of(PLACE, [(key.as_bytes(), bytes.as_slice())]);
            self.record(Some(key.to_string()), LossCause::Injected, Some(held));
        }
    }

    /// Restarts the server.
    ///
    /// The loss is recorded without what it held: after a restart a
    /// client's token from before it can be accepted again and replace the
    /// re-created anchor, which this store does not watch for (the
    /// simulator does), so the restart may account for any value pushed
    /// before the last report after it.
    pub fn restart(&mut self) {
        self.core.restart();
        self.record(None, LossCause::Restart, None);
    }

    fn record(&mut self, key: Option<String>, cause: LossCause, held: Option<Held>) {
        self.losses.push(Loss {
            at_us: super::time_of(self.requests),
            server: 0,
            key,
            cause,
            held,
        });
    }

    fn apply(&mut self, command: &Command) -> (u64, Reply) {
        self.requests += 1;
        let reply = self.core.apply(command);
        for lost in self.core.take_lost() {
            let cause = match lost.reason {
                LossReason::Evicted => LossCause::Eviction,
                LossReason::RefusedStore => LossCause::RefusedStore,
            };
            let held = held::of(PLACE, [(lost.key.as_bytes(), lost.value.as_slice())]);
            self.record(Some(lost.key.to_string()), cause, Some(held));
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
/// requests, so the span is exactly its window), and the last request
/// known to precede its next operation (for an operation that sends none).
pub struct ModelStore<W: World> {
    shared: Arc<W::Lock<Shared>>,
    faults: Cell<FaultRates>,
    anchor: Vec<u8>,
    first_request: Cell<Option<u64>>,
    last_request: Cell<u64>,
    floor: Cell<u64>,
}

impl<W: World> ModelStore<W> {
    /// A connection to `shared` for the deque whose anchor key is `anchor`.
    /// Made before the threads start, so reading the clock here adds no
    /// interleaving.
    pub fn new(shared: Arc<W::Lock<Shared>>, faults: FaultRates, anchor: &str) -> Self {
        let floor = W::with(&shared, |shared| shared.requests);
        ModelStore {
            shared,
            faults: Cell::new(faults),
            anchor: anchor.as_bytes().to_vec(),
            first_request: Cell::new(None),
            last_request: Cell::new(0),
            floor: Cell::new(floor),
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

    /// Ends the operation begun last and returns its window in the
    /// history's time (`invoke_us`, `return_us`); see [`window`].
    pub fn end(&self) -> (u64, u64) {
        let span = self.span();
        // Only an operation that sent nothing reads the clock again: one
        // more lock in the model, but only for those.
        let now = if span.is_none() {
            W::with(&self.shared, |shared| shared.requests)
        } else {
            0
        };
        let (invoke, ret) = window(self.floor.get(), span, now);
        self.floor.set(span.map_or(now, |(_, last)| last));
        (invoke, ret)
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

/// An operation's window: request `r` happens at `3r`, so one that sent
/// requests `first..=last` spans `[3 first, 3 last]` (it takes effect at one
/// of them). One that sent none (it answered from what its handle knew)
/// took effect between its invocation, after request `floor` (its client's
/// previous operation ended there, or the threads started there), and its
/// return, before request `now + 1`: `[3 floor + 2, 3 now + 2]`, between
/// requests, where the real-time order puts it. (Timing it at 0, as once,
/// put every such operation before the whole run, where a wrong answer can
/// look right.)
pub fn window(floor: u64, span: Option<(u64, u64)>, now: u64) -> (u64, u64) {
    match span {
        Some((first, last)) => (3 * first, 3 * last),
        None => (3 * floor + 2, 3 * now.max(floor) + 2),
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn an_operation_without_requests_sits_after_its_clients_previous_one_not_at_zero() {
        // The previous operation ended at request 4; the clock read 9 when
        // this one returned.
        let (invoke, ret) = window(4, None, 9);
        assert!(invoke > 3 * 4 && invoke < 3 * 5, "just after request 4: {invoke}");
        assert!(ret > 3 * 9 && ret < 3 * 10, "just after request 9: {ret}");
        assert_eq!(window(4, Some((6, 8)), 0), (18, 24));
    }
}
