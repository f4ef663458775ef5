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
//! | `planted-swap` | the random generator, 8 clients, with two pops' values swapped where their order is certain | not-linearizable |
//! | `planted-value` | the random generator, 8 clients, with one pop returning a value pushed after it returned | silent-corruption |

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
    PlantedValue,
}

impl Family {
    /// Every family, in the table's order.
    pub const ALL: [Family; 8] = [
        Family::LostValue,
        Family::ContradictedPair,
        Family::UnknownPushes,
        Family::Stack,
        Family::Queue,
        Family::Clients64,
        Family::PlantedSwap,
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
            Family::Clients64 | Family::PlantedSwap | Family::PlantedValue => &[1_000, 10_000, 100_000],
        }
    }

    /// The verdict a right checker gives every history of the family.
    pub fn verdict(self) -> Verdict {
        match self {
            Family::LostValue | Family::PlantedValue => Verdict::SilentCorruption,
            Family::ContradictedPair | Family::PlantedSwap => Verdict::NotLinearizable,
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
            Family::Clients64 => Some(generate_history(64, size, 0.01, seed, Ends::Both)),
            Family::PlantedSwap => plant_swap(generate_history(8, size, 0.0, seed, Ends::Queue)),
            Family::PlantedValue => plant_value(generate_history(8, size, 0.01, seed, Ends::Both)),
        }
    }
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

/// A FIFO history (pushes at the back, pops at the front, no unknown
/// outcomes) with the values of two pops swapped where the swap is
/// certainly wrong: `a` was pushed before `b` was invoked, `b`'s push
/// returned before `a`'s pop was invoked (so they were in together, `a`
/// ahead), and `a`'s pop returned before `b`'s was invoked. After the swap
/// the earlier pop takes `b` from the front while `a` is still ahead of it.
fn plant_swap(mut history: History) -> Option<History> {
    let pop_of = |h: &History, v: &str| {
        h.ops
            .iter()
            .position(|op| matches!(&op.result, OpResult::Value { value } if value == v))
    };
    let pushes: Vec<usize> = (0..history.ops.len())
        .filter(|&i| history.ops[i].op.is_push())
        .collect();
    for pair in pushes.windows(8).map(|w| (w[0], &w[1..])) {
        let (a, later) = pair;
        for &b in later {
            let (push_a, push_b) = (&history.ops[a], &history.ops[b]);
            let (Some(va), Some(vb)) = (push_a.value.clone(), push_b.value.clone()) else {
                continue;
            };
            let (Some(pa), Some(pb)) = (pop_of(&history, &va), pop_of(&history, &vb)) else {
                continue;
            };
            let (pop_a, pop_b) = (&history.ops[pa], &history.ops[pb]);
            let certain = push_a.return_us? < push_b.invoke_us
                && push_b.return_us? < pop_a.invoke_us
                && pop_a.return_us? < pop_b.invoke_us;
            if certain {
                history.ops[pa].result = value(vb);
                history.ops[pb].result = value(va);
                return Some(history);
            }
        }
    }
    None
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
    use crate::check::brute_force_linearizable;

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
    fn every_family_builds_valid_histories_at_its_smallest_size() {
        for family in Family::ALL {
            let history = family
                .history(family.sizes()[0], 1)
                .expect("the smallest size can be planted");
            history.validate().unwrap_or_else(|e| panic!("{}: {e}", family.name()));
        }
    }
}
