//! A brute-force linearizability check of tiny MCAS histories, from the
//! definition with none of the search's shortcuts, to cross-validate it:
//! every subset of the unknown-outcome operations, every order that
//! respects real time, against [`RegisterSpec`].

use super::check::prepare;
use super::history::McasHistory;
use super::spec::{RegisterOp, RegisterRet, RegisterSpec};
use crate::check::spec::SequentialSpec;
use crate::check::wgl::Timed;

/// Whether `history` (at most 9 operations after preparation; more is
/// refused with `None`) has a linearization.
pub fn brute_force_mcas(history: &McasHistory) -> Option<bool> {
    let (initial, ops, _) = prepare(history);
    if ops.len() > 9 {
        return None;
    }
    let optional: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_none()).collect();
    for subset in 0u32..1 << optional.len() {
        let chosen: Vec<usize> = (0..ops.len())
            .filter(|&i| match optional.iter().position(|&o| o == i) {
                Some(bit) => subset >> bit & 1 == 1,
                None => true,
            })
            .collect();
        if orders(&initial, &ops, &chosen, &mut Vec::new()) {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether some order of `chosen` that extends `placed` respects real time
/// (no operation before one that returned before it was invoked) and fits
/// the spec.
fn orders(
    initial: &RegisterSpec,
    ops: &[Timed<RegisterOp, RegisterRet>],
    chosen: &[usize],
    placed: &mut Vec<usize>,
) -> bool {
    if placed.len() == chosen.len() {
        let mut spec = initial.clone();
        return placed.iter().all(|&i| match &ops[i].ret {
            Some(ret) => spec.is_valid_step(&ops[i].op, ret),
            None => {
                spec.invoke(&ops[i].op);
                true
            }
        });
    }
    for &next in chosen {
        if placed.contains(&next) {
            continue;
        }
        // No operation placed after `next` may have returned before `next`
        // was invoked (equal times are concurrent).
        let respects_time = chosen
            .iter()
            .filter(|i| !placed.contains(i) && **i != next)
            .all(|&later| ops[later].return_us >= ops[next].invoke_us);
        if !respects_time {
            continue;
        }
        placed.push(next);
        let found = orders(initial, ops, chosen, placed);
        placed.pop();
        if found {
            return true;
        }
    }
    false
}
