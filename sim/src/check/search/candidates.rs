//! Which pending operations the search tries next, and in what order (see
//! the parent module's docs for why each rule holds).

use super::{FAST_PHASE_WIDTH, Search, UnknownPops, push_end};
use crate::check::spec::{DequeOp, DequeRet};

/// Pending pushes the fast phase looks at per step, earliest invoked first.
const FAST_PHASE_SCAN: usize = 16 * FAST_PHASE_WIDTH;

impl Search<'_> {
    /// Pending entries that may take effect next, in the order to try them:
    /// a definite pop that fits (alone), else a flash push (alone, see
    /// [`Search::flash_push`]), else unknown pops that could remove
    /// an unobserved value, then pushes, lazily: committing a push nobody needs
    /// yet is the mistake that surfaces latest (when its value finally comes
    /// out), so only the pushes the most urgent operation `z` needs are
    /// tried in the fast phase:
    /// - `z` pushes at one end: the pushes that must lie under it (ranked
    ///   beneath it and certainly coexisting with its value), `z`, the other
    ///   pushes at that end by rank, then pushes at the other end whose value
    ///   leaves by `z`'s end through a pop already pending;
    /// - `z` pops `v`: the push of `v`;
    /// - `z` pops empty: none.
    ///
    /// The complete phase appends every other pending push. They are
    /// appended to `out` (the walk keeps every level's in one buffer).
    pub(super) fn candidates(&self, out: &mut Vec<usize>) {
        let Some((deadline, urgent)) = self.deadlines.first() else {
            return;
        };
        let z = &self.entries[urgent];
        let in_window =
            |&(position, _): &(u64, usize)| self.entries[self.required[position as usize]].invoke_us <= deadline;
        // A definite pop that fits now may as well go first: moving it ahead
        // of the operations a valid order puts before it changes nothing
        // they see (its value is at its end, so none of them can pop past
        // it, and a pop that finds the deque empty sees the same emptiness).
        // So it is the only branch worth trying.
        let fitting_pop = self.pending[0]
            .iter()
            .take_while(in_window)
            .map(|(_, position)| self.required[position])
            .filter(|&entry| self.fits(entry))
            .min_by_key(|&e| (self.deadline[e], e));
        if let Some(pop) = fitting_pop {
            out.push(pop);
            return;
        }
        // A push whose value its pending pop can take straight back out is
        // likewise the only branch: the pair leaves the contents as they
        // were, and moving it ahead of what a valid order puts first changes
        // nothing those operations see (see `Search::flash_push`).
        if let Some(push) = self.flash_push(deadline) {
            out.push(push);
            return;
        }
        // The fast phase looks at the earliest-invoked pending pushes only
        // (and at the ones the urgent operation names): with thousands
        // pending, looking at all of them at every step is quadratic.
        let scan = if self.complete { usize::MAX } else { FAST_PHASE_SCAN };
        let named = match z.ret {
            Some(DequeRet::Pushed) => Some(urgent),
            Some(DequeRet::Value(v)) => self.push_of[v as usize].filter(|&p| !self.linearized[p]),
            _ => None,
        };
        let mut looked_at: Vec<usize> = self.pending[1]
            .iter()
            .take_while(in_window)
            .take(scan)
            .map(|(_, position)| self.required[position])
            .collect();
        if let Some(named) = named
            && self.entries[named].invoke_us <= deadline
            && !looked_at.contains(&named)
        {
            looked_at.push(named);
        }
        let mut pushes: Vec<usize> = looked_at
            .into_iter()
            .filter(|&w| !self.blocks_a_pending_pop(w))
            .collect();
        // In the complete phase, a push that must wait for another pending
        // one is dead now (`prune::must_follow`: either order of their
        // values' stays is impossible with it first). The fast phase applies
        // the rule by its table to the few pushes it tries (below).
        if self.complete {
            let pending = pushes.clone();
            pushes.retain(|&w| !self.waits_for(w, &pending));
        }
        pushes.sort_by_key(|&e| (self.push_rank[e], e));
        let lazy: Vec<usize> = match z.ret {
            // Linearizing `z` now is dead; only pops can rescue it, or the
            // pushes of values that must come and go first: the ones that
            // will lie on `z`'s side of the deque's far end and leave by
            // `z`'s end.
            Some(DequeRet::Pushed) if !pushes.contains(&urgent) => {
                let end = usize::from(push_end(&z.op));
                pushes
                    .iter()
                    .copied()
                    .filter(|&w| self.unpushed_crossing_push[end].contains(w))
                    .take(FAST_PHASE_WIDTH)
                    .collect()
            }
            Some(DequeRet::Pushed) => self.pushes_around(urgent, &pushes, deadline),
            Some(DequeRet::Value(v)) => self.push_of[v as usize]
                .filter(|p| pushes.contains(p))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        // The fast phase drops the pushes it tries that must wait for
        // another pending one (by the table: scanning every pending push at
        // every step is quadratic); the complete phase dropped them all above.
        let lazy: Vec<usize> = if self.complete {
            lazy
        } else {
            lazy.into_iter().filter(|&w| !self.waits_for_any(w)).collect()
        };
        let start = out.len();
        if self.unknown_pops != UnknownPops::Last {
            out.extend(self.optional_candidates(deadline));
        }
        if self.complete {
            let rest: Vec<usize> = pushes.iter().copied().filter(|p| !lazy.contains(p)).collect();
            out.extend(lazy);
            out.extend(rest);
        } else {
            out.extend(lazy);
            // No operation names a value nobody saw leave, so the urgent
            // one never asks for its push; but it must go by its deadline,
            // and where it lands decides whether an unknown pop can take
            // it out (before a push at the far end covers it, say). The
            // most urgent such push is the fallback when the lazy ones fail.
            let unobserved = pushes
                .iter()
                .copied()
                .filter(|&w| self.exit_of(w).is_none() && !out[start..].contains(&w))
                .min_by_key(|&w| (self.deadline[w], w));
            out.extend(unobserved);
        }
        if self.unknown_pops == UnknownPops::Last {
            out.extend(self.optional_candidates(deadline));
        }
    }

    /// A pending push invoked by `deadline` whose value's definite pop is
    /// pending, invoked by `deadline`, and would find the value at its end
    /// right after the push: the pair is a *flash*, and the one whose pop
    /// is due first is returned. Found from the pending pops in the window
    /// (few), not the pending pushes (a hundred thousand when their outcomes
    /// are unknown).
    ///
    /// Why it is the only branch worth trying: take any valid order of the
    /// pending operations that places the push and its pop later. Moving
    /// the pair to the front keeps every operation's result: before the
    /// pair's old place, nothing changes (the pair leaves the contents as
    /// they were); between its push and its pop, the value sat in the deque
    /// without being at the end any of those operations took from (only its
    /// own pop takes it, and a pop finding the deque empty cannot happen
    /// while it is in), so removing it changes nothing they return. Real
    /// time holds too: every operation moved behind the pair is pending,
    /// so it is due no earlier than `deadline`, and both halves of the pair
    /// were invoked by then. Without this rule, k such pairs that could go
    /// in any order cost 2^k configurations when a wrong choice made before
    /// them surfaces only after them (`mcsim bench checker --clients 64`).
    fn flash_push(&self, deadline: u64) -> Option<usize> {
        self.pending[0]
            .iter()
            .map(|(_, position)| self.required[position])
            .take_while(|&pop| self.entries[pop].invoke_us <= deadline)
            .filter_map(|pop| {
                let p = &self.entries[pop];
                let Some(DequeRet::Value(v)) = p.ret else {
                    return None;
                };
                let w = self.push_of[v as usize].filter(|&w| !self.linearized[w])?;
                let takes_it_back = self.state.items.is_empty() || p.op.at_front() == self.entries[w].op.at_front();
                (self.entries[w].invoke_us <= deadline && takes_it_back).then_some((self.deadline[pop], w))
            })
            .min()
            .map(|(_, w)| w)
    }

    /// The pushes to try when the urgent operation `z` is itself a push
    /// (`pushes`: the pending ones, by rank). See [`Search::candidates`].
    fn pushes_around(&self, z: usize, pushes: &[usize], deadline: u64) -> Vec<usize> {
        let z_front = push_end(&self.entries[z].op);
        let same_end: Vec<usize> = pushes
            .iter()
            .copied()
            .filter(|&w| w != z && push_end(&self.entries[w].op) == z_front)
            .collect();
        // Closed under "beneath": a push that must lie under one already
        // chosen is chosen too.
        let mut chosen = vec![z];
        let mut rest = same_end;
        while let Some(at) = rest.iter().position(|&w| chosen.iter().any(|&b| self.beneath(w, b))) {
            chosen.push(rest.remove(at));
        }
        chosen.sort_by_key(|&e| (self.push_rank[e], e));
        // The fast phase only guesses: a few alternatives per step keep its
        // stack small when thousands of pushes are concurrent (a frame per
        // step, each holding its alternatives). The complete phase keeps
        // every push a candidate.
        let width = if self.complete { usize::MAX } else { FAST_PHASE_WIDTH };
        chosen.extend(rest.into_iter().take(width));
        let crossing = pushes.iter().copied().filter(|&w| {
            push_end(&self.entries[w].op) != z_front
                && self.exit_of(w).is_some_and(|pop| {
                    let pop = &self.entries[pop];
                    matches!(pop.op, DequeOp::PopFront) == z_front && pop.invoke_us <= deadline
                })
        });
        chosen.extend(crossing);
        chosen
    }

    /// Unknown pops that could remove a value nobody observed from an end:
    /// one per end. Every such pop invoked before the deadline can take effect
    /// at any later time, so they are interchangeable and trying one is
    /// enough; they go early, as removing an unobserved value only unblocks.
    /// The one due first goes first: spending a pop that could still act
    /// later, when one about to expire would do (a lone value is at both
    /// ends), starves a value that must be removed later.
    fn optional_candidates(&self, deadline: u64) -> Vec<usize> {
        let in_window = |&(_, e): &(u64, usize)| self.entries[e].invoke_us <= deadline;
        // A value in the deque leaves by this end, a value pushed here in
        // the window leaves by the far end (it would have to pass), or a pop
        // that must find the deque empty is in the window.
        let needed = |index: usize| {
            !self.present_exits[index].is_empty()
                || self.unpushed_crossing_push[1 - index]
                    .iter()
                    .take(8)
                    .any(|k| in_window(&k))
                || self.pending_empty.iter().take(8).any(|k| in_window(&k))
        };
        let lone = self.state.items.len() == 1;
        let mut chosen = Vec::new();
        for (end, index) in [(DequeOp::PopFront, 1), (DequeOp::PopBack, 0)] {
            if !matches!(self.state.peek(&end), DequeRet::Value(v) if !self.observed[v as usize]) {
                continue;
            }
            let wanted = needed(index) || (lone && needed(1 - index));
            if self.unknown_pops == UnknownPops::WhenNeeded && !wanted {
                continue;
            }
            let first = self.optional[index]
                .first()
                .filter(|&(invoke, _)| invoke <= deadline)
                .map(|(_, e)| e);
            chosen.extend(first);
        }
        chosen.sort_by_key(|&e| (self.deadline[e], e));
        chosen
    }
}
