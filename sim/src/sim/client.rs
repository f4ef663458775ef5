//! What runs inside a simulated client: the real `Deque`, over a `Store`
//! whose every call parks the client until the world delivers a reply (or a
//! timeout), and the workload loop that records the history.
//!
//! Clients and world share one single-threaded `Shared` block: the client
//! leaves its outgoing request in its slot and returns `Pending`; the world
//! takes it, simulates the network and the server, puts the outcome in the
//! slot and polls the client again. No threads, no wakers: the world knows
//! exactly when each client can make progress.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use memcache_collections::deque::DequeError;
use memcache_collections::key::Key;
use memcache_collections::routing::KetamaRing;
use memcache_collections::store::{Command, Reply, Store, StoreError};
use memcache_collections::{Deque, DequeOptions, Side};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::config::{ClientsConfig, OpMix};
use crate::history::{HistoryOp, OpName, OpResult};

/// Pads value ids up to the configured size; never part of an id.
pub const VALUE_PAD: u8 = b'~';

/// What a parked client is waiting for.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A memcached request.
    Request(Command),
    /// Think time before the next operation.
    Sleep(u64),
}

/// What the world hands back to a parked client.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The reply, or the timeout.
    Reply(Result<Reply, StoreError>),
    /// The sleep is over.
    Woken,
}

/// One client's mailbox.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) outgoing: Option<Outgoing>,
    pub(crate) incoming: Option<Incoming>,
}

/// State shared by the world and every client future.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) now_us: Cell<u64>,
    pub(crate) slots: RefCell<Vec<Slot>>,
    pub(crate) history: RefCell<Vec<HistoryOp>>,
    pub(crate) ops_completed: Cell<u64>,
    /// Deques created again by clients after an anchor loss.
    pub(crate) recreations: Cell<u64>,
}

impl Shared {
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize {
        let mut history = self.history.borrow_mut();
        history.push(HistoryOp {
            client,
            op,
            value,
            invoke_us: self.now_us.get(),
            return_us: None,
            result: OpResult::Unknown,
        });
        history.len() - 1
    }

    fn complete(&self, index: usize, result: OpResult) {
        let mut history = self.history.borrow_mut();
        history[index].return_us = Some(self.now_us.get());
        history[index].result = result;
        self.ops_completed.set(self.ops_completed.get() + 1);
    }
}

/// The `Store` of one simulated client.
#[derive(Debug, Clone)]
pub(crate) struct SimStore {
    client: usize,
    shared: Rc<Shared>,
    /// The world's routing, so the client knows which keys share a server
    /// (and batches them as a real client would).
    ring: Rc<KetamaRing>,
}

impl SimStore {
    pub(crate) fn new(client: usize, shared: Rc<Shared>, ring: Rc<KetamaRing>) -> Self {
        SimStore { client, shared, ring }
    }
}

/// Parks the client until the world answers.
struct Park {
    client: usize,
    shared: Rc<Shared>,
    outgoing: Option<Outgoing>,
}

impl Future for Park {
    type Output = Incoming;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Incoming> {
        let this = &mut *self;
        let mut slots = this.shared.slots.borrow_mut();
        if let Some(outgoing) = this.outgoing.take() {
            slots[this.client].outgoing = Some(outgoing);
            return Poll::Pending;
        }
        match slots[this.client].incoming.take() {
            Some(incoming) => Poll::Ready(incoming),
            None => Poll::Pending,
        }
    }
}

impl Store for SimStore {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        let park = Park {
            client: self.client,
            shared: self.shared.clone(),
            outgoing: Some(Outgoing::Request(command)),
        };
        match park.await {
            Incoming::Reply(result) => result,
            Incoming::Woken => unreachable!("the world wakes only sleeping clients"),
        }
    }

    // Batches use the trait's default: one request after another, which
    // allows every interleaving a pipeline on one connection allows.

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.ring.server_for(a.as_bytes()) == self.ring.server_for(b.as_bytes())
    }

    /// Sleeps in virtual time, like think time.
    async fn pause(&self, duration: std::time::Duration) {
        let duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        if duration_us > 0 {
            sleep(&self.shared, self.client, duration_us).await;
        }
    }
}

async fn sleep(shared: &Rc<Shared>, client: usize, duration_us: u64) {
    let park = Park {
        client,
        shared: shared.clone(),
        outgoing: Some(Outgoing::Sleep(duration_us)),
    };
    match park.await {
        Incoming::Woken => {}
        Incoming::Reply(_) => unreachable!("the world answers only clients with a request out"),
    }
}

/// The value a client pushes: its id, padded to `size_bytes`.
pub(crate) fn value_bytes(id: &str, size_bytes: usize) -> Vec<u8> {
    let mut value = id.as_bytes().to_vec();
    value.resize(size_bytes.max(id.len()), VALUE_PAD);
    value
}

/// The id of a popped value; bytes no client could have pushed are kept,
/// escaped, so the checker sees them as invented.
pub(crate) fn value_id(bytes: &[u8]) -> String {
    let id = bytes.split(|&b| b == VALUE_PAD).next().unwrap_or_default();
    match std::str::from_utf8(id) {
        Ok(id) if !id.is_empty() => id.to_owned(),
        _ => format!("invalid:{}", bytes.escape_ascii()),
    }
}

/// How a deque result appears in the history.
pub(crate) fn history_result(result: Result<Option<Vec<u8>>, DequeError>, is_push: bool) -> OpResult {
    match result {
        Ok(_) if is_push => OpResult::Ok,
        Ok(Some(bytes)) => OpResult::Value {
            value: value_id(&bytes),
        },
        Ok(None) => OpResult::Empty,
        Err(DequeError::OutcomeUnknown { .. }) => OpResult::Unknown,
        Err(DequeError::Corruption { key, kind, .. }) => OpResult::Corruption {
            key: key.to_string(),
            detail: kind.to_string(),
        },
        Err(error) => OpResult::Failed {
            error: error_kind(&error).to_owned(),
        },
    }
}

fn error_kind(error: &DequeError) -> &'static str {
    match error {
        DequeError::AlreadyExists { .. } => "already_exists",
        DequeError::NotFound { .. } => "not_found",
        DequeError::InvalidName { .. } => "invalid_name",
        DequeError::ValueTooLarge { .. } => "value_too_large",
        DequeError::Corruption { .. } => "corruption",
        DequeError::OutcomeUnknown { .. } => "outcome_unknown",
        DequeError::Backend { .. } => "backend",
        DequeError::RetriesExhausted { .. } => "retries_exhausted",
    }
}

fn pick(rng: &mut ChaCha8Rng, mix: &OpMix) -> OpName {
    let weights = [
        (OpName::PushBack, mix.push_back),
        (OpName::PushFront, mix.push_front),
        (OpName::PopBack, mix.pop_back),
        (OpName::PopFront, mix.pop_front),
    ];
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (op, weight) in weights {
        if ticket < weight {
            return op;
        }
        ticket -= weight;
    }
    OpName::PopFront
}

/// Runs one operation on a deque handle and returns its history result.
pub(crate) async fn run_op<S: Store>(deque: &mut Deque<S>, op: OpName, value: Vec<u8>) -> OpResult {
    let result = match op {
        OpName::PushBack => deque.push(Side::Right, value).await.map(|()| None),
        OpName::PushFront => deque.push(Side::Left, value).await.map(|()| None),
        OpName::PopBack => deque.pop(Side::Right).await,
        OpName::PopFront => deque.pop(Side::Left).await,
    };
    history_result(result, op.is_push())
}

/// A client's whole life: think, pick an operation, run it, record it.
pub(crate) async fn client_main(
    client: u32,
    mut deque: Deque<SimStore>,
    mut rng: ChaCha8Rng,
    config: ClientsConfig,
    options: DequeOptions,
    shared: Rc<Shared>,
) {
    for seq in 0..config.ops_per_client {
        let think_us = rng.random_range(0..=config.think_time_us_max);
        if think_us > 0 {
            sleep(&shared, client as usize, think_us).await;
        }
        let op = pick(&mut rng, &config.mix);
        let size_bytes = rng
            .random_range(config.value_size_bytes_min..=config.value_size_bytes_max.max(config.value_size_bytes_min));
        let id = format!("{client}.{seq}");
        let value = if op.is_push() {
            value_bytes(&id, size_bytes)
        } else {
            Vec::new()
        };
        let index = shared.invoke(client, op, op.is_push().then_some(id));
        let result = run_op(&mut deque, op, value).await;
        let anchor_lost = matches!(&result, OpResult::Corruption { key, .. } if key == deque.name());
        shared.complete(index, result);
        if anchor_lost && config.recreate_after_anchor_loss {
            // A new handle draws node ids from a fresh seed: reusing the
            // first handle's seed would repeat its ids.
            let options = DequeOptions {
                id_seed: Some(rng.random()),
                ..options.clone()
            };
            if let Some(fresh) = recreate(&deque, options, &shared).await {
                deque = fresh;
            }
        }
    }
}

/// Creates the deque again, or binds to the one another client created;
/// `None` (keep the old handle) if the servers could not be reached.
async fn recreate(deque: &Deque<SimStore>, options: DequeOptions, shared: &Shared) -> Option<Deque<SimStore>> {
    let store = deque.store().clone();
    let name = deque.name().to_owned();
    match Deque::create(store.clone(), Some(&name), options.clone()).await {
        Ok(fresh) => {
            shared.recreations.set(shared.recreations.get() + 1);
            Some(fresh)
        }
        Err(DequeError::AlreadyExists { .. }) => Deque::bind(store, &name, options).await.ok(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_ids_survive_padding_and_garbage_is_marked() {
        assert_eq!(value_id(&value_bytes("3.14", 40)), "3.14");
        assert_eq!(value_id(&value_bytes("3.14", 0)), "3.14");
        assert!(value_id(&[0xff, 0xfe]).starts_with("invalid:"));
    }
}
