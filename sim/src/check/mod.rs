//! The checkers: is a history linearizable against a sequential deque, and
//! when entries were lost, was every effect of the loss reported?
//!
//! # Verdicts (first matching rule wins)
//! 1. `silent-corruption`: a value was popped twice, or a popped value was
//!    never pushed (duplicated or invented, whatever else happened).
//! 2. `false-alarm`: an operation returned a corruption error before any
//!    entry was lost.
//! 3. `liveness`: an operation gave up after its retry bound
//!    (`retries_exhausted`).
//! 4. The linearizability search runs on the whole history (drain included),
//!    after the sound rules of [`patterns`] (a pop before its push, a value
//!    certainly present at an `empty`, two values leaving in an order their
//!    positions forbid, a value buried for ever under one nobody took out),
//!    which decide most violations without searching.
//!    An acknowledged value nobody ever popped is forgiven only when a
//!    reported loss explains it ([`forgive`]: the loss held its node, or
//!    the anchor after its push was invoked); any other value must be
//!    found, whatever was reported (a deque re-created after a loss starts
//!    afresh).
//!    Then:
//!    - a valid order exists: `detected-corruption` if entries were lost and
//!      the loss was reported, else `linearizable` (a loss with no visible
//!      effect is no failure);
//!    - the step budget ran out: `unknown` (never a pass);
//!    - no valid order: `silent-corruption` if acknowledged values vanished
//!      beyond what unknown pops could have taken, with no report to account
//!      for them; else `not-linearizable` if the part that must be
//!      linearizable on its own fails too (the history before the first
//!      loss, or without a loss, the workload before the drain); else
//!      `silent-corruption` (the stored contents were wrong in a way only the
//!      drain, or results after the loss, reveal).

mod brute;
mod explain;
pub mod forgive;
mod hash;
pub mod patterns;
pub mod porcupine;
pub mod prepare;
mod rank;
pub mod search;
pub mod spec;
pub mod wgl;

use rustc_hash::FxHashMap;

use serde::Serialize;

pub use brute::brute_force_linearizable;
pub use explain::{Explanation, render_op};
use patterns::Refutation;
use prepare::{PrepareOptions, prepare};
use search::{SearchOutcome, search};

use crate::history::{FailKind, History, HistoryOp, OpResult};
pub use crate::verdict::Verdict;

/// Steps a check may take before answering `unknown`. It also bounds memory:
/// the memo holds at most one 16-byte configuration per step, so a check
/// stays well under 1 GiB.
pub const STEPS_MAX_DEFAULT: u64 = 20_000_000;

/// A checker's full answer.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub verdict: Verdict,
    /// One sentence on why.
    pub reason: String,
    /// For failures: the smallest failing sub-history found, and more
    /// (computed when asked, by [`CheckOptions::explain`] or [`explain`]).
    pub explanation: Option<Explanation>,
    /// Where the search failed, kept so that [`explain`] can explain the
    /// failure later without searching again.
    #[serde(skip)]
    pub failure: Option<FailurePoint>,
    /// Search steps taken.
    pub steps: u64,
    /// Dead configurations memoised (every continuation tried); 0 when
    /// a witness was found without backtracking.
    pub configurations: usize,
}

/// Checker settings.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// The search's step budget.
    pub steps_max: u64,
    /// Shrink failures to a small sub-history (costs extra searches).
    pub explain: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            steps_max: STEPS_MAX_DEFAULT,
            explain: true,
        }
    }
}

/// Operations from which the checker scans for values popped twice or
/// never pushed on a thread beside the preparation (both read the whole
/// history, and the search needs both). Below it a thread costs more than
/// it saves (a 10,000-operation history is checked in milliseconds); above
/// it the wall time is the longer of the two, and the answer is the one
/// the sequential order gives. The search does the same with the rules of
/// `patterns` beside its quick run's preparation (`search::search`); a
/// refutation waits for that preparation, which is short (planted-swap at
/// 100,000 operations: 0.03 s before, 0.05 s; the fast phase's whole
/// preparation was far longer: 0.1 s became 0.9 s on the `lost-value`
/// family when the rules were first tried beside it).
pub const CONCURRENT_ENTRIES_MIN: usize = 50_000;

/// Checks a history and returns its verdict.
pub fn check(history: &History, options: CheckOptions) -> CheckReport {
    let plain = |verdict, reason: String, focus: Vec<usize>| CheckReport {
        verdict,
        reason,
        explanation: (!focus.is_empty()).then(|| Explanation::of_ops(history, &focus)),
        failure: None,
        steps: 0,
        configurations: 0,
    };
    let options_prepare = PrepareOptions {
        forgiven: std::sync::Arc::new(forgive::explained_values(history)),
    };
    // Both read the whole history; on a long one, on two threads.
    let (duplicated, prepared) = if history.ops.len() >= CONCURRENT_ENTRIES_MIN {
        std::thread::scope(|scope| {
            let scan = std::thread::Builder::new().spawn_scoped(scope, || duplicated_or_invented(history));
            let prepared = prepare(history, |_, _| true, &options_prepare);
            let duplicated = match scan {
                Ok(scan) => scan.join().expect("the scan does not panic"),
                // No thread to spare (a process or memory limit): in turn.
                Err(_) => duplicated_or_invented(history),
            };
            (duplicated, Some(prepared))
        })
    } else {
        (duplicated_or_invented(history), None)
    };
    if let Some((reason, focus)) = duplicated {
        return plain(Verdict::SilentCorruption, reason, focus);
    }
    let first_loss_us = history.losses.iter().map(|l| l.at_us).min();
    let early_report = history.ops.iter().position(|op| {
        matches!(op.result, OpResult::Corruption { .. })
            && first_loss_us.is_none_or(|loss| op.return_us.is_some_and(|r| r < loss))
    });
    if let Some(index) = early_report {
        return plain(
            Verdict::FalseAlarm,
            format!("op {index} reported corruption, but no entry had been lost"),
            vec![index],
        );
    }
    if let Some(index) = history.ops.iter().position(|op| {
        matches!(
            op.result,
            OpResult::Failed {
                error: FailKind::RetriesExhausted
            }
        )
    }) {
        return plain(
            Verdict::Liveness,
            format!("op {index} gave up after its retry bound"),
            vec![index],
        );
    }
    let last_report_us = first_loss_us.and_then(|loss| {
        history
            .ops
            .iter()
            .filter(|op| matches!(op.result, OpResult::Corruption { .. }))
            .filter_map(|op| op.return_us)
            .filter(|&r| r >= loss)
            .max()
    });
    let reported = last_report_us.is_some();
    let prepared = prepared.unwrap_or_else(|| prepare(history, |_, _| true, &options_prepare));
    let result = search(&prepared, options.steps_max);
    let mut report = CheckReport {
        verdict: Verdict::Linearizable,
        reason: String::new(),
        explanation: None,
        failure: None,
        steps: result.steps,
        configurations: result.configurations,
    };
    match result.outcome {
        SearchOutcome::Linearizable(_) if reported => {
            report.verdict = Verdict::DetectedCorruption;
            report.reason = "entries were lost and the loss was reported; the rest is linearizable".into();
        }
        SearchOutcome::Linearizable(_) => {
            report.reason = "a valid linearization exists".into();
        }
        SearchOutcome::Unknown => {
            report.verdict = Verdict::Unknown;
            report.reason = format!("the search ran out of its {} step budget", options.steps_max);
        }
        SearchOutcome::Refuted(refutation) => {
            let (verdict, reason) = classify_failure(history, reported, first_loss_us, options.steps_max);
            report.verdict = verdict;
            report.reason = reason;
            report.failure = Some(FailurePoint {
                steps_max: options.steps_max,
                prepare: options_prepare.clone(),
                stuck_op: None,
                longest_ops: Vec::new(),
                refutation: Some(refutation),
            });
            if options.explain {
                report.explanation = explain(history, &report);
            }
        }
        SearchOutcome::NotLinearizable { longest, stuck } => {
            let (verdict, reason) = classify_failure(history, reported, first_loss_us, options.steps_max);
            report.verdict = verdict;
            report.reason = reason;
            report.failure = Some(FailurePoint {
                steps_max: options.steps_max,
                prepare: options_prepare,
                stuck_op: stuck.map(|e| prepared.entries[e].history_index),
                longest_ops: longest.iter().map(|&e| prepared.entries[e].history_index).collect(),
                refutation: None,
            });
            if options.explain {
                report.explanation = explain(history, &report);
            }
        }
    }
    report
}

/// Where a search found no valid order: enough to explain the failure
/// later.
#[derive(Debug, Clone)]
pub struct FailurePoint {
    steps_max: u64,
    prepare: PrepareOptions,
    stuck_op: Option<usize>,
    longest_ops: Vec<usize>,
    /// The rule that refuted the history without searching, if one did.
    refutation: Option<Refutation>,
}

/// The explanation of a failing report of `history`: the one the report
/// carries, or, for a search failure checked without one, computed now from
/// where the search failed (no second full search).
pub fn explain(history: &History, report: &CheckReport) -> Option<Explanation> {
    if let Some(explanation) = &report.explanation {
        return Some(explanation.clone());
    }
    let failure = report.failure.as_ref()?;
    if let Some(refutation) = &failure.refutation {
        let mut focus = refutation.ops.clone();
        focus.sort_unstable();
        let mut explanation = Explanation::of_ops(history, &focus);
        explanation.text = format!("{}:\n{}", refutation.reason, explanation.text);
        return Some(explanation);
    }
    Some(Explanation::of_failure(
        history,
        &failure.prepare,
        failure.stuck_op,
        &failure.longest_ops,
        failure.steps_max,
    ))
}

/// Why a history with no valid order failed, in the verdicts' terms.
fn classify_failure(
    history: &History,
    reported: bool,
    first_loss_us: Option<u64>,
    steps_max: u64,
) -> (Verdict, String) {
    let lost = vanished_values(history);
    let unknown_pops = history
        .ops
        .iter()
        .filter(|op| !op.op.is_push() && op.result == OpResult::Unknown)
        .count();
    if !reported && lost.len() > unknown_pops {
        return (
            Verdict::SilentCorruption,
            format!(
                "{} acknowledged values were gone by a later empty pop without being popped ({}), more than {unknown_pops} unknown pops could have taken, and no corruption was reported",
                lost.len(),
                lost.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let (part, description) = match first_loss_us {
        Some(loss) => (
            before(history, loss),
            format!("the history before the first loss (at {loss} us)"),
        ),
        None if history.drain_client.is_some() => (without_drain(history), "the workload before the drain".to_owned()),
        // No loss and no drain: the part is the history the search already
        // failed on.
        None => return (Verdict::NotLinearizable, "no valid linearization exists".to_owned()),
    };
    let part_result = search(&prepare(&part, |_, _| true, &PrepareOptions::default()), steps_max);
    match part_result.outcome {
        SearchOutcome::NotLinearizable { .. } | SearchOutcome::Refuted(_) => (
            Verdict::NotLinearizable,
            format!("no valid linearization exists, already for {description}"),
        ),
        _ if first_loss_us.is_some() => {
            let unexplained = unexplained_values(history);
            let reason = if unexplained.is_empty() {
                "results after the loss cannot be explained by the loss, and no report accounts for them".to_owned()
            } else {
                format!(
                    "{} acknowledged values were never popped and no reported loss held them ({}): a corruption \
                     report does not excuse a value no loss could have taken",
                    unexplained.len(),
                    unexplained.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                )
            };
            (Verdict::SilentCorruption, reason)
        }
        _ => (
            Verdict::SilentCorruption,
            "the workload is linearizable but the drain found contents no linearization leaves behind".into(),
        ),
    }
}

/// Values popped twice, or popped but never pushed.
fn duplicated_or_invented(history: &History) -> Option<(String, Vec<usize>)> {
    // Looked up, never iterated: the first offending pop in history order
    // is found whatever the map's order.
    let mut pushes: FxHashMap<&str, usize> = FxHashMap::default();
    pushes.reserve(history.ops.len());
    for (i, op) in history.ops.iter().enumerate() {
        if let Some(value) = op.value.as_deref().filter(|_| op.op.is_push()) {
            pushes.insert(value, i);
        }
    }
    let mut pops: FxHashMap<&str, usize> = FxHashMap::default();
    pops.reserve(history.ops.len());
    for (i, op) in history.ops.iter().enumerate() {
        let OpResult::Value { value } = &op.result else {
            continue;
        };
        let Some(&push) = pushes.get(value.as_str()) else {
            return Some((format!("op {i} popped {value:?}, which no op pushed"), vec![i]));
        };
        if let Some(&first) = pops.get(value.as_str()) {
            return Some((
                format!("{value:?} was popped twice (ops {first} and {i})"),
                vec![push, first, i],
            ));
        }
        pops.insert(value, i);
    }
    None
}

/// Acknowledged pushes whose value no pop returned although a pop found
/// the deque empty after the push returned (the drain ends that way): those
/// values are gone. A value nobody popped and no later `empty` contradicts
/// may simply still be in the deque at the end; it is no loss.
fn vanished_values(history: &History) -> Vec<String> {
    let popped = history.popped_values();
    let Some(last_empty_invoke_us) = history
        .ops
        .iter()
        .filter(|op| op.result == OpResult::Empty)
        .map(|op| op.invoke_us)
        .max()
    else {
        return Vec::new();
    };
    history
        .ops
        .iter()
        .filter(|op| op.op.is_push() && op.result == OpResult::Ok)
        .filter(|op| op.return_us.is_some_and(|r| r < last_empty_invoke_us))
        .filter_map(|op| op.value.clone())
        .filter(|v| !popped.contains(v.as_str()))
        .collect()
}

/// Acknowledged values nobody popped that no reported loss explains
/// ([`forgive`]), in push order.
fn unexplained_values(history: &History) -> Vec<String> {
    let popped = history.popped_values();
    let explained = forgive::explained_values(history);
    history
        .ops
        .iter()
        .filter(|op| op.op.is_push() && op.result == OpResult::Ok)
        .filter_map(|op| op.value.clone())
        .filter(|v| !popped.contains(v.as_str()) && !explained.contains(v))
        .collect()
}

/// The history as it stood at `at_us`: ops invoked before it, with results
/// that came later made unknown.
fn before(history: &History, at_us: u64) -> History {
    let ops = history
        .ops
        .iter()
        .filter(|op| op.invoke_us < at_us)
        .map(|op| match op.return_us {
            Some(r) if r < at_us => op.clone(),
            _ => HistoryOp {
                return_us: None,
                result: OpResult::Unknown,
                ..op.clone()
            },
        })
        .collect();
    History {
        ops,
        losses: Vec::new(),
        drain_client: None,
    }
}

/// The history without the drain client's ops.
fn without_drain(history: &History) -> History {
    History {
        ops: history
            .ops
            .iter()
            .filter(|op| Some(op.client) != history.drain_client)
            .cloned()
            .collect(),
        losses: Vec::new(),
        drain_client: None,
    }
}
