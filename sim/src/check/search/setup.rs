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
/// once per check (on a 1M-operation queue the ranks alone take 0.15 s,
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
        let shared = Shared::without_ranks(prepared);
        let ranks = push_ranks(&prepared.entries, &shared.exit);
        shared.with_push_ranks(ranks)
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
    /// another push's deadline implies an earlier one (`tighten.rs`), except
    /// in [`Times::untightened`].
    pub(super) deadline: Vec<u64>,
    /// For a push whose value a definite pop returns, the earliest time
    /// the value can leave (`leave.rs`; in [`Times::untightened`], its
    /// pop's invocation).
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

/// The keys each of a phase's sets can ever hold (see `Search`'s fields;
/// per end, front at index 1).
#[derive(Default)]
struct Universes {
    deadlines: Vec<(u64, usize)>,
    pending: [Vec<(u64, usize)>; 2],
    unknown_pops: [Vec<(u64, usize)>; 2],
    empty_pops: Vec<(u64, usize)>,
    exiting: [Vec<(u64, usize)>; 2],
    exiting_by_invoke: Vec<(u64, usize)>,
    unobserved: [Vec<(u64, usize)>; 2],
    crossing: [Vec<(u64, usize)>; 2],
    crossing_push: [Vec<(u64, usize)>; 2],
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
        let required_len = required.len();
        let mut required_position = vec![usize::MAX; n];
        for (position, &i) in required.iter().enumerate() {
            required_position[i] = position;
        }
        // Each set over the keys it can ever hold (`rank_set.rs`), full or
        // empty as at the start: every required entry pending, no value in.
        // Their universes are gathered in one pass over the entries.
        let mut keys = Universes::default();
        for (i, e) in entries.iter().enumerate() {
            let front = usize::from(e.op.at_front());
            if !e.required {
                keys.unknown_pops[front].push((e.invoke_us, i));
                continue;
            }
            keys.deadlines.push((deadline[i], i));
            match e.ret {
                Some(DequeRet::Pushed) => keys.pending[1].push((required_position[i] as u64, required_position[i])),
                _ => keys.pending[0].push((required_position[i] as u64, required_position[i])),
            }
            if e.ret == Some(DequeRet::Empty) {
                keys.empty_pops.push((deadline[i], i));
            }
            if !e.op.is_push() {
                continue;
            }
            match shared.exit_of[i] {
                // A value leaving through the far end: by its pop's
                // deadline, and by its own.
                Some(pop) if entries[pop].op.at_front() != e.op.at_front() => {
                    let end = usize::from(entries[pop].op.at_front());
                    keys.crossing[end].push((deadline[pop], i));
                    keys.crossing_push[end].push((deadline[i], i));
                }
                Some(_) => {}
                None => keys.unobserved[front].push((deadline[i], i)),
            }
        }
        // Values that leave through a definite pop, by its deadline (per
        // end) and by its invocation.
        for (v, &pop) in shared.exit.iter().enumerate() {
            if let Some(pop) = pop {
                keys.exiting[usize::from(entries[pop].op.at_front())].push((deadline[pop], v));
                keys.exiting_by_invoke.push((entries[pop].invoke_us, v));
            }
        }
        let per_end =
            |lists: [Vec<(u64, usize)>; 2], ids: usize, full: bool| lists.map(|list| RankSet::new(list, ids, full));
        Search {
            complete,
            unknown_pops,
            entries,
            observed: &prepared.observed,
            deadlines: RankSet::new(keys.deadlines, n, true),
            deadline,
            leaves: &times.leaves,
            required,
            required_position,
            optional: per_end(keys.unknown_pops, n, true),
            linearized: vec![false; n],
            push_rank: &shared.push_rank,
            push_of: &shared.push_of,
            exits: &shared.exit,
            must_wait,
            pending: per_end(keys.pending, required_len, true),
            state: DequeSpec::default(),
            left_position: 0,
            offset: n as i64 + 1,
            powers: &shared.powers,
            set_hash: 0,
            unknown_used: [0, 0],
            contents_hash: 0,
            memo: FxHashSet::default(),
            path: Vec::new(),
            present_exits: per_end(keys.exiting, values, false),
            present_by_exit_invoke: RankSet::new(keys.exiting_by_invoke, values, false),
            pending_empty: RankSet::new(keys.empty_pops, n, true),
            present_unobserved: 0,
            unpushed_unobserved: per_end(keys.unobserved, n, true),
            unpushed_crossing: per_end(keys.crossing, n, true),
            unpushed_crossing_push: per_end(keys.crossing_push, n, true),
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
