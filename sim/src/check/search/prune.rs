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
    /// or `w`'s value leaves by the far end, where everything already in the
    /// deque lies before it, but something there leaves only after `w`'s pop
    /// has to have happened.
    ///
    /// Sound pruning (it removes only dead branches), and the cut that keeps
    /// highly concurrent histories tractable: without it, such a push is
    /// found wrong only once its value comes out.
    pub(super) fn blocks_a_pending_pop(&self, w: usize) -> bool {
        let Some(exit) = self.exit_of(w) else {
            return false;
        };
        let exit_invoke = self.entries[exit].invoke_us;
        let at_front = push_end(&self.entries[w].op);
        let due_before = |first: Option<u64>| first.is_some_and(|deadline| deadline < exit_invoke);
        let exit_entry = &self.entries[exit];
        let leaves_by_far_end = matches!(exit_entry.op, DequeOp::PopFront) != at_front;
        due_before(self.pending_empty.first().map(|&(d, _)| d))
            || due_before(self.present_exits[usize::from(at_front)].first().map(|&(d, _)| d))
            || (leaves_by_far_end
                && self
                    .present_by_exit_invoke
                    .last()
                    .is_some_and(|&(invoke, _)| invoke > self.deadline[exit]))
    }

    /// Updates what [`Search::blocks_a_pending_pop`] reads after `entry`
    /// (which removed `removed`) was linearized (`applied`) or undone.
    pub(super) fn track(&mut self, entry: usize, removed: Option<u32>, applied: bool) {
        match self.entries[entry].op {
            DequeOp::PushFront(v) | DequeOp::PushBack(v) => self.track_presence(v, applied),
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
