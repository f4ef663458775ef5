//! A linearizability search for any [`SequentialSpec`] whose state can be
//! hashed: Wing & Gong's depth-first search over which pending operation
//! takes effect next, with Lowe's memo of (linearized set, state), as
//! Porcupine does it. The deque has its own search ([`super::search`]),
//! shaped by distinct values and two ends; a subject without such structure
//! (MCAS registers) uses this one.
//!
//! - An operation may go next if it was invoked no later than the earliest
//!   return of the required operations still pending (one that returned
//!   before another's invoke precedes it; equal times are concurrent, as
//!   for the deque).
//! - An operation whose outcome is unknown (`ret: None`) is optional: it
//!   may take effect, with whatever it returns, or never. The search ends
//!   when every required operation is in. An optional operation that
//!   returned (with an unknown outcome) can no longer go once an operation
//!   invoked after that return is placed. Applying an optional operation
//!   that leaves the state as it was is not a branch: leaving it out is the
//!   same.
//! - An operation that leaves the state as it found it (a read, a failed
//!   compare) and fits now is placed at once, without branching: any valid
//!   order stays valid with it moved here, unless an optional operation
//!   that returned before it was invoked is still open (that one must then
//!   go first or never), in which case it waits.
//! - A step budget bounds the search; running out is `None`, never a pass.

use std::hash::Hash;

use rustc_hash::FxHashSet;

use super::spec::SequentialSpec;

/// One operation of a history, for the search.
#[derive(Debug, Clone)]
pub struct Timed<Op, Ret> {
    pub op: Op,
    /// `None`: the outcome is unknown (optional, any return).
    pub ret: Option<Ret>,
    pub invoke_us: u64,
    /// `u64::MAX` when it never returned.
    pub return_us: u64,
}

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WglOutcome {
    /// A valid order exists.
    Linearizable,
    /// No valid order. `deepest` is the most operations some valid order
    /// placed; `stuck` is the required operation that order could not
    /// place next (the pending one with the earliest return), the place to
    /// start reading the history.
    NotLinearizable { deepest: usize, stuck: Option<usize> },
    /// The budget ran out.
    Unknown,
}

/// Searches `ops` from `initial`. `steps_max` bounds the operations tried.
/// Returns the outcome and the steps taken.
pub fn linearizable<S>(initial: &S, ops: &[Timed<S::Op, S::Ret>], steps_max: u64) -> (WglOutcome, u64)
where
    S: SequentialSpec + Clone + Hash + Eq,
    S::Op: Clone,
    S::Ret: Clone,
{
    let required = ops.iter().filter(|op| op.ret.is_some()).count();
    let mut memo: FxHashSet<(Vec<u64>, S)> = FxHashSet::default();
    // Each frame: the state and set after some prefix, and the candidates
    // left to try there.
    struct Frame<S> {
        state: S,
        done: Vec<u64>,
        placed_required: usize,
        placed: usize,
        candidates: Vec<usize>,
    }
    let mut steps = 0u64;
    let mut deepest = 0usize;
    let mut deepest_done: Vec<u64> = Vec::new();
    let start = settle(initial.clone(), vec![0; ops.len().div_ceil(64)], ops);
    let mut stack = vec![frame(start, ops)];
    while let Some(top) = stack.last_mut() {
        if top.placed_required == required {
            return (WglOutcome::Linearizable, steps);
        }
        if top.placed > deepest || deepest_done.is_empty() {
            deepest = top.placed;
            deepest_done = top.done.clone();
        }
        let Some(i) = top.candidates.pop() else {
            stack.pop();
            continue;
        };
        steps += 1;
        if steps > steps_max {
            return (WglOutcome::Unknown, steps);
        }
        let mut state = top.state.clone();
        let fits = match &ops[i].ret {
            Some(ret) => state.is_valid_step(&ops[i].op, ret),
            None => {
                state.invoke(&ops[i].op);
                state != top.state
            }
        };
        if !fits {
            continue;
        }
        let mut done = top.done.clone();
        done[i / 64] |= 1 << (i % 64);
        let next = settle(state, done, ops);
        if memo.insert((next.1.clone(), next.0.clone())) {
            stack.push(frame(next, ops));
        }
    }

    /// The state after also placing every state-preserving operation that
    /// fits, repeatedly; with the counts of what is placed.
    fn settle<S>(state: S, mut done: Vec<u64>, ops: &[Timed<S::Op, S::Ret>]) -> (S, Vec<u64>)
    where
        S: SequentialSpec + Clone + Eq,
    {
        loop {
            let mut placed_one = false;
            let now = candidates(&done, ops);
            for &i in &now {
                let Some(ret) = &ops[i].ret else { continue };
                // Not past an optional operation that must precede it:
                // leaving that one out would then be forced.
                let after_optional = now
                    .iter()
                    .any(|&j| ops[j].ret.is_none() && ops[j].return_us < ops[i].invoke_us);
                if after_optional {
                    continue;
                }
                let mut trial = state.clone();
                if trial.is_valid_step(&ops[i].op, ret) && trial == state {
                    done[i / 64] |= 1 << (i % 64);
                    placed_one = true;
                }
            }
            if !placed_one {
                return (state, done);
            }
        }
    }

    fn frame<S>((state, done): (S, Vec<u64>), ops: &[Timed<S::Op, S::Ret>]) -> Frame<S>
    where
        S: SequentialSpec,
    {
        let is_done = |i: usize| done[i / 64] >> (i % 64) & 1 == 1;
        let placed = (0..ops.len()).filter(|&i| is_done(i)).count();
        let placed_required = (0..ops.len()).filter(|&i| is_done(i) && ops[i].ret.is_some()).count();
        let mut candidates = candidates(&done, ops);
        // Popped from the end: required operations first, earliest first.
        candidates.sort_by_key(|&i| (ops[i].ret.is_some(), std::cmp::Reverse(ops[i].invoke_us)));
        Frame {
            state,
            done,
            placed_required,
            placed,
            candidates,
        }
    }

    fn candidates<Op, Ret>(done: &[u64], ops: &[Timed<Op, Ret>]) -> Vec<usize> {
        let is_done = |i: usize| done[i / 64] >> (i % 64) & 1 == 1;
        let deadline = (0..ops.len())
            .filter(|&i| !is_done(i) && ops[i].ret.is_some())
            .map(|i| ops[i].return_us)
            .min()
            .unwrap_or(u64::MAX);
        let latest_invoke_us = (0..ops.len()).filter(|&i| is_done(i)).map(|i| ops[i].invoke_us).max();
        (0..ops.len())
            .filter(|&i| !is_done(i) && ops[i].invoke_us <= deadline)
            .filter(|&i| ops[i].ret.is_some() || latest_invoke_us.is_none_or(|latest| latest <= ops[i].return_us))
            .collect()
    }

    let is_done = |i: usize| deepest_done.get(i / 64).is_some_and(|word| word >> (i % 64) & 1 == 1);
    let stuck = (0..ops.len())
        .filter(|&i| !is_done(i) && ops[i].ret.is_some())
        .min_by_key(|&i| (ops[i].return_us, i));
    (WglOutcome::NotLinearizable { deepest, stuck }, steps)
}
