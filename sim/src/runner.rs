//! Many runs at once: scenario x seed plans over worker threads, each
//! through the one pipeline (`crate::pipeline`), with a sink that sees every
//! run whole (plan, outcome, judgement) while its trace is still in memory,
//! for outputs that need more than the record (history files, HTML pages).
//! Records come back in plan order, whatever order the threads finished in.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::pipeline::{self, Ran};
use crate::plan::{Overrides, RunPlan};
use crate::record::RunRecord;
use crate::scenario::LoadedScenario;

/// Which seeds of each scenario to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedSelection {
    /// Run seeds `0..n` instead of the scenario's own.
    pub count: Option<u64>,
    /// Run only this seed.
    pub single: Option<u64>,
    /// Keep the seeds whose position is `k - 1` modulo `n` (CI sharding).
    pub shard: Option<(u64, u64)>,
    /// Leave out the scenarios' pinned seeds: a seed fixes a simulated
    /// run's race, not a real one's interleaving, so real runs skip them.
    pub skip_pinned: bool,
}

impl SeedSelection {
    /// The seeds of `scenario` this selection keeps: `--seed S` alone, or
    /// the chosen seeds followed by the scenario's pinned seeds they lack
    /// (a regression's race-reaching seeds run under `--seeds` too), then
    /// split by `--shard`.
    pub fn seeds(&self, scenario: &LoadedScenario) -> Vec<u64> {
        let seeds = match (self.single, self.count) {
            (Some(seed), _) => vec![seed],
            (None, count) => {
                let mut seeds = match count {
                    Some(count) => (0..count).collect(),
                    None => scenario.scenario.meta.seeds.list(),
                };
                let chosen = seeds.clone();
                let pinned = if self.skip_pinned {
                    &[][..]
                } else {
                    &scenario.scenario.meta.pinned[..]
                };
                seeds.extend(pinned.iter().filter(|seed| !chosen.contains(seed)));
                seeds
            }
        };
        match self.shard {
            Some((k, n)) => seeds
                .into_iter()
                .enumerate()
                .filter(|(position, _)| *position as u64 % n == k - 1)
                .map(|(_, seed)| seed)
                .collect(),
            None => seeds,
        }
    }
}

/// The plans of every selected seed of every scenario, scenario by
/// scenario.
///
/// A canary (a scenario whose own variant is a deliberately broken one)
/// keeps its variant under `overrides.variant`: it checks that the harness
/// still catches a known bug, and run with a correct algorithm it would
/// only fail its own expectation. Validation hunts, which do want every
/// scenario under the variant, build their plans themselves. A variant
/// override runs the scenarios of its own subject only ([`of_subject`]).
pub fn plans(scenarios: &[LoadedScenario], selection: SeedSelection, overrides: Overrides) -> Vec<RunPlan> {
    let selection = SeedSelection {
        skip_pinned: selection.skip_pinned || overrides.backend == crate::plan::Backend::Real,
        ..selection
    };
    scenarios
        .iter()
        .filter(|scenario| of_subject(scenario, overrides.variant))
        .flat_map(|scenario| {
            let overrides = if scenario.scenario.meta.variant.is_broken() {
                Overrides {
                    variant: None,
                    ..overrides
                }
            } else {
                overrides
            };
            selection
                .seeds(scenario)
                .into_iter()
                .map(move |seed| RunPlan::for_scenario(scenario, seed, overrides))
        })
        .collect()
}

/// Whether `scenario` can run under the override `variant`: an algorithm
/// of one subject cannot run another's workload (the deque's variants on
/// the bank, or MCAS's on a deque).
pub fn of_subject(scenario: &LoadedScenario, variant: Option<crate::algorithm::Algorithm>) -> bool {
    variant.is_none_or(|v| v.subject() == scenario.scenario.meta.subject)
}

/// What a batch of runs produced.
#[derive(Debug)]
pub struct Batch {
    /// One record per plan, in plan order.
    pub records: Vec<RunRecord>,
    /// What the sink could not do (a report it could not write), if
    /// anything: a harness failure.
    pub sink_errors: Vec<String>,
}

/// Runs every plan on `threads` workers, calling `sink` with each finished
/// run on its worker.
pub fn run_all(
    plans: Vec<RunPlan>,
    threads: usize,
    progress: bool,
    sink: &(dyn Fn(&Ran) -> Result<(), String> + Sync),
) -> Batch {
    let bar = if progress {
        ProgressBar::new(plans.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let jobs: Vec<Mutex<Option<RunPlan>>> = plans.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunRecord>>> = Mutex::new(vec![None; jobs.len()]);
    let sink_errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else {
                        break;
                    };
                    let plan = job
                        .lock()
                        .expect("no worker panics while holding a job")
                        .take()
                        .expect("each job is taken once");
                    let ran = pipeline::run(plan, pipeline::quiet());
                    if let Err(error) = sink(&ran) {
                        sink_errors.lock().expect("not poisoned").push(error);
                    }
                    if !ran.record.expected {
                        bar.set_message(format!("{} unexpected", ran.record.scenario));
                    }
                    results.lock().expect("no worker panics while holding the lock")[index] = Some(ran.record);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    Batch {
        records: results
            .into_inner()
            .expect("workers are done")
            .into_iter()
            .map(|r| r.expect("every job ran"))
            .collect(),
        sink_errors: sink_errors.into_inner().expect("workers are done"),
    }
}

/// Runs every selected seed of every scenario (no progress bar, nothing
/// kept but the records).
pub fn run_scenarios(
    scenarios: &[LoadedScenario],
    selection: SeedSelection,
    overrides: Overrides,
    threads: usize,
) -> Vec<RunRecord> {
    run_all(plans(scenarios, selection, overrides), threads, false, &no_sink).records
}

/// A sink that keeps nothing.
pub fn no_sink(_: &Ran) -> Result<(), String> {
    Ok(())
}
