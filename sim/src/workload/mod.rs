//! The clients' workload, the same in every world that runs scenario files:
//! think, pick an operation from the seed's stream, run it on the real
//! `Deque`, record it. The simulator runs it over a `SimStore` in virtual
//! time; the real backend runs it over memcached in real time. Only the
//! [`Recorder`] (where the history goes, which clock stamps it) differs.
//! The phases around the workload, prefill and drain, are in [`setup`].

mod record;
pub mod setup;

pub use record::{Clock, HistoryLog, Recorder, TickClock};

use memcache_collections::deque::DequeError;
use memcache_collections::store::Store;
use std::time::Duration;

use memcache_collections::{Backoff, Deque, DequeOptions, Side, Variant};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::{ClientsConfig, OpMix, RunConfig};
use crate::history::{FailKind, OpName, OpResult};
use crate::rng::{self, Stream};

/// Pads value ids up to the configured size; never part of an id.
pub const VALUE_PAD: u8 = b'~';

/// The deque options of client `client` (the setup and drain clients
/// included) in a run of `config` from `seed`: the same in every world.
pub fn deque_options(config: &RunConfig, variant: Variant, seed: u64, client: u32) -> DequeOptions {
    DequeOptions {
        variant,
        item_size_max: config.servers.item_size_max_bytes,
        retries_max: config.clients.retries_max,
        // Colliding ids on purpose: every client draws client 0's stream.
        id_seed: Some(rng::derived_seed(
            seed,
            Stream::NodeIds,
            if config.clients.colliding_node_ids { 0 } else { client },
        )),
        backoff: Backoff {
            first_us: config.clients.backoff_first_us,
            max_us: config.clients.backoff_max_us,
        },
        deferred_link: config.clients.deferred_link,
    }
}

/// The value a client pushes: its id, padded to `size_bytes`.
pub fn value_bytes(id: &str, size_bytes: usize) -> Vec<u8> {
    let mut value = id.as_bytes().to_vec();
    value.resize(size_bytes.max(id.len()), VALUE_PAD);
    value
}

/// The id of a popped value; bytes no client could have pushed are kept,
/// escaped, so the checker sees them as invented.
pub fn value_id(bytes: &[u8]) -> String {
    let id = bytes.split(|&b| b == VALUE_PAD).next().unwrap_or_default();
    match std::str::from_utf8(id) {
        Ok(id) if !id.is_empty() => id.to_owned(),
        _ => format!("invalid:{}", bytes.escape_ascii()),
    }
}

/// How a deque result appears in the history.
pub fn history_result(result: Result<Option<Vec<u8>>, DequeError>, is_push: bool) -> OpResult {
    op_result(result, is_push, value_id)
}

/// A deque result as an `OpResult`, a popped value named by `name` (its
/// id for the history, its bytes as text for the client protocol).
fn op_result(result: Result<Option<Vec<u8>>, DequeError>, is_push: bool, name: fn(&[u8]) -> String) -> OpResult {
    match result {
        Ok(_) if is_push => OpResult::Ok,
        Ok(Some(bytes)) => OpResult::Value { value: name(&bytes) },
        Ok(None) => OpResult::Empty,
        Err(DequeError::OutcomeUnknown { .. }) => OpResult::Unknown,
        Err(DequeError::Corruption { key, kind, .. }) => OpResult::Corruption {
            key: key.to_string(),
            detail: kind.to_string(),
        },
        Err(error) => OpResult::Failed {
            error: FailKind::of(&error),
        },
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
pub async fn run_op<S: Store>(deque: &mut Deque<S>, op: OpName, value: Vec<u8>) -> OpResult {
    run_op_named(deque, op, value, value_id).await
}

/// [`run_op`], a popped value named by `name` (its id for the history, its
/// bytes as text for the client protocol).
pub async fn run_op_named<S: Store>(
    deque: &mut Deque<S>,
    op: OpName,
    value: Vec<u8>,
    name: fn(&[u8]) -> String,
) -> OpResult {
    let result = match op {
        OpName::PushBack => deque.push(Side::Right, value).await.map(|()| None),
        OpName::PushFront => deque.push(Side::Left, value).await.map(|()| None),
        OpName::PopBack => deque.pop(Side::Right).await,
        OpName::PopFront => deque.pop(Side::Left).await,
    };
    op_result(result, op.is_push(), name)
}

/// Who runs a workload client's operations: the library in this process
/// ([`LibraryClient`], on any `Store`), or a client process in another
/// language that speaks `docs/client-protocol.md` (the real backend's
/// `external` module). The loop around them (think, pick, record,
/// re-create) is [`client_main`] for both, so their histories mean the
/// same and one checker judges them.
#[allow(async_fn_in_trait)]
pub trait DequeClient {
    /// Waits `duration` between two operations, in the world's time.
    async fn think(&self, duration: Duration);

    /// Runs one operation (a push carries `value`) and says what the
    /// history records.
    async fn run(&mut self, op: OpName, value: Vec<u8>) -> OpResult;

    /// The deque's name: a corruption reported at this key is an anchor
    /// loss.
    fn deque_name(&self) -> &str;

    /// After an anchor loss: creates the deque again (`true`), or binds to
    /// the one another client created first (`false`, as when the servers
    /// could not be reached). `id_seed` seeds a fresh handle's node ids.
    async fn recreate(&mut self, id_seed: u64) -> bool;

    /// Whether the client can run nothing more (a client process that
    /// broke the protocol): the loop stops.
    fn gone(&self) -> bool {
        false
    }
}

/// The library's deque as a workload client.
pub struct LibraryClient<S> {
    deque: Deque<S>,
    options: DequeOptions,
}

impl<S> LibraryClient<S> {
    /// A client on `deque`, re-created with `options` after an anchor loss.
    pub fn new(deque: Deque<S>, options: DequeOptions) -> Self {
        LibraryClient { deque, options }
    }
}

impl<S: Store + Clone> DequeClient for LibraryClient<S> {
    async fn think(&self, duration: Duration) {
        self.deque.store().pause(duration).await;
    }

    async fn run(&mut self, op: OpName, value: Vec<u8>) -> OpResult {
        run_op(&mut self.deque, op, value).await
    }

    fn deque_name(&self) -> &str {
        self.deque.name()
    }

    async fn recreate(&mut self, id_seed: u64) -> bool {
        // A new handle draws node ids from a fresh seed: reusing the
        // first handle's seed would repeat its ids.
        let options = DequeOptions {
            id_seed: Some(id_seed),
            ..self.options.clone()
        };
        let store = self.deque.store().clone();
        let name = self.deque.name().to_owned();
        let fresh = match Deque::create(store.clone(), Some(&name), options.clone()).await {
            Ok(fresh) => Some((fresh, true)),
            Err(DequeError::AlreadyExists { .. }) => Deque::bind(store, &name, options).await.ok().map(|d| (d, false)),
            Err(_) => None,
        };
        let Some((fresh, created)) = fresh else {
            // The servers could not be reached: keep the old handle.
            return false;
        };
        self.deque = fresh;
        created
    }
}

/// A client's whole life: think (in the world's time), pick an operation,
/// run it, record it.
pub async fn client_main<C: DequeClient, R: Recorder>(
    client: u32,
    mut handle: C,
    mut rng: ChaCha8Rng,
    config: ClientsConfig,
    recorder: R,
) {
    for seq in 0..config.ops_per_client {
        if handle.gone() {
            return;
        }
        let think_us = rng.random_range(0..=config.think_time_us_max);
        if think_us > 0 {
            handle.think(Duration::from_micros(think_us)).await;
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
        let index = recorder.invoke(client, op, op.is_push().then_some(id));
        let result = handle.run(op, value).await;
        let anchor_lost = matches!(&result, OpResult::Corruption { key, .. } if key == handle.deque_name());
        recorder.complete(index, result);
        if anchor_lost && config.recreate_after_anchor_loss && handle.recreate(rng.random()).await {
            recorder.recreated();
        }
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
