//! A saved shuttle schedule replays. Its own test binary (process): shuttle
//! installs a process-wide panic hook that keeps the failure-persistence
//! settings of the first exploration in the process, so the directory this
//! test saves into must be the first one shuttle sees.
#![cfg(feature = "models")]

use memcache_collections::Variant;
use memcache_sim::models::compare::shuttle_cases;
use memcache_sim::models::{Case, ShuttleScheduler, explore_shuttle, replay_shuttle};

/// A failing schedule is saved, and replaying the file reproduces the same
/// failure in the same execution state (the canary's flaw gives one).
#[test]
fn a_saved_failing_schedule_replays() {
    let dir = std::env::temp_dir().join(format!("mcsim-shuttle-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let case = Case {
        variant: Variant::OneEndSinglePop,
        ..shuttle_cases(Variant::OneEndSinglePop)[0].clone()
    };
    let exploration = explore_shuttle(&case, ShuttleScheduler::Random, 0, 10_000, &dir);
    let failure = exploration.failure.expect("the canary fails under shuttle");
    let schedule = failure.schedule.clone().expect("shuttle saved the schedule");
    for _ in 0..2 {
        let replayed = replay_shuttle(&case, &schedule).expect("the schedule reproduces the failure");
        assert_eq!(replayed.verdict, failure.verdict);
        assert_eq!(replayed.reason, failure.reason, "the same history, request for request");
        assert_eq!(replayed.execution, 1);
    }
    let _ = std::fs::remove_dir_all(dir);
}
