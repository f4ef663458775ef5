//! What a search phase starts from: the data every phase of one check
//! reads ([`Shared`], computed once), the times a phase reasons with
//! ([`Times`]), and the phase's initial state ([`search_phase`]).

use rustc_hash::FxHashSet;

use super::{RankSet, Search, SearchResult, UnknownPops, tighten};
use crate::check::hash::{BASE, mul_mod};
use crate::check::prepare::{Entry, Prepared};
use crate::check::rank::{PushRank, exits, push_ranks, pushes_by_value};
use crate::check::spec::{DequeOp, DequeRet, DequeSpec};

/// What every phase of one check reads, whatever its deadlines: computed
/// once per check (on a 1M-operation queue the ranks alone take 0.2 s,
/// `mcsim bench checker --families queue`), not once per phase.
pub(super) struct Shared {
    /// Per value: the definite pop that returned it, if any.
    pub(super) exit: Vec<Option<usize>>,
    /// Per entry: for a push, the pop that returned its value, if any.
    pub(super) exit_of: Vec<Option<usize>>,
    /// Per value: the entry that pushes it.
    pub(super) push_of: Vec<Option<usize>>,
    /// Per entry: for pushes, the order to try them in (`rank.rs`).
    pub(super) push_rank: Vec<PushRank>,
    /// `BASE^k` for the contents hash's positions (`key.rs`).
    pub(super) powers: Vec<u64>,
}

impl Shared {
    pub(super) fn new(prepared: &Prepared) -> Self {
        let ranks = push_ranks(&prepared.entries, &exits(&prepared.entries, prepared.values.len()));
        Shared::without_ranks(prepared).with_push_ranks(ranks)
    }

    /// All but the push ranks (left empty), which a caller computes
    /// beside it.
    pub(super) fn without_ranks(prepared: &Prepared) -> Self {
        let entries = &prepared.entries;
        let exit = exits(entries, prepared.values.len());
        let exit_of = entries
            .iter()
            .map(|e| match e.op {
                DequeOp::PushFront(v) | DequeOp::PushBack(v) => exit[v as usize],
                _ => None,
            })
            .collect();
        let mut powers = vec![1u64; 2 * entries.len() + 3];
        for i in 1..powers.len() {
            powers[i] = mul_mod(powers[i - 1], BASE);
        }
        Shared {
            push_rank: Vec::new(),
            push_of: pushes_by_value(entries, prepared.values.len()),
            exit_of,
            exit,
            powers,
        }
    }
}

impl Shared {
    /// The data with `push_rank` as its push ranks.
    pub(super) fn with_push_ranks(self, push_rank: Vec<PushRank>) -> Self {
        Shared { push_rank, ..self }
    }
}

/// The times a phase reasons with, per entry (µs).
pub(super) struct Times {
    /// The deadline the phase orders by ([`deadline_of`]), tightened where
    /// another push's deadline implies an earlier one (`tighten.rs`).
    pub(super) deadline: Vec<u64>,
    /// For a push whose value a definite pop returns, the earliest time
    /// the value can leave (`leave.rs`).
    pub(super) leaves: Vec<u64>,
}

impl Times {
    /// A phase's times: the complete phase's are sound, the fast phase's
    /// assume unknown outcomes landed before their calls returned.
    pub(super) fn new(prepared: &Prepared, complete: bool, exit_of: &[Option<usize>]) -> Self {
        let mut deadline: Vec<u64> = prepared.entries.iter().map(|e| deadline_of(e, complete)).collect();
        let leaves = tighten::tighten_deadlines(&prepared.entries, &mut deadline, exit_of);
        Times { deadline, leaves }
    }

    /// The fast phase's times without the tightening: the likely
    /// deadlines as the history gives them, and a value's pop's invocation
    /// as the earliest it can leave (sound, looser bounds; O(n)).
    pub(super) fn untightened(prepared: &Prepared, exit_of: &[Option<usize>]) -> Self {
        let entries = &prepared.entries;
        Times {
            deadline: entries.iter().map(|e| deadline_of(e, false)).collect(),
            leaves: (0..entries.len())
                .map(|i| exit_of[i].map_or(entries[i].invoke_us, |pop| entries[pop].invoke_us))
                .collect(),
        }
    }
}

/// The deadline a phase orders by: the fast phase assumes unknown outcomes
/// landed before their call returned; the complete phase assumes nothing.
fn deadline_of(entry: &Entry, complete: bool) -> u64 {
    if complete {
        entry.deadline_us
    } else {
        entry.likely_deadline_us
    }
}

/// How one phase runs.
#[derive(Clone, Copy)]
pub(super) struct Phase<'a> {
    /// Its step budget.
    pub(super) steps_max: u64,
    /// The complete phase, or a fast one.
    pub(super) complete: bool,
    /// A fast phase's guess of when unknown pops act.
    pub(super) unknown_pops: UnknownPops,
    /// `prune::must_wait_for`'s table (empty: not consulted; the complete
    /// phase checks the pairs itself).
    pub(super) must_wait: &'a [Vec<usize>],
}

/// Runs one phase from the empty deque with its own deadlines and leave
/// times (`times`).
pub(super) fn search_phase<'a>(
    prepared: &'a Prepared,
    shared: &'a Shared,
    times: &'a Times,
    phase: Phase<'a>,
) -> SearchResult {
    Search::begin(prepared, shared, times, phase).finish(phase.steps_max)
}

impl<'a> Search<'a> {
    /// A phase's state before its first step (`shared`'s push ranks may
    /// still be missing: [`Search::with_push_ranks`]).
    pub(super) fn begin(prepared: &'a Prepared, shared: &'a Shared, times: &'a Times, phase: Phase<'a>) -> Self {
        let Phase {
            complete,
            unknown_pops,
            must_wait,
            ..
        } = phase;
        let entries = &prepared.entries;
        let n = entries.len();
        let values = prepared.values.len();
        let deadline = &times.deadline;
        let required: Vec<usize> = (0..n).filter(|&i| entries[i].required).collect();
        let mut required_position = vec![usize::MAX; n];
        for (position, &i) in required.iter().enumerate() {
            required_position[i] = position;
        }
        // Each set over the keys it can ever hold (`rank_set.rs`), full or
        // empty as at the start: every required entry pending, no value in.
        let at_end = |i: usize, front: bool| entries[i].op.at_front() == front;
        let per_end = |keys: &dyn Fn(bool) -> Vec<(u64, usize)>, ids: usize, full: bool| {
            [false, true].map(|front| RankSet::new(keys(front), ids, full))
        };
        let unknown_pop_keys = |front: bool| {
            (0..n)
                .filter(|&i| !entries[i].required && !entries[i].op.is_push() && at_end(i, front))
                .map(|i| (entries[i].invoke_us, i))
                .collect()
        };
        let pending = [false, true].map(|pushes| {
            let keys = (0..required.len())
                .filter(|&position| (entries[required[position]].ret == Some(DequeRet::Pushed)) == pushes)
                .map(|position| (position as u64, position));
            RankSet::new(keys, required.len(), true)
        });
        // Values that leave through a definite pop at `front`, keyed by its
        // deadline; pushes whose value leaves through the far end, keyed by
        // the pop's deadline or their own; required pushes of values nobody
        // saw leave, by deadline.
        let exiting = |front: bool| {
            (0..values)
                .filter_map(|v| {
                    shared.exit[v]
                        .filter(|&pop| at_end(pop, front))
                        .map(|pop| (deadline[pop], v))
                })
                .collect()
        };
        let crossing = |front: bool| -> Vec<(usize, usize)> {
            (0..n)
                .filter_map(|w| shared.exit_of[w].map(|pop| (w, pop)))
                .filter(|&(w, pop)| at_end(pop, front) && !at_end(w, front))
                .collect()
        };
        let unobserved = |front: bool| {
            (0..n)
                .filter(|&w| entries[w].required && entries[w].op.is_push() && shared.exit_of[w].is_none())
                .filter(|&w| at_end(w, front))
                .map(|w| (deadline[w], w))
                .collect()
        };
        Search {
            complete,
            unknown_pops,
            entries,
            observed: &prepared.observed,
            deadlines: RankSet::new(required.iter().map(|&i| (deadline[i], i)), n, true),
            deadline,
            leaves: &times.leaves,
            required,
            required_position,
            optional: per_end(&unknown_pop_keys, n, true),
            linearized: vec![false; n],
            push_rank: &shared.push_rank,
            push_of: &shared.push_of,
            exits: &shared.exit,
            must_wait,
            pending,
            state: DequeSpec::default(),
            left_position: 0,
            offset: n as i64 + 1,
            powers: &shared.powers,
            set_hash: 0,
            unknown_used: [0, 0],
            contents_hash: 0,
            memo: FxHashSet::default(),
            path: Vec::new(),
            present_exits: per_end(&exiting, values, false),
            present_by_exit_invoke: RankSet::new(
                (0..values).filter_map(|v| shared.exit[v].map(|pop| (entries[pop].invoke_us, v))),
                values,
                false,
            ),
            pending_empty: RankSet::new(
                (0..n)
                    .filter(|&i| entries[i].ret == Some(DequeRet::Empty))
                    .map(|i| (deadline[i], i)),
                n,
                true,
            ),
            present_unobserved: 0,
            unpushed_unobserved: per_end(&unobserved, n, true),
            unpushed_crossing: per_end(
                &|front| crossing(front).into_iter().map(|(w, pop)| (deadline[pop], w)).collect(),
                n,
                true,
            ),
            unpushed_crossing_push: per_end(
                &|front| crossing(front).into_iter().map(|(w, _)| (deadline[w], w)).collect(),
                n,
                true,
            ),
        }
    }

    /// Gives the phase the check's push ranks.
    pub(super) fn with_push_ranks(mut self, push_rank: &'a [PushRank]) -> Self {
        self.push_rank = push_rank;
        self
    }

    /// Runs the phase within `steps_max` steps.
    pub(super) fn finish(mut self, steps_max: u64) -> SearchResult {
        let (outcome, steps) = self.run(steps_max);
        SearchResult {
            outcome,
            steps,
            configurations: self.memo.len(),
        }
    }
}
