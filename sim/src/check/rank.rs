//! The order the search tries pushes in: a guess of the right order, from
//! how each pushed value leaves the deque. Ordering changes the search's
//! speed only, never its verdict (see `search.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::prepare::Entry;
use super::spec::{DequeOp, DequeRet};

/// For each value id, the entry that popped it.
pub(super) fn exits(entries: &[Entry], values: usize) -> Vec<Option<usize>> {
    let mut exit = vec![None; values];
    for (i, e) in entries.iter().enumerate() {
        if let Some(DequeRet::Value(v)) = e.ret {
            exit[v as usize] = Some(i);
        }
    }
    exit
}

/// For each value id, the entry pushing it.
pub(super) fn pushes_by_value(entries: &[Entry], values: usize) -> Vec<Option<usize>> {
    let mut push_of = vec![None; values];
    for (i, e) in entries.iter().enumerate() {
        if let DequeOp::PushFront(v) | DequeOp::PushBack(v) = e.op {
            push_of[v as usize] = Some(i);
        }
    }
    push_of
}

/// A push's place in the order to try pushes in: class, then a time-like
/// key, then a tie-break.
pub(super) type PushRank = (u8, u64, u64);

/// The order to try pushes in: FIFO-leaving values (popped at the far end,
/// or never) first, then LIFO-leaving values (popped at the end they were
/// pushed at), latest exit first. Exit time is the popping operation's
/// return: a deque operation takes effect with its last successful CAS, a
/// request or two before it returns, however long its retries made it.
///
/// FIFO-leaving values pushed at one end (and values nobody saw leave,
/// which unknown pops may remove when they reach the far end) leave in the
/// order they were pushed, so their order must respect real time twice: a push that returned
/// before another was invoked goes first, and so does a value whose pop
/// returned before the other's pop was invoked. Ranking by exit time alone
/// can break the first rule for concurrent pops, a mistake that surfaces only
/// when the values come out thousands of steps later; so their order is a
/// linear extension of both real-time orders (Kahn's algorithm, earliest exit
/// first among the ready ones).
/// `exit` is [`exits`]'s answer for `entries`.
pub(super) fn push_ranks(entries: &[Entry], exit: &[Option<usize>]) -> Vec<PushRank> {
    let mut ranks = vec![(0, 0, 0); entries.len()];
    let mut fifo: [Vec<Interval2>; 2] = [Vec::new(), Vec::new()];
    for (i, e) in entries.iter().enumerate() {
        let (value, at_front) = match e.op {
            DequeOp::PushFront(v) => (v, true),
            DequeOp::PushBack(v) => (v, false),
            _ => continue,
        };
        let exit = exit[value as usize].map(|pop| {
            let pop = &entries[pop];
            (matches!(pop.op, DequeOp::PopFront), pop.invoke_us, pop.deadline_us)
        });
        ranks[i] = match exit {
            Some((from_front, _, at)) if from_front == at_front => (1, u64::MAX - at, i as u64),
            Some((_, exit_invoke, exit_return)) => {
                fifo[usize::from(at_front)].push(Interval2 {
                    entry: i,
                    push: (e.invoke_us, e.deadline_us),
                    pop: (exit_invoke, exit_return),
                });
                continue;
            }
            // Nobody observed it leave: only its push is ordered.
            None => {
                fifo[usize::from(at_front)].push(Interval2 {
                    entry: i,
                    push: (e.invoke_us, e.deadline_us),
                    pop: (0, u64::MAX),
                });
                continue;
            }
        };
    }
    for group in fifo {
        let mut exit_max = 0;
        for (position, item) in linear_extension(group).into_iter().enumerate() {
            if item.pop.1 != u64::MAX {
                exit_max = exit_max.max(item.pop.1);
            }
            ranks[item.entry] = (0, exit_max, position as u64);
        }
    }
    ranks
}

/// A FIFO-leaving value: its push's and its pop's (invoke, deadline).
#[derive(Debug, Clone, Copy)]
struct Interval2 {
    entry: usize,
    push: (u64, u64),
    pop: (u64, u64),
}

/// Orders `items` so that `a` precedes `b` whenever `a`'s push returned
/// before `b`'s was invoked or `a`'s pop returned before `b`'s was invoked,
/// preferring the earliest pop deadline among the items free to go next.
/// If the two orders conflict (the history is not linearizable), the
/// earliest pop deadline goes.
///
/// O(n log n): an item is free to go once its push was invoked by the
/// earliest push deadline left and its pop by the earliest pop deadline
/// left; both thresholds only grow as items go, so an item that became
/// free stays free, and each item is looked at a bounded number of times.
fn linear_extension(items: Vec<Interval2>) -> Vec<Interval2> {
    let n = items.len();
    // The earliest deadline among the items left: a cursor over the items
    // sorted by deadline, skipping the ones gone (deadlines never return).
    // Keys sorted with the item's index beside them, not through it (the
    // indirect comparisons cost a 1M-operation queue 0.1 s), 16 bytes each.
    // Ties are broken by entry, which orders like the item's index.
    let sorted_by = |key: fn(&Interval2) -> u64, items: &[Interval2]| {
        let index = |k: usize| u32::try_from(k).expect("fewer than 2^32 items");
        let mut keyed: Vec<(u64, u32)> = items.iter().enumerate().map(|(k, i)| (key(i), index(k))).collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, k)| k as usize).collect::<Vec<usize>>()
    };
    debug_assert!(items.is_sorted_by_key(|i| i.entry), "items come in entry order");
    let by_push_deadline = sorted_by(|i| i.push.1, &items);
    let by_pop_deadline = sorted_by(|i| i.pop.1, &items);
    let by_push_invoke = sorted_by(|i| i.push.0, &items);
    let by_pop_invoke = sorted_by(|i| i.pop.0, &items);
    let mut gone = vec![false; n];
    let (mut push_deadline_cursor, mut pop_deadline_cursor) = (0, 0);
    // Per item: how many of the two conditions hold (2: free to go).
    let mut conditions = vec![0u8; n];
    let (mut push_cursor, mut pop_cursor) = (0, 0);
    // Free items by pop deadline; an item that went another way stays in
    // the heap and is skipped when it comes up.
    let mut free: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        while gone[by_push_deadline[push_deadline_cursor]] {
            push_deadline_cursor += 1;
        }
        while gone[by_pop_deadline[pop_deadline_cursor]] {
            pop_deadline_cursor += 1;
        }
        let push_min = items[by_push_deadline[push_deadline_cursor]].push.1;
        let first = by_pop_deadline[pop_deadline_cursor];
        let pop_min = items[first].pop.1;
        let mut admit = |k: usize| {
            conditions[k] += 1;
            if conditions[k] == 2 && !gone[k] {
                free.push(Reverse((items[k].pop.1, items[k].entry, k)));
            }
        };
        while push_cursor < n && items[by_push_invoke[push_cursor]].push.0 <= push_min {
            admit(by_push_invoke[push_cursor]);
            push_cursor += 1;
        }
        while pop_cursor < n && items[by_pop_invoke[pop_cursor]].pop.0 <= pop_min {
            admit(by_pop_invoke[pop_cursor]);
            pop_cursor += 1;
        }
        while free.peek().is_some_and(|&Reverse((_, _, k))| gone[k]) {
            free.pop();
        }
        let ready = free.pop().map_or(first, |Reverse((_, _, k))| k);
        gone[ready] = true;
        order.push(items[ready]);
    }
    order
}

#[cfg(test)]
mod tests {
    use rand::RngExt;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    use super::*;

    /// The definition, in O(n^2): the free item with the earliest pop
    /// deadline goes next, else the earliest pop deadline.
    fn by_definition(items: &[Interval2]) -> Vec<usize> {
        let mut left: Vec<Interval2> = items.to_vec();
        let mut order = Vec::new();
        while !left.is_empty() {
            let push_min = left.iter().map(|i| i.push.1).min().unwrap();
            let pop_min = left.iter().map(|i| i.pop.1).min().unwrap();
            let key = |i: &Interval2| (i.pop.1, i.entry);
            let free = left
                .iter()
                .filter(|i| i.push.0 <= push_min && i.pop.0 <= pop_min)
                .min_by_key(|i| key(i));
            let next = free.or_else(|| left.iter().min_by_key(|i| key(i))).unwrap().entry;
            left.retain(|i| i.entry != next);
            order.push(next);
        }
        order
    }

    #[test]
    fn the_linear_extension_is_the_one_the_definition_gives() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2_000 {
            let n = rng.random_range(1..24);
            let items: Vec<Interval2> = (0..n)
                .map(|entry| {
                    let push_at = rng.random_range(0..100);
                    let pop_at = push_at + rng.random_range(0..100);
                    let never_seen = rng.random_bool(0.1);
                    Interval2 {
                        entry,
                        push: (push_at, push_at + rng.random_range(0..60)),
                        pop: if never_seen {
                            (0, u64::MAX)
                        } else {
                            (pop_at, pop_at + rng.random_range(0..60))
                        },
                    }
                })
                .collect();
            let fast: Vec<usize> = linear_extension(items.clone()).iter().map(|i| i.entry).collect();
            assert_eq!(fast, by_definition(&items), "{items:?}");
        }
    }
}
