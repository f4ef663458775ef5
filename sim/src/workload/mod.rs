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
    let result = match op {
        OpName::PushBack => deque.push(Side::Right, value).await.map(|()| None),
        OpName::PushFront => deque.push(Side::Left, value).await.map(|()| None),
        OpName::PopBack => deque.pop(Side::Right).await,
        OpName::PopFront => deque.pop(Side::Left).await,
    };
    history_result(result, op.is_push())
}

/// A client's whole life: think (in the store's time), pick an operation,
/// run it, record it.
pub async fn client_main<S: Store + Clone, R: Recorder>(
    client: u32,
    mut deque: Deque<S>,
    mut rng: ChaCha8Rng,
    config: ClientsConfig,
    options: DequeOptions,
    recorder: R,
) {
    for seq in 0..config.ops_per_client {
        let think_us = rng.random_range(0..=config.think_time_us_max);
        if think_us > 0 {
            deque.store().pause(std::time::Duration::from_micros(think_us)).await;
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
        let result = run_op(&mut deque, op, value).await;
        let anchor_lost = matches!(&result, OpResult::Corruption { key, .. } if key == deque.name());
        recorder.complete(index, result);
        if anchor_lost && config.recreate_after_anchor_loss {
            // A new handle draws node ids from a fresh seed: reusing the
            // first handle's seed would repeat its ids.
            let options = DequeOptions {
                id_seed: Some(rng.random()),
                ..options.clone()
            };
            if let Some(fresh) = recreate(&deque, options, &recorder).await {
                deque = fresh;
            }
        }
    }
}

/// Creates the deque again, or binds to the one another client created;
/// `None` (keep the old handle) if the servers could not be reached.
async fn recreate<S: Store + Clone, R: Recorder>(
    deque: &Deque<S>,
    options: DequeOptions,
    recorder: &R,
) -> Option<Deque<S>> {
    let store = deque.store().clone();
    let name = deque.name().to_owned();
    match Deque::create(store.clone(), Some(&name), options.clone()).await {
        Ok(fresh) => {
            recorder.recreated();
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
