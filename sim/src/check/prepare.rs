//! Turns a history into the checker's entries: values interned, results
//! typed, and unknown outcomes reduced to what can matter.
//!
//! - An op with a definite result (`ok`, `value`, `empty`) must appear in the
//!   linearization, between its invocation and its return.
//! - `failed` and `corruption` results had no effect on the contents
//!   ([`DequeError::Backend`](memcache_collections::DequeError) and friends)
//!   and are left out.
//! - An unknown push whose value some definite pop returned certainly took
//!   effect, before that pop returned: it becomes definite with that deadline
//!   (not its own return: a timed-out write can be applied after the client
//!   gave up on it).
//! - An unknown push whose value nobody popped is dropped: a value nobody
//!   observes can only block pops at its end, never enable one, so any valid
//!   linearization stays valid without it (and its remover, if any).
//! - An unknown pop may remove whatever is at its end, at any time after its
//!   invocation, or nothing; it stays optional.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::spec::{DequeOp, DequeRet};
use crate::history::{History, HistoryOp, OpName, OpResult};

/// "Never returned": later than any real time.
pub const NEVER: u64 = u64::MAX;

/// One operation as the search sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index of the op in the history it came from.
    pub history_index: usize,
    pub op: DequeOp,
    /// What it must return; `None` for an unknown pop.
    pub ret: Option<DequeRet>,
    /// Invocation time.
    pub invoke_us: u64,
    /// Latest time it can take effect: its return, or a deadline derived
    /// from an observation, or [`NEVER`].
    pub deadline_us: u64,
    /// Latest time it most likely took effect: the same, except that an
    /// unknown outcome that returned is assumed to have landed before it
    /// returned. Only the search's fast phase uses it (a witness found under
    /// an assumption is still a witness).
    pub likely_deadline_us: u64,
    /// Whether it must be linearized (false only for unknown pops).
    pub required: bool,
}

/// The prepared problem.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Entries sorted by invocation time.
    pub entries: Vec<Entry>,
    /// Value strings by interned id.
    pub values: Vec<String>,
    /// For each value id, whether some definite pop returns it.
    pub observed: Vec<bool>,
}

/// Which ops of a history to keep, and how to read them.
#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// Acknowledged pushes of these values are dropped when no definite pop
    /// returns them: a reported loss explains them
    /// ([`super::forgive::explained_values`]). Any other acknowledged value
    /// must be found.
    pub forgiven: Arc<BTreeSet<String>>,
}

/// Prepares `ops` (any subset of a history).
pub fn prepare(history: &History, keep: impl Fn(usize, &HistoryOp) -> bool, options: &PrepareOptions) -> Prepared {
    // One pass interns every value in op order (a hash map looked up only,
    // never iterated, so its order cannot show), keeping each op's id; the
    // return of the first definite pop of each value is kept by id.
    let kept: Vec<(usize, &HistoryOp)> = history.ops.iter().enumerate().filter(|(i, op)| keep(*i, op)).collect();
    let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
    ids.reserve(kept.len());
    let mut values: Vec<String> = Vec::new();
    let mut popped_by: Vec<Option<u64>> = Vec::new();
    let mut value_ids: Vec<u32> = Vec::with_capacity(kept.len());
    for (_, op) in &kept {
        let value = match (&op.result, op.value.as_deref()) {
            (OpResult::Failed { .. } | OpResult::Corruption { .. }, _) => None,
            (_, Some(value)) if op.op.is_push() => Some(value),
            (OpResult::Value { value }, _) if !op.op.is_push() => Some(value.as_str()),
            _ => None,
        };
        let Some(value) = value else {
            value_ids.push(u32::MAX);
            continue;
        };
        let id = *ids.entry(value).or_insert_with(|| {
            values.push(value.to_owned());
            popped_by.push(None);
            (values.len() - 1) as u32
        });
        value_ids.push(id);
        if let (OpResult::Value { .. }, Some(returned), false) = (&op.result, op.return_us, op.op.is_push()) {
            popped_by[id as usize].get_or_insert(returned);
        }
    }
    let mut entries = Vec::new();
    for ((index, op), id) in kept.into_iter().zip(value_ids) {
        let returned = op.return_us.unwrap_or(NEVER);
        let (dequeop, ret, deadline_us, required) = match (&op.op, &op.result) {
            (_, OpResult::Failed { .. } | OpResult::Corruption { .. }) => continue,
            (name, result) if name.is_push() => {
                let Some(value) = op.value.as_deref() else { continue };
                let dequeop = if *name == OpName::PushFront {
                    DequeOp::PushFront(id)
                } else {
                    DequeOp::PushBack(id)
                };
                let observed_at = popped_by[id as usize];
                match (result, observed_at) {
                    (OpResult::Ok, None) if options.forgiven.contains(value) => continue,
                    (OpResult::Ok, _) => (dequeop, Some(DequeRet::Pushed), returned, true),
                    // An unknown outcome may take effect after the call
                    // returned (a timed-out write applied late): only the
                    // pop that returned its value bounds it.
                    (_, Some(deadline)) => (dequeop, Some(DequeRet::Pushed), deadline, true),
                    (_, None) => continue,
                }
            }
            (name, result) => {
                let dequeop = if *name == OpName::PopFront {
                    DequeOp::PopFront
                } else {
                    DequeOp::PopBack
                };
                match result {
                    OpResult::Value { .. } => (dequeop, Some(DequeRet::Value(id)), returned, true),
                    OpResult::Empty => (dequeop, Some(DequeRet::Empty), returned, true),
                    _ => (dequeop, None, NEVER, false),
                }
            }
        };
        entries.push(Entry {
            history_index: index,
            op: dequeop,
            ret,
            invoke_us: op.invoke_us,
            deadline_us,
            likely_deadline_us: deadline_us.min(returned),
            required,
        });
    }
    entries.sort_by_key(|e| (e.invoke_us, e.history_index));
    let mut observed = vec![false; values.len()];
    for entry in &entries {
        if let Some(DequeRet::Value(v)) = entry.ret {
            observed[v as usize] = true;
        }
    }
    Prepared {
        entries,
        values,
        observed,
    }
}
