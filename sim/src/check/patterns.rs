//! Violations found without searching: sound necessary conditions of a
//! linearization that a few sorted passes over the prepared entries decide,
//! each naming the operations that prove it. They run before the search,
//! because the search finds "no valid order" only by exhausting the orders,
//! which is exponential in the concurrent pushes whose relative order the
//! history never reveals; a person sees these at a glance, and so should
//! the checker.
//!
//! Every rule relies on values being distinct (the history format refuses
//! repeats), so a value is in the deque from its push's effect to its pop's
//! effect and nowhere else; "certainly" below means for every placement of
//! every effect within its operation's interval.
//!
//! 1. **Pop before push**: a pop returned `v` before the push of `v` was
//!    invoked, or `v`'s only push certainly had no effect.
//! 2. **Certainly present at an `empty`** (counting): a pop that finds the
//!    deque empty takes effect after its invocation, when every value whose
//!    push returned earlier is in, unless removed before the pop returned.
//!    A value some definite pop returns is removed only by that pop: if it
//!    was invoked after the empty pop returned, the value was certainly
//!    there. A value nobody returns can only be taken by an unknown pop:
//!    more such values than unknown pops invoked before the empty pop
//!    returned, and one was certainly there. (Bouajjani, Emmi, Enea and
//!    Hamza, ICALP 2015, call this the `EmptyViolation` of queues and
//!    stacks.)
//! 3. **Order at the ends** (pairs): when `b` was certainly pushed while `a`
//!    was in the deque, their relative position is fixed until one leaves
//!    (`b` lies on the side it was pushed at), so a pop at the front that
//!    returns the back one of the two needs the front one gone first, and
//!    a pop at the back that returns the front one needs the back one gone
//!    first; a pop that certainly finished before the other was invoked
//!    cannot wait for it, and the two needs together are a cycle. (The
//!    `FifoViolation` and `LifoViolation` patterns of the same paper, for a
//!    deque.) Pairs cost quadratic time in the worst case, so this pass is
//!    bounded by a budget of pair visits; a budget spent without a finding
//!    only means the search decides.
//!
//! 4. **Buried for ever**: a value nobody returns, certainly pushed at an
//!    end while a value `w` pushed there earlier was in, lies between `w`
//!    and that end until an unknown pop at that end takes it (a pop at the
//!    far end would need `w` gone first). If `w` is returned by a pop at
//!    that end and no unknown pop there was invoked before that pop's
//!    return, `w` could not have been reached. (Histories without a drain,
//!    where rule 2 has no final `empty` to count at.)
//!
//!    Likewise a value `w` pushed at one end and popped at the far end `E`:
//!    every value in the deque when `w` is pushed lies between `w` and `E`
//!    until it leaves, so the values nobody returns whose pushes returned
//!    before `w`'s was invoked must each be taken by an unknown pop, at
//!    `E` in time for `w`'s pop, or at `w`'s end in time for `w`'s push.
//!    More such values than such pops, and `w` could not have been
//!    reached.
//!
//! Rules 1, 2 and 4 are O(n log n); every rule is sound (it never refutes a
//! linearizable history: the property test against brute force checks it),
//! none is complete: what they miss, the search decides.

mod buried;

use buried::{buried_by_a_crossing_value, buried_for_ever};

use super::prepare::{Entry, Prepared};
use super::rank::{exits, pushes_by_value};
use super::spec::{DequeOp, DequeRet};

/// Pair visits rule 3 may make: a few tens of milliseconds.
pub const PAIR_VISITS_MAX: u64 = 20_000_000;

/// A violation found without searching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refutation {
    /// One sentence naming the operations by their history index.
    pub reason: String,
    /// The history indices of the operations that prove it.
    pub ops: Vec<usize>,
}

/// The first violation the rules find in `prepared`, if any.
pub fn refute(prepared: &Prepared) -> Option<Refutation> {
    let entries = &prepared.entries;
    let push_of = pushes_by_value(entries, prepared.values.len());
    let exit_of = exits(entries, prepared.values.len());
    pop_before_push(prepared, &push_of)
        .or_else(|| present_at_empty(prepared, &push_of, &exit_of))
        .or_else(|| order_at_the_ends(prepared, &push_of, &exit_of, PAIR_VISITS_MAX))
        .or_else(|| buried_for_ever(prepared, &push_of, &exit_of))
        .or_else(|| buried_by_a_crossing_value(prepared, &push_of, &exit_of))
}

pub(super) fn index(entries: &[Entry], entry: usize) -> usize {
    entries[entry].history_index
}

/// Rule 1.
fn pop_before_push(prepared: &Prepared, push_of: &[Option<usize>]) -> Option<Refutation> {
    let entries = &prepared.entries;
    entries.iter().enumerate().find_map(|(pop, e)| {
        let Some(DequeRet::Value(v)) = e.ret else {
            return None;
        };
        let value = &prepared.values[v as usize];
        match push_of[v as usize] {
            None => Some(Refutation {
                reason: format!(
                    "op {} popped {value:?}, but its push certainly had no effect",
                    index(entries, pop)
                ),
                ops: vec![index(entries, pop)],
            }),
            Some(push) if entries[push].invoke_us > e.deadline_us => Some(Refutation {
                reason: format!(
                    "op {} returned {value:?} at {} us, before op {} pushing it was invoked at {} us",
                    index(entries, pop),
                    e.deadline_us,
                    index(entries, push),
                    entries[push].invoke_us
                ),
                ops: vec![index(entries, push), index(entries, pop)],
            }),
            Some(_) => None,
        }
    })
}

/// Rule 2: one sweep over the empty pops by invocation, adding pushes by
/// deadline.
fn present_at_empty(prepared: &Prepared, push_of: &[Option<usize>], exit_of: &[Option<usize>]) -> Option<Refutation> {
    let entries = &prepared.entries;
    let mut empties: Vec<usize> = (0..entries.len())
        .filter(|&e| entries[e].ret == Some(DequeRet::Empty))
        .collect();
    if empties.is_empty() {
        return None;
    }
    empties.sort_by_cached_key(|&e| entries[e].invoke_us);
    // Required pushes by deadline.
    let mut pushes: Vec<usize> = push_of
        .iter()
        .flatten()
        .copied()
        .filter(|&p| entries[p].required)
        .collect();
    pushes.sort_by_cached_key(|&p| entries[p].deadline_us);
    let mut unknown_pop_invokes: Vec<u64> = entries
        .iter()
        .filter(|e| !e.required && matches!(e.op, DequeOp::PopFront | DequeOp::PopBack))
        .map(|e| e.invoke_us)
        .collect();
    unknown_pop_invokes.sort_unstable();
    let value_of = |push: usize| match entries[push].op {
        DequeOp::PushFront(v) | DequeOp::PushBack(v) => v as usize,
        _ => unreachable!("pushes only"),
    };
    let mut added = 0;
    // Among pushes certainly in so far: the one whose value's pop is
    // invoked latest, and the values nobody returns.
    let mut latest_exit: Option<(u64, usize)> = None;
    let mut unobserved: Vec<usize> = Vec::new();
    for &empty in &empties {
        let (invoke, deadline) = (entries[empty].invoke_us, entries[empty].deadline_us);
        while added < pushes.len() && entries[pushes[added]].deadline_us < invoke {
            let push = pushes[added];
            match exit_of[value_of(push)] {
                Some(exit) => {
                    let at = entries[exit].invoke_us;
                    if latest_exit.is_none_or(|(latest, _)| at > latest) {
                        latest_exit = Some((at, push));
                    }
                }
                None => unobserved.push(push),
            }
            added += 1;
        }
        if let Some((at, push)) = latest_exit
            && at > deadline
        {
            let exit = exit_of[value_of(push)].expect("observed");
            return Some(Refutation {
                reason: format!(
                    "op {} found the deque empty, but {:?} (pushed by op {}, which returned before) was only \
                     popped by op {}, invoked after it returned",
                    index(entries, empty),
                    prepared.values[value_of(push)],
                    index(entries, push),
                    index(entries, exit)
                ),
                ops: vec![index(entries, push), index(entries, empty), index(entries, exit)],
            });
        }
        let takers = unknown_pop_invokes.partition_point(|&at| at <= deadline);
        if unobserved.len() > takers {
            let shown: Vec<String> = unobserved
                .iter()
                .take(3)
                .map(|&p| format!("{:?} (op {})", prepared.values[value_of(p)], index(entries, p)))
                .collect();
            let mut ops: Vec<usize> = unobserved.iter().map(|&p| index(entries, p)).collect();
            ops.push(index(entries, empty));
            return Some(Refutation {
                reason: format!(
                    "op {} found the deque empty, but {} acknowledged value(s) pushed before it was invoked were \
                     never popped ({}{}), and only {takers} pop(s) of unknown outcome could have taken them",
                    index(entries, empty),
                    unobserved.len(),
                    shown.join(", "),
                    if unobserved.len() > 3 { ", ..." } else { "" }
                ),
                ops,
            });
        }
    }
    None
}

/// Rule 3, within `visits_max` pair visits.
fn order_at_the_ends(
    prepared: &Prepared,
    push_of: &[Option<usize>],
    exit_of: &[Option<usize>],
    visits_max: u64,
) -> Option<Refutation> {
    let entries = &prepared.entries;
    // Values with a required push and a definite pop, by push invocation.
    let mut lives: Vec<(usize, usize)> = push_of
        .iter()
        .zip(exit_of)
        .filter_map(|(push, exit)| Some(((*push)?, (*exit)?)))
        .filter(|&(push, _)| entries[push].required)
        .collect();
    lives.sort_by_cached_key(|&(push, _)| entries[push].invoke_us);
    // `a` certainly in before `b` is pushed: a's push deadline < b's push
    // invoke. Sweep `b` by push invocation; candidates `a` are lives whose
    // push deadline is earlier, and whose pop is invoked after b's push
    // deadline (so `b` certainly entered while `a` was in).
    let mut by_deadline: Vec<(usize, usize)> = lives.clone();
    by_deadline.sort_by_cached_key(|&(push, _)| entries[push].deadline_us);
    let mut visits = 0u64;
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut next = 0;
    for &(b_push, b_pop) in &lives {
        let b_in_at = entries[b_push].invoke_us;
        while next < by_deadline.len() && entries[by_deadline[next].0].deadline_us < b_in_at {
            open.push(by_deadline[next]);
            next += 1;
        }
        // Lives whose pop was invoked before b's push could even start can
        // never coexist with a later b: drop them for good.
        visits += open.len() as u64;
        open.retain(|&(_, a_pop)| entries[a_pop].invoke_us > b_in_at);
        for &(a_push, a_pop) in &open {
            visits += 1;
            if visits > visits_max {
                return None;
            }
            if entries[a_pop].invoke_us <= entries[b_push].deadline_us {
                continue;
            }
            if let Some(reason) = pair_violation(prepared, (a_push, a_pop), (b_push, b_pop)) {
                return Some(Refutation {
                    reason,
                    ops: vec![
                        index(entries, a_push),
                        index(entries, b_push),
                        index(entries, a_pop),
                        index(entries, b_pop),
                    ],
                });
            }
        }
    }
    None
}

/// Whether `b`, pushed while `a` is in, and `a` must leave in an impossible
/// way (the search asks this of two pending pushes: may `a` go first?).
/// `a` and `b` are (push, pop) entry pairs.
/// `gone_from((push, pop))` is the earliest time that value can leave:
/// its pop's invocation, or later when more is known (the search's
/// `leave::earliest_leaves`): a pop that finished before the other value
/// could leave cannot have waited for it. `due(pop)` is the pop's
/// deadline (the search's, tightened, or the entry's).
pub(super) fn pair_conflicts(
    entries: &[Entry],
    a: (usize, usize),
    b: (usize, usize),
    due: impl Fn(usize) -> u64,
    gone_from: impl Fn((usize, usize)) -> u64,
) -> bool {
    pair_case(entries, a, b, due, gone_from).is_some()
}

/// How two values, `b` pushed while `a` was in, leave in an impossible way.
enum PairCase {
    /// Each pop needs the other value gone first.
    Cycle,
    /// The front one's pop returned before the back one's was invoked, yet
    /// it needed the back one gone first.
    FrontFinishedFirst,
    /// The back one's pop returned before the front one's was invoked, yet
    /// it needed the front one gone first.
    BackFinishedFirst,
}

/// Whether `b`, pushed while `a` was in, and `a` leave in an impossible
/// way: the case and the pair as (front, back). `due(pop)`: the pop's
/// deadline; `gone_from((push, pop))`: the earliest time that value can
/// leave.
#[allow(clippy::type_complexity)]
fn pair_case(
    entries: &[Entry],
    a: (usize, usize),
    b: (usize, usize),
    due: impl Fn(usize) -> u64,
    gone_from: impl Fn((usize, usize)) -> u64,
) -> Option<(PairCase, (usize, usize), (usize, usize))> {
    // `b` lies on the side it was pushed at.
    let (front, back) = if matches!(entries[b.0].op, DequeOp::PushFront(_)) {
        (b, a)
    } else {
        (a, b)
    };
    let from_front = |pop: usize| matches!(entries[pop].op, DequeOp::PopFront);
    // A pop at the front returning the back one waits for the front one;
    // a pop at the back returning the front one waits for the back one.
    let back_waits = from_front(back.1);
    let front_waits = !from_front(front.1);
    let finished_before = |first: (usize, usize), second: (usize, usize)| due(first.1) < gone_from(second);
    let case = if back_waits && front_waits {
        PairCase::Cycle
    } else if back_waits && finished_before(back, front) {
        PairCase::BackFinishedFirst
    } else if front_waits && finished_before(front, back) {
        PairCase::FrontFinishedFirst
    } else {
        return None;
    };
    Some((case, front, back))
}

/// The sentence for [`pair_case`]'s finding, naming the values as the
/// history spells them.
fn pair_violation(prepared: &Prepared, a: (usize, usize), b: (usize, usize)) -> Option<String> {
    let entries = &prepared.entries;
    let (case, front, back) = pair_case(
        entries,
        a,
        b,
        |pop| entries[pop].deadline_us,
        |(_, pop)| entries[pop].invoke_us,
    )?;
    let at = |entry: usize| index(entries, entry);
    let name = |push: usize| match entries[push].op {
        DequeOp::PushFront(v) | DequeOp::PushBack(v) => format!("{:?}", prepared.values[v as usize]),
        _ => String::new(),
    };
    let what = match case {
        PairCase::Cycle => format!(
            "yet op {} took {} (the back one) from the front and op {} took {} (the front one) from the back: \
             each needs the other gone first",
            at(back.1),
            name(back.0),
            at(front.1),
            name(front.0)
        ),
        PairCase::BackFinishedFirst => format!(
            "op {} took {} (the back one) from the front, returning before op {} took {} (the front one) was even \
             invoked",
            at(back.1),
            name(back.0),
            at(front.1),
            name(front.0)
        ),
        PairCase::FrontFinishedFirst => format!(
            "op {} took {} (the front one) from the back, returning before op {} took {} (the back one) was even \
             invoked",
            at(front.1),
            name(front.0),
            at(back.1),
            name(back.0)
        ),
    };
    Some(format!(
        "op {} pushed {} while op {} pushed {} was in the deque, which fixes their order; {what}",
        at(b.0),
        name(b.0),
        at(a.0),
        name(a.0),
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::check::prepare::{PrepareOptions, prepare};
    use crate::history::{History, HistoryOp, OpName, OpResult};

    /// An operation for a rule's test: `at` is (invoked, returned).
    pub(in crate::check) fn op(
        client: u32,
        name: OpName,
        value: Option<&str>,
        at: (u64, u64),
        result: OpResult,
    ) -> HistoryOp {
        HistoryOp {
            client,
            op: name,
            value: value.map(str::to_owned),
            invoke_us: at.0,
            return_us: Some(at.1),
            result,
        }
    }

    fn popped(value: &str) -> OpResult {
        OpResult::Value { value: value.into() }
    }

    fn refuted(ops: Vec<HistoryOp>) -> Option<Refutation> {
        let history = History {
            ops,
            ..History::default()
        };
        refute(&prepare(&history, |_, _| true, &PrepareOptions::default()))
    }

    #[test]
    fn a_value_buried_by_one_nobody_took_out_is_refuted_unless_an_unknown_pop_could() {
        let history = |extra: Vec<HistoryOp>, b_invoked_us: u64| {
            let mut ops = vec![
                op(0, OpName::PushBack, Some("a"), (0, 10), OpResult::Ok),
                op(1, OpName::PushBack, Some("b"), (b_invoked_us, 30), OpResult::Ok),
                op(2, OpName::PopBack, None, (40, 50), popped("a")),
            ];
            ops.extend(extra);
            ops
        };
        let found = refuted(history(Vec::new(), 20)).unwrap();
        assert_eq!(found.ops, vec![0, 1, 2], "{}", found.reason);
        assert!(found.reason.contains("\"b\""), "{}", found.reason);
        // An unknown pop at the back, invoked before the pop returned,
        // could have taken "b"; one at the front could not.
        let unknown = |name, at: u64| op(3, name, None, (at, at + 100), OpResult::Unknown);
        assert!(refuted(history(vec![unknown(OpName::PopBack, 45)], 20)).is_none());
        assert!(refuted(history(vec![unknown(OpName::PopFront, 0)], 20)).is_some());
        // "b" may have gone in first, under "a".
        assert!(refuted(history(Vec::new(), 5)).is_none());
    }

    #[test]
    fn a_pop_before_its_push_is_refuted() {
        let found = refuted(vec![
            op(0, OpName::PopFront, None, (0, 5), popped("a")),
            op(1, OpName::PushBack, Some("a"), (10, 20), OpResult::Ok),
        ])
        .unwrap();
        assert_eq!(found.ops, vec![1, 0]);
    }

    #[test]
    fn an_empty_after_an_unpopped_acknowledged_push_is_refuted_unless_an_unknown_pop_could_take_it() {
        let base = vec![
            op(0, OpName::PushBack, Some("lost"), (0, 10), OpResult::Ok),
            op(1, OpName::PopFront, None, (20, 30), OpResult::Empty),
        ];
        let found = refuted(base.clone()).unwrap();
        assert!(found.reason.contains("\"lost\" (op 0)"), "{}", found.reason);
        let mut excused = base;
        excused.push(op(2, OpName::PopBack, None, (15, 16), OpResult::Unknown));
        assert_eq!(refuted(excused), None);
    }

    #[test]
    fn an_empty_while_an_observed_value_waits_for_its_later_pop_is_refuted() {
        let found = refuted(vec![
            op(0, OpName::PushBack, Some("a"), (0, 10), OpResult::Ok),
            op(1, OpName::PopFront, None, (20, 30), OpResult::Empty),
            op(1, OpName::PopFront, None, (40, 50), popped("a")),
        ])
        .unwrap();
        assert_eq!(found.ops, vec![0, 1, 2]);
    }

    #[test]
    fn fifo_and_lifo_order_violations_are_refuted_and_concurrency_excuses_them() {
        // a then b at the back; b leaves the front first: FIFO broken.
        let fifo = |b_pop: (u64, u64)| {
            vec![
                op(0, OpName::PushBack, Some("a"), (0, 10), OpResult::Ok),
                op(0, OpName::PushBack, Some("b"), (20, 30), OpResult::Ok),
                op(1, OpName::PopFront, None, b_pop, popped("b")),
                op(1, OpName::PopFront, None, (60, 70), popped("a")),
            ]
        };
        assert!(refuted(fifo((40, 50))).is_some());
        // The two pops overlap: either may have gone first.
        assert_eq!(refuted(fifo((40, 65))), None);
        // a then b at the back, a taken from the back while b was in: LIFO
        // broken; b from the front, a from the back: a cycle.
        let stack = vec![
            op(0, OpName::PushBack, Some("a"), (0, 10), OpResult::Ok),
            op(0, OpName::PushBack, Some("b"), (20, 30), OpResult::Ok),
            op(1, OpName::PopBack, None, (40, 50), popped("a")),
            op(1, OpName::PopBack, None, (60, 70), popped("b")),
        ];
        assert!(refuted(stack).is_some());
        let crossed = vec![
            op(0, OpName::PushBack, Some("a"), (0, 10), OpResult::Ok),
            op(0, OpName::PushBack, Some("b"), (20, 30), OpResult::Ok),
            op(1, OpName::PopBack, None, (40, 50), popped("a")),
            op(2, OpName::PopFront, None, (40, 50), popped("b")),
        ];
        assert!(refuted(crossed).is_some());
    }
}
