//! Shrinking a failing run: make the scenario smaller while the same seed
//! keeps failing the same way (the same verdict), until no single step
//! helps. Steps, coarse to fine: fewer clients, fewer operations, less
//! prefill, fewer and later faults, random faults off, network faults off,
//! simpler values, no think time, one server, then the schedule (a constant
//! network latency).

use crate::config::{Latency, RandomFaults, Trigger};
use crate::pipeline;
use crate::plan::{Overrides, RunPlan};
use crate::scenario::{LoadedScenario, Scenario, Seeds};
use crate::verdict::Verdict;

/// Runs attempted at most.
const ATTEMPTS_MAX: usize = 400;

/// What a shrink produced.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest failing scenario found (seeds set to the one seed).
    pub scenario: Scenario,
    /// The seed it fails with.
    pub seed: u64,
    /// The verdict it keeps.
    pub verdict: Verdict,
    /// Workload operations in the shrunk scenario (prefill excluded).
    pub ops: u64,
    /// Runs tried.
    pub attempts: usize,
}

/// The verdict of one seed of a scenario, judged by the pipeline like any
/// run (a stuck run is a liveness failure, a refused one could not start).
pub fn verdict_of(loaded: &LoadedScenario, seed: u64, overrides: Overrides) -> Verdict {
    let plan = RunPlan::for_scenario(loaded, seed, overrides);
    pipeline::run(plan, pipeline::quiet()).judgement.verdict
}

/// Workload operations of a scenario: clients times operations each (the
/// prefill is setup, not workload).
pub fn workload_ops(scenario: &Scenario) -> u64 {
    let clients = &scenario.config.clients;
    u64::from(clients.count).saturating_mul(clients.ops_per_client)
}

/// Candidate simplifications of `s`, most aggressive first.
fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    let config = &s.config;
    let mut push = |edit: &dyn Fn(&mut Scenario)| {
        let mut c = s.clone();
        edit(&mut c);
        if c != *s {
            out.push(c);
        }
    };
    for count in [1, 2, config.clients.count / 2, config.clients.count.saturating_sub(1)] {
        if count >= 1 && count < config.clients.count {
            push(&|c| c.config.clients.count = count);
        }
    }
    let ops = config.clients.ops_per_client;
    for fewer in [1, 2, 3, ops / 4, ops / 2, ops.saturating_sub(1)] {
        if fewer >= 1 && fewer < ops {
            push(&|c| c.config.clients.ops_per_client = fewer);
        }
    }
    let prefill = config.clients.prefill_items;
    for fewer in [0, prefill / 2, prefill.saturating_sub(1)] {
        if fewer < prefill {
            push(&|c| c.config.clients.prefill_items = fewer);
        }
    }
    for i in 0..config.faults.len() {
        push(&|c| {
            c.config.faults.remove(i);
        });
        // Later: a failure that survives a later fault did not need it early.
        push(&|c| match &mut c.config.faults[i].trigger {
            Trigger::AtUs { at_us } => *at_us = at_us.saturating_mul(2).max(1),
            Trigger::AfterOps { ops } => *ops = ops.saturating_mul(2).max(1),
            Trigger::AfterClientRequests { .. } => {}
        });
    }
    push(&|c| c.swarm = None);
    push(&|c| c.config.random_faults = RandomFaults::default());
    push(&|c| {
        c.config.network.drop_request_rate = 0.0;
        c.config.network.drop_reply_rate = 0.0;
        c.config.network.delay_spike_rate = 0.0;
    });
    push(&|c| {
        c.config.clients.value_size_bytes_min = 0;
        c.config.clients.value_size_bytes_max = 0;
    });
    push(&|c| c.config.clients.think_time_us_max = 0);
    push(&|c| c.config.servers.count = 1);
    // Then the schedule: a constant latency takes the network's random
    // timing out of the run.
    push(&|c| c.config.network.latency = Latency::Constant { us: 50 });
    out
}

/// Shrinks `loaded` at `seed` (with the command line's `overrides`),
/// keeping its verdict `target`. The shrunk scenario names the variant that
/// ran, so it replays without overrides.
pub fn shrink(loaded: &LoadedScenario, seed: u64, overrides: Overrides, target: Verdict) -> Shrunk {
    let mut current = loaded.clone();
    current.scenario.meta.seeds = Seeds::Range {
        start: seed,
        end: seed.saturating_add(1),
    };
    if let Some(variant) = overrides.variant {
        current.scenario.meta.variant = variant;
    }
    let overrides = Overrides {
        variant: None,
        ..overrides
    };
    let mut attempts = 0;
    'improve: while attempts < ATTEMPTS_MAX {
        for candidate in candidates(&current.scenario) {
            attempts += 1;
            let trial = LoadedScenario {
                scenario: candidate,
                ..current.clone()
            };
            if verdict_of(&trial, seed, overrides) == target {
                current = trial;
                continue 'improve;
            }
            if attempts >= ATTEMPTS_MAX {
                break 'improve;
            }
        }
        break;
    }
    Shrunk {
        ops: workload_ops(&current.scenario),
        scenario: current.scenario,
        seed,
        verdict: target,
        attempts,
    }
}
