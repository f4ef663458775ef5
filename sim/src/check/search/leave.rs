//! The earliest time each observed value can leave the deque, implied by
//! the values that certainly lie between it and the end it leaves by.
//!
//! A value `w` popped at end `E` cannot leave before its pop is invoked.
//! Nor before any value `u` pushed at `E` while `w` was certainly in: such
//! a `u` lies between `w` and `E` until it leaves itself, so `w` leaves
//! after `u` does. `u` was certainly pushed while `w` was in when `u`'s
//! push was invoked after `w`'s deadline and was due before `w`'s pop was
//! invoked. The bound carries through chains (`u` waits for a value above
//! it in turn), which is what the pair rules (`prune::must_follow`) miss
//! when they read only the pop's invocation: on a 64-client history a
//! front value `x` popped late has to go under a value `w` whose own pop
//! is invoked early, because a third value pushed on `w` is popped only
//! after `x`'s push was due; read from `w`'s pop alone, `x` could still
//! wait for `w` to leave, and the search finds out only when the chain
//! unwinds (`mcsim bench checker --clients 64 --ops 10000 --seed 122`).
//!
//! Sound: in any valid order `u`'s push takes effect after `w`'s and
//! before `w`'s pop, at `E`, so `w`'s pop takes effect after `u`'s, which
//! by induction is no earlier than `u`'s bound. Computed in O(n log n):
//! the `u` a push `w` looks at were invoked after `w`'s deadline, so they
//! have later deadlines; taking pushes by deadline, latest first, every
//! `u` is final before any `w` reads it, and a Fenwick tree of maxima per
//! end, keyed by deadline, answers "the latest bound among the `u` due
//! before `w`'s pop is invoked".

use crate::check::prepare::Entry;

/// Per entry: for a push whose value a definite pop returns, the earliest
/// time (µs) that value can leave (at least its pop's invocation); for
/// every other entry, its own invocation (never read). `entries` are in
/// invocation order (as `prepare` leaves them); `deadline` is the phase's,
/// indexed like `entries`; `exit_of` gives each push's pop.
pub(super) fn earliest_leaves(entries: &[Entry], deadline: &[u64], exit_of: &[Option<usize>]) -> Vec<u64> {
    let mut leaves: Vec<u64> = entries.iter().map(|e| e.invoke_us).collect();
    // Pushes with a definite pop, in entry order, which is invocation order.
    let lives: Vec<usize> = (0..entries.len()).filter(|&w| exit_of[w].is_some()).collect();
    if !any_push_at_an_exit_end(entries, &lives, exit_of) {
        for &w in &lives {
            leaves[w] = entries[exit_of[w].expect("lives have pops")].invoke_us;
        }
        return leaves;
    }
    let (keys, rank) = ranked(entries, &lives, |u| deadline[u]);
    let mut trees = [Fenwick::<true>::new(keys[0].len()), Fenwick::<true>::new(keys[1].len())];
    let mut by_deadline: Vec<(u64, usize)> = lives.iter().map(|&w| (deadline[w], w)).collect();
    by_deadline.sort_unstable_by(|a, b| b.cmp(a));
    // Latest invoked first.
    let mut by_invoke = lives.iter().rev().copied().peekable();
    for (w_deadline, w) in by_deadline {
        // Every push invoked after `w`'s deadline is in the trees: its own
        // deadline is later, so its bound is already final.
        while let Some(u) = by_invoke.next_if(|&u| entries[u].invoke_us > w_deadline) {
            trees[usize::from(entries[u].op.at_front())].fold_in(rank[u], leaves[u]);
        }
        let pop = exit_of[w].expect("lives have pops");
        let pop_invoke = entries[pop].invoke_us;
        if pop_invoke <= w_deadline {
            // No push both invoked after `w`'s deadline and due before
            // its pop's invocation (most values in a history with bounded
            // concurrency): nothing to look up.
            leaves[w] = pop_invoke;
            continue;
        }
        let end = usize::from(entries[pop].op.at_front());
        let due_before = keys[end].partition_point(|&d| d < pop_invoke);
        leaves[w] = pop_invoke.max(trees[end].before(due_before));
    }
    leaves
}

/// Whether some value in `lives` (pushes with a definite pop) leaves by an
/// end another such value was pushed at: else no value can stand between
/// another and its exit end (a FIFO queue: pushed at the back, popped at
/// the front), and both rules here have nothing to find.
fn any_push_at_an_exit_end(entries: &[Entry], lives: &[usize], exit_of: &[Option<usize>]) -> bool {
    let mut pushed_at = [false; 2];
    let mut exit_at = [false; 2];
    for &w in lives {
        pushed_at[usize::from(entries[w].op.at_front())] = true;
        exit_at[usize::from(entries[exit_of[w].expect("lives have pops")].op.at_front())] = true;
    }
    (pushed_at[0] && exit_at[0]) || (pushed_at[1] && exit_at[1])
}

/// Per end (front: index 1), the `key`s of the pushes in `lives` there,
/// sorted; and per entry, the rank of its key at its end (a Fenwick
/// position). Ties rank apart, so every push has its own position.
fn ranked(entries: &[Entry], lives: &[usize], key: impl Fn(usize) -> u64) -> ([Vec<u64>; 2], Vec<usize>) {
    let mut sorted: [Vec<(u64, usize)>; 2] = [Vec::new(), Vec::new()];
    for &u in lives {
        sorted[usize::from(entries[u].op.at_front())].push((key(u), u));
    }
    let mut rank = vec![usize::MAX; entries.len()];
    let keys = sorted.map(|mut list| {
        list.sort_unstable();
        for (position, &(_, u)) in list.iter().enumerate() {
            rank[u] = position;
        }
        list.into_iter().map(|(k, _)| k).collect()
    });
    (keys, rank)
}

/// Tightens pop deadlines in place, and returns whether one moved: a pop
/// `p` taking value `v` at end `E` must take effect before the push of any
/// observed value `u` at `E` that would lie between `v` and `E` and
/// cannot leave before `p`'s deadline (`leaves[u]` later than it): had
/// `u` gone in first, `v` could not have left in time. `u` lies between
/// whenever it is pushed before `p`, if `v` was pushed at the far end;
/// if `v` was pushed at `E`, when `u`'s push was invoked after `v`'s was
/// due (before that, `u` may lie under `v`). So `p`'s deadline is at most
/// `u`'s push deadline. Per end, a Fenwick tree of minima keyed by leave
/// time: O(n log n).
///
/// Without it, a value pushed early at the far end whose pop must beat a
/// value pushed at its exit end is not known to precede the pushes that
/// wait for that pop, and the search finds out only after the pushes in
/// between (`mcsim bench checker --clients 64 --ops 10000 --seed 186`).
pub(super) fn pops_before_blockers(
    entries: &[Entry],
    deadline: &mut [u64],
    exit_of: &[Option<usize>],
    leaves: &[u64],
) -> bool {
    let lives: Vec<usize> = (0..entries.len()).filter(|&w| exit_of[w].is_some()).collect();
    if !any_push_at_an_exit_end(entries, &lives, exit_of) {
        return false;
    }
    // Per end, the observed pushes there by leave time, latest first (the
    // keys are negated leave times): a tree position is a rank there.
    let (keys, rank) = ranked(entries, &lives, |u| u64::MAX - leaves[u]);
    let leaving_after = |end: usize, at: u64| keys[end].partition_point(|&k| u64::MAX - k > at);
    let exit = |v: usize| exit_of[v].expect("lives have pops");
    let crossing = |v: usize| entries[v].op.at_front() != entries[exit(v)].op.at_front();
    // Crossing values: every push at the exit end counts, so a prefix
    // minimum of push deadlines over the leave-time order answers.
    let mut prefix_min: [Vec<u64>; 2] = [vec![u64::MAX; keys[0].len() + 1], vec![u64::MAX; keys[1].len() + 1]];
    for &u in &lives {
        let end = usize::from(entries[u].op.at_front());
        prefix_min[end][rank[u] + 1] = deadline[u];
    }
    for list in &mut prefix_min {
        for i in 1..list.len() {
            list[i] = list[i].min(list[i - 1]);
        }
    }
    let mut bounds: Vec<(usize, u64)> = Vec::new();
    for &v in lives.iter().filter(|&&v| crossing(v)) {
        let pop = exit(v);
        let end = usize::from(entries[pop].op.at_front());
        bounds.push((pop, prefix_min[end][leaving_after(end, deadline[pop])]));
    }
    // Values leaving by the end they entered: only pushes invoked after
    // theirs was due count, so take them by push deadline, latest first,
    // adding pushes by invocation, latest first.
    let mut later = [
        Fenwick::<false>::new(keys[0].len()),
        Fenwick::<false>::new(keys[1].len()),
    ];
    let mut by_invoke = lives.iter().rev().copied().peekable();
    let mut same_end: Vec<(u64, usize)> = lives
        .iter()
        .filter(|&&v| !crossing(v))
        .map(|&v| (deadline[v], v))
        .collect();
    same_end.sort_unstable_by(|a, b| b.cmp(a));
    for (v_deadline, v) in same_end {
        while let Some(u) = by_invoke.next_if(|&u| entries[u].invoke_us > v_deadline) {
            later[usize::from(entries[u].op.at_front())].fold_in(rank[u], deadline[u]);
        }
        let pop = exit(v);
        let end = usize::from(entries[pop].op.at_front());
        bounds.push((pop, later[end].before(leaving_after(end, deadline[pop]))));
    }
    let mut changed = false;
    for (pop, bound) in bounds {
        if bound < deadline[pop] && bound >= entries[pop].invoke_us {
            deadline[pop] = bound;
            changed = true;
        }
    }
    changed
}

/// A Fenwick tree over positions `0..len` folding values with `max`
/// (`MAX`) or `min`, every position the fold's identity at first. The
/// fold is a type parameter, not a function pointer, so that it inlines
/// (two of these per check on a 1M-operation stack: an indirect call per
/// level cost 0.05 s, `mcsim bench checker --families stack`).
struct Fenwick<const MAX: bool> {
    tree: Vec<u64>,
}

impl<const MAX: bool> Fenwick<MAX> {
    const IDENTITY: u64 = if MAX { 0 } else { u64::MAX };

    fn new(len: usize) -> Self {
        Fenwick {
            tree: vec![Self::IDENTITY; len + 1],
        }
    }

    fn fold(a: u64, b: u64) -> u64 {
        if MAX { a.max(b) } else { a.min(b) }
    }

    /// Folds `value` into position `at`.
    fn fold_in(&mut self, at: usize, value: u64) {
        let mut i = at + 1;
        while i < self.tree.len() {
            self.tree[i] = Self::fold(self.tree[i], value);
            i += i & i.wrapping_neg();
        }
    }

    /// The fold of positions `0..end` (the identity if none).
    fn before(&self, end: usize) -> u64 {
        let mut i = end;
        let mut folded = Self::IDENTITY;
        while i > 0 {
            folded = Self::fold(folded, self.tree[i]);
            i -= i & i.wrapping_neg();
        }
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::spec::{DequeOp, DequeRet};

    /// Where a failure here reruns.
    const RERUN: &str = "rerun: cargo test -p memcache-sim --lib check::search::leave";

    fn entry(op: DequeOp, ret: DequeRet, invoke_us: u64, deadline_us: u64) -> Entry {
        super::super::test_entry(op, Some(ret), invoke_us, deadline_us)
    }

    fn leaves_of(entries: &[Entry], pairs: &[(usize, usize)]) -> Vec<u64> {
        let mut exit_of = vec![None; entries.len()];
        for &(push, pop) in pairs {
            exit_of[push] = Some(pop);
        }
        let deadline: Vec<u64> = entries.iter().map(|e| e.deadline_us).collect();
        earliest_leaves(entries, &deadline, &exit_of)
    }

    /// Seed 122's chain, reduced: `a` is pushed at the front, `b` on top
    /// of it while `a` is certainly in, and `c` on `b` likewise; `a`
    /// cannot leave before `c`'s pop is invoked.
    #[test]
    fn a_value_leaves_after_every_value_certainly_pushed_on_it() {
        use DequeOp::*;
        let entries = [
            entry(PushFront(0), DequeRet::Pushed, 0, 10),
            entry(PushFront(1), DequeRet::Pushed, 20, 30),
            entry(PushFront(2), DequeRet::Pushed, 40, 50),
            entry(PopFront, DequeRet::Value(0), 60, 200),
            entry(PopFront, DequeRet::Value(1), 100, 200),
            entry(PopFront, DequeRet::Value(2), 150, 200),
        ];
        let leaves = leaves_of(&entries, &[(0, 3), (1, 4), (2, 5)]);
        assert_eq!([leaves[0], leaves[1], leaves[2]], [150, 150, 150], "{RERUN}");
    }

    /// A value pushed at the far end, one whose push may come after the
    /// pop, and one whose push may come first: none of them bounds `a`.
    #[test]
    fn only_values_certainly_between_it_and_its_end_count() {
        use DequeOp::*;
        let entries = [
            entry(PushFront(0), DequeRet::Pushed, 0, 10),
            entry(PushFront(3), DequeRet::Pushed, 5, 30),
            entry(PushBack(1), DequeRet::Pushed, 20, 30),
            entry(PushFront(2), DequeRet::Pushed, 40, 70),
            entry(PopFront, DequeRet::Value(0), 60, 200),
            entry(PopBack, DequeRet::Value(1), 300, 400),
            entry(PopFront, DequeRet::Value(2), 300, 400),
            entry(PopFront, DequeRet::Value(3), 300, 400),
        ];
        let leaves = leaves_of(&entries, &[(0, 4), (2, 5), (3, 6), (1, 7)]);
        assert_eq!(leaves[0], 60, "{RERUN}");
    }

    /// `v` (value 0) is popped at the front by 100; `u` (value 1), pushed
    /// at the front by `u_push.1`, is popped only from 200. Returns `v`'s
    /// pop deadline after the rule.
    fn v_pop_deadline(v_push: DequeOp, u_push: (u64, u64)) -> u64 {
        use DequeOp::*;
        let entries = [
            entry(v_push, DequeRet::Pushed, 0, 10),
            entry(PushFront(1), DequeRet::Pushed, u_push.0, u_push.1),
            entry(PopFront, DequeRet::Value(0), 50, 100),
            entry(PopFront, DequeRet::Value(1), 200, 300),
        ];
        let mut exit_of = vec![None; entries.len()];
        exit_of[0] = Some(2);
        exit_of[1] = Some(3);
        let mut deadline: Vec<u64> = entries.iter().map(|e| e.deadline_us).collect();
        let leaves = earliest_leaves(&entries, &deadline, &exit_of);
        pops_before_blockers(&entries, &mut deadline, &exit_of, &leaves);
        deadline[2]
    }

    /// Seed 186's pattern, reduced: a value that crosses to the front must
    /// leave before a late-leaving value pushed at the front goes in.
    #[test]
    fn a_pop_goes_before_a_value_that_would_block_it_is_pushed() {
        assert_eq!(v_pop_deadline(DequeOp::PushBack(0), (5, 70)), 70, "{RERUN}");
        // Pushed at the same end, only a push certainly after `v`'s counts.
        assert_eq!(v_pop_deadline(DequeOp::PushFront(0), (20, 70)), 70, "{RERUN}");
        assert_eq!(v_pop_deadline(DequeOp::PushFront(0), (5, 70)), 100, "{RERUN}");
        // A bound before the pop's invocation is no valid order at all: the
        // search finds that without a deadline below the invocation.
        assert_eq!(v_pop_deadline(DequeOp::PushBack(0), (5, 40)), 100, "{RERUN}");
    }

    /// A value pushed at the back but popped at the front waits for what
    /// was certainly pushed at the front after it.
    #[test]
    fn a_crossing_value_waits_at_the_end_it_leaves_by() {
        use DequeOp::*;
        let entries = [
            entry(PushBack(0), DequeRet::Pushed, 0, 10),
            entry(PushFront(1), DequeRet::Pushed, 20, 30),
            entry(PopFront, DequeRet::Value(0), 60, 200),
            entry(PopFront, DequeRet::Value(1), 90, 200),
        ];
        let leaves = leaves_of(&entries, &[(0, 2), (1, 3)]);
        assert_eq!(leaves[0], 90, "{RERUN}");
    }
}
