//! The adversarial histories of `mcsim bench checker --families`: shapes
//! that make linearizability checkers give up (factorial or exponential
//! searches), each built at growing sizes with a verdict known by
//! construction, so the bench can say both how fast the checker decides
//! and whether it decided right.
//!
//! | family | shape | right verdict |
//! |---|---|---|
//! | `lost-value` | N concurrent acknowledged pushes and one more, then one client pops the N and finds the deque empty | silent-corruption |
//! | `contradicted-pair` | N concurrent pushes, two of them sequential, popped one by one with that pair in the wrong order | not-linearizable |
//! | `unknown-pushes` | N concurrent pushes of unknown outcome, half of them popped, then empty | linearizable |
//! | `stack` | the random generator at one end (push_back/pop_back), 8 clients | linearizable |
//! | `queue` | the random generator as a FIFO (push_back/pop_front), 8 clients | linearizable |
//! | `clients-64` | the random generator, 64 clients | linearizable |
//! | `planted-swap` | `clients-64`, with two pops' values swapped where their order is certain | not-linearizable |
//! | `planted-reorder` | `clients-64`, with one pop delayed past another where their order is certain | not-linearizable |
//! | `planted-value` | `clients-64`, with one pop returning a value pushed after it returned | silent-corruption |
//!
//! The generated families have 1% unknown outcomes; the planted ones plant
//! exactly one defect in a `clients-64` history.

use std::collections::BTreeMap;

use serde::Serialize;

use super::checker::{Ends, generate_history};
use crate::history::{History, HistoryOp, OpName, OpResult};
use crate::verdict::Verdict;

/// A family of histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    LostValue,
    ContradictedPair,
    UnknownPushes,
    Stack,
    Queue,
    #[value(name = "clients-64")]
    #[serde(rename = "clients-64")]
    Clients64,
    PlantedSwap,
    PlantedReorder,
    PlantedValue,
}

impl Family {
    /// Every family, in the table's order.
    pub const ALL: [Family; 9] = [
        Family::LostValue,
        Family::ContradictedPair,
        Family::UnknownPushes,
        Family::Stack,
        Family::Queue,
        Family::Clients64,
        Family::PlantedSwap,
        Family::PlantedReorder,
        Family::PlantedValue,
    ];

    /// The name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Family::LostValue => "lost-value",
            Family::ContradictedPair => "contradicted-pair",
            Family::UnknownPushes => "unknown-pushes",
            Family::Stack => "stack",
            Family::Queue => "queue",
            Family::Clients64 => "clients-64",
            Family::PlantedSwap => "planted-swap",
            Family::PlantedReorder => "planted-reorder",
            Family::PlantedValue => "planted-value",
        }
    }

    /// The sizes to try, smallest first: concurrent pushes for the
    /// hand-built families, operations for the generated ones.
    pub fn sizes(self) -> &'static [usize] {
        match self {
            Family::LostValue | Family::ContradictedPair | Family::UnknownPushes => {
                &[10, 20, 100, 1_000, 10_000, 100_000]
            }
            Family::Stack | Family::Queue => &[1_000, 10_000, 100_000, 1_000_000],
            Family::Clients64 | Family::PlantedSwap | Family::PlantedReorder | Family::PlantedValue => {
                &[1_000, 10_000, 100_000]
            }
        }
    }

    /// The verdict a right checker gives every history of the family.
    pub fn verdict(self) -> Verdict {
        match self {
            Family::LostValue | Family::PlantedValue => Verdict::SilentCorruption,
            Family::ContradictedPair | Family::PlantedSwap | Family::PlantedReorder => Verdict::NotLinearizable,
            Family::UnknownPushes | Family::Stack | Family::Queue | Family::Clients64 => Verdict::Linearizable,
        }
    }

    /// The family's history of `size`, from `seed` where it is random;
    /// `None` when the generated history holds no place to plant the
    /// defect.
    pub fn history(self, size: usize, seed: u64) -> Option<History> {
        match self {
            Family::LostValue => Some(lost_value(size)),
            Family::ContradictedPair => Some(contradicted_pair(size)),
            Family::UnknownPushes => Some(unknown_pushes(size)),
            Family::Stack => Some(generate_history(8, size, 0.01, seed, Ends::Stack)),
            Family::Queue => Some(generate_history(8, size, 0.01, seed, Ends::Queue)),
            Family::Clients64 => Some(clients_64(size, seed)),
            Family::PlantedSwap => plant_swap(clients_64(size, seed)),
            Family::PlantedReorder => plant_reorder(clients_64(size, seed)),
            Family::PlantedValue => plant_value(clients_64(size, seed)),
        }
    }
}

/// The random generator with 64 clients at both ends, 1% unknown outcomes.
fn clients_64(size: usize, seed: u64) -> History {
    generate_history(64, size, 0.01, seed, Ends::Both)
}

fn push(client: u32, value: String, span: (u64, u64), result: OpResult) -> HistoryOp {
    HistoryOp {
        client,
        op: OpName::PushBack,
        value: Some(value),
        invoke_us: span.0,
        return_us: (result != OpResult::Unknown || span.1 > 0).then_some(span.1),
        result,
    }
}

fn pop(client: u32, span: (u64, u64), result: OpResult) -> HistoryOp {
    HistoryOp {
        client,
        op: OpName::PopFront,
        value: None,
        invoke_us: span.0,
        return_us: Some(span.1),
        result,
    }
}

/// `n` pops by one client, one after another from `start_us`, returning
/// `results` in order.
fn sequential_pops(client: u32, start_us: u64, results: Vec<OpResult>) -> Vec<HistoryOp> {
    results
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            let at = start_us + 20 * i as u64;
            pop(client, (at, at + 10), result)
        })
        .collect()
}

fn value(v: String) -> OpResult {
    OpResult::Value { value: v }
}

fn lost_value(n: usize) -> History {
    let clients = n as u32;
    let mut ops: Vec<HistoryOp> = (0..clients)
        .map(|c| push(c, format!("v{c}"), (0, 100), OpResult::Ok))
        .collect();
    ops.push(push(clients, "lost".into(), (0, 100), OpResult::Ok));
    let mut results: Vec<OpResult> = (0..clients).map(|c| value(format!("v{c}"))).collect();
    results.push(OpResult::Empty);
    ops.extend(sequential_pops(clients + 1, 200, results));
    History {
        ops,
        ..History::default()
    }
}

fn contradicted_pair(n: usize) -> History {
    let clients = n as u32;
    // v0 then v1 on client 0, one after the other; the rest concurrent.
    let mut ops = vec![
        push(0, "v0".into(), (0, 10), OpResult::Ok),
        push(0, "v1".into(), (20, 30), OpResult::Ok),
    ];
    ops.extend((2..clients).map(|c| push(c, format!("v{c}"), (0, 100), OpResult::Ok)));
    // Popped from the front: v1 first, v0 last (FIFO says v0 before v1).
    let mut results = vec![value("v1".into())];
    results.extend((2..clients).map(|c| value(format!("v{c}"))));
    results.push(value("v0".into()));
    ops.extend(sequential_pops(clients, 200, results));
    ops.sort_by_key(|op| op.invoke_us);
    History {
        ops,
        ..History::default()
    }
}

fn unknown_pushes(n: usize) -> History {
    let clients = n as u32;
    let mut ops: Vec<HistoryOp> = (0..clients)
        .map(|c| {
            push(
                c,
                format!("v{c}"),
                (0, if c % 3 == 0 { 0 } else { 100 }),
                OpResult::Unknown,
            )
        })
        .collect();
    let mut results: Vec<OpResult> = (0..clients).step_by(2).map(|c| value(format!("v{c}"))).collect();
    results.push(OpResult::Empty);
    ops.extend(sequential_pops(clients, 200, results));
    History {
        ops,
        ..History::default()
    }
}

/// Two values whose order is certain, as indices of their pushes and pops
/// `(push_a, push_b, pop_a, pop_b)`: pushed at one end, `a` before `b` was
/// invoked, both popped at the far end, `b`'s push returned before `a`'s pop
/// was invoked (so they were in together, `a` nearer the far end), and `a`'s
/// pop returned before `b`'s was invoked. Among nearby pushes only, so the
/// two are close in time.
fn certain_pair(history: &History) -> Option<(usize, usize, usize, usize)> {
    let mut pop_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        if let OpResult::Value { value } = &op.result {
            pop_of.insert(value.as_str(), i);
        }
    }
    let pushes: Vec<usize> = (0..history.ops.len())
        .filter(|&i| history.ops[i].op.is_push() && history.ops[i].result == OpResult::Ok)
        .collect();
    for window in pushes.windows(64) {
        let (a, later) = (window[0], &window[1..]);
        for &b in later {
            let (push_a, push_b) = (&history.ops[a], &history.ops[b]);
            let (Some(va), Some(vb)) = (push_a.value.as_deref(), push_b.value.as_deref()) else {
                continue;
            };
            let (Some(&pa), Some(&pb)) = (pop_of.get(va), pop_of.get(vb)) else {
                continue;
            };
            let (pop_a, pop_b) = (&history.ops[pa], &history.ops[pb]);
            let far_end = match push_a.op {
                OpName::PushBack => OpName::PopFront,
                _ => OpName::PopBack,
            };
            let shape = push_a.op == push_b.op && pop_a.op == far_end && pop_b.op == far_end;
            let certain = shape
                && push_a.return_us? < push_b.invoke_us
                && push_b.return_us? < pop_a.invoke_us
                && pop_a.return_us? < pop_b.invoke_us;
            if certain {
                return Some((a, b, pa, pb));
            }
        }
    }
    None
}

/// A history with the values of two pops swapped where the swap is
/// certainly wrong ([`certain_pair`]): the earlier pop takes `b` from the
/// far end while `a` is still nearer it.
fn plant_swap(mut history: History) -> Option<History> {
    let (a, b, pa, pb) = certain_pair(&history)?;
    history.ops[pa].result = value(history.ops[b].value.clone()?);
    history.ops[pb].result = value(history.ops[a].value.clone()?);
    Some(history)
}

/// A history where one pop is delayed past another, where that is certainly
/// wrong ([`certain_pair`]): `a`'s pop now starts after `b`'s returned, so
/// `b` left by the far end while `a` was still nearer it. The delayed pop
/// moves to a client of its own, so every client stays sequential.
fn plant_reorder(mut history: History) -> Option<History> {
    let (_, _, pa, pb) = certain_pair(&history)?;
    let client = history.ops.iter().map(|op| op.client).max()? + 1;
    let shift = history.ops[pb].return_us? + 1 - history.ops[pa].invoke_us;
    let pop = &mut history.ops[pa];
    pop.client = client;
    pop.invoke_us += shift;
    pop.return_us = pop.return_us.map(|r| r + shift);
    history.ops.sort_by_key(|op| op.invoke_us);
    Some(history)
}

/// A history where one definite pop, half-way through, returns the value
/// of a push invoked after the pop returned.
fn plant_value(mut history: History) -> Option<History> {
    let middle = history.ops.len() / 2;
    let (pop, returned) = history.ops[middle..].iter().enumerate().find_map(|(i, op)| {
        matches!(op.result, OpResult::Value { .. } | OpResult::Empty).then_some((middle + i, op.return_us?))
    })?;
    // A value some other pop returns too: popped twice, certainly.
    let popped = history.popped_values();
    let later = history
        .ops
        .iter()
        .filter(|op| op.op.is_push() && op.invoke_us > returned)
        .filter_map(|op| op.value.clone())
        .find(|v| popped.contains(v.as_str()))?;
    history.ops[pop].result = value(later);
    Some(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOptions, brute_force_linearizable, check};

    #[test]
    fn the_hand_built_families_have_the_verdict_brute_force_gives() {
        for family in [Family::LostValue, Family::ContradictedPair, Family::UnknownPushes] {
            let history = family.history(4, 1).expect("hand-built");
            history.validate().unwrap();
            let linearizable = brute_force_linearizable(&history).expect("at most 12 ops");
            assert_eq!(linearizable, family.verdict().is_pass(), "{}", family.name());
        }
    }

    #[test]
    fn every_family_is_judged_right_at_its_smallest_size() {
        for family in Family::ALL {
            let history = family.history(family.sizes()[0], 1).expect("plantable");
            let verdict = check(&history, CheckOptions::default()).verdict;
            assert_eq!(verdict, family.verdict(), "{}", family.name());
        }
    }

    #[test]
    fn a_planted_defect_is_certain_and_alone() {
        // The same history without the defect is linearizable, and the
        // delayed pop keeps every client sequential.
        let clean = clients_64(1_000, 1);
        assert!(check(&clean, CheckOptions::default()).verdict.is_pass());
        let reordered = plant_reorder(clean.clone()).expect("a certain pair at 1,000 ops");
        reordered.validate().unwrap();
        assert_eq!(reordered.ops.len(), clean.ops.len());
        let changed = reordered.ops.iter().filter(|op| !clean.ops.contains(op)).count();
        assert_eq!(changed, 1, "one pop moved");
        let swapped = plant_swap(clean.clone()).unwrap();
        let changed = swapped.ops.iter().zip(&clean.ops).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 2, "two pops' values swapped");
    }

    #[test]
    fn every_family_builds_valid_histories_at_its_smallest_size() {
        for family in Family::ALL {
            let history = family
                .history(family.sizes()[0], 1)
                .expect("the smallest size can be planted");
            history.validate().unwrap_or_else(|e| panic!("{}: {e}", family.name()));
        }
    }
}
