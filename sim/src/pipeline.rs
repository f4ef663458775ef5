//! One run through the pipeline: plan -> world -> outcome -> judge ->
//! record. Every command that runs anything (run, repro, shrink, validate,
//! sim, the benches' checks) goes through [`run`], so they cannot disagree
//! about what a run earned. Worlds plug in at [`execute`].

use std::time::Instant;

use crate::check::CheckOptions;
use crate::judge::{Judgement, judge};
use crate::outcome::Outcome;
use crate::plan::{Backend, RunPlan};
use crate::record::RunRecord;

/// A run that went through every stage.
#[derive(Debug, Clone)]
pub struct Ran {
    pub plan: RunPlan,
    /// What the world handed back.
    pub outcome: Outcome,
    /// The verdict and whether it was expected.
    pub judgement: Judgement,
    /// The line of results.
    pub record: RunRecord,
}

/// Runs a plan in its world: refused plans never reach one.
pub fn execute(plan: &RunPlan) -> Outcome {
    let refusals = plan.refusals();
    if !refusals.is_empty() {
        let world = match plan.backend {
            Backend::Sim => "the simulator",
            Backend::Real => "the real backend",
        };
        return Outcome::could_not_start(format!("{world} cannot run this plan: {}", refusals.join("; ")));
    }
    match plan.backend {
        Backend::Sim => crate::sim::run(plan),
        Backend::Real => crate::real::run(plan),
    }
}

/// Simulates `config` with the deque's default algorithm from `seed`: a bare run
/// for tests and benchmarks (the plan of `RunPlan::for_config`).
pub fn simulate(config: &crate::config::RunConfig, seed: u64) -> Outcome {
    execute(&RunPlan::for_config(
        config.clone(),
        None,
        seed,
        memcache_collections::Variant::default(),
    ))
}

/// Runs, judges and records a plan.
pub fn run(plan: RunPlan, options: CheckOptions) -> Ran {
    let started = Instant::now();
    let outcome = execute(&plan);
    let judgement = judge(&outcome, &plan.expect, options);
    let record = RunRecord::new(&plan, &outcome, &judgement, started.elapsed().as_secs_f64() * 1e3);
    Ran {
        plan,
        outcome,
        judgement,
        record,
    }
}

/// Check options for bulk runs: no explanation (a report computes it
/// later from where the search failed, if asked).
pub fn quiet() -> CheckOptions {
    CheckOptions {
        explain: false,
        ..CheckOptions::default()
    }
}

/// The first index where `a` and `b` differ, if any.
fn first_differing<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

/// What a self-check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divergence {
    /// The two runs' trace hashes differ.
    TraceHash(u64, u64),
    /// The histories differ at this operation index.
    History(usize),
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::TraceHash(a, b) => write!(f, "trace hashes {a:016x} and {b:016x} differ"),
            Divergence::History(index) => write!(f, "histories differ at operation {index}"),
        }
    }
}

/// Executes a plan twice and compares traces and histories (FoundationDB's
/// "unseed" idea: any divergence is a determinism bug).
pub fn divergence(first: &Outcome, plan: &RunPlan) -> Option<Divergence> {
    let second = execute(plan);
    match (first.trace_hash, second.trace_hash) {
        (Some(a), Some(b)) if a != b => return Some(Divergence::TraceHash(a, b)),
        _ => {}
    }
    let differs = match (&first.mcas, &second.mcas) {
        (Some(a), Some(b)) => first_differing(&a.history.ops, &b.history.ops),
        _ => first_differing(&first.history.ops, &second.history.ops),
    };
    differs.map(Divergence::History)
}
