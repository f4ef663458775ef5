//! Explanations of failing histories, for people: the operation that cannot
//! be placed, the longest valid partial order, and the smallest failing
//! sub-history the shrinker finds, one line per operation.

use serde::Serialize;

use super::prepare::{PrepareOptions, prepare};
use super::search::search;
use crate::history::{History, HistoryOp, OpResult};

/// Steps each shrinking attempt may take.
const SHRINK_STEPS_MAX: u64 = 200_000;
/// Shrinking attempts at most.
const SHRINK_ATTEMPTS_MAX: usize = 3_000;
/// Histories longer than this (after the time cut) are not shrunk op by op.
const SHRINK_OPS_MAX: usize = 600;

/// What a person needs to see to understand a failure.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The operation that cannot be placed, rendered.
    pub stuck: Option<String>,
    /// The end of the longest valid partial linearization, rendered.
    pub longest_tail: Vec<String>,
    /// How many operations the longest partial linearization placed.
    pub longest_len: usize,
    /// History indices of the smallest failing sub-history found.
    pub minimal: Vec<usize>,
    /// The minimal sub-history as a history of its own (for `mcsim check`).
    pub minimal_history: History,
    /// Everything above as readable text.
    pub text: String,
}

/// One line per operation: index, client, op, value, interval, result.
pub fn render_op(index: usize, op: &HistoryOp) -> String {
    let returned = op.return_us.map_or("never".to_owned(), |r| format!("{r}"));
    let result = match &op.result {
        OpResult::Ok => "ok".to_owned(),
        OpResult::Value { value } => format!("-> {value}"),
        OpResult::Empty => "-> empty".to_owned(),
        OpResult::Unknown => "?? unknown outcome".to_owned(),
        OpResult::Failed { error } => format!("failed ({error})"),
        OpResult::Corruption { key, detail } => format!("CORRUPTION at {key}: {detail}"),
    };
    format!(
        "#{index:<5} client {:<3} {:<10} {:<10} [{:>9} .. {:>9}] {result}",
        op.client,
        op.op.as_str(),
        op.value.as_deref().unwrap_or(""),
        op.invoke_us,
        returned,
    )
}

impl Explanation {
    /// An explanation that lists the given operations.
    pub fn of_ops(history: &History, focus: &[usize]) -> Self {
        let minimal_history = History {
            ops: focus.iter().map(|&i| history.ops[i].clone()).collect(),
            losses: Vec::new(),
            drain_client: None,
        };
        let lines: Vec<String> = focus.iter().map(|&i| render_op(i, &history.ops[i])).collect();
        Explanation {
            stuck: None,
            longest_tail: Vec::new(),
            longest_len: 0,
            minimal: focus.to_vec(),
            minimal_history,
            text: lines.join("\n"),
        }
    }

    /// Explains a history with no valid linearization, spending at most
    /// `steps_max` search steps on shrinking it (the check's own budget:
    /// `--steps-max` bounds the explanation as it bounds the search).
    pub fn of_failure(
        history: &History,
        options: &PrepareOptions,
        stuck: Option<usize>,
        longest: &[usize],
        steps_max: u64,
    ) -> Self {
        let mut budget = steps_max;
        let (minimal, minimal_history) = shrink(history, options, &mut budget);
        let stuck_line = stuck.map(|i| render_op(i, &history.ops[i]));
        let tail_from = longest.len().saturating_sub(8);
        let longest_tail: Vec<String> = longest[tail_from..]
            .iter()
            .map(|&i| render_op(i, &history.ops[i]))
            .collect();
        let mut text = String::new();
        if let Some(line) = &stuck_line {
            text.push_str(&format!("cannot be placed:\n  {line}\n"));
        }
        text.push_str(&format!(
            "longest valid partial linearization: {} ops; its last {}:\n",
            longest.len(),
            longest_tail.len()
        ));
        for line in &longest_tail {
            text.push_str(&format!("  {line}\n"));
        }
        text.push_str(&format!(
            "smallest failing sub-history found ({} ops):\n",
            minimal.len()
        ));
        for (&i, op) in minimal.iter().zip(&minimal_history.ops) {
            text.push_str(&format!("  {}\n", render_op(i, op)));
        }
        Explanation {
            stuck: stuck_line,
            longest_tail,
            longest_len: longest.len(),
            minimal,
            minimal_history,
            text,
        }
    }
}

/// Whether `history` certainly fails, spending from `budget` (search steps
/// left for the whole explanation); an attempt the budget cannot pay for
/// counts as "does not fail", so shrinking stops where the money does.
fn fails(history: &History, options: &PrepareOptions, budget: &mut u64) -> bool {
    let prepared = prepare(history, |_, _| true, options);
    let result = search(&prepared, SHRINK_STEPS_MAX.min(*budget));
    *budget = budget.saturating_sub(result.steps);
    result.outcome.is_violation()
}

/// The history cut at `at_us` (later results unknown), keeping original
/// indices alongside.
fn cut(history: &History, indices: &[usize], at_us: u64) -> (Vec<usize>, History) {
    let mut kept = Vec::new();
    let mut ops = Vec::new();
    for &i in indices {
        let op = &history.ops[i];
        if op.invoke_us > at_us {
            continue;
        }
        kept.push(i);
        ops.push(match op.return_us {
            Some(r) if r <= at_us => op.clone(),
            _ => HistoryOp {
                return_us: None,
                result: OpResult::Unknown,
                ..op.clone()
            },
        });
    }
    (
        kept,
        History {
            ops,
            losses: history.losses.clone(),
            drain_client: history.drain_client,
        },
    )
}

/// Shrinks a failing history: first the earliest time cut that still fails,
/// then greedy removal of single operations (a push together with the pops
/// of its value), each kept out while the rest still fails.
fn shrink(history: &History, options: &PrepareOptions, budget: &mut u64) -> (Vec<usize>, History) {
    let all: Vec<usize> = (0..history.ops.len()).collect();
    let mut times: Vec<u64> = history.ops.iter().filter_map(|op| op.return_us).collect();
    times.sort_unstable();
    times.dedup();
    let (mut low, mut high) = (0usize, times.len());
    let mut attempts = 0;
    // Invariant: cutting at times[high - 1] (or not at all) fails.
    while low < high && attempts < 64 {
        attempts += 1;
        let middle = (low + high) / 2;
        if fails(&cut(history, &all, times[middle]).1, options, budget) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    let (mut indices, mut current) = match times.get(high) {
        Some(&at) => cut(history, &all, at),
        None => (all, history.clone()),
    };
    if current.ops.len() > SHRINK_OPS_MAX || !fails(&current, options, budget) {
        return (indices, current);
    }
    let mut position = current.ops.len();
    while position > 0 && attempts < SHRINK_ATTEMPTS_MAX && *budget > 0 {
        position -= 1;
        if position >= current.ops.len() {
            continue;
        }
        let removed_value = current.ops[position]
            .value
            .clone()
            .filter(|_| current.ops[position].op.is_push());
        let drop: Vec<bool> = current
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                i == position
                    || matches!((&removed_value, &op.result), (Some(v), OpResult::Value { value }) if v == value)
            })
            .collect();
        let candidate = History {
            ops: current
                .ops
                .iter()
                .zip(&drop)
                .filter(|(_, d)| !**d)
                .map(|(op, _)| op.clone())
                .collect(),
            ..current.clone()
        };
        attempts += 1;
        if fails(&candidate, options, budget) {
            indices = indices
                .iter()
                .zip(&drop)
                .filter(|(_, d)| !**d)
                .map(|(i, _)| *i)
                .collect();
            current = candidate;
        }
    }
    (indices, current)
}
