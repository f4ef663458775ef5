//! The linearizability search: Wing & Gong's depth-first search over which
//! pending operation takes effect next, with Lowe's memoisation of
//! (linearized set, state) as Porcupine does it, shaped for deques.
//!
//! - Candidates next are the pending operations invoked no later than the
//!   earliest deadline among pending required operations (nothing that
//!   returned before an operation was invoked may come after it).
//! - Distinct values make most candidates inapplicable at once: a pop that
//!   returned `v` fits only when `v` is at its end.
//! - An optional (unknown) pop is tried only when the value at its end is
//!   one no definite pop ever returns: removing an observed value leads
//!   nowhere, and removing nothing changes nothing. Of the interchangeable
//!   unknown pops at one end, only one is tried.
//! - Configurations are memoised as a 128-bit hash: a Zobrist hash of the
//!   linearized set and a positional polynomial hash of the contents, both
//!   kept incrementally, so a step costs O(log n) and memory is 16 bytes per
//!   dead configuration (only those are kept: `dfs.rs`). (A hash collision
//!   could prune a live branch; at 2^-128 per pair it is not a practical
//!   concern.)
//! - A definite pop that fits now is the only branch taken (with distinct
//!   values it commutes left past everything a valid order puts before it).
//!   So is a *flash*: a push whose value its pending pop can take straight
//!   back out (the pair leaves the contents as they were, and moves to the
//!   front of any valid order; `candidates.rs`, `flash_push`). Without it, k
//!   such pairs that may go in any order cost 2^k configurations whenever
//!   a wrong choice made before them surfaces after them.
//! - Deadlines are tightened before a phase starts (`tighten.rs`; all but
//!   a long history's quick run, below): a push
//!   that every valid order puts before another takes effect by the
//!   other's deadline, found through the same pair rule as the table of
//!   pushes that must wait (below), repeated so that chains of such pairs
//!   carry through, and through values nobody saw leave, which go before
//!   a value they would otherwise bury for ever. The window and the
//!   pruning read deadlines, so a dead end implied through a chain shows
//!   at once instead of after the choices in between are exhausted.
//! - A push that would bury a value past the deadline of the pop that must
//!   take it out (or keep the deque non-empty past the deadline of a pop
//!   that finds it empty) is pruned: the value stays until its own pop,
//!   which is invoked too late. So is a push whose value leaves by the far
//!   end while a value already in, or one still to be pushed at the far
//!   end in time, leaves by the push's end: the two would each wait for the
//!   other to leave first. A value no definite pop returns leaves only
//!   through an unknown pop, so its push is pruned when no unknown pop is
//!   invoked in time to take it out of the way (`prune.rs`; every rule is
//!   cross-checked against the brute-force checker).
//! - Candidates are tried in the order most likely to be right, so a
//!   linearizable history is mostly checked without backtracking: pushes
//!   ranked by how their values leave. At one
//!   end, values that leave by the far end leave in push order (FIFO), values
//!   that leave by the same end in reverse (LIFO), and every FIFO-leaving value
//!   was pushed before every LIFO-leaving one (otherwise each would wait for
//!   the other); FIFO-leaving pushes are put in an order that respects real
//!   time at both their pushes and their pops. A wrong guess between
//!   concurrent pushes would otherwise only surface when the values come
//!   out, possibly thousands of steps later.
//!   Pushes are also lazy: the ones the most urgent pending operation needs
//!   go first (itself, or the push of the value it pops, with whatever is
//!   ranked beneath it), because committing a push before the pushes that
//!   belong under it have even been invoked is the mistake that surfaces
//!   latest. Ordering changes speed only: the complete phase still tries
//!   every candidate the two rules above do not prove dead.
//! - Values no definite pop returns hash alike in the memo key (see
//!   `Search::term`): k concurrent pushes of such values are 2^k
//!   configurations (which of them are in), not k! (in which order).
//!   Likewise the unknown pops that may take effect at any time (deadline
//!   `NEVER`: all of the complete phase's, and in the fast phase those
//!   that never returned) are counted per end in the key, not named
//!   (`Search::interchangeable`).
//! - A value cannot leave before the values certainly pushed between it
//!   and its exit end have left (`leave.rs`): the pair rule and the
//!   deadline tightening read that earliest leave time instead of the
//!   pop's invocation, so a chain through a third value is seen at once.
//! - A push is pruned when it would leave more values nobody saw leave
//!   between its value and the end that value leaves by than unknown pops
//!   at that end could take out in time (`prune.rs`,
//!   `starves_unknown_pops`).
//! - A push is not tried before a pending push it must wait for: had it
//!   gone first, the other value would be pushed either while its own is
//!   in, and the two could not leave by their pops (`patterns`' rule 3), or
//!   after its own left, which the other's push or pop deadline forbids.
//!   The complete phase checks the pending pushes it may try at each step;
//!   the fast phase reads a table built once for its runs
//!   (`prune::must_wait_for`, O(n w) for w pushes that can be pending
//!   together).
//! - A push of a value nobody saw leave is named by no operation, so the
//!   fast phase's lazy choice never asks for it; the most urgent one is
//!   offered last at each step, where an unknown pop could still take its
//!   value out before a push at the far end covers it.
//! - The fast phase keeps at most `FAST_PHASE_WIDTH` alternatives per step
//!   beyond the ones the urgent operation needs, so its stack stays small
//!   when thousands of pushes are concurrent, and looks at the 256
//!   earliest-invoked pending pushes per step (plus the one the urgent
//!   operation names), so a step does not cost O(pending). It runs up to
//!   three times, each within a budget of a few steps per operation and
//!   with its own guess of when an unknown pop removes a value nobody
//!   observed: only when the value must go before something pending can
//!   happen, whenever it reaches an end, or after the pushes
//!   ([`UnknownPops`]); of the unknown pops at the two ends, the one due
//!   first is tried first (a lone value is at both ends, and the other may
//!   be needed later). A wrong early guess costs a run its budget, not the
//!   check's. On a long history a quick run of it comes first, on the
//!   deadlines as the history gives them ([`search`]).
//! - A step budget bounds the search; running out is the verdict *unknown*.
//! - Before any of this, `patterns::refute` looks for violations that need
//!   no search; what it finds is returned as [`SearchOutcome::Refuted`].
//!
//! Cost, measured (`mcsim bench checker --families all`): a linearizable
//! history whose concurrency is bounded (8 clients) takes about one step
//! per operation, O(n log n) time in all; 100k operations in 0.05-0.4 s,
//! a 1M-operation stack 0.78-0.87 s and queue 0.92-0.99 s on a quiet
//! 2-core machine (the queue 1.14-1.20 s with another session running
//! beside it), peak memory 527 and 562 MiB. Alternated there with the
//! build before the quick run, the bitmap sets of `rank_set.rs`, the data
//! shared by the phases and the second thread: 1.56-1.60 and 1.66-1.68 s,
//! 464 and 512 MiB (on a slower machine that build took 2.6-3.3 and
//! 2.7-3.6 s). The queue is at the 1 s target's edge: its push ranks and
//! the rules of `patterns` (0.4 s together on the second thread) and the
//! quick run's state (0.25 s) are mostly sorting. The leave-time rules
//! cost a 1M stack about 0.2 s, two O(n log n) passes over its entries,
//! which is why they run in the first tightening pass only. With 64 clients
//! at both ends and 1% unknown outcomes, 100,000 operations decide in
//! 0.3-0.5 s on seeds 1 to 10, and 10,000 on every seed of 1 to 400 in at
//! most 0.06 s (`mcsim bench checker --clients 64 --ops 10000,100000
//! --seed S`; before the flash pairs, the tightened deadlines, the
//! fallback push and the unknown pop due first: 20 of 30 at 10,000, and
//! seed 1 `unknown` at 100,000; before the leave times, the counted
//! unknown pops, the starved-pop pruning and the pops before blockers,
//! 194 of 200, the other six `unknown` after 20M steps). What is still
//! exponential: a history whose early wrong guess surfaces late and that
//! no rule above cuts (none is known among those seeds, but the complete
//! phase is a backtracking search, and `tests/checker.rs` pins what each
//! rule once cost): it runs out of budget (`unknown`). In the complete
//! phase N operations all concurrent cost O(N^2) (every pending push is a
//! candidate at every step); the fast phase decides 100k concurrent pushes
//! of unknown outcome in about a second.

use rustc_hash::FxHashSet;

mod candidates;
mod dfs;
mod key;
mod leave;
mod prune;
mod rank_set;
mod setup;
mod tighten;

use rank_set::RankSet;
use setup::{Phase, Shared, Times, search_phase};

use super::CONCURRENT_ENTRIES_MIN;
use super::hash::{count_hash, zobrist};
use super::patterns::{Refutation, refute};
use super::prepare::{Entry, Prepared};
use super::rank::{PushRank, exits, push_ranks};
use super::spec::{DequeOp, DequeRet, DequeSpec, SequentialSpec};

/// Alternatives per step the fast phase keeps beyond the ones the urgent
/// operation needs.
const FAST_PHASE_WIDTH: usize = 16;

/// Steps per entry (plus 10,000) each run of the fast phase may take. A
/// linearizable history is mostly found in about one step per entry
/// (`mcsim bench checker`); a fast phase that needs many more has guessed
/// wrong early, and backtracking out of that guess costs more than the
/// complete phase.
pub const FAST_PHASE_STEPS_PER_ENTRY: u64 = 4;

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchOutcome {
    /// A valid order: entry indices in linearization order.
    Linearizable(Vec<usize>),
    /// No valid order exists.
    NotLinearizable {
        /// The longest valid partial order found (entry indices).
        longest: Vec<usize>,
        /// The required entry that could not be placed after it.
        stuck: Option<usize>,
    },
    /// No valid order exists, as a rule of `patterns` proved before any
    /// search.
    Refuted(Refutation),
    /// The step budget ran out first.
    Unknown,
}

impl SearchOutcome {
    /// Whether no valid order exists (searched or refuted).
    pub fn is_violation(&self) -> bool {
        matches!(self, SearchOutcome::NotLinearizable { .. } | SearchOutcome::Refuted(_))
    }
}

/// A search's outcome and cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// The answer.
    pub outcome: SearchOutcome,
    /// Steps taken (each tries one candidate).
    pub steps: u64,
    /// Dead configurations memoised: the ones whose every continuation
    /// was tried (`dfs.rs`); 0 when a witness was found without
    /// backtracking.
    pub configurations: usize,
}

struct Search<'a> {
    /// Whether every pending push is a candidate (complete) or only the
    /// ones the urgent operation needs (fast, finds most witnesses).
    complete: bool,
    /// When unknown pops are tried (the complete phase: first).
    unknown_pops: UnknownPops,
    entries: &'a [Entry],
    observed: &'a [bool],
    /// Required entries in invocation order, and each entry's position there.
    required: Vec<usize>,
    required_position: Vec<usize>,
    /// Unknown pops not linearized yet, per end (front: index 1), by
    /// invocation.
    optional: [RankSet; 2],
    linearized: Vec<bool>,
    /// Per entry: the deadline this phase orders by (the likely one in the
    /// fast phase, the real one in the complete phase).
    deadline: &'a [u64],
    /// Per push: the earliest time its value can leave (`leave.rs`).
    leaves: &'a [u64],
    /// Per entry: for pushes, the order to try them in (see the module docs).
    push_rank: &'a [PushRank],
    /// Per value: the entry that pushes it.
    push_of: &'a [Option<usize>],
    /// Per value: the pop that returned it, if any.
    exits: &'a [Option<usize>],
    /// Per push: the pushes it must wait for (`prune::must_wait_for`; the
    /// fast phase's, empty in the complete phase and the quick run).
    must_wait: &'a [Vec<usize>],
    deadlines: RankSet,
    /// Values in the deque whose definite pop is at the front (index 1) or
    /// the back (0), by that pop's deadline.
    present_exits: [RankSet; 2],
    /// Values in the deque that some definite pop returns, by that pop's
    /// invocation.
    present_by_exit_invoke: RankSet,
    /// Pushes not linearized yet whose values leave by the far end, per
    /// the end they leave by (front: index 1), by that pop's deadline.
    unpushed_crossing: [RankSet; 2],
    /// The same pushes by their own deadline.
    unpushed_crossing_push: [RankSet; 2],
    /// Values in the deque that no definite pop returns.
    present_unobserved: usize,
    /// Pushes not linearized yet whose values no definite pop returns, per
    /// end (front: index 1), by deadline.
    unpushed_unobserved: [RankSet; 2],
    /// Pending pops that must find the deque empty, by deadline.
    pending_empty: RankSet,
    /// Positions in `required` of the entries not linearized yet, pops
    /// (index 0) and pushes (1) apart: the candidates' scan walks these,
    /// not every entry since the oldest pending one (a push of unknown
    /// outcome can stay pending for most of a long history).
    pending: [RankSet; 2],
    state: DequeSpec,
    left_position: i64,
    offset: i64,
    powers: &'a [u64],
    set_hash: u64,
    /// Per end (front: index 1), the unknown pops linearized that could
    /// take effect at any time (`Search::interchangeable`).
    unknown_used: [u32; 2],
    contents_hash: u64,
    memo: FxHashSet<u128>,
    path: Vec<usize>,
}

/// Searches for a linearization of `prepared` within `steps_max` steps.
///
/// Two phases. A fast phase tries only the pushes the most urgent operation
/// needs, and assumes an unknown outcome that returned took effect before it
/// returned: whatever order it finds is a valid witness, so "linearizable"
/// is sound however it was found. It runs up to three times, each with its
/// own guess of when an unknown pop takes a value nobody saw ([`UnknownPops`]),
/// each within [`FAST_PHASE_STEPS_PER_ENTRY`] steps per entry and a sixth of
/// `steps_max`: a guess that is wrong early is cheaper to abandon than to
/// backtrack out of. Only if all fail does the complete phase run, with
/// every pending push it does not prove dead a candidate and the rest of
/// the budget (at least half), to decide "not linearizable" (or run out of
/// budget: unknown).
///
/// On a history of [`CONCURRENT_ENTRIES_MIN`] entries or more, a quick
/// run of the fast phase comes first, on the deadlines as the history
/// gives them (the tightening and the table of pushes that must wait cost
/// a 1M-operation stack about 0.45 s, timed inside the check, and a
/// history with bounded concurrency rarely needs them), within
/// [`QUICK_STEPS_PER_ENTRY_TENTHS`]; meanwhile the rules of
/// `patterns` run on a second thread, then the push ranks (`rank.rs`),
/// which the run needs only once its state is built.
pub fn search(prepared: &Prepared, steps_max: u64) -> SearchResult {
    let refuted = |refutation| SearchResult {
        outcome: SearchOutcome::Refuted(refutation),
        steps: 0,
        configurations: 0,
    };
    if prepared.entries.len() < CONCURRENT_ENTRIES_MIN {
        return match refute(prepared) {
            Some(refutation) => refuted(refutation),
            None => prepared_search(prepared, Shared::new(prepared), steps_max, 0),
        };
    }
    let entries = &prepared.entries;
    // The rules, then (unless they refute) the push ranks, the one costly
    // part of the shared data (a 1M-operation queue: 0.15 s), beside the
    // quick run's own preparation.
    let rules_then_ranks = || {
        let refutation = refute(prepared);
        let ranks = refutation
            .is_none()
            .then(|| push_ranks(entries, &exits(entries, prepared.values.len())));
        (refutation, ranks)
    };
    let (refutation, quick) = std::thread::scope(|scope| {
        let beside = std::thread::Builder::new().spawn_scoped(scope, rules_then_ranks);
        let unranked = Shared::without_ranks(prepared);
        let times = Times::untightened(prepared, &unranked.exit_of);
        let phase = Phase {
            steps_max: (entries.len() as u64 * QUICK_STEPS_PER_ENTRY_TENTHS / 10 + 1_000).min(steps_max / 6),
            complete: false,
            unknown_pops: UnknownPops::WhenNeeded,
            must_wait: &[],
        };
        let search = Search::begin(prepared, &unranked, &times, phase);
        let (refutation, ranks) = match beside {
            Ok(beside) => beside.join().expect("the rules do not panic"),
            // No thread to spare (a process or memory limit): the same
            // work in turn, so the same answer.
            Err(_) => rules_then_ranks(),
        };
        let Some(ranks) = ranks else {
            return (refutation, None);
        };
        let quick = search.with_push_ranks(&ranks).finish(phase.steps_max);
        (None, Some((unranked.with_push_ranks(ranks), quick)))
    });
    if let Some(refutation) = refutation {
        return refuted(refutation);
    }
    match quick.expect("a history the rules do not refute gets a quick run") {
        (_, quick) if matches!(quick.outcome, SearchOutcome::Linearizable(_)) => quick,
        (shared, quick) => prepared_search(prepared, shared, steps_max, quick.steps),
    }
}

/// The quick run's budget: steps per entry, in tenths, plus 1,000 (and
/// at most a sixth of the check's budget, as each fast run). A history
/// with bounded concurrency is mostly decided in one step per entry (a
/// 1M-operation stack or queue in 1.0009 and 1.0001), so a run that needs
/// more has guessed wrong and the prepared phases take over.
pub const QUICK_STEPS_PER_ENTRY_TENTHS: u64 = 11;

/// The fast phase's runs on tightened deadlines, then the complete phase,
/// with `spent` steps of `steps_max` already used.
fn prepared_search(prepared: &Prepared, shared: Shared, steps_max: u64, spent: u64) -> SearchResult {
    let start = FastStart::new(prepared, shared);
    let spent = match start.run(prepared, steps_max, spent) {
        Ok(witness) => return witness,
        Err(spent) => spent,
    };
    let sound = Times::new(prepared, true, &start.shared.exit_of);
    let mut complete = search_phase(
        prepared,
        &start.shared,
        &sound,
        Phase {
            steps_max: steps_max - spent.min(steps_max),
            complete: true,
            unknown_pops: UnknownPops::First,
            must_wait: &[],
        },
    );
    complete.steps += spent;
    complete
}

/// What the fast phase's runs start from: the check's [`Shared`] data,
/// the likely [`Times`] and the table of pushes that must wait.
struct FastStart {
    shared: Shared,
    likely: Times,
    must_wait: Vec<Vec<usize>>,
}

impl FastStart {
    fn new(prepared: &Prepared, shared: Shared) -> Self {
        let likely = Times::new(prepared, false, &shared.exit_of);
        let must_wait = prune::must_wait_for(&prepared.entries, &likely.deadline, &likely.leaves, &shared.exit_of);
        FastStart {
            shared,
            likely,
            must_wait,
        }
    }

    /// The fast phase's runs (see [`search`]) after `spent` steps: the
    /// witness the first successful one finds, or the steps spent in all.
    fn run(&self, prepared: &Prepared, steps_max: u64, mut spent: u64) -> Result<SearchResult, u64> {
        let fast_max = (prepared.entries.len() as u64 * FAST_PHASE_STEPS_PER_ENTRY + 10_000).min(steps_max / 6);
        for unknown_pops in [UnknownPops::WhenNeeded, UnknownPops::First, UnknownPops::Last] {
            let phase = Phase {
                steps_max: fast_max,
                complete: false,
                unknown_pops,
                must_wait: &self.must_wait,
            };
            let fast = search_phase(prepared, &self.shared, &self.likely, phase);
            spent += fast.steps;
            if matches!(fast.outcome, SearchOutcome::Linearizable(_)) {
                return Ok(SearchResult { steps: spent, ..fast });
            }
        }
        Err(spent)
    }
}

/// The complete phase alone, without the fast phase's guesses: the same
/// verdicts as [`search`], found more slowly. For cross-checks: with the
/// fast phase in front, an unsound cut in the complete phase would hide
/// behind the witnesses the fast phase finds.
pub fn search_complete(prepared: &Prepared, steps_max: u64) -> SearchResult {
    let shared = Shared::new(prepared);
    let sound = Times::new(prepared, true, &shared.exit_of);
    let phase = Phase {
        steps_max,
        complete: true,
        unknown_pops: UnknownPops::First,
        must_wait: &[],
    };
    search_phase(prepared, &shared, &sound, phase)
}

impl Search<'_> {
    /// The pop that returned the value `push` pushed, if any.
    fn exit_of(&self, push: usize) -> Option<usize> {
        match self.entries[push].op {
            DequeOp::PushFront(v) | DequeOp::PushBack(v) => self.exits[v as usize],
            _ => None,
        }
    }

    fn fits(&self, entry: usize) -> bool {
        let e = &self.entries[entry];
        match e.ret {
            Some(DequeRet::Pushed) | None => true,
            Some(ret) => self.state.peek(&e.op) == ret,
        }
    }

    /// Linearizes `entry`; returns the value a pop removed.
    fn apply(&mut self, entry: usize) -> Option<u32> {
        let e = &self.entries[entry];
        self.linearized[entry] = true;
        if let Some(end) = self.interchangeable(entry) {
            self.unknown_used[end] += 1;
            self.set_hash ^= count_hash(end, self.unknown_used[end]);
        } else {
            self.set_hash ^= zobrist(entry);
        }
        self.path.push(entry);
        if !e.required {
            let front = matches!(e.op, DequeOp::PopFront);
            self.optional[usize::from(front)].remove(entry);
        }
        if e.required {
            self.deadlines.remove(entry);
            self.pending[usize::from(e.ret == Some(DequeRet::Pushed))].remove(self.required_position[entry]);
        }
        let removed = match e.op {
            DequeOp::PushFront(v) => {
                self.left_position -= 1;
                self.add_at(self.left_position, v);
                None
            }
            DequeOp::PushBack(v) => {
                self.add_at(self.left_position + self.state.items.len() as i64, v);
                None
            }
            DequeOp::PopFront => self.state.items.front().copied(),
            DequeOp::PopBack => self.state.items.back().copied(),
        };
        match e.op {
            DequeOp::PopFront if removed.is_some() => {
                self.remove_at(self.left_position, removed.expect("checked"));
                self.left_position += 1;
            }
            DequeOp::PopBack if removed.is_some() => {
                let position = self.left_position + self.state.items.len() as i64 - 1;
                self.remove_at(position, removed.expect("checked"));
            }
            _ => {}
        }
        self.state.invoke(&e.op);
        self.track(entry, removed, true);
        removed
    }

    fn undo(&mut self, entry: usize, removed: Option<u32>) {
        let e = &self.entries[entry];
        self.linearized[entry] = false;
        if let Some(end) = self.interchangeable(entry) {
            self.set_hash ^= count_hash(end, self.unknown_used[end]);
            self.unknown_used[end] -= 1;
        } else {
            self.set_hash ^= zobrist(entry);
        }
        self.path.pop();
        if !e.required {
            let front = matches!(e.op, DequeOp::PopFront);
            self.optional[usize::from(front)].insert(entry);
        }
        if e.required {
            self.deadlines.insert(entry);
            self.pending[usize::from(e.ret == Some(DequeRet::Pushed))].insert(self.required_position[entry]);
        }
        self.track(entry, removed, false);
        match (e.op, removed) {
            (DequeOp::PushFront(v), _) => {
                self.state.items.pop_front();
                self.remove_at(self.left_position, v);
                self.left_position += 1;
            }
            (DequeOp::PushBack(v), _) => {
                self.state.items.pop_back();
                self.remove_at(self.left_position + self.state.items.len() as i64, v);
            }
            (DequeOp::PopFront, Some(v)) => {
                self.left_position -= 1;
                self.add_at(self.left_position, v);
                self.state.items.push_front(v);
            }
            (DequeOp::PopBack, Some(v)) => {
                self.add_at(self.left_position + self.state.items.len() as i64, v);
                self.state.items.push_back(v);
            }
            _ => {}
        }
    }
}

/// When a fast phase tries an unknown pop that would remove a value nobody
/// observed (see [`search`]). Unknown pops are few and each removes one
/// such value, so spending one on a value that could have stayed (until
/// the end of a history without a drain, say) starves a value that must
/// go later; keeping them back starves a value whose removal was needed
/// early. Each fast run guesses one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnknownPops {
    /// Only when the value must leave before something pending can happen:
    /// a value in the deque leaves by that end, a value pushed at that end
    /// in the window leaves by the far end (it would have to pass), or a pop
    /// in the window must find the deque empty. Tried before the pushes.
    WhenNeeded,
    /// Whenever such a value is at an end, before the pushes.
    First,
    /// Whenever such a value is at an end, after the pushes.
    Last,
}

/// Which end a push adds at (true: the front).
fn push_end(op: &DequeOp) -> bool {
    op.is_push() && op.at_front()
}

/// A definite entry for the search's unit tests (its likely deadline is
/// its deadline).
#[cfg(test)]
fn test_entry(op: DequeOp, ret: Option<DequeRet>, invoke_us: u64, deadline_us: u64) -> Entry {
    Entry {
        history_index: 0,
        op,
        ret,
        invoke_us,
        deadline_us,
        likely_deadline_us: deadline_us,
        required: ret.is_some(),
    }
}
