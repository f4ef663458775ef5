//! The search's sound pruning: which pending pushes are dead now, and the
//! bookkeeping it reads (which observed values are in the deque, which
//! pops that must find it empty are pending), kept up to date on every
//! apply and undo. Pruning removes only branches no valid order goes
//! through; it changes the search's speed, never its verdict.

use super::{Search, push_end};
use crate::check::patterns::pair_conflicts;
use crate::check::prepare::Entry;
use crate::check::spec::{DequeOp, DequeRet};

/// Pushes looked at after each push, in invocation order, when
/// [`must_wait_for`] pairs them: the ones that can be pending with it.
pub(super) const MUST_WAIT_SCAN: usize = 128;

/// Whether push `w` must follow push `x` (each with the pop of its value):
/// if `w` went first, `x`'s value would either be pushed while `w`'s is in,
/// and the two could not leave by their pops (`patterns`' rule 3), or be
/// pushed after `w`'s left, which its push's or its pop's deadline forbids
/// (either is before `w`'s value can leave: `leaves`, from
/// `leave::earliest_leaves`).
pub(super) fn must_follow(
    entries: &[Entry],
    deadline: &[u64],
    leaves: &[u64],
    w: (usize, usize),
    x: (usize, usize),
) -> bool {
    let w_gone_from = leaves[w.0];
    (deadline[x.0] < w_gone_from || deadline[x.1] < w_gone_from)
        && pair_conflicts(entries, w, x, |pop| deadline[pop], |(push, _)| leaves[push])
}

/// Per entry, the pushes it must wait for ([`must_follow`]), so they go
/// first. Only pairs that can be pending together are looked at: a push
/// and the pushes invoked after it by its deadline, at most
/// [`MUST_WAIT_SCAN`] of them. The table prunes, so missing a pair costs
/// speed, not soundness. `deadline` and `leaves` are the fast phase's;
/// `exit_of` gives each push's pop.
pub(super) fn must_wait_for(
    entries: &[Entry],
    deadline: &[u64],
    leaves: &[u64],
    exit_of: &[Option<usize>],
) -> Vec<Vec<usize>> {
    let mut waits = vec![Vec::new(); entries.len()];
    // Entries are sorted by invocation.
    let lives: Vec<(usize, usize)> = (0..entries.len())
        .filter_map(|i| exit_of[i].map(|pop| (i, pop)))
        .collect();
    for (k, &(p, p_pop)) in lives.iter().enumerate() {
        for &(q, q_pop) in lives[k + 1..].iter().take(MUST_WAIT_SCAN) {
            if entries[q].invoke_us > deadline[p] {
                break;
            }
            if must_follow(entries, deadline, leaves, (p, p_pop), (q, q_pop)) {
                waits[p].push(q);
            }
            if must_follow(entries, deadline, leaves, (q, q_pop), (p, p_pop)) {
                waits[q].push(p);
            }
        }
    }
    waits
}

impl Search<'_> {
    /// Whether linearizing push `w` now would make a pending pop impossible:
    /// `w`'s value stays until its own pop, which is invoked only after
    /// - some pop that must find the deque empty has to have happened, or
    /// - some value already in the deque, which `w` would cover at `w`'s end,
    ///   has to have left by that end;
    ///
    /// - some value not pushed yet, which will be pushed at the far end and
    ///   so lie behind `w`'s, has to have left by `w`'s end;
    ///
    /// or `w`'s value leaves by the far end, where everything already in the
    /// deque lies before it, but something there leaves only after `w`'s pop
    /// has to have happened, or leaves by `w`'s end (each would wait for the
    /// other for ever), or a value that will be pushed at the far end and
    /// leave by `w`'s end has to be pushed before `w`'s pop (the same
    /// standoff);
    ///
    /// or the values nobody saw leave that would have to be taken out
    /// before a pop can reach its value outnumber the unknown pops that
    /// could take them ([`Search::starves_unknown_pops`],
    /// [`Search::unobserved_starves`]).
    ///
    /// Sound pruning (it removes only dead branches), and the cut that keeps
    /// highly concurrent histories tractable: without it, such a push is
    /// found wrong only once its value comes out.
    pub(super) fn blocks_a_pending_pop(&self, w: usize) -> bool {
        let at_front = push_end(&self.entries[w].op);
        let Some(exit) = self.exit_of(w) else {
            return self.unobserved_blocks(at_front) || self.unobserved_starves(w);
        };
        if self.starves_unknown_pops(w, exit) {
            return true;
        }
        let exit_invoke = self.entries[exit].invoke_us;
        let due_before = |first: Option<u64>| first.is_some_and(|deadline| deadline < exit_invoke);
        let exit_entry = &self.entries[exit];
        let leaves_by_far_end = matches!(exit_entry.op, DequeOp::PopFront) != at_front;
        due_before(self.pending_empty.first().map(|(d, _)| d))
            || due_before(self.present_exits[usize::from(at_front)].first().map(|(d, _)| d))
            || due_before(self.unpushed_crossing[usize::from(at_front)].first().map(|(d, _)| d))
            || (leaves_by_far_end
                && (!self.present_exits[usize::from(at_front)].is_empty()
                    || due_before(
                        self.unpushed_crossing_push[usize::from(at_front)]
                            .first()
                            .map(|(d, _)| d),
                    )
                    || self
                        .present_by_exit_invoke
                        .last()
                        .is_some_and(|(invoke, _)| invoke > self.deadline[exit])))
    }

    /// Whether pushing `w` now (its value leaves through pop `exit`) would
    /// leave more values nobody saw leave between it and its exit end than
    /// the unknown pops there could take out in time: every value in the
    /// deque when `w` pushes at the far end, and every such value pushed
    /// at the exit end before `w`'s value can leave (`leave.rs`), lies
    /// between `w`'s value and that end, so each must be taken out there,
    /// by an unknown pop (nothing else returns them) linearized before
    /// `exit`, so invoked by `exit`'s deadline, one value per pop.
    ///
    /// Without it, a push that spends those pops' only chance surfaces
    /// when the last unobserved value is pushed, after every interleaving
    /// of the pushes in between (100,000 steps on a 53-operation piece of
    /// `mcsim bench checker --clients 64 --ops 10000 --seed 125`).
    fn starves_unknown_pops(&self, w: usize, exit: usize) -> bool {
        let end = usize::from(matches!(self.entries[exit].op, DequeOp::PopFront));
        let crossing = (end == 1) != push_end(&self.entries[w].op);
        let already = if crossing { self.present_unobserved } else { 0 };
        self.too_few_unknown_pops(end, already, self.leaves[w], self.deadline[exit], None)
    }

    /// [`Search::starves_unknown_pops`] for `x`, a push of a value nobody
    /// saw leave: it lies between the end it is pushed at and every value
    /// in the deque, so a value there that leaves by that end needs it
    /// taken out first, with every such value pushed there before that one
    /// can leave. The value due to leave first is the one counted.
    fn unobserved_starves(&self, x: usize) -> bool {
        let end = usize::from(push_end(&self.entries[x].op));
        let Some((by, value)) = self.present_exits[end].first() else {
            return false;
        };
        let Some(below) = self.push_of[value] else {
            return false;
        };
        self.too_few_unknown_pops(end, 1, self.leaves[below], by, Some(x))
    }

    /// Whether `already` values nobody saw leave, plus those whose pushes
    /// at `end` (front: 1) are pending and due before `cutoff` (but
    /// `exclude`), outnumber the unknown pops at `end` not linearized yet
    /// and invoked by `by`: each of those values must be taken out there
    /// by one of them.
    fn too_few_unknown_pops(&self, end: usize, already: usize, cutoff: u64, by: u64, exclude: Option<usize>) -> bool {
        /// Values counted at most: enough for any history whose unknown
        /// pops are rare, and each count stays cheap.
        const CAP: usize = 32;
        // Counted first, as it is usually none (a call per candidate push).
        let pushed_before = self.unpushed_unobserved[end]
            .iter()
            .take_while(|&(deadline, _)| deadline < cutoff)
            .filter(|&(_, push)| Some(push) != exclude)
            .take(CAP)
            .count();
        let needed = (already + pushed_before).min(CAP);
        needed > 0
            && self.optional[end]
                .iter()
                .take_while(|&(invoke, _)| invoke <= by)
                .take(needed)
                .count()
                < needed
    }

    /// [`Search::blocks_a_pending_pop`] for a value no definite pop returns,
    /// pushed at the front (`at_front`) or the back: only an unknown pop can
    /// take it out, so it stays until one invoked in time does. Over a value
    /// already in that leaves by its end, that is a pop at its end (the
    /// value it covers is between it and the far end); a value still to be
    /// pushed at the far end, or an `empty`, needs it gone by either end.
    fn unobserved_blocks(&self, at_front: bool) -> bool {
        let first_invoke = |end: usize| self.optional[end].first().map_or(u64::MAX, |(invoke, _)| invoke);
        let same_end = first_invoke(usize::from(at_front));
        let either_end = same_end.min(first_invoke(usize::from(!at_front)));
        let due_before =
            |first: Option<u64>, removable_from: u64| first.is_some_and(|deadline| deadline < removable_from);
        due_before(self.pending_empty.first().map(|(d, _)| d), either_end)
            || due_before(
                self.present_exits[usize::from(at_front)].first().map(|(d, _)| d),
                same_end,
            )
            || due_before(
                self.unpushed_crossing[usize::from(at_front)].first().map(|(d, _)| d),
                either_end,
            )
    }

    /// Updates what [`Search::blocks_a_pending_pop`] reads after `entry`
    /// (which removed `removed`) was linearized (`applied`) or undone.
    pub(super) fn track(&mut self, entry: usize, removed: Option<u32>, applied: bool) {
        match self.entries[entry].op {
            DequeOp::PushFront(v) | DequeOp::PushBack(v) => {
                self.track_presence(v, applied);
                self.track_crossing(entry, !applied);
                self.track_unobserved_push(entry, !applied);
            }
            _ => {
                if let Some(v) = removed {
                    self.track_presence(v, !applied);
                }
                self.track_empty(entry, applied);
            }
        }
    }

    /// Records that `value` entered (`entered`) or left the deque, for
    /// [`Search::blocks_a_pending_pop`].
    pub(super) fn track_presence(&mut self, value: u32, entered: bool) {
        let Some(exit) = self.exits[value as usize] else {
            if entered {
                self.present_unobserved += 1;
            } else {
                self.present_unobserved -= 1;
            }
            return;
        };
        let end = usize::from(matches!(self.entries[exit].op, DequeOp::PopFront));
        let value = value as usize;
        if entered {
            self.present_exits[end].insert(value);
            self.present_by_exit_invoke.insert(value);
        } else {
            self.present_exits[end].remove(value);
            self.present_by_exit_invoke.remove(value);
        }
    }

    /// Records that push `entry` is pending (`pending`) or linearized, if its
    /// value leaves by the far end: such a value, pushed later, lies behind
    /// everything pushed at that end before it.
    pub(super) fn track_crossing(&mut self, entry: usize, pending: bool) {
        let Some(exit) = self.exit_of(entry) else {
            return;
        };
        let exit_front = matches!(self.entries[exit].op, DequeOp::PopFront);
        if exit_front == push_end(&self.entries[entry].op) {
            return;
        }
        let end = usize::from(exit_front);
        if pending {
            self.unpushed_crossing[end].insert(entry);
            self.unpushed_crossing_push[end].insert(entry);
        } else {
            self.unpushed_crossing[end].remove(entry);
            self.unpushed_crossing_push[end].remove(entry);
        }
    }

    /// Records that push `entry` is pending (`pending`) or linearized, if
    /// no definite pop returns its value ([`Search::starves_unknown_pops`]).
    pub(super) fn track_unobserved_push(&mut self, entry: usize, pending: bool) {
        let e = &self.entries[entry];
        if !e.op.is_push() || !e.required || self.exit_of(entry).is_some() {
            return;
        }
        let end = usize::from(push_end(&e.op));
        if pending {
            self.unpushed_unobserved[end].insert(entry);
        } else {
            self.unpushed_unobserved[end].remove(entry);
        }
    }

    /// Records that the empty-finding pop `entry` was linearized or undone.
    pub(super) fn track_empty(&mut self, entry: usize, linearized: bool) {
        if self.entries[entry].ret != Some(DequeRet::Empty) {
            return;
        }
        if linearized {
            self.pending_empty.remove(entry);
        } else {
            self.pending_empty.insert(entry);
        }
    }

    /// Whether push `w` must wait for one of the pending pushes `pending`:
    /// linearizing `w` before it is certainly wrong ([`must_follow`]).
    pub(super) fn waits_for(&self, w: usize, pending: &[usize]) -> bool {
        let Some(w_pop) = self.exit_of(w) else {
            return false;
        };
        pending.iter().any(|&x| {
            x != w
                && self
                    .exit_of(x)
                    .is_some_and(|x_pop| must_follow(self.entries, self.deadline, self.leaves, (w, w_pop), (x, x_pop)))
        })
    }

    /// Whether push `w` must wait for a pending push of
    /// [`must_wait_for`]'s table (the fast phase's form of
    /// [`Search::waits_for`], which scans the pending pushes it may try at
    /// each step).
    pub(super) fn waits_for_any(&self, w: usize) -> bool {
        self.must_wait
            .get(w)
            .is_some_and(|waits| waits.iter().any(|&x| !self.linearized[x]))
    }

    /// Whether push `w` must lie under push `b`: it ranks beneath `b` and
    /// certainly coexists with `b`'s value (pushed before the pop of that
    /// value was even invoked).
    pub(super) fn beneath(&self, w: usize, b: usize) -> bool {
        let exit_invoke = self.exit_of(b).map_or(u64::MAX, |pop| self.entries[pop].invoke_us);
        self.push_rank[w] < self.push_rank[b] && self.deadline[w] < exit_invoke
    }
}

#[cfg(test)]
mod tests {
    use super::super::leave::earliest_leaves;
    use super::*;

    fn entry(op: DequeOp, ret: DequeRet, invoke_us: u64, deadline_us: u64) -> Entry {
        super::super::test_entry(op, Some(ret), invoke_us, deadline_us)
    }

    /// The table for entries sorted by invocation, pushes' values popped by
    /// `exits` (push index, pop index).
    fn table(entries: &[Entry], exits: &[(usize, usize)]) -> Vec<Vec<usize>> {
        let deadline: Vec<u64> = entries.iter().map(|e| e.deadline_us).collect();
        let mut exit_of = vec![None; entries.len()];
        for &(push, pop) in exits {
            exit_of[push] = Some(pop);
        }
        let leaves = earliest_leaves(entries, &deadline, &exit_of);
        must_wait_for(entries, &deadline, &leaves, &exit_of)
    }

    /// Two values pushed at the back, concurrently: one leaves by the back,
    /// one by the front, and the second's push returns before the first's
    /// pop is invoked. Pushed first, the back-leaving one would have to
    /// pass the other: it waits (a 64-client history's dead end).
    #[test]
    fn a_value_leaving_by_its_own_end_waits_for_one_that_crosses() {
        let entries = [
            entry(DequeOp::PushBack(0), DequeRet::Pushed, 10_801, 11_136),
            entry(DequeOp::PushBack(1), DequeRet::Pushed, 10_863, 11_336),
            entry(DequeOp::PopFront, DequeRet::Value(1), 11_163, 11_366),
            entry(DequeOp::PopBack, DequeRet::Value(0), 11_360, 11_519),
        ];
        assert_eq!(
            table(&entries, &[(0, 3), (1, 2)]),
            vec![vec![1], vec![], vec![], vec![]]
        );
    }

    /// Two values pushed at the front leave by the back, so in push order;
    /// the second's pop returned before the first's was invoked, so it was
    /// pushed first, whether or not the two were ever in together (the
    /// pushes overlap the first pop: only the pop's deadline tells).
    #[test]
    fn values_crossing_the_deque_wait_for_the_one_that_leaves_first() {
        let entries = [
            entry(DequeOp::PushFront(0), DequeRet::Pushed, 1_723, 2_001),
            entry(DequeOp::PushFront(1), DequeRet::Pushed, 1_755, 2_226),
            entry(DequeOp::PopBack, DequeRet::Value(1), 1_852, 2_118),
            entry(DequeOp::PopBack, DequeRet::Value(0), 2_189, 2_488),
        ];
        assert_eq!(
            table(&entries, &[(0, 3), (1, 2)]),
            vec![vec![1], vec![], vec![], vec![]]
        );
    }

    /// Two values pushed at one end and popped from it in the other order
    /// (LIFO): each push's and pop's deadline are after the other pop's
    /// invocation, so either may have come and gone first: no wait, whatever
    /// the pair's leaving order says.
    #[test]
    fn values_that_may_come_and_go_either_way_do_not_wait() {
        let entries = [
            entry(DequeOp::PushBack(0), DequeRet::Pushed, 0, 100),
            entry(DequeOp::PushBack(1), DequeRet::Pushed, 10, 110),
            entry(DequeOp::PopBack, DequeRet::Value(1), 50, 300),
            entry(DequeOp::PopBack, DequeRet::Value(0), 60, 310),
        ];
        assert_eq!(table(&entries, &[(0, 3), (1, 2)]), vec![Vec::<usize>::new(); 4]);
    }
}
