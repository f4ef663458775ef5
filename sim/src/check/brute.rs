//! A brute-force linearizability checker for tiny histories, written from
//! the definition with none of the search's reductions, to cross-validate
//! it: every subset of the unknown-outcome operations, every order that
//! respects real time, against the sequential spec.

use super::spec::{DequeOp, DequeRet, DequeSpec, SequentialSpec};
use crate::history::{History, OpName, OpResult};

struct Op {
    op: DequeOp,
    /// `None`: any return is acceptable (unknown outcome).
    ret: Option<DequeRet>,
    invoke_us: u64,
    return_us: u64,
}

/// Whether `history` (at most 12 ops; more is refused with `None`) has a
/// linearization. Failed and corruption results are left out, as they had
/// no effect.
pub fn brute_force_linearizable(history: &History) -> Option<bool> {
    let mut values: Vec<String> = Vec::new();
    let mut id = |value: &str| -> u32 {
        match values.iter().position(|v| v == value) {
            Some(i) => i as u32,
            None => {
                values.push(value.to_owned());
                (values.len() - 1) as u32
            }
        }
    };
    let mut definite = Vec::new();
    let mut optional = Vec::new();
    for op in &history.ops {
        let ret = match &op.result {
            OpResult::Failed { .. } | OpResult::Corruption { .. } => continue,
            OpResult::Ok => Some(DequeRet::Pushed),
            OpResult::Value { value } => Some(DequeRet::Value(id(value))),
            OpResult::Empty => Some(DequeRet::Empty),
            OpResult::Unknown => None,
        };
        let dequeop = match op.op {
            OpName::PushFront => DequeOp::PushFront(id(op.value.as_deref()?)),
            OpName::PushBack => DequeOp::PushBack(id(op.value.as_deref()?)),
            OpName::PopFront => DequeOp::PopFront,
            OpName::PopBack => DequeOp::PopBack,
        };
        let entry = Op {
            op: dequeop,
            ret,
            invoke_us: op.invoke_us,
            return_us: if ret.is_some() {
                op.return_us.unwrap_or(u64::MAX)
            } else {
                u64::MAX
            },
        };
        if ret.is_some() {
            definite.push(entry)
        } else {
            optional.push(entry)
        }
    }
    if definite.len() + optional.len() > 12 {
        return None;
    }
    for subset in 0u32..(1 << optional.len()) {
        let chosen: Vec<&Op> = definite
            .iter()
            .chain(
                optional
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| subset & (1 << i) != 0)
                    .map(|(_, o)| o),
            )
            .collect();
        if orders(&chosen, &mut vec![false; chosen.len()], &mut DequeSpec::default()) {
            return Some(true);
        }
    }
    Some(false)
}

/// Tries every real-time-respecting order of the unplaced ops.
fn orders(ops: &[&Op], placed: &mut Vec<bool>, state: &mut DequeSpec) -> bool {
    if placed.iter().all(|&p| p) {
        return true;
    }
    for i in 0..ops.len() {
        if placed[i] {
            continue;
        }
        // Nothing unplaced may have returned before this one was invoked.
        let blocked = (0..ops.len()).any(|j| !placed[j] && j != i && ops[j].return_us < ops[i].invoke_us);
        if blocked {
            continue;
        }
        let before = state.clone();
        let ok = match ops[i].ret {
            Some(ret) => state.is_valid_step(&ops[i].op, &ret),
            None => {
                state.invoke(&ops[i].op);
                true
            }
        };
        if ok {
            placed[i] = true;
            if orders(ops, placed, state) {
                return true;
            }
            placed[i] = false;
        }
        *state = before;
    }
    false
}
