//! The search's sound pruning: which pending pushes are dead now, and the
//! bookkeeping it reads (which observed values are in the deque, which
//! pops that must find it empty are pending), kept up to date on every
//! apply and undo. Pruning removes only branches no valid order goes
//! through; it changes the search's speed, never its verdict.

use super::{Search, push_end};
use crate::check::patterns::pair_conflicts;
use crate::check::spec::{DequeOp, DequeRet};

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
    /// standoff).
    ///
    /// Sound pruning (it removes only dead branches), and the cut that keeps
    /// highly concurrent histories tractable: without it, such a push is
    /// found wrong only once its value comes out.
    pub(super) fn blocks_a_pending_pop(&self, w: usize) -> bool {
        let at_front = push_end(&self.entries[w].op);
        let Some(exit) = self.exit_of(w) else {
            return self.unobserved_blocks(at_front);
        };
        let exit_invoke = self.entries[exit].invoke_us;
        let due_before = |first: Option<u64>| first.is_some_and(|deadline| deadline < exit_invoke);
        let exit_entry = &self.entries[exit];
        let leaves_by_far_end = matches!(exit_entry.op, DequeOp::PopFront) != at_front;
        due_before(self.pending_empty.first().map(|&(d, _)| d))
            || due_before(self.present_exits[usize::from(at_front)].first().map(|&(d, _)| d))
            || due_before(self.unpushed_crossing[usize::from(at_front)].first().map(|&(d, _)| d))
            || (leaves_by_far_end
                && (!self.present_exits[usize::from(at_front)].is_empty()
                    || due_before(
                        self.unpushed_crossing_push[usize::from(at_front)]
                            .first()
                            .map(|&(d, _)| d),
                    )
                    || self
                        .present_by_exit_invoke
                        .last()
                        .is_some_and(|&(invoke, _)| invoke > self.deadline[exit])))
    }

    /// [`Search::blocks_a_pending_pop`] for a value no definite pop returns,
    /// pushed at the front (`at_front`) or the back: only an unknown pop can
    /// take it out, so it stays until one invoked in time does. Over a value
    /// already in that leaves by its end, that is a pop at its end (the
    /// value it covers is between it and the far end); a value still to be
    /// pushed at the far end, or an `empty`, needs it gone by either end.
    fn unobserved_blocks(&self, at_front: bool) -> bool {
        let first_invoke = |end: usize| self.optional[end].first().map_or(u64::MAX, |&(invoke, _)| invoke);
        let same_end = first_invoke(usize::from(at_front));
        let either_end = same_end.min(first_invoke(usize::from(!at_front)));
        let due_before =
            |first: Option<u64>, removable_from: u64| first.is_some_and(|deadline| deadline < removable_from);
        due_before(self.pending_empty.first().map(|&(d, _)| d), either_end)
            || due_before(
                self.present_exits[usize::from(at_front)].first().map(|&(d, _)| d),
                same_end,
            )
            || due_before(
                self.unpushed_crossing[usize::from(at_front)].first().map(|&(d, _)| d),
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
            return;
        };
        let end = usize::from(matches!(self.entries[exit].op, DequeOp::PopFront));
        let key = (self.deadline[exit], value);
        let by_invoke = (self.entries[exit].invoke_us, value);
        if entered {
            self.present_exits[end].insert(key);
            self.present_by_exit_invoke.insert(by_invoke);
        } else {
            self.present_exits[end].remove(&key);
            self.present_by_exit_invoke.remove(&by_invoke);
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
        let key = (self.deadline[exit], entry);
        let by_push = (self.deadline[entry], entry);
        let end = usize::from(exit_front);
        if pending {
            self.unpushed_crossing[end].insert(key);
            self.unpushed_crossing_push[end].insert(by_push);
        } else {
            self.unpushed_crossing[end].remove(&key);
            self.unpushed_crossing_push[end].remove(&by_push);
        }
    }

    /// Records that the empty-finding pop `entry` was linearized or undone.
    pub(super) fn track_empty(&mut self, entry: usize, linearized: bool) {
        if self.entries[entry].ret != Some(DequeRet::Empty) {
            return;
        }
        let key = (self.deadline[entry], entry);
        if linearized {
            self.pending_empty.remove(&key);
        } else {
            self.pending_empty.insert(key);
        }
    }

    /// The pending pushes `x` (of `pending`) that push `w` must wait for:
    /// linearizing `w` before `x` is certainly wrong: `x`'s push certainly happens while
    /// `w`'s value is in (it returns before the pop of `w`'s value is
    /// invoked), which fixes their order, and the pops of the two values
    /// cannot leave them in that order (`patterns`' rule 3).
    pub(super) fn waits_for(&self, w: usize, pending: &[usize]) -> Vec<usize> {
        let Some(w_pop) = self.exit_of(w) else {
            return Vec::new();
        };
        let w_pop_invoke = self.entries[w_pop].invoke_us;
        pending
            .iter()
            .copied()
            .filter(|&x| {
                x != w
                    && self.deadline[x] < w_pop_invoke
                    && self
                        .exit_of(x)
                        .is_some_and(|x_pop| pair_conflicts(self.entries, (w, w_pop), (x, x_pop)))
            })
            .collect()
    }

    /// Whether push `w` must lie under push `b`: it ranks beneath `b` and
    /// certainly coexists with `b`'s value (pushed before the pop of that
    /// value was even invoked).
    pub(super) fn beneath(&self, w: usize, b: usize) -> bool {
        let exit_invoke = self.exit_of(b).map_or(u64::MAX, |pop| self.entries[pop].invoke_us);
        self.push_rank[w] < self.push_rank[b] && self.deadline[w] < exit_invoke
    }
}
