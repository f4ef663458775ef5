//! The deque under loom: every interleaving of the store requests of small
//! cases (or those within a preemption bound), each execution's history
//! checked for linearizability and corruption detection.
//!
//! Run with `cargo test --release -p memcache-sim --features models --test loom`.
//! `MODELS_LOOM_PREEMPTIONS=N` raises the bound of the bounded suites (CI: 2;
//! the deeper run, about a minute more:
//! `MODELS_LOOM_PREEMPTIONS=3 cargo test --profile ci -p memcache-sim --features models --test loom`);
//! `MODELS_LOOM_PREEMPTIONS=none` makes them exhaustive (hours for two
//! operations per client: each push is 7 requests, and every request is a
//! scheduling point).
#![cfg(feature = "models")]

use memcache_collections::Variant;
use memcache_sim::models::{Case, Chaos, FaultRates, all_combinations, explore_loom};

/// The bound of the bounded suites.
fn preemptions() -> Option<usize> {
    match std::env::var("MODELS_LOOM_PREEMPTIONS").as_deref() {
        Ok("none") => None,
        Ok(bound) => Some(bound.parse().expect("MODELS_LOOM_PREEMPTIONS is a number or `none`")),
        Err(_) => Some(2),
    }
}

/// Explores every case; fails with every failing case's first failure.
fn explore_all(cases: impl IntoIterator<Item = Case>, bound: Option<usize>) -> u64 {
    let mut executions = 0;
    let mut failures = Vec::new();
    for case in cases {
        let exploration = explore_loom(&case, bound);
        executions += exploration.executions;
        if let Some(failure) = exploration.failure {
            failures.push(format!("{case}: execution {}: {}", failure.execution, failure.reason));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}\nreplay: cargo test --release -p memcache-sim --features models --test loom",
        failures.len(),
        failures.join("\n")
    );
    executions
}

fn cases(clients: usize, ops: usize, chaos: Option<Chaos>) -> Vec<Case> {
    (0..3)
        .flat_map(|initial| {
            all_combinations(clients, ops).into_iter().map(move |clients| Case {
                variant: Variant::default(),
                initial,
                clients,
                faults: FaultRates::default(),
                chaos,
            })
        })
        .collect()
}

/// Two clients, one operation each, every combination of ends and push/pop,
/// from 0, 1 and 2 items: two preemptions more than the bounded suites (CI:
/// 4), every interleaving with `MODELS_LOOM_PREEMPTIONS=none` (about four
/// minutes here).
#[test]
fn two_clients_one_op_each() {
    let executions = explore_all(cases(2, 1, None), preemptions().map(|b| b + 2));
    assert!(executions > 10_000, "the exploration is real: {executions}");
}

/// Two clients, two operations each: every combination, bounded.
#[test]
fn two_clients_two_ops_each_bounded() {
    explore_all(cases(2, 2, None), preemptions());
}

/// Three clients, one operation each: every combination, bounded.
#[test]
fn three_clients_bounded() {
    explore_all(cases(3, 1, None), preemptions());
}

/// A loss of one item at every point of every two-client case: each effect
/// must be reported as corruption, never silently. Within the bound (CI: 2,
/// 2.6 s here); `MODELS_LOOM_PREEMPTIONS=3` explores one preemption deeper
/// (20 s).
#[test]
fn a_lost_item_at_every_point_is_detected() {
    explore_all(cases(2, 1, Some(Chaos::LoseItem)), preemptions());
}

/// A restart at every point of every two-client case (CI: 1.7 s;
/// `MODELS_LOOM_PREEMPTIONS=3`: 12 s).
#[test]
fn a_restart_at_every_point_is_detected() {
    explore_all(cases(2, 1, Some(Chaos::Restart)), preemptions());
}

/// The exploration is not vacuous: loom finds the canary's known flaw.
#[test]
fn loom_catches_the_canary() {
    let found = cases(2, 1, None).into_iter().any(|mut case| {
        case.variant = Variant::OneEndSinglePop;
        explore_loom(&case, Some(2)).failure.is_some()
    });
    assert!(found, "one-end-single-pop escaped loom");
}

/// MCAS under loom: a transfer racing an audit over two accounts, and two
/// racing transfers, every interleaving within the preemption bound, with
/// and without a restart at every point; each execution judged by the
/// register checker and the money invariant. A broken copy
/// (`decide-without-cas`) fails within the same bound.
#[test]
fn mcas_transfers_and_audits_bounded() {
    use memcache_collections::mcas::McasVariant;
    use memcache_sim::models::McasCase;

    let case = |transfers: Vec<usize>, audits, restart| McasCase {
        variant: McasVariant::Fraser2004,
        accounts: 2,
        transfers,
        audits,
        faults: FaultRates::default(),
        restart,
    };
    let mut executions = 0;
    for case in [
        case(vec![1], 1, false),
        case(vec![1, 1], 0, false),
        case(vec![1], 1, true),
    ] {
        let exploration = explore_loom(&case, preemptions());
        if let Some(failure) = exploration.failure {
            panic!(
                "{case}: execution {}: {}\nreplay: cargo test --release -p memcache-sim --features models --test loom mcas_transfers_and_audits_bounded",
                failure.execution, failure.reason
            );
        }
        executions += exploration.executions;
    }
    println!("{executions} executions");
    let broken = McasCase {
        variant: McasVariant::DecideWithoutCas,
        ..case(vec![1, 1], 0, false)
    };
    let exploration = explore_loom(&broken, preemptions());
    assert!(
        exploration.failure.is_some(),
        "{broken}: no failure in {} executions; replay: cargo test --release -p memcache-sim --features models --test loom mcas_transfers_and_audits_bounded",
        exploration.executions
    );
}
