//! `mcsim models compare`: for each deliberately broken variant, how many
//! executions (runs, for the simulator) and how much wall time each tool
//! needs to its first failure. The tools search in a fixed order over fixed
//! case lists, so a row is reproducible up to wall time.

use std::path::PathBuf;
use std::time::Instant;

use memcache_collections::Variant;
use serde::Serialize;

use super::case::{Case, Chaos, all_combinations};
use super::explore::{Exploration, ShuttleScheduler, explore_loom, explore_shuttle};
use super::store::FaultRates;
use crate::history::OpName;
use crate::pipeline;
use crate::plan::{Overrides, RunPlan};
use crate::scenario::LoadedScenario;
use crate::validate::is_catch;

/// Budgets of one comparison.
#[derive(Debug, Clone)]
pub struct CompareBudget {
    /// Preemption bound of loom's bounded cases (see [`loom_cases`]).
    pub loom_preemptions: usize,
    /// Schedules per shuttle case.
    pub shuttle_iterations: usize,
    /// Seeds per scenario for the simulator.
    pub sim_seeds: u64,
    /// Where shuttle saves failing schedules.
    pub schedule_dir: PathBuf,
}

/// One tool's effort on one variant.
#[derive(Debug, Clone, Serialize)]
pub struct Effort {
    pub tool: String,
    /// Whether it found a failure.
    pub caught: bool,
    /// Executions (model checkers) or runs (simulator) up to the first
    /// failure, or in all if none.
    pub iterations: u64,
    /// Wall time, likewise.
    pub wall_s: f64,
    /// What caught it: the case or scenario and seed, and the verdict.
    pub by: Option<String>,
}

/// One variant's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub variant: String,
    /// Per tool, in column order.
    pub efforts: Vec<Effort>,
}

/// The loom cases with their preemption bounds (`None`: exhaustive), in
/// search order, cheapest first: two clients with two operations each and
/// then a loss or a restart at every point of one-operation cases (both
/// within `preemptions`, one more for the fault thread), then two clients
/// with one operation each, exhaustively.
pub fn loom_cases(variant: Variant, preemptions: usize) -> Vec<(Case, Option<usize>)> {
    let mut cases = Vec::new();
    let case = |initial, clients, chaos| Case {
        variant,
        initial,
        clients,
        faults: FaultRates::default(),
        chaos,
    };
    for initial in 0..3 {
        for clients in all_combinations(2, 2) {
            cases.push((case(initial, clients, None), Some(preemptions)));
        }
    }
    for chaos in [Chaos::LoseItem, Chaos::Restart] {
        for initial in 0..3 {
            for clients in all_combinations(2, 1) {
                cases.push((case(initial, clients, Some(chaos)), Some(preemptions + 1)));
            }
        }
    }
    for initial in 0..3 {
        for clients in all_combinations(2, 1) {
            cases.push((case(initial, clients, None), None));
        }
    }
    cases
}

/// The shuttle cases, in search order: 2, 3 and 4 clients with three mixed
/// operations each, first without faults, then with lost replies, lost
/// items and restarts drawn from `shuttle::rand`.
pub fn shuttle_cases(variant: Variant) -> Vec<Case> {
    use OpName::{PopBack, PopFront, PushBack, PushFront};
    let programs = [
        vec![PushBack, PopFront, PushFront],
        vec![PushFront, PopBack, PopFront],
        vec![PopFront, PushBack, PopBack],
        vec![PopBack, PushFront, PushBack],
    ];
    let faulty = FaultRates {
        lose_item_per_mille: 5,
        restart_per_mille: 2,
        drop_reply_per_mille: 30,
    };
    let mut cases = Vec::new();
    for faults in [FaultRates::default(), faulty] {
        for clients in 2..=4 {
            for initial in [0, 2] {
                cases.push(Case {
                    variant,
                    initial,
                    clients: programs[..clients].to_vec(),
                    faults,
                    chaos: None,
                });
            }
        }
    }
    cases
}

/// Searches loom's cases in order until the first failure.
pub fn loom_effort(variant: Variant, preemptions: usize) -> Effort {
    let explorations = loom_cases(variant, preemptions).into_iter().map(|(case, bound)| {
        let exploration = explore_loom(&case, bound);
        (case.to_string(), exploration)
    });
    sum_until_failure("loom".to_owned(), explorations)
}

/// Searches shuttle's cases in order until the first failure.
pub fn shuttle_effort(variant: Variant, scheduler: ShuttleScheduler, budget: &CompareBudget) -> Effort {
    let explorations = shuttle_cases(variant).into_iter().enumerate().map(|(i, case)| {
        let exploration = explore_shuttle(
            &case,
            scheduler,
            i as u64,
            budget.shuttle_iterations,
            &budget.schedule_dir,
        );
        (case.to_string(), exploration)
    });
    sum_until_failure(scheduler.name(), explorations)
}

fn sum_until_failure(tool: String, explorations: impl Iterator<Item = (String, Exploration)>) -> Effort {
    let mut effort = Effort {
        tool,
        caught: false,
        iterations: 0,
        wall_s: 0.0,
        by: None,
    };
    for (case, exploration) in explorations {
        effort.iterations += exploration.executions;
        effort.wall_s += exploration.wall.as_secs_f64();
        if let Some(failure) = exploration.failure {
            effort.caught = true;
            effort.by = Some(format!("{case}: {}", failure.verdict));
            break;
        }
    }
    effort
}

/// Runs the simulator's suite with `variant`, seed-major (seed 0 of every
/// scenario, then seed 1, ...), until the first run whose verdict is a
/// failure.
pub fn sim_effort(variant: Variant, scenarios: &[LoadedScenario], seeds: u64) -> Effort {
    let started = Instant::now();
    let mut effort = Effort {
        tool: "simulator".to_owned(),
        caught: false,
        iterations: 0,
        wall_s: 0.0,
        by: None,
    };
    let overrides = Overrides {
        variant: Some(variant.into()),
        ..Overrides::default()
    };
    'search: for seed in 0..seeds {
        for scenario in scenarios
            .iter()
            .filter(|s| crate::runner::of_subject(s, overrides.variant))
        {
            let record = pipeline::run(RunPlan::for_scenario(scenario, seed, overrides), pipeline::quiet()).record;
            effort.iterations += 1;
            if is_catch(&record) {
                effort.caught = true;
                effort.by = Some(format!("{} seed {}: {}", record.scenario, seed, record.verdict));
                break 'search;
            }
        }
    }
    effort.wall_s = started.elapsed().as_secs_f64();
    effort
}

/// The whole table: every broken variant, every tool. All loom columns run
/// before any shuttle one: shuttle installs a process-wide panic hook that
/// reports every later panic, and loom unwinds its threads by panicking.
pub fn compare(variants: &[Variant], scenarios: &[LoadedScenario], budget: &CompareBudget) -> Vec<Row> {
    let loom: Vec<Effort> = variants
        .iter()
        .map(|&v| loom_effort(v, budget.loom_preemptions))
        .collect();
    let random: Vec<Effort> = variants
        .iter()
        .map(|&v| shuttle_effort(v, ShuttleScheduler::Random, budget))
        .collect();
    let pct: Vec<Effort> = variants
        .iter()
        .map(|&v| shuttle_effort(v, ShuttleScheduler::Pct { depth: 3 }, budget))
        .collect();
    variants
        .iter()
        .zip(loom.into_iter().zip(random).zip(pct))
        .map(|(&variant, ((loom, random), pct))| Row {
            variant: variant.name().to_owned(),
            efforts: vec![loom, random, pct, sim_effort(variant, scenarios, budget.sim_seeds)],
        })
        .collect()
}

/// The table as Markdown: per tool, iterations and seconds to the first
/// failure, or "not caught" with the whole effort spent.
pub fn render_markdown(rows: &[Row], command: &str) -> String {
    let mut out = String::from("# Time to the first failure, per tool and broken variant\n\n");
    out.push_str(&format!(
        "Regenerate with `{command}`. Each cell: executions (runs, for the simulator) and wall seconds \
         to the first failing verdict, summed over the tool's cases in their fixed order \
         (`sim/src/models/compare.rs`); \"not caught\" gives the whole effort spent.\n\n"
    ));
    let Some(first) = rows.first() else {
        return out;
    };
    out.push_str("| variant |");
    for effort in &first.efforts {
        out.push_str(&format!(" {} |", effort.tool));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(first.efforts.len()));
    out.push('\n');
    for row in rows {
        out.push_str(&format!("| {} |", row.variant));
        for effort in &row.efforts {
            let verdict = if effort.caught { "" } else { "not caught: " };
            out.push_str(&format!(" {verdict}{} in {:.2} s |", effort.iterations, effort.wall_s));
        }
        out.push('\n');
    }
    out.push_str("\nWhat caught each variant first:\n\n");
    for row in rows {
        for effort in row.efforts.iter().filter(|e| e.caught) {
            out.push_str(&format!(
                "- {} / {}: {}\n",
                row.variant,
                effort.tool,
                effort.by.as_deref().unwrap_or("-")
            ));
        }
    }
    out
}
