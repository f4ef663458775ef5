//! `mcsim bench checker`: how fast and how lean the linearizability checker
//! is, on seeded synthetic histories whose shape we control exactly:
//! `clients` sequential clients, each op lasting 50-500 us with 0-200 us
//! between ops, half pushes and half pops at random ends, results from a real
//! deque applied at a random instant inside each op, and 1% of the ops made
//! unknown-outcome (the op still took effect; the client never learnt how);
//! and on the adversarial families of `families`, each at growing sizes,
//! with the verdict known by construction.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::Serialize;

use super::families::Family;
use super::sim::peak_rss_bytes;
use crate::check::{CheckOptions, Verdict, check};
use crate::history::{History, HistoryOp, OpName, OpResult};

/// Which ends a generated history uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// Pushes and pops at both ends.
    Both,
    /// `push_back` and `pop_back` only: a stack.
    Stack,
    /// `push_back` and `pop_front` only: a queue.
    Queue,
}

/// A linearizable history of `ops` operations over `clients` clients.
pub fn generate_history(clients: u32, ops: usize, unknown_rate: f64, seed: u64, ends: Ends) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut clocks = vec![0u64; clients as usize];
    let mut planned: Vec<(u64, HistoryOp)> = Vec::with_capacity(ops);
    for i in 0..ops {
        let client = rng.random_range(0..clients);
        let invoke_us = clocks[client as usize] + rng.random_range(0..=200);
        let return_us = invoke_us + rng.random_range(50..=500);
        clocks[client as usize] = return_us;
        let linearized_at = rng.random_range(invoke_us..=return_us);
        let name = match (ends, rng.random_range(0..4)) {
            (Ends::Both, 0) => OpName::PushBack,
            (Ends::Both, 1) => OpName::PushFront,
            (Ends::Both, 2) => OpName::PopBack,
            (Ends::Both, _) => OpName::PopFront,
            (_, 0 | 1) => OpName::PushBack,
            (Ends::Stack, _) => OpName::PopBack,
            (Ends::Queue, _) => OpName::PopFront,
        };
        let value = name.is_push().then(|| format!("{client}.{i}"));
        let op = HistoryOp {
            client,
            op: name,
            value,
            invoke_us,
            return_us: Some(return_us),
            result: OpResult::Unknown,
        };
        planned.push((linearized_at, op));
    }
    planned.sort_by_key(|(at, op)| (*at, op.invoke_us));
    let mut deque: VecDeque<String> = VecDeque::new();
    let mut history = History::default();
    for (_, mut op) in planned {
        let result = match op.op {
            OpName::PushBack => {
                deque.push_back(op.value.clone().expect("pushes carry values"));
                OpResult::Ok
            }
            OpName::PushFront => {
                deque.push_front(op.value.clone().expect("pushes carry values"));
                OpResult::Ok
            }
            OpName::PopBack => deque
                .pop_back()
                .map_or(OpResult::Empty, |value| OpResult::Value { value }),
            OpName::PopFront => deque
                .pop_front()
                .map_or(OpResult::Empty, |value| OpResult::Value { value }),
        };
        op.result = if rng.random_bool(unknown_rate) {
            OpResult::Unknown
        } else {
            result
        };
        history.ops.push(op);
    }
    history.ops.sort_by_key(|op| op.invoke_us);
    history
}

/// One measured check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckerBenchPoint {
    /// Clients in the history.
    pub clients: u32,
    /// Operations in the history.
    pub ops: usize,
    /// The verdict (must be linearizable: the histories are built so).
    pub verdict: Verdict,
    /// Wall-clock seconds of the check.
    pub check_s: f64,
    /// Search steps.
    pub steps: u64,
    /// Dead configurations memoised (0: a witness found without
    /// backtracking, or no search).
    pub configurations: usize,
    /// Peak resident memory of the process after this check.
    pub peak_rss_bytes: Option<u64>,
}

/// Checks one generated history and measures it.
pub fn measure(clients: u32, ops: usize, seed: u64) -> CheckerBenchPoint {
    let history = generate_history(clients, ops, 0.01, seed, Ends::Both);
    let started = Instant::now();
    let report = check(&history, CheckOptions::default());
    CheckerBenchPoint {
        clients,
        ops,
        verdict: report.verdict,
        check_s: started.elapsed().as_secs_f64(),
        steps: report.steps,
        configurations: report.configurations,
        peak_rss_bytes: peak_rss_bytes(),
    }
}

/// Checks one MCAS bank history of about `ops` operations by `clients`
/// transfer clients (plus an auditor), stepped by the seeded scheduler on
/// the in-process store with 1% of replies lost (unknown outcomes), and
/// measures the check alone. `ops` in the point is the history's real
/// length: contention makes the count approximate.
pub fn measure_mcas(clients: u32, ops: usize, seed: u64) -> Result<CheckerBenchPoint, String> {
    use crate::mcas::bank_run::{BankConfig, run_bank};
    // About eight operations per transfer (three reads and the MCAS, with
    // the retries contention causes, and the audits).
    let config = BankConfig {
        clients: clients as usize,
        accounts: 8,
        transfers_per_client: (ops / (clients as usize * 8)).max(1),
        audits: (ops / (clients as usize * 8)).max(1),
        faults: memcache_collections::store::FaultRates {
            lose_request: 0.0,
            lose_reply: 0.01,
        },
        ..BankConfig::default()
    };
    let run = run_bank(&memcache_collections::MemoryStore::default(), &config, seed)?;
    let started = Instant::now();
    let report = crate::mcas::check_mcas(&run.history, crate::check::STEPS_MAX_DEFAULT)?;
    Ok(CheckerBenchPoint {
        clients,
        ops: run.history.ops.len(),
        verdict: report.verdict,
        check_s: started.elapsed().as_secs_f64(),
        steps: report.steps,
        configurations: 0,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// The human-readable table.
pub fn render_table(points: &[CheckerBenchPoint]) -> String {
    let mut out =
        String::from("clients       ops  verdict            check s       steps  configurations  peak RSS MiB\n");
    for p in points {
        out.push_str(&format!(
            "{:>7} {:>9}  {:<16} {:>9.3} {:>11} {:>15} {:>13}\n",
            p.clients,
            p.ops,
            p.verdict.name(),
            p.check_s,
            p.steps,
            p.configurations,
            p.peak_rss_bytes
                .map_or("-".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0)),
        ));
    }
    out
}

/// One measured check of an adversarial family's history.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyPoint {
    /// The family (`families`).
    pub family: &'static str,
    /// Its size parameter (concurrent pushes, or operations generated).
    pub size: usize,
    /// Operations in the history.
    pub ops: usize,
    /// The verdict a right checker gives.
    pub expected: Verdict,
    /// The verdict given.
    pub verdict: Verdict,
    /// Wall-clock seconds of the check, explanation included.
    pub check_s: f64,
    /// Search steps.
    pub steps: u64,
    /// Peak resident memory of the process after this check.
    pub peak_rss_bytes: Option<u64>,
}

impl FamilyPoint {
    /// Decided, and right.
    pub fn is_right(&self) -> bool {
        self.verdict == self.expected
    }
}

/// Every size of `family` in turn, stopping after the first check that
/// takes more than a second or is wrong (a larger one would only say the
/// same, slower). Sizes where the defect cannot be planted are skipped.
/// With `export`, each history is first written there as
/// `<family>-<size>.json`, for `mcsim check` or another checker.
///
/// # Errors
/// A history that cannot be written to `export` (the path in the message).
pub fn measure_family(family: Family, seed: u64, export: Option<&Path>) -> Result<Vec<FamilyPoint>, String> {
    let mut points = Vec::new();
    for &size in family.sizes() {
        let Some(history) = family.history(size, seed) else {
            continue;
        };
        if let Some(dir) = export {
            let path = dir.join(format!("{}-{size}.json", family.name()));
            let text = serde_json::to_string(&history).expect("histories serialise");
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let started = Instant::now();
        let report = check(&history, CheckOptions::default());
        let point = FamilyPoint {
            family: family.name(),
            size,
            ops: history.ops.len(),
            expected: family.verdict(),
            verdict: report.verdict,
            check_s: started.elapsed().as_secs_f64(),
            steps: report.steps,
            peak_rss_bytes: peak_rss_bytes(),
        };
        let stop = point.check_s > 1.0 || !point.is_right();
        points.push(point);
        if stop {
            break;
        }
    }
    Ok(points)
}

/// The families' table.
pub fn render_family_table(points: &[FamilyPoint]) -> String {
    let mut out = String::from(
        "family               size       ops  expected           verdict            check s       steps  peak RSS MiB\n",
    );
    for p in points {
        out.push_str(&format!(
            "{:<18} {:>7} {:>9}  {:<18} {:<18} {:>7.3} {:>11} {:>13}{}\n",
            p.family,
            p.size,
            p.ops,
            p.expected.name(),
            p.verdict.name(),
            p.check_s,
            p.steps,
            p.peak_rss_bytes
                .map_or("-".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0)),
            if p.is_right() { "" } else { "  WRONG" },
        ));
    }
    out
}
