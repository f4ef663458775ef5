//! MCAS as a subject of the pipeline: scenario files with
//! `subject = "mcas"` run the bank on MCAS clients in the simulator, under
//! its faults, and every later stage (judge, record, report, replay,
//! `mcsim check`, `validate`) treats them as it treats the deque's.

mod common;

use std::path::PathBuf;

use common::{mcsim, stderr, suite_dir};
use memcache_collections::mcas::McasVariant;
use memcache_sim::exit;
use memcache_sim::pipeline;
use memcache_sim::plan::{Overrides, RunPlan};
use memcache_sim::scenario::{self, LoadedScenario};
use memcache_sim::validate;
use memcache_sim::verdict::Verdict;

fn mcas_dir() -> PathBuf {
    suite_dir().join("mcas")
}

fn load(name: &str) -> LoadedScenario {
    scenario::load(&mcas_dir().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn plan(loaded: &LoadedScenario, seed: u64, variant: Option<McasVariant>) -> RunPlan {
    let overrides = Overrides {
        variant: variant.map(Into::into),
        ..Overrides::default()
    };
    RunPlan::for_scenario(loaded, seed, overrides)
}

/// The library's MCAS passes every MCAS scenario, and each run did work:
/// transfers succeeded and the closing audit confirmed a snapshot (the
/// reason says how many) unless a restart or flush took an account, so
/// none of these passes is vacuous.
#[test]
fn the_library_passes_every_mcas_scenario() {
    let files = scenario::discover(&[mcas_dir()]).unwrap();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let loaded = scenario::load(&file).unwrap();
        for seed in 0..5 {
            let ran = pipeline::run(plan(&loaded, seed, None), pipeline::quiet());
            assert!(ran.record.expected, "{}: {}", ran.record.replay, ran.record.reason);
            let bank = ran.outcome.mcas.as_ref().expect("an MCAS run carries its bank");
            if bank.history.losses.is_empty() {
                assert_eq!(ran.record.verdict, Verdict::Linearizable);
                assert!(
                    ran.record.reason.contains("money conserved in all"),
                    "{}",
                    ran.record.reason
                );
            } else {
                assert!(
                    ran.record.reason.contains("money conserved in all")
                        || ran.record.reason.contains("no snapshot was confirmed, an account"),
                    "{}",
                    ran.record.reason
                );
            }
            assert!(ran.record.ops.succeeded > 20, "{:?}", ran.record.ops);
        }
    }
}

/// Evictions and stores refused for memory take registers and descriptors
/// (simulator only: real memcached counts evictions without naming them,
/// so these files live beside this test, not in `scenarios/`); every run
/// ends linearizable or with the loss reported, never with a stale answer.
#[test]
fn evictions_and_refused_stores_are_losses_the_bank_reports() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in ["mcas-eviction.toml", "mcas-out-of-memory.toml"] {
        let loaded = scenario::load(&data.join(name)).unwrap();
        let (mut detected, mut dropped) = (0, 0);
        for seed in 0..100 {
            let ran = pipeline::run(plan(&loaded, seed, None), pipeline::quiet());
            assert!(ran.record.expected, "{}: {}", ran.record.replay, ran.record.reason);
            detected += usize::from(ran.record.verdict == Verdict::DetectedCorruption);
            dropped += ran.outcome.counters.items_dropped;
        }
        assert!(
            detected > 50 && dropped >= 100,
            "{name}: {detected} detected, {dropped} items dropped"
        );
    }
}

/// A client crashed mid-MCAS leaves an operation that never returned,
/// whose outcome is unknown; the others finish or fail it by helping, and
/// the history still checks.
#[test]
fn a_crashed_originator_leaves_its_mcas_unknown_and_the_bank_whole() {
    let loaded = load("mcas-crash.toml");
    let ran = pipeline::run(plan(&loaded, 3, None), pipeline::quiet());
    assert_eq!(ran.outcome.counters.crashed_clients, 3);
    let bank = ran.outcome.mcas.as_ref().expect("an MCAS run carries its bank");
    let never_returned = bank.history.ops.iter().filter(|op| op.return_us.is_none()).count();
    assert_eq!(never_returned, 3, "one open operation per crashed client");
    assert_eq!(ran.record.verdict, Verdict::Linearizable, "{}", ran.record.reason);
}

/// Every broken copy of MCAS is caught by a hunt over the MCAS suite, and
/// the library's own algorithm is not (its ancestor is itself).
#[test]
fn every_broken_mcas_is_caught_by_a_hunt() {
    let dir = mcas_dir();
    let files = scenario::discover(&[dir]).unwrap();
    let loaded: Vec<_> = files.iter().map(|f| scenario::load(f).unwrap()).collect();
    for &variant in McasVariant::ALL.iter().filter(|v| v.is_broken()) {
        let hunt = validate::hunt(&loaded, variant.into(), 1, 2_000);
        let catch = hunt
            .caught
            .as_ref()
            .unwrap_or_else(|| panic!("{} escaped: {hunt:?}", variant.name()));
        assert!(catch.verdict.is_correctness_failure(), "{catch:?}");
        assert!(
            catch.replay.contains(&format!("--variant {}", variant.name())),
            "{catch:?}"
        );
    }
    let fraser = validate::hunt(&loaded, McasVariant::Fraser2004.into(), 1, 200);
    assert!(fraser.caught.is_none(), "{fraser:?}");
}

/// The same plan twice is the same run: MCAS histories and trace hashes
/// are a pure function of the plan.
#[test]
fn an_mcas_run_replays_exactly() {
    let loaded = load("mcas-lost-replies.toml");
    let plan = plan(&loaded, 11, Some(McasVariant::ReleaseWithoutCas));
    let first = pipeline::execute(&plan);
    assert!(first.mcas.as_ref().is_some_and(|bank| bank.history.ops.len() > 50));
    assert_eq!(pipeline::divergence(&first, &plan), None);
}

/// A failing MCAS run's report holds its history in the MCAS format, and
/// `mcsim check` on that file gives the run's verdict, its HTML page draws
/// the MCAS operations, and its replay line runs the same failure again.
#[test]
fn a_failing_runs_history_file_checks_to_the_same_verdict() {
    let dir = common::fresh_dir("mcas_scenarios", "report");
    let file = mcas_dir().join("mcas-clean.toml").display().to_string();
    let run = mcsim(
        &[
            "run",
            &file,
            "--seed",
            "0",
            "--variant",
            "claim-mismatch-taken-as-helped",
            "--report",
            "out",
        ],
        &dir,
    );
    assert_eq!(
        run.status.code(),
        Some(i32::from(exit::CORRECTNESS)),
        "{}",
        stderr(&run)
    );
    let history = dir.join("out/mcas-clean/seed-0.history.json");
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(
        text.contains("\"subject\": \"mcas\""),
        "{}",
        &text[..200.min(text.len())]
    );
    // The report's timeline draws the MCAS operations.
    let page = std::fs::read_to_string(dir.join("out/mcas-clean-seed0-claim-mismatch-taken-as-helped.html")).unwrap();
    assert!(page.contains("mcas [bank-"), "the page draws no MCAS operation");
    let check = mcsim(&["check", &history.display().to_string()], &dir);
    assert_eq!(
        check.status.code(),
        Some(i32::from(exit::CORRECTNESS)),
        "{}",
        stderr(&check)
    );
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("not-linearizable"), "{said}");
    let replay = mcsim(
        &[
            "repro",
            &file,
            "--seed",
            "0",
            "--variant",
            "claim-mismatch-taken-as-helped",
        ],
        &dir,
    );
    assert_eq!(
        replay.status.code(),
        Some(i32::from(exit::CORRECTNESS)),
        "{}",
        stderr(&replay)
    );
}

/// What an MCAS scenario cannot do is said by name: a variant of the other
/// subject, faults that lose items, and a deque variant on the command
/// line for an MCAS file.
#[test]
fn mixed_subjects_and_losing_faults_are_refused() {
    let dir = common::fresh_dir("mcas_scenarios", "refusals");
    let foreign = "[scenario]\nsubject = \"mcas\"\nvariant = \"hardened\"\nexpect = [\"linearizable\"]\n";
    let error = scenario::parse(&dir.join("foreign.toml"), foreign)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("hardened is an algorithm of the deque subject, but the scenario's subject is mcas"),
        "{error}"
    );
    // The subject follows from the variant alone.
    let implied = "[scenario]\nvariant = \"helper-deletes\"\nexpect = [\"linearizable\"]\n";
    let implied = scenario::parse(&dir.join("implied.toml"), implied).unwrap();
    assert_eq!(implied.scenario.meta.subject, memcache_sim::algorithm::Subject::Mcas);
    let targeted = "[scenario]\nsubject = \"mcas\"\nexpect = [\"linearizable\"]\n\n[random_faults]\nlose_node_per_s = \
                    5.0\n";
    let loaded = scenario::parse(&dir.join("targeted.toml"), targeted).unwrap();
    let ran = pipeline::run(plan(&loaded, 0, None), pipeline::quiet());
    assert_eq!(ran.record.verdict, Verdict::CouldNotStart);
    assert!(
        ran.record.reason.contains(
            "random_faults.lose_node_per_s: MCAS runs take restarts, flushes and (in the simulator) evictions"
        ),
        "{}",
        ran.record.reason
    );
    let file = mcas_dir().join("mcas-clean.toml").display().to_string();
    let wrong = mcsim(&["repro", &file, "--seed", "0", "--variant", "michael2003"], &dir);
    assert_eq!(wrong.status.code(), Some(i32::from(exit::USAGE)));
    assert!(
        stderr(&wrong).contains("tests the mcas subject, and michael2003 is an algorithm of the deque subject"),
        "{}",
        stderr(&wrong)
    );
}
