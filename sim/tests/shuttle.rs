//! The deque under shuttle: random-walk and PCT schedules over 2-4 clients,
//! with lost replies, lost items and restarts drawn from `shuttle::rand` so
//! they replay with the schedule; each execution's history is checked.
//!
//! Run with `cargo test --release -p memcache-sim --features models --test shuttle`.
//! `MODELS_SHUTTLE_ITERATIONS=N` sets the schedules per case and scheduler
//! (CI: 300).
#![cfg(feature = "models")]

use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::models::compare::shuttle_cases;
use memcache_sim::models::{ShuttleScheduler, explore_shuttle};

fn iterations() -> usize {
    std::env::var("MODELS_SHUTTLE_ITERATIONS")
        .ok()
        .map(|n| n.parse().expect("MODELS_SHUTTLE_ITERATIONS is a number"))
        .unwrap_or(300)
}

/// A fresh directory for saved schedules.
fn schedule_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-shuttle-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn explore_all(scheduler: ShuttleScheduler) {
    let dir = schedule_dir(&scheduler.name());
    let mut failures = Vec::new();
    for (i, case) in shuttle_cases(Variant::default()).into_iter().enumerate() {
        let exploration = explore_shuttle(&case, scheduler, i as u64, iterations(), &dir);
        assert_eq!(exploration.executions, iterations() as u64, "{case}");
        if let Some(failure) = exploration.failure {
            failures.push(format!(
                "{case}: execution {} (schedule {:?}): {}",
                failure.execution, failure.schedule, failure.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}\nreplay: cargo test --release -p memcache-sim --features models --test shuttle",
        failures.len(),
        failures.join("\n")
    );
}

/// The baseline under random schedules, with and without faults.
#[test]
fn random_schedules() {
    explore_all(ShuttleScheduler::Random);
}

/// The baseline under PCT schedules (bug depth 3), with and without faults.
#[test]
fn pct_schedules() {
    explore_all(ShuttleScheduler::Pct { depth: 3 });
}

/// The faulty cases really inject faults: over a few hundred schedules,
/// items are lost, the server restarts and replies go missing.
#[test]
fn faults_really_happen_under_shuttle() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use memcache_sim::history::{LossCause, OpResult};
    use memcache_sim::models::{ShuttleWorld, execute};

    let case = shuttle_cases(Variant::default())
        .into_iter()
        .rfind(|case| case.faults.any())
        .expect("a faulty case");
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let seen = counts.clone();
    shuttle::check_random(
        move || {
            let history = execute::<ShuttleWorld>(&case);
            let injected = history.losses.iter().any(|l| l.cause == LossCause::Injected);
            let restarted = history.losses.iter().any(|l| l.cause == LossCause::Restart);
            let unknown = history.ops.iter().any(|op| op.result == OpResult::Unknown);
            for (count, happened) in seen.iter().zip([injected, restarted, unknown]) {
                count.fetch_add(u64::from(happened), Ordering::Relaxed);
            }
        },
        500,
    );
    let [lost, restarted, unknown] = counts.each_ref().map(|c| c.load(Ordering::Relaxed));
    assert!(
        lost > 0 && restarted > 0 && unknown > 0,
        "lost {lost}, restarted {restarted}, unknown {unknown}"
    );
}

/// The MCAS bank under shuttle: two transfer clients (two transfers each)
/// and an auditor over three accounts, quiet and then with lost replies and
/// a restart at a point the schedule picks; every execution is judged by
/// the register checker and the money invariant.
#[test]
fn mcas_under_shuttle() {
    use memcache_collections::mcas::McasVariant;
    use memcache_sim::models::{FaultRates, McasCase};

    let dir = schedule_dir("mcas");
    let quiet = mcas_case(McasVariant::Fraser2004);
    let faulty = McasCase {
        faults: FaultRates {
            drop_reply_per_mille: 30,
            ..FaultRates::default()
        },
        restart: true,
        ..quiet.clone()
    };
    for (i, case) in [quiet, faulty].into_iter().enumerate() {
        for scheduler in [ShuttleScheduler::Random, ShuttleScheduler::Pct { depth: 3 }] {
            let exploration = explore_shuttle(&case, scheduler, i as u64, iterations(), &dir);
            assert_eq!(exploration.executions, iterations() as u64, "{case}");
            if let Some(failure) = exploration.failure {
                panic!(
                    "{case} ({}): {}\nschedule: {:?}\nreplay: cargo test --release -p memcache-sim --features models --test shuttle mcas_under_shuttle",
                    scheduler.name(),
                    failure.reason,
                    failure.schedule
                );
            }
        }
    }
}

/// Every broken copy of MCAS fails some shuttle schedule of the same case
/// (replaying a saved schedule is `shuttle_replay.rs`'s, in a process of
/// its own: shuttle's schedule saving is process-wide).
#[test]
fn every_broken_mcas_fails_under_shuttle() {
    use memcache_collections::mcas::McasVariant;

    let dir = schedule_dir("mcas-broken");
    for &variant in McasVariant::ALL.iter().filter(|v| v.is_broken()) {
        let case = mcas_case(variant);
        let exploration = explore_shuttle(&case, ShuttleScheduler::Pct { depth: 3 }, 7, 2_000, &dir);
        let failure = exploration
            .failure
            .unwrap_or_else(|| {
                panic!(
                    "{case}: no failure in {} schedules; replay: cargo test --release -p memcache-sim --features models --test shuttle every_broken_mcas_fails_under_shuttle",
                    exploration.executions
                )
            });
        println!(
            "{}: caught in schedule {} ({})",
            variant.name(),
            failure.execution,
            failure.verdict
        );
        assert!(failure.verdict.is_correctness_failure(), "{case}: {}", failure.reason);
    }
}

fn mcas_case(variant: memcache_collections::mcas::McasVariant) -> memcache_sim::models::McasCase {
    memcache_sim::models::McasCase {
        variant,
        accounts: 3,
        transfers: vec![2, 2],
        audits: 1,
        faults: memcache_sim::models::FaultRates::default(),
        restart: false,
    }
}
