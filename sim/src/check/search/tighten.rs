//! Deadlines implied by other operations: a push that must come before
//! another takes effect no later than the other's deadline, and a pop that
//! must come before a push no later than that push's. The search's
//! window and its pruning rules read deadlines, so a deadline implied only
//! through a chain (`x` before `y` because of `y`'s pop, `y` before `w`
//! because of `w`'s) would otherwise reach them only when the search walks
//! into the dead end, which on a 64-client history can be thousands of
//! configurations later (`mcsim bench checker --clients 64`).
//!
//! Every tightening is sound on its own (any valid order meets the tighter
//! deadline), so the passes stop after [`TIGHTEN_PASSES`] at the latest at
//! the cost of speed only. A deadline is never moved below its own
//! operation's invocation: such a history has no valid order, which the
//! search finds without help.

use super::leave::{earliest_leaves, pops_before_blockers};
use super::prune::{MUST_WAIT_SCAN, must_follow};
use crate::check::prepare::Entry;

/// Passes over the pairs at most.
const TIGHTEN_PASSES: usize = 8;

/// Tightens deadlines in place, pushes' and pops' (`deadline` is the
/// phase's, indexed like `entries`; `exit_of` gives each push's pop), and
/// returns the earliest times values can leave (`leave::earliest_leaves`),
/// computed once, from the deadlines before tightening: tighter deadlines
/// would only raise them, so they stay sound lower bounds, and a second
/// computation costs a 1M-operation stack 0.2 s. Three rules:
/// - push `w` must follow push `x` ([`must_follow`], on the pairs
///   `prune::must_wait_for` looks at): `x`'s deadline becomes at most `w`'s;
/// - [`unobserved_first`]: a value nobody saw leave goes before a value it
///   would otherwise bury for ever.
/// - `leave::pops_before_blockers`: a pop takes effect before the push of
///   a value that would stand between its value and its end past its
///   deadline (this moves pop deadlines, which the pair rule reads).
pub(super) fn tighten_deadlines(entries: &[Entry], deadline: &mut [u64], exit_of: &[Option<usize>]) -> Vec<u64> {
    let lives: Vec<(usize, usize)> = (0..entries.len())
        .filter_map(|i| exit_of[i].map(|pop| (i, pop)))
        .collect();
    let unobserved = Unobserved::new(entries, deadline, exit_of);
    let leaves = earliest_leaves(entries, deadline, exit_of);
    for pass in 0..TIGHTEN_PASSES {
        let mut changed = false;
        for (k, &(p, p_pop)) in lives.iter().enumerate() {
            for &(q, q_pop) in lives[k + 1..].iter().take(MUST_WAIT_SCAN) {
                if entries[q].invoke_us > deadline[p] {
                    break;
                }
                for (later, earlier) in [((p, p_pop), (q, q_pop)), ((q, q_pop), (p, p_pop))] {
                    let bound = deadline[later.0];
                    if bound < deadline[earlier.0]
                        && bound >= entries[earlier.0].invoke_us
                        && must_follow(entries, deadline, &leaves, later, earlier)
                    {
                        deadline[earlier.0] = bound;
                        changed = true;
                    }
                }
            }
        }
        changed |= unobserved.tighten(entries, deadline, exit_of);
        // The leave-time rule costs O(n log n) with a large constant (a
        // 1M-operation stack: 0.2 s per call, `mcsim bench checker
        // --families stack`), so it runs in the first pass only.
        let pops_moved = pass == 0 && pops_before_blockers(entries, deadline, exit_of, &leaves);
        if !changed && !pops_moved {
            break;
        }
    }
    leaves
}

/// What [`unobserved_first`] reads: the pushes of values nobody saw leave,
/// and per end the unknown pops that could take one out.
struct Unobserved {
    /// Pushes whose value no definite pop returns.
    pushes: Vec<usize>,
    /// Per end (front: index 1), the unknown pops by invocation, each with
    /// the largest deadline among it and the ones invoked before it.
    rescuers: [Vec<(u64, u64)>; 2],
}

impl Unobserved {
    fn new(entries: &[Entry], deadline: &[u64], exit_of: &[Option<usize>]) -> Self {
        let pushes = (0..entries.len())
            .filter(|&i| entries[i].op.is_push() && exit_of[i].is_none())
            .collect();
        let mut rescuers = [Vec::new(), Vec::new()];
        for (i, e) in entries.iter().enumerate() {
            if !e.required && !e.op.is_push() {
                rescuers[usize::from(e.op.at_front())].push((e.invoke_us, deadline[i]));
            }
        }
        for list in &mut rescuers {
            list.sort_unstable();
            let mut latest = 0;
            for (_, d) in list.iter_mut() {
                latest = latest.max(*d);
                *d = latest;
            }
        }
        Unobserved { pushes, rescuers }
    }

    /// Whether some unknown pop at `end` (front: true) could take effect
    /// after `from` and by `by`.
    fn rescuable(&self, end: bool, from: u64, by: u64) -> bool {
        let list = &self.rescuers[usize::from(end)];
        let invoked_by = list.partition_point(|&(invoke, _)| invoke <= by);
        invoked_by > 0 && list[invoked_by - 1].1 >= from
    }

    /// One pass of [`unobserved_first`] over every unobserved push; true if
    /// a deadline moved.
    fn tighten(&self, entries: &[Entry], deadline: &mut [u64], exit_of: &[Option<usize>]) -> bool {
        if self.pushes.is_empty() {
            return false;
        }
        // Per end, the pushes whose value leaves by the same end, by deadline.
        let mut lifo: [Vec<(u64, usize, usize)>; 2] = [Vec::new(), Vec::new()];
        for (w, pop) in exit_of
            .iter()
            .enumerate()
            .filter_map(|(w, pop)| pop.map(|pop| (w, pop)))
        {
            let end = entries[w].op.at_front();
            if entries[pop].op.at_front() == end {
                lifo[usize::from(end)].push((deadline[w], w, pop));
            }
        }
        for list in &mut lifo {
            list.sort_unstable();
        }
        let mut changed = false;
        for &x in &self.pushes {
            let end = entries[x].op.at_front();
            let (x_invoke, x_deadline) = (entries[x].invoke_us, deadline[x]);
            let list = &lifo[usize::from(end)];
            let from = list.partition_point(|&(d, _, _)| d < x_invoke);
            let bound = list[from..]
                .iter()
                .take_while(|&&(d, _, _)| d < x_deadline)
                .filter(|&&(_, _, pop)| {
                    unobserved_first(entries, deadline, x, pop, |by| self.rescuable(end, x_invoke, by))
                })
                .map(|&(d, _, _)| d)
                .next();
            if let Some(bound) = bound {
                deadline[x] = bound;
                changed = true;
            }
        }
        changed
    }
}

/// Whether unobserved push `x` must go before a push `w` at the same end
/// whose value leaves by that end through `w_pop`: `w_pop` is invoked only
/// after `x`'s deadline, so had `w` gone first, `x`'s value would sit on
/// `w`'s at that end when `w_pop` comes. Only an unknown pop at that end
/// can take `x`'s value out of the way (a pop at the far end would need
/// `w`'s value gone first), and `rescuable(by)` says whether one could take
/// effect after `x` and by `w_pop`'s deadline `by`. With none, `x` goes first
/// and `x`'s deadline is at most `w`'s.
fn unobserved_first(
    entries: &[Entry],
    deadline: &[u64],
    x: usize,
    w_pop: usize,
    rescuable: impl Fn(u64) -> bool,
) -> bool {
    entries[w_pop].invoke_us > deadline[x] && !rescuable(deadline[w_pop])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::spec::{DequeOp, DequeRet};

    fn entry(op: DequeOp, ret: Option<DequeRet>, invoke_us: u64, deadline_us: u64) -> Entry {
        super::super::test_entry(op, ret, invoke_us, deadline_us)
    }

    /// `w` (value 0) pushed and popped at the back, `x` (value 1) pushed at
    /// the back and never seen again, `w`'s pop invoked after `x`'s
    /// deadline; plus `extra` (unknown pops). Returns `x`'s deadline after
    /// tightening.
    fn x_deadline_with(extra: Vec<Entry>) -> u64 {
        let mut entries = vec![
            entry(DequeOp::PushBack(0), Some(DequeRet::Pushed), 0, 50),
            entry(DequeOp::PushBack(1), Some(DequeRet::Pushed), 10, 80),
            entry(DequeOp::PopBack, Some(DequeRet::Value(0)), 100, 120),
        ];
        entries.extend(extra);
        let mut exit_of = vec![None; entries.len()];
        exit_of[0] = Some(2);
        let mut deadline: Vec<u64> = entries.iter().map(|e| e.deadline_us).collect();
        tighten_deadlines(&entries, &mut deadline, &exit_of);
        deadline[1]
    }

    #[test]
    fn a_value_nobody_takes_out_goes_before_the_value_it_would_bury() {
        assert_eq!(x_deadline_with(Vec::new()), 50);
    }

    #[test]
    fn an_unknown_pop_at_its_end_in_time_could_take_it_out_first() {
        assert_eq!(x_deadline_with(vec![entry(DequeOp::PopBack, None, 90, u64::MAX)]), 80);
    }

    #[test]
    fn an_unknown_pop_too_late_or_at_the_far_end_cannot() {
        // Invoked after `w`'s pop is due.
        assert_eq!(x_deadline_with(vec![entry(DequeOp::PopBack, None, 130, u64::MAX)]), 50);
        // Due before `x` is even invoked.
        assert_eq!(x_deadline_with(vec![entry(DequeOp::PopBack, None, 0, 5)]), 50);
        // At the front, where `w`'s value stands in the way.
        assert_eq!(x_deadline_with(vec![entry(DequeOp::PopFront, None, 0, u64::MAX)]), 50);
    }
}
