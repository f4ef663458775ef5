//! Runs scenario x seed jobs in parallel over the cores, checks each history,
//! and compares each verdict with what the scenario expects. Results come back
//! in job order, whatever order the threads finished in.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::check::{CheckOptions, Verdict, check};
use crate::exit;
use crate::scenario::LoadedScenario;
use crate::sim;

/// Where a scenario runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The deterministic simulator: one seed is one exact run.
    #[default]
    Sim,
    /// Real memcached processes the harness starts, with real faults
    /// (`crate::real`): one seed fixes the choices, not the interleaving.
    Real,
}

/// Which seeds of each scenario to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedSelection {
    /// Run seeds `0..n` instead of the scenario's own.
    pub count: Option<u64>,
    /// Run only this seed.
    pub single: Option<u64>,
    /// Keep the seeds whose position is `k - 1` modulo `n` (CI sharding).
    pub shard: Option<(u64, u64)>,
}

impl SeedSelection {
    /// The seeds of `scenario` this selection keeps.
    pub fn seeds(&self, scenario: &LoadedScenario) -> Vec<u64> {
        let seeds = match (self.single, self.count) {
            (Some(seed), _) => vec![seed],
            (None, Some(count)) => (0..count).collect(),
            (None, None) => scenario.scenario.scenario.seeds.list(),
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

/// One scenario x seed, checked.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub path: String,
    /// Seed.
    pub seed: u64,
    /// The checker's verdict (liveness when the run itself did not finish).
    pub verdict: Verdict,
    /// Whether the scenario expects this verdict.
    pub expected: bool,
    /// Why the verdict.
    pub reason: String,
    /// Trace hash, hex.
    pub trace_hash: String,
    /// Operations in the history.
    pub ops: usize,
    /// Wall-clock milliseconds of simulation and check.
    pub wall_ms: f64,
    /// The variant run instead of the file's own, if the command line
    /// overrode it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_override: Option<String>,
    /// Where it ran.
    pub backend: Backend,
    /// A real run's counters (proxy fates, faults, memcached's evictions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real: Option<crate::real::RealStats>,
    /// An unexpected real run's history: the only evidence, since the run
    /// cannot be replayed exactly (`--report` writes it for `mcsim check`).
    #[serde(skip)]
    pub history: Option<crate::history::History>,
}

impl RunRecord {
    /// The exact command that replays this run.
    /// A real run cannot be replayed exactly, only run again with the same
    /// choices.
    pub fn replay(&self) -> String {
        let mut command = match self.backend {
            Backend::Sim => format!("mcsim repro {} --seed {}", self.path, self.seed),
            Backend::Real => format!("mcsim run {} --seed {} --backend real", self.path, self.seed),
        };
        if let Some(variant) = &self.variant_override {
            command.push_str(&format!(" --variant {variant}"));
        }
        command
    }
}

/// Runs every selected seed of every scenario in the simulator on
/// `threads` threads.
pub fn run_all(
    scenarios: &[LoadedScenario],
    selection: SeedSelection,
    threads: usize,
    progress: bool,
) -> Vec<RunRecord> {
    run_all_on(Backend::Sim, scenarios, selection, threads, progress)
}

/// Runs every selected seed of every scenario on `backend`, `threads` runs
/// at a time.
pub fn run_all_on(
    backend: Backend,
    scenarios: &[LoadedScenario],
    selection: SeedSelection,
    threads: usize,
    progress: bool,
) -> Vec<RunRecord> {
    let jobs: Vec<(usize, u64)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| selection.seeds(s).into_iter().map(move |seed| (i, seed)))
        .collect();
    let bar = if progress {
        ProgressBar::new(jobs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunRecord>>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(scenario, seed)) = jobs.get(index) else {
                        break;
                    };
                    let record = match backend {
                        Backend::Sim => run_one(&scenarios[scenario], seed),
                        Backend::Real => run_one_real(&scenarios[scenario], seed),
                    };
                    if !record.expected {
                        bar.set_message(format!("{} unexpected", record.scenario));
                    }
                    results.lock().expect("no worker panics while holding the lock")[index] = Some(record);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    results
        .into_inner()
        .expect("workers are done")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// Runs and checks one seed of one scenario in the simulator.
pub fn run_one(scenario: &LoadedScenario, seed: u64) -> RunRecord {
    let started = Instant::now();
    let config = scenario.config_for(seed);
    let (verdict, reason, trace_hash, ops) = match sim::run(&config, seed) {
        Err(error) => (
            Verdict::Unknown,
            format!("the run could not start: {error}"),
            String::new(),
            0,
        ),
        Ok(outcome) if outcome.stats.stuck => (
            Verdict::Liveness,
            "the run did not finish within the event budget".to_owned(),
            format!("{:016x}", outcome.trace_hash),
            outcome.history.ops.len(),
        ),
        Ok(outcome) => {
            let (verdict, reason) = judge(&outcome.history);
            (
                verdict,
                reason,
                format!("{:016x}", outcome.trace_hash),
                outcome.history.ops.len(),
            )
        }
    };
    record(
        scenario,
        seed,
        Backend::Sim,
        (verdict, reason),
        trace_hash,
        ops,
        started,
        None,
    )
}

/// Runs and checks one seed of one scenario on real memcached. A run the
/// real backend refuses or cannot set up is `unknown` (a harness failure),
/// with the reason.
pub fn run_one_real(scenario: &LoadedScenario, seed: u64) -> RunRecord {
    let started = Instant::now();
    let config = scenario.config_for(seed);
    match crate::real::run(&config, seed) {
        Err(error) => record(
            scenario,
            seed,
            Backend::Real,
            (Verdict::Unknown, format!("the run could not start: {error}")),
            String::new(),
            0,
            started,
            None,
        ),
        Ok(outcome) => {
            let judged = if outcome.stats.stuck {
                (
                    Verdict::Liveness,
                    "the clients did not finish within the deadline".to_owned(),
                )
            } else {
                judge(&outcome.history)
            };
            let ops = outcome.history.ops.len();
            let mut record = record(
                scenario,
                seed,
                Backend::Real,
                judged,
                String::new(),
                ops,
                started,
                Some(outcome.stats),
            );
            if !record.expected {
                record.history = Some(outcome.history);
            }
            record
        }
    }
}

fn judge(history: &crate::history::History) -> (Verdict, String) {
    let options = CheckOptions {
        explain: false,
        ..CheckOptions::default()
    };
    let report = check(history, options);
    (report.verdict, report.reason)
}

#[allow(clippy::too_many_arguments)]
fn record(
    scenario: &LoadedScenario,
    seed: u64,
    backend: Backend,
    (verdict, reason): (Verdict, String),
    trace_hash: String,
    ops: usize,
    started: Instant,
    real: Option<crate::real::RealStats>,
) -> RunRecord {
    RunRecord {
        scenario: scenario.name.clone(),
        path: scenario.path.display().to_string(),
        seed,
        verdict,
        expected: scenario.expect.contains(&verdict),
        reason,
        trace_hash,
        ops,
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
        variant_override: (scenario.scenario.scenario.variant != scenario.file_variant)
            .then(|| scenario.scenario.scenario.variant.clone()),
        backend,
        real,
        history: None,
    }
}

/// The exit status of a set of runs: the most serious unexpected class.
/// An unexpected passing verdict (a canary that stopped failing) counts as a
/// correctness failure of the suite.
pub fn exit_status(records: &[RunRecord]) -> u8 {
    let classes = records
        .iter()
        .filter(|r| !r.expected)
        .map(|r| match exit::for_verdict(r.verdict) {
            exit::OK => exit::CORRECTNESS,
            class => class,
        });
    let rank = |class: u8| match class {
        exit::CORRECTNESS => 3,
        exit::LIVENESS => 2,
        _ => 1,
    };
    classes.max_by_key(|&c| rank(c)).unwrap_or(exit::OK)
}

/// One summary row per scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    /// Scenario name.
    pub scenario: String,
    /// Seeds run.
    pub seeds: usize,
    /// How many seeds earned each verdict.
    pub verdicts: Vec<(Verdict, usize)>,
    /// Seeds whose verdict was not expected.
    pub unexpected: usize,
    /// The slowest seed and its wall time.
    pub slowest: Option<(u64, f64)>,
}

/// Summarises records per scenario, in scenario order.
pub fn summarise(records: &[RunRecord]) -> Vec<ScenarioSummary> {
    let mut summaries: Vec<ScenarioSummary> = Vec::new();
    for record in records {
        if summaries.last().is_none_or(|s| s.scenario != record.scenario) {
            summaries.push(ScenarioSummary {
                scenario: record.scenario.clone(),
                seeds: 0,
                verdicts: Vec::new(),
                unexpected: 0,
                slowest: None,
            });
        }
        let summary = summaries.last_mut().expect("just pushed");
        summary.seeds += 1;
        summary.unexpected += usize::from(!record.expected);
        match summary.verdicts.iter_mut().find(|(v, _)| *v == record.verdict) {
            Some((_, count)) => *count += 1,
            None => summary.verdicts.push((record.verdict, 1)),
        }
        if summary.slowest.is_none_or(|(_, ms)| record.wall_ms > ms) {
            summary.slowest = Some((record.seed, record.wall_ms));
        }
    }
    for summary in &mut summaries {
        summary.verdicts.sort();
    }
    summaries
}

/// The human-readable summary table and failure lines.
pub fn render(records: &[RunRecord]) -> String {
    let mut out = format!(
        "{:<24} {:>6} {:>10}  {:<16} verdicts\n",
        "scenario", "seeds", "unexpected", "slowest seed"
    );
    for s in summarise(records) {
        let verdicts: Vec<String> = s.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let slowest = s
            .slowest
            .map_or("-".to_owned(), |(seed, ms)| format!("{seed} ({ms:.0} ms)"));
        out.push_str(&format!(
            "{:<24} {:>6} {:>10}  {:<16} {}\n",
            s.scenario,
            s.seeds,
            s.unexpected,
            slowest,
            verdicts.join(", ")
        ));
    }
    for record in records.iter().filter(|r| !r.expected) {
        // A real run is a sample: the same command runs the same choices
        // again, not the same interleaving.
        let label = match record.backend {
            Backend::Sim => "replay",
            Backend::Real => "rerun",
        };
        out.push_str(&format!(
            "FAIL {} seed {}: {} (not expected): {}; {label}: {}\n",
            record.scenario,
            record.seed,
            record.verdict,
            record.reason,
            record.replay()
        ));
    }
    out
}

/// Writes one JSON record per run under `dir` (`<scenario>/seed-<seed>.json`),
/// and the history of an unexpected real run beside it
/// (`seed-<seed>.history.json`, for `mcsim check`).
pub fn write_reports(dir: &std::path::Path, records: &[RunRecord]) -> std::io::Result<()> {
    for record in records {
        let scenario_dir = dir.join(&record.scenario);
        std::fs::create_dir_all(&scenario_dir)?;
        let text = serde_json::to_string_pretty(record).expect("records serialise");
        std::fs::write(scenario_dir.join(format!("seed-{}.json", record.seed)), text)?;
        if let Some(history) = &record.history {
            let text = serde_json::to_string_pretty(history).expect("histories serialise");
            std::fs::write(scenario_dir.join(format!("seed-{}.history.json", record.seed)), text)?;
        }
    }
    Ok(())
}

/// JUnit XML that CI systems read: one test suite per scenario, one test case
/// per seed, a failure for every unexpected verdict (with its replay command).
pub fn junit(records: &[RunRecord]) -> String {
    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mcsim\">\n");
    for summary in summarise(records) {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
            escape(&summary.scenario),
            summary.seeds,
            summary.unexpected
        ));
        for record in records.iter().filter(|r| r.scenario == summary.scenario) {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"seed {}\" time=\"{:.3}\">",
                escape(&record.scenario),
                record.seed,
                record.wall_ms / 1e3
            ));
            if !record.expected {
                out.push_str(&format!(
                    "<failure message=\"{}\">{}; replay: {}</failure>",
                    escape(record.verdict.name()),
                    escape(&record.reason),
                    escape(&record.replay())
                ));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
