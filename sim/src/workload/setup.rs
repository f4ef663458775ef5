//! The two sequential phases around a workload, one policy for every world:
//! the prefill (values pushed at the back before the clients start) and
//! the drain (a fresh client pops from alternating ends until the deque
//! says empty, and from the other end alone after one end reports an error,
//! so every surviving value is accounted for and both ends' links are
//! walked).

use memcache_collections::deque::DequeError;
use memcache_collections::store::Store;
use memcache_collections::{Deque, Side};

use super::{Recorder, run_op, value_bytes};
use crate::history::{OpName, OpResult};

/// The id of prefill value `i`.
pub fn prefill_id(i: u64) -> String {
    format!("p.{i}")
}

/// Pushes `count` values (`p.0`, `p.1`, ... padded to `size_bytes`) at the
/// back, each recorded as client `client`'s operation. Stops at the first
/// failure: a run whose setup fails could not start.
pub async fn prefill<S: Store>(
    deque: &mut Deque<S>,
    count: u64,
    size_bytes: usize,
    client: u32,
    recorder: &impl Recorder,
) -> Result<(), DequeError> {
    for i in 0..count {
        let id = prefill_id(i);
        let value = value_bytes(&id, size_bytes);
        let index = recorder.invoke(client, OpName::PushBack, Some(id));
        deque.push(Side::Right, value).await?;
        recorder.complete(index, OpResult::Ok);
    }
    // The clients start from a stable deque, whatever the setup kept back.
    deque.settle().await;
    Ok(())
}

/// Pops from alternating ends (front first) until the deque says empty,
/// each pop recorded as client `client`'s. When one end reports an error
/// (a node missing, say), the rest is popped from the other end until it
/// too answers anything but a value: a loss in the middle must not hide the
/// values beyond it, since a value nobody pops is forgiven only by a loss
/// that held it. `pushes` is how many pushes the history holds: a deque
/// cannot hold more values, so the bound (two rounds more) only stops a
/// corrupted cycle.
pub async fn drain<S: Store>(deque: &mut Deque<S>, pushes: usize, client: u32, recorder: &impl Recorder) {
    let mut only: Option<OpName> = None;
    for round in 0..pushes + 2 {
        let op = only.unwrap_or(if round % 2 == 0 {
            OpName::PopFront
        } else {
            OpName::PopBack
        });
        let index = recorder.invoke(client, op, None);
        let result = run_op(deque, op, Vec::new()).await;
        let answer = match &result {
            OpResult::Value { .. } => None,
            OpResult::Empty => Some(true),
            _ => Some(false),
        };
        recorder.complete(index, result);
        match answer {
            None => {}
            // An error at one end: the other end may still hold values.
            Some(false) if only.is_none() => {
                only = Some(if op == OpName::PopFront {
                    OpName::PopBack
                } else {
                    OpName::PopFront
                });
            }
            Some(_) => return,
        }
    }
}
