//! The scenario suite on real memcached (`mcsim run --backend real`): the
//! same files the simulator runs, against servers the harness starts
//! itself, with faults applied for real. Each fault type must earn a
//! verdict its scenario expects, and must actually have happened: a
//! verdict on a run whose fault never fired would prove nothing.

use std::path::Path;

use memcache_collections::Variant;
use memcache_sim::config::{Fault, FaultSpec, RunConfig, Trigger};
use memcache_sim::history::OpResult;
use memcache_sim::outcome::{Counters, RunEnd};
use memcache_sim::pipeline;
use memcache_sim::plan::{Backend, Overrides, RunPlan};
use memcache_sim::record::RunRecord;
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::scenario::{self, LoadedScenario};
use memcache_sim::verdict::Verdict;

const REAL: Overrides = Overrides {
    variant: None,
    backend: Backend::Real,
};

fn suite() -> Vec<LoadedScenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = scenario::discover(&[dir]).unwrap();
    files
        .iter()
        .map(|f| scenario::load(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The MCAS bank on real memcached with restarts and lost replies: each
/// restart's registers are recorded as a loss over the window the restart
/// took, and every run ends linearizable with money conserved, or with the
/// loss reported as corruption; never silently changed.
#[test]
fn the_mcas_bank_survives_real_restarts_and_lost_replies() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/mcas/mcas-restart-lost-replies.toml");
    let loaded = scenario::load(&path).unwrap();
    let mut lost = 0;
    for seed in 0..6 {
        let ran = pipeline::run(RunPlan::for_scenario(&loaded, seed, REAL), pipeline::quiet());
        assert!(ran.record.expected, "{}", describe(&ran.record));
        let bank = ran.outcome.mcas.as_ref().expect("an MCAS run carries its bank");
        assert!(ran.outcome.counters.faults > 0, "{}", describe(&ran.record));
        assert!(
            bank.history.losses.iter().all(|l| l.until_us >= Some(l.at_us)),
            "a real loss is a window"
        );
        lost += bank.history.losses.len();
    }
    assert!(lost > 0, "no restart of six runs took a register");
}

/// What a scenario's fault leaves in a real run's counters, for the
/// scenarios built around one fault type.
fn fault_happened(scenario: &str, stats: &Counters) -> Option<bool> {
    let real = || stats.real.as_ref().expect("a real run has its own counters");
    Some(match scenario {
        "flush" | "restart" | "lose-anchor" | "lose-middle-node" | "pause" | "pause-storm" => stats.faults > 0,
        "lose-node" => stats.faults > 0,
        "crash-mid-push" => stats.crashed_clients == 1,
        "lost-requests" | "lost-replies" | "partition-drop" => stats.messages_dropped > 0,
        "late-delivery" => stats.messages_spiked > 0,
        "resets" => stats.resets > 0,
        "partition-hold" => stats.messages_held > 0,
        "eviction" | "out-of-memory" => real().memory_full && stats.items_dropped > 0,
        "restart-recreate"
        | "restart-aba"
        | "restart-aba-pop"
        | "container-restart-aba"
        | "container-restart-aba-pop" => stats.faults > 0,
        _ => return None,
    })
}

/// The scenarios whose restart must also make the application re-create
/// the deque: the reach they declare is a share of runs (90% for
/// `restart-recreate`), so one run that found the anchor still there is
/// within the scenario's promise, and the event is looked for over a few
/// seeds rather than demanded of seed 0 alone.
const RECREATING: [&str; 5] = [
    "restart-recreate",
    "restart-aba",
    "restart-aba-pop",
    "container-restart-aba",
    "container-restart-aba-pop",
];

/// Whether some run of `scenario` among seeds `0..4` re-created the deque,
/// every such run earning an expected verdict.
fn some_run_recreates(scenario: &LoadedScenario, seed0: &RunRecord) -> bool {
    if seed0.counters.recreations > 0 {
        return true;
    }
    (1..4).any(|seed| {
        let ran = pipeline::run(RunPlan::for_scenario(scenario, seed, REAL), pipeline::quiet());
        assert!(ran.record.expected, "{}", describe(&ran.record));
        ran.record.counters.recreations > 0
    })
}

fn describe(record: &RunRecord) -> String {
    record.failure_line()
}

#[test]
fn every_fault_type_earns_its_expected_verdict_on_real_memcached() {
    let scenarios = suite();
    let selection = SeedSelection {
        count: Some(1),
        ..SeedSelection::default()
    };
    let records = runner::run_scenarios(&scenarios, selection, REAL, 1);
    assert_eq!(records.len(), scenarios.len());
    let unexpected: Vec<String> = records.iter().filter(|r| !r.expected).map(describe).collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    let mut checked = 0;
    for record in &records {
        let stats = &record.counters;
        if let Some(happened) = fault_happened(&record.scenario, stats) {
            assert!(happened, "the fault never happened: {stats:?}; {}", describe(record));
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} single-fault scenarios found");
    for name in RECREATING {
        let record = records.iter().find(|r| r.scenario == name).expect("the suite has it");
        let scenario = scenarios.iter().find(|s| s.name == name).expect("loaded");
        assert!(
            some_run_recreates(scenario, record),
            "no run of seeds 0..4 re-created the deque; seed 0: {}",
            describe(record)
        );
    }
    // `-C` is refused at setup, before anything runs.
    let refused = records
        .iter()
        .find(|r| r.scenario == "cas-disabled")
        .expect("cas-disabled runs");
    assert_eq!(refused.verdict, Verdict::Refused, "{}", describe(refused));
}

#[test]
fn broken_variants_are_caught_on_real_memcached_too() {
    // The canary (a pop that clears one end) on its own scenario, and a
    // client that retries a CAS whose reply it never got, under resets.
    let cases = [
        ("canary-one-end-single-pop", None),
        ("resets", Some("retry-unknown-cas")),
    ];
    for (name, variant) in cases {
        let scenario = suite()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no scenario {name}"));
        let selection = SeedSelection {
            count: Some(3),
            ..SeedSelection::default()
        };
        let overrides = Overrides {
            variant: variant.and_then(Variant::from_name).map(Into::into),
            ..REAL
        };
        let records = runner::run_scenarios(&[scenario], selection, overrides, 1);
        let passed = |r: &&RunRecord| matches!(r.verdict, Verdict::Linearizable | Verdict::DetectedCorruption);
        let caught = records.len() - records.iter().filter(passed).count();
        assert!(
            caught >= 2,
            "{name} on {variant:?}: only {caught} of 3 real runs caught the broken variant: {:#?}",
            records.iter().map(describe).collect::<Vec<_>>()
        );
    }
}

/// A bare configuration on real memcached.
fn real_plan(config: RunConfig, seed: u64) -> RunPlan {
    RunPlan {
        backend: Backend::Real,
        ..RunPlan::for_config(config, None, seed, Variant::default())
    }
}

#[test]
fn what_real_memcached_cannot_do_is_refused_with_the_reason() {
    let mut config = RunConfig::default();
    config.servers.item_size_max_bytes = 512;
    config.faults.push(FaultSpec {
        trigger: Trigger::AfterOps { ops: 1 },
        fault: Fault::Pause {
            client: 9,
            duration_us: 10,
        },
    });
    let ran = pipeline::run(real_plan(config, 1), pipeline::quiet());
    assert_eq!(ran.record.verdict, Verdict::CouldNotStart);
    let reason = &ran.record.reason;
    assert!(reason.contains("faults[0]: names client 9"), "{reason}");
    assert!(reason.contains("-I accepts 1024 bytes"), "{reason}");
    assert_eq!(ran.record.exit_class, memcache_sim::exit::HARNESS);
}

#[test]
fn a_clean_real_run_conserves_every_value() {
    let mut config = RunConfig::default();
    config.clients.count = 3;
    config.clients.ops_per_client = 40;
    config.clients.prefill_items = 5;
    // The default 10 ms reply timeout is a simulated-time figure; on a busy
    // 2-core CI machine a real reply can take that long (CI saw 3 of 120
    // operations time out), and a timeout is a fault, not a clean run.
    config.network.client_timeout_us = 2_000_000;
    let ran = pipeline::run(real_plan(config, 7), pipeline::quiet());
    let outcome = &ran.outcome;
    assert_eq!(outcome.end, RunEnd::Finished);
    assert_eq!(ran.record.verdict, Verdict::Linearizable, "{}", ran.record.reason);
    // Prefill, the workload, and the drain down to an empty pop.
    let drained = outcome.history.ops.iter().filter(|op| op.client == 4).count();
    assert!(drained >= 1 && outcome.history.ops.len() >= 5 + 120 + drained);
    assert!(outcome.counters.requests > 0 && outcome.counters.messages_dropped == 0);
    let not_succeeded: Vec<_> = outcome
        .history
        .ops
        .iter()
        .filter(|op| op.client < 3)
        .filter(|op| !matches!(op.result, OpResult::Ok | OpResult::Value { .. } | OpResult::Empty))
        .collect();
    assert_eq!(
        ran.record.ops.succeeded, 120,
        "every workload op (the prefill is setup); these did not succeed: {not_succeeded:?}"
    );
}

/// Faults armed on op counts follow one rule in every world: `ops = 0`
/// fires before the first operation, `ops = N` after the N-th return.
#[test]
fn op_count_triggers_fire_at_zero_and_at_n_on_real_memcached() {
    let mut config = RunConfig::default();
    config.clients.count = 1;
    config.clients.ops_per_client = 6;
    for ops in [0, 3] {
        config.faults = vec![FaultSpec {
            trigger: Trigger::AfterOps { ops },
            fault: Fault::FlushAll { server: 0 },
        }];
        let ran = pipeline::run(real_plan(config.clone(), 1), pipeline::quiet());
        assert_eq!(
            ran.record.counters.faults,
            1,
            "ops = {ops}: {}",
            ran.record.failure_line()
        );
        let flush_us = ran.outcome.history.losses[0].at_us;
        let returned_before = ran
            .outcome
            .history
            .ops
            .iter()
            .filter(|op| op.client == 0 && op.return_us.is_some_and(|r| r <= flush_us))
            .count();
        let invoked_before = ran
            .outcome
            .history
            .ops
            .iter()
            .filter(|op| op.client == 0 && op.invoke_us <= flush_us)
            .count();
        assert_eq!(returned_before as u64, ops, "ops = {ops}");
        assert_eq!(invoked_before as u64, ops, "ops = {ops}: fired before the next op");
    }
}
