//! One line of results per run: what ran (scenario, seed, variant,
//! backend), what it earned, the command that runs it again, and what
//! happened, counted. Every output (summary table, JSON, JUnit, HTML page)
//! and the exit status read records, never the worlds.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit;
use crate::judge::Judgement;
use crate::outcome::{Counters, OpCounts, Outcome};
use crate::plan::{Backend, RunPlan};
use crate::reach::{Reach, ReachTally};
use crate::scenario::SwarmDraws;
use crate::verdict::Verdict;

/// One run, judged. Written as JSON by `run --report` and read back by
/// `mcsim merge`, which sums the records of a suite run as CI shards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub scenario: String,
    /// Scenario (or configuration) file, if any.
    pub path: String,
    pub seed: u64,
    /// The algorithm that ran.
    pub variant: String,
    /// Whether the command line chose the variant.
    pub variant_overridden: bool,
    /// Where it ran.
    pub backend: Backend,
    /// The client process that ran the operations (`--client-cmd`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_command: Option<String>,
    pub verdict: Verdict,
    /// Whether the scenario expects it.
    pub expected: bool,
    /// The verdicts the scenario accepts (so a failure can say what it
    /// should have been).
    #[serde(default)]
    pub expect: Vec<Verdict>,
    /// Why the verdict.
    pub reason: String,
    /// The exit status this run alone calls for (0 when expected).
    pub exit_class: u8,
    /// The command that runs it again (a replay in the simulator, a rerun on
    /// real memcached).
    pub replay: String,
    /// Trace hash, hex, where the world keeps one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
    /// The workload's operations by result.
    pub ops: OpCounts,
    /// What happened, counted.
    pub counters: Counters,
    /// The scenario's reachability condition, if it states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
    /// Whether this run reached it (`None`: no condition, or its world
    /// cannot see the event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<bool>,
    /// Whether the seed is one the scenario pins (it must reach the event).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// A swarm seed's drawn fault rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmDraws>,
    /// Wall-clock milliseconds of run and check.
    pub wall_ms: f64,
}

impl RunRecord {
    /// The record of `plan`'s run.
    pub fn new(plan: &RunPlan, outcome: &Outcome, judgement: &Judgement, wall_ms: f64) -> RunRecord {
        let (path, variant, seed) = plan.run_id();
        RunRecord {
            scenario: plan.name.clone(),
            path,
            seed,
            variant,
            variant_overridden: plan.variant_overridden,
            backend: plan.backend,
            client_command: plan.client_command.clone(),
            verdict: judgement.verdict,
            expected: judgement.expected,
            expect: plan.expect.verdicts.clone(),
            reason: judgement.reason.clone(),
            exit_class: judgement.exit_class(),
            replay: plan.replay().to_string(),
            trace_hash: outcome.trace_hash.map(|h| format!("{h:016x}")),
            ops: outcome.op_counts(),
            counters: outcome.counters.clone(),
            reach: plan.expect.reach,
            reached: plan.expect.reach.and_then(|reach| reach.reached(&outcome.counters)),
            pinned: plan.expect.pinned,
            swarm: plan.swarm.clone(),
            wall_ms,
        }
    }

    /// "replay" for a simulated run, "rerun" for a real one.
    pub fn replay_label(&self) -> &'static str {
        match self.backend {
            Backend::Sim => "replay",
            Backend::Real => "rerun",
        }
    }

    /// What the scenario accepts, for a reader: `linearizable or
    /// detected-corruption`.
    pub fn expected_text(&self) -> String {
        let names: Vec<&str> = self.expect.iter().map(|v| v.name()).collect();
        names.join(" or ")
    }

    /// The failure line: what went wrong, ending with the command.
    pub fn failure_line(&self) -> String {
        format!(
            "FAIL {} seed {}{}: {} (expected {}): {}; {}: {}",
            self.scenario,
            self.seed,
            if self.variant_overridden {
                format!(" ({})", self.variant)
            } else {
                String::new()
            },
            self.verdict,
            self.expected_text(),
            self.reason,
            self.replay_label(),
            self.replay
        )
    }
}

/// Which reach floors a set of records answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floors {
    /// The whole selection of a suite run: the share floors and every
    /// pinned seed.
    Whole,
    /// A part of one (a `--shard`, a single `--seed`): a share over a slice
    /// says nothing, so only pinned seeds must reach their event; `merge`
    /// checks the shares over the whole.
    PinnedOnly,
}

/// The exit status of a set of runs: the most serious class among the
/// unexpected ones (correctness, then liveness, then harness), and a harness
/// failure if a scenario's runs reached its event less often than its
/// floor ([`reach_failures`]).
pub fn exit_status(records: &[RunRecord], floors: Floors) -> u8 {
    let runs = records.iter().map(|r| r.exit_class).fold(exit::OK, exit::worst);
    if reach_failures(records, floors).is_empty() {
        runs
    } else {
        exit::worst(runs, exit::HARNESS)
    }
}

/// The scenarios whose runs reached their event less often than their
/// floor (or whose pinned seed missed it): each a line saying so, for the
/// end of a summary.
pub fn reach_failures(records: &[RunRecord], floors: Floors) -> Vec<String> {
    summarise(records)
        .iter()
        .filter_map(|summary| summary.reach.as_ref())
        .filter(|tally| match floors {
            Floors::Whole => tally.below_floor(),
            Floors::PinnedOnly => !tally.pinned_unreached.is_empty(),
        })
        .map(|tally| {
            // Rerun the scenario on its own seeds (pinned ones included); a
            // pinned seed that missed replays on its own with `repro`.
            let record = records.iter().find(|r| r.scenario == tally.scenario);
            let path = record.map_or(tally.scenario.as_str(), |r| r.path.as_str());
            let mut options = record
                .filter(|r| r.variant_overridden)
                .map_or(String::new(), |r| format!(" --variant {}", r.variant));
            let real = record.is_some_and(|r| r.backend == Backend::Real);
            // Seeds 0..N (`--seeds N`, or the scenario's own count) again.
            let mut seeds: Vec<u64> = (records.iter())
                .filter(|r| r.scenario == tally.scenario && !r.pinned)
                .map(|r| r.seed)
                .collect();
            seeds.sort_unstable();
            let first_n = !seeds.is_empty() && seeds.iter().zip(0..).all(|(&seed, i)| seed == i);
            let seeds_option = if first_n {
                format!(" --seeds {}", seeds.len())
            } else {
                String::new()
            };
            if let Some(command) = record.and_then(|r| r.client_command.as_deref()) {
                options.push_str(&format!(" --client-cmd {}", crate::replay::quoted(Path::new(command))));
            }
            let replay = match tally.pinned_unreached.first() {
                Some(seed) if !real => format!("mcsim repro {path} --seed {seed}{options}"),
                Some(seed) => format!("mcsim run {path} --seed {seed} --backend real{options}"),
                None if real => format!("mcsim run {path}{seeds_option} --backend real{options}"),
                None => format!("mcsim run {path}{seeds_option}{options}"),
            };
            format!(
                "UNREACHED {}: the scenario no longer tests the event it is about; rerun: {replay}",
                tally.describe()
            )
        })
        .collect()
}

/// One summary row per scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub seeds: usize,
    /// How many seeds earned each verdict.
    pub verdicts: Vec<(Verdict, usize)>,
    /// Seeds whose verdict was not expected.
    pub unexpected: usize,
    /// The workload's operations by result, over every seed.
    pub ops: OpCounts,
    /// The slowest seed and its wall time.
    pub slowest: Option<(u64, f64)>,
    /// How the runs fared against the scenario's reachability condition.
    pub reach: Option<ReachTally>,
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
                ops: OpCounts::default(),
                slowest: None,
                reach: record.reach.map(|reach| ReachTally {
                    scenario: record.scenario.clone(),
                    reach,
                    observed: 0,
                    reached: 0,
                    pinned_unreached: Vec::new(),
                }),
            });
        }
        let summary = summaries.last_mut().expect("just pushed");
        summary.seeds += 1;
        summary.unexpected += usize::from(!record.expected);
        let ops = &mut summary.ops;
        ops.total += record.ops.total;
        ops.succeeded += record.ops.succeeded;
        ops.failed += record.ops.failed;
        ops.unknown += record.ops.unknown;
        ops.corruption += record.ops.corruption;
        match summary.verdicts.iter_mut().find(|(v, _)| *v == record.verdict) {
            Some((_, count)) => *count += 1,
            None => summary.verdicts.push((record.verdict, 1)),
        }
        if let (Some(tally), Some(reached)) = (&mut summary.reach, record.reached) {
            tally.observed += 1;
            tally.reached += usize::from(reached);
            if record.pinned && !reached {
                tally.pinned_unreached.push(record.seed);
            }
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
