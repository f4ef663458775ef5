//! Shrinking a failing run: make the scenario smaller while the same seed
//! keeps failing the same way (the same verdict), until no single step
//! helps. Steps, coarse to fine: fewer clients, fewer operations, less
//! prefill, fewer and later faults, random faults off, network faults off,
//! simpler values, no think time, one server, then the schedule (a constant
//! network latency).

use crate::check::{CheckOptions, Verdict, check};
use crate::scenario::{LoadedScenario, Scenario, Seeds};
use crate::sim;
use crate::sim::config::{Latency, Trigger};

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
    /// Workload operations in the shrunk scenario (prefill included).
    pub ops: u64,
    /// Runs tried.
    pub attempts: usize,
}

/// The verdict of one seed of a scenario.
fn verdict_of(loaded: &LoadedScenario, seed: u64) -> Option<Verdict> {
    let outcome = sim::run(&loaded.config_for(seed), seed).ok()?;
    if outcome.stats.stuck {
        return Some(Verdict::Liveness);
    }
    let options = CheckOptions {
        explain: false,
        ..CheckOptions::default()
    };
    Some(check(&outcome.history, options).verdict)
}

/// Workload operations of a scenario (prefill included).
pub fn workload_ops(scenario: &Scenario) -> u64 {
    u64::from(scenario.clients.count) * scenario.clients.ops_per_client + scenario.clients.prefill_items
}

/// Candidate simplifications of `s`, most aggressive first.
fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut push = |edit: &dyn Fn(&mut Scenario)| {
        let mut c = s.clone();
        edit(&mut c);
        if c != *s {
            out.push(c);
        }
    };
    for count in [1, 2, s.clients.count / 2, s.clients.count.saturating_sub(1)] {
        if count >= 1 && count < s.clients.count {
            push(&|c| c.clients.count = count);
        }
    }
    let ops = s.clients.ops_per_client;
    for fewer in [1, 2, 3, ops / 4, ops / 2, ops.saturating_sub(1)] {
        if fewer >= 1 && fewer < ops {
            push(&|c| c.clients.ops_per_client = fewer);
        }
    }
    let prefill = s.clients.prefill_items;
    for fewer in [0, prefill / 2, prefill.saturating_sub(1)] {
        if fewer < prefill {
            push(&|c| c.clients.prefill_items = fewer);
        }
    }
    for i in 0..s.faults.len() {
        push(&|c| {
            c.faults.remove(i);
        });
        // Later: a failure that survives a later fault did not need it early.
        push(&|c| match &mut c.faults[i].trigger {
            Trigger::AtUs { at_us } => *at_us = at_us.saturating_mul(2).max(1),
            Trigger::AfterOps { ops } => *ops = ops.saturating_mul(2).max(1),
            Trigger::AfterClientRequests { .. } => {}
        });
    }
    push(&|c| c.swarm = None);
    push(&|c| c.random_faults = crate::sim::config::RandomFaults::default());
    push(&|c| {
        c.network.drop_request_rate = 0.0;
        c.network.drop_reply_rate = 0.0;
        c.network.delay_spike_rate = 0.0;
    });
    push(&|c| {
        c.clients.value_size_bytes_min = 0;
        c.clients.value_size_bytes_max = 0;
    });
    push(&|c| c.clients.think_time_us_max = 0);
    push(&|c| c.servers.count = 1);
    // Then the schedule: a constant latency takes the network's random
    // timing out of the run.
    push(&|c| c.network.latency = Latency::Constant { us: 50 });
    out
}

/// Shrinks `loaded` at `seed`, keeping its verdict `target`.
pub fn shrink(loaded: &LoadedScenario, seed: u64, target: Verdict) -> Shrunk {
    let mut current = loaded.clone();
    current.scenario.scenario.seeds = Seeds::Range {
        start: seed,
        end: seed + 1,
    };
    let mut attempts = 0;
    'improve: while attempts < ATTEMPTS_MAX {
        for candidate in candidates(&current.scenario) {
            attempts += 1;
            let trial = LoadedScenario {
                scenario: candidate,
                ..current.clone()
            };
            if verdict_of(&trial, seed) == Some(target) {
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
