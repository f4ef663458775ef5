//! Scenario files and the suite runner.

use std::path::{Path, PathBuf};
use std::process::Command;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::output::{junit, table};
use memcache_sim::plan::{Backend, Overrides, RunPlan};
use memcache_sim::record::{self, RunRecord};
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::scenario::{self, ScenarioError};
use memcache_sim::verdict::Verdict;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_shipped_scenario_loads_and_says_what_it_is_for() {
    let files = scenario::discover(&[suite_dir()]).unwrap();
    assert!(files.len() >= 15, "{files:?}");
    for file in files {
        scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with('#'),
            "{} must open with a comment saying what it is for",
            file.display()
        );
    }
}

#[test]
fn a_malformed_file_names_the_file_line_column_and_key() {
    let path = temp_file(
        "bad.toml",
        "[scenario]\nexpect = [\"linearizable\"]\n\n[clients]\ncount = 4\nopz = 3\n",
    );
    let error = scenario::load(&path).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ScenarioError::Parse { .. }));
    assert!(
        text.contains("bad.toml") && text.contains("line 6") && text.contains("column 1") && text.contains("opz"),
        "{text}"
    );
    let wrong_type = temp_file(
        "type.toml",
        "[scenario]\nexpect = [\"linearizable\"]\n[clients]\ncount = \"four\"\n",
    );
    assert!(scenario::load(&wrong_type).unwrap_err().to_string().contains("line 4"));
    let unknown_verdict = temp_file("verdict.toml", "[scenario]\nexpect = [\"fine\"]\n");
    assert!(
        scenario::load(&unknown_verdict)
            .unwrap_err()
            .to_string()
            .contains("unknown verdict \"fine\"")
    );
    let unknown_variant = temp_file(
        "variant.toml",
        "[scenario]\nexpect = [\"linearizable\"]\nvariant = \"nope\"\n",
    );
    assert!(
        scenario::load(&unknown_variant)
            .unwrap_err()
            .to_string()
            .contains("unknown variant")
    );
}

#[test]
fn the_cli_refuses_a_bad_scenario_with_the_usage_status() {
    let path = temp_file("cli-bad.toml", "[scenario]\nexpect = [\"linearizable\"]\nseeds = 5\n");
    let output = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(i32::from(exit::USAGE)));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cli-bad.toml"));
}

#[test]
fn shards_split_the_seeds_without_overlap() {
    let loaded = scenario::load(&suite_dir().join("clean.toml")).unwrap();
    let all = SeedSelection {
        count: Some(10),
        ..Default::default()
    }
    .seeds(&loaded);
    let mut union: Vec<u64> = (1..=3)
        .flat_map(|k| {
            SeedSelection {
                count: Some(10),
                shard: Some((k, 3)),
                ..Default::default()
            }
            .seeds(&loaded)
        })
        .collect();
    union.sort_unstable();
    assert_eq!(union, all);
    // A regression's pinned seeds run under --seeds and --shard too, each
    // in one shard.
    let pinning = scenario::load(&suite_dir().join("regressions/restart-aba.toml")).unwrap();
    let pinned = &pinning.scenario.meta.pinned;
    assert!(!pinned.is_empty());
    let sharded: Vec<u64> = (1..=3)
        .flat_map(|k| {
            SeedSelection {
                count: Some(10),
                shard: Some((k, 3)),
                ..Default::default()
            }
            .seeds(&pinning)
        })
        .collect();
    assert_eq!(sharded.len(), 10 + pinned.len());
    assert!(
        pinned
            .iter()
            .all(|seed| sharded.iter().filter(|s| *s == seed).count() == 1)
    );
}

#[test]
fn runs_are_deterministic_and_in_job_order_whatever_the_threads() {
    let scenarios: Vec<_> = ["clean.toml", "restart.toml"]
        .iter()
        .map(|f| scenario::load(&suite_dir().join(f)).unwrap())
        .collect();
    let selection = SeedSelection {
        count: Some(6),
        ..Default::default()
    };
    let key = |records: Vec<RunRecord>| -> Vec<(String, u64, Verdict, Option<String>)> {
        records
            .into_iter()
            .map(|r| (r.scenario, r.seed, r.verdict, r.trace_hash))
            .collect()
    };
    let one = key(runner::run_scenarios(&scenarios, selection, Overrides::default(), 1));
    let two = key(runner::run_scenarios(&scenarios, selection, Overrides::default(), 2));
    assert_eq!(one, two);
    assert_eq!(one.len(), 12);
}

#[test]
fn swarm_seeds_draw_their_own_fault_mixes() {
    let loaded = scenario::load(&suite_dir().join("swarm.toml")).unwrap();
    let config_for = |seed| RunPlan::for_scenario(&loaded, seed, Overrides::default()).config;
    let mixes: std::collections::BTreeSet<String> = (0..20)
        .map(|seed| format!("{:?}", config_for(seed).random_faults))
        .collect();
    assert!(mixes.len() > 15);
    assert_eq!(format!("{:?}", config_for(3)), format!("{:?}", config_for(3)));
    let off = (0..50)
        .filter(|&s| config_for(s).random_faults.restart_per_s == 0.0)
        .count();
    assert!((10..40).contains(&off), "restarts off in {off} of 50 seeds");
}

/// A record as a run of scenario `s.toml` would leave it.
fn record(seed: u64, verdict: Verdict, expected: bool, backend: Backend) -> RunRecord {
    let replay = match backend {
        Backend::Sim => format!("mcsim repro scenarios/restart.toml --seed {seed}"),
        Backend::Real => format!("mcsim run scenarios/restart.toml --seed {seed} --backend real"),
    };
    RunRecord {
        scenario: "restart".into(),
        path: "scenarios/restart.toml".into(),
        seed,
        variant: "hardened".into(),
        variant_overridden: false,
        backend,
        client_command: None,
        verdict,
        expected,
        expect: vec![Verdict::DetectedCorruption],
        reason: "a <reason> & more".into(),
        exit_class: if expected {
            exit::OK
        } else {
            verdict.exit_class_unexpected()
        },
        replay,
        trace_hash: None,
        ops: Default::default(),
        counters: Default::default(),
        reach: None,
        reached: None,
        pinned: false,
        swarm: None,
        wall_ms: 2.0,
    }
}

#[test]
fn an_unexpected_verdict_sets_the_exit_status_by_class() {
    let sim = |verdict, expected| record(1, verdict, expected, Backend::Sim);
    assert_eq!(
        record::exit_status(&[sim(Verdict::Linearizable, true)], record::Floors::Whole),
        exit::OK
    );
    assert_eq!(
        record::exit_status(&[sim(Verdict::Liveness, false)], record::Floors::Whole),
        exit::LIVENESS
    );
    assert_eq!(
        record::exit_status(
            &[sim(Verdict::Liveness, false), sim(Verdict::SilentCorruption, false)],
            record::Floors::Whole
        ),
        exit::CORRECTNESS
    );
    // A canary that stops failing is a failure of the suite.
    assert_eq!(
        record::exit_status(&[sim(Verdict::Linearizable, false)], record::Floors::Whole),
        exit::CORRECTNESS
    );
    assert_eq!(
        record::exit_status(&[sim(Verdict::Unknown, false)], record::Floors::Whole),
        exit::HARNESS
    );
    assert_eq!(
        record::exit_status(&[sim(Verdict::CouldNotStart, false)], record::Floors::Whole),
        exit::HARNESS
    );
    let real = record(1, Verdict::FalseAlarm, false, Backend::Real);
    assert!(
        table::render(&[real], record::Floors::Whole)
            .contains("; rerun: mcsim run scenarios/restart.toml --seed 1 --backend real")
    );
}

#[test]
fn junit_lists_every_seed_and_each_unexpected_verdict_with_its_replay() {
    let xml = junit::render(&[
        record(1, Verdict::DetectedCorruption, true, Backend::Sim),
        record(2, Verdict::SilentCorruption, false, Backend::Sim),
    ]);
    assert!(
        xml.contains("<testsuite name=\"restart\" tests=\"2\" failures=\"1\">"),
        "{xml}"
    );
    assert!(xml.contains("name=\"seed 2\""));
    assert!(xml.contains("a &lt;reason&gt; &amp; more; replay: mcsim repro scenarios/restart.toml --seed 2</failure>"));
}

/// `shrink` turns a failing canary run into a reproducer of at most 10 ops,
/// and replaying the reproducer gives the same run every time.
#[test]
fn the_canary_shrinks_to_a_tiny_reproducer_that_replays_identically() {
    use memcache_sim::{pipeline, shrink};
    let canary = scenario::load(&suite_dir().join("canary-one-end-single-pop.toml")).unwrap();
    let verdict = shrink::verdict_of(&canary, 0, Overrides::default());
    assert!(verdict.is_correctness_failure(), "{verdict}");
    let shrunk = shrink::shrink(&canary, 0, Overrides::default(), verdict);
    assert!(shrunk.ops <= 10, "shrunk to {} ops", shrunk.ops);
    // Round trip through the saved form, then replay twice.
    let path = temp_file("shrunk.toml", &toml::to_string(&shrunk.scenario).unwrap());
    let reloaded = scenario::load(&path).unwrap();
    let replay = || {
        pipeline::run(
            RunPlan::for_scenario(&reloaded, 0, Overrides::default()),
            pipeline::quiet(),
        )
    };
    let (first, second) = (replay(), replay());
    assert_eq!(first.record.trace_hash, second.record.trace_hash);
    assert_eq!(first.record.verdict, verdict);
}

/// Broken variants are caught by the scenario that targets their flaw: at
/// least one of the first seeds earns the failing verdict its flaw causes. (Issue 7's
/// `mcsim validate` will run the whole catalogue against the whole suite;
/// `stabilize-without-recheck` still escapes every shipped scenario.)
#[test]
fn broken_variants_are_caught_by_the_suite() {
    // Seeds per case: a liveness failure burns every retry, so fewer.
    for (variant, scenario_file, caught_as, seeds) in [
        ("no-corruption-detection", "lose-middle-node.toml", Verdict::Liveness, 3),
        ("corruption-on-first-miss", "clean.toml", Verdict::FalseAlarm, 30),
        ("delete-before-cas", "clean.toml", Verdict::FalseAlarm, 30),
        ("retry-unknown-cas", "lost-replies.toml", Verdict::SilentCorruption, 30),
        ("set-link-instead-of-cas", "late-delivery.toml", Verdict::FalseAlarm, 30),
    ] {
        let loaded = scenario::load(&suite_dir().join(scenario_file)).unwrap();
        let selection = SeedSelection {
            count: Some(seeds),
            ..Default::default()
        };
        let overrides = Overrides {
            variant: Variant::from_name(variant).map(Into::into),
            ..Overrides::default()
        };
        let records = runner::run_scenarios(&[loaded], selection, overrides, 2);
        assert!(
            records.iter().any(|r| r.verdict == caught_as),
            "{variant} escaped {scenario_file}: {:?}",
            records.iter().map(|r| r.verdict).collect::<Vec<_>>()
        );
    }
}

#[test]
fn an_out_of_range_rate_is_refused_with_its_file_line_and_range() {
    let path = temp_file(
        "rate.toml",
        "[scenario]\nexpect = [\"linearizable\"]\n\n[network]\ndrop_reply_rate = 2.0\n",
    );
    let text = scenario::load(&path).unwrap_err().to_string();
    assert!(
        text.contains("rate.toml") && text.contains("line 5") && text.contains("0 to 1"),
        "{text}"
    );
    let negative = temp_file(
        "negative.toml",
        "[scenario]\nexpect = [\"linearizable\"]\n\n[random_faults]\nrestart_per_s = -1.0\n",
    );
    let text = scenario::load(&negative).unwrap_err().to_string();
    assert!(text.contains("line 5") && text.contains("0 or more"), "{text}");
}

/// Every reply lost: no operation can succeed, and a run that tested
/// nothing is not a pass (exit 4, `vacuous`), even piped into `head`.
#[test]
fn a_run_where_nothing_succeeds_fails_even_through_a_closed_pipe() {
    let path = temp_file(
        "nothing.toml",
        "# Every reply is lost.\n[scenario]\nexpect = [\"linearizable\"]\nseeds = { count = 3 }\n\n\
         [network]\ndrop_reply_rate = 1.0\n\n[clients]\ncount = 2\nops_per_client = 5\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(i32::from(exit::HARNESS)), "{stdout}");
    assert!(stdout.contains("vacuous 3"), "{stdout}");
    // The same run piped into `head -1` (and into a reader that leaves at
    // once): the pipeline's status is mcsim's, and mcsim's is the run's.
    for reader in ["head -1", "true"] {
        let piped = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; \"$MCSIM\" run '{}' | {reader} > /dev/null",
                path.display()
            ))
            .env("MCSIM", env!("CARGO_BIN_EXE_mcsim"))
            .status()
            .unwrap();
        assert_eq!(piped.code(), Some(i32::from(exit::HARNESS)), "| {reader}");
    }
}

/// A suite split over CI jobs (`--shard K/N --report DIR`) merges into one
/// summary, one JUnit file and the exit status of the whole run.
#[test]
fn shards_merge_into_the_whole_runs_summary_and_status() {
    let dir = std::env::temp_dir().join(format!("mcsim-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mcsim = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mcsim"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let suite = suite_dir();
    let scenario = suite.join("clean.toml").display().to_string();
    let whole = mcsim(&[
        "run",
        &scenario,
        "--seeds",
        "6",
        "--variant",
        "delete-before-cas",
        "--json",
    ]);
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let out = format!("shard-{k}");
        mcsim(&[
            "run",
            &scenario,
            "--seeds",
            "6",
            "--variant",
            "delete-before-cas",
            "--shard",
            &shard,
            "--report",
            &out,
        ]);
    }
    let merged = mcsim(&["merge", "shard-1", "shard-2", "--junit", "all.xml", "--json"]);
    assert_eq!(merged.status.code(), whole.status.code());
    let (whole, merged): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&whole.stdout).unwrap(),
        serde_json::from_slice(&merged.stdout).unwrap(),
    );
    assert_eq!(merged["runs"], 6);
    assert_eq!(merged["scenarios"][0]["verdicts"], whole["scenarios"][0]["verdicts"]);
    assert_eq!(
        merged["failures"].as_array().unwrap().len(),
        whole["failures"].as_array().unwrap().len()
    );
    let xml = std::fs::read_to_string(dir.join("all.xml")).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 6);
    // Overlapping shards are refused.
    let twice = mcsim(&["merge", "shard-1", "shard-1"]);
    assert_eq!(twice.status.code(), Some(i32::from(exit::USAGE)));
}

/// Every scenario that injects something states the event that makes it
/// meaningful; the clean run, canaries (whose catch is the point) and
/// scenarios expecting a refusal at setup (the refusal is the proof) need
/// none.
#[test]
fn every_fault_scenario_states_its_reachability_condition() {
    let files = scenario::discover(&[suite_dir()]).unwrap();
    for file in files {
        let loaded = scenario::load(&file).unwrap();
        let meta = &loaded.scenario.meta;
        let exempt = ["clean", "mcas-clean"].contains(&loaded.name.as_str())
            || meta.variant.is_broken()
            || meta.expect == [memcache_sim::verdict::Verdict::Refused];
        assert!(
            exempt || meta.reach.is_some(),
            "{}: states no reach = {{ event, rate_min }}",
            file.display()
        );
    }
}

/// A suite whose runs no longer reach a scenario's event fails as a
/// harness failure (exit 4), naming the scenario, its share and its floor.
#[test]
fn a_scenario_below_its_reach_floor_fails_the_suite() {
    let dir = std::env::temp_dir().join(format!("mcsim-reach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unreached.toml");
    std::fs::write(
        &file,
        "[scenario]\nexpect = [\"linearizable\"]\nseeds = { count = 4 }\n\
         reach = { event = \"messages-dropped\", rate_min = 0.5 }\n[clients]\ncount = 2\nops_per_client = 5\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["run", &file.display().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(i32::from(exit::HARNESS)), "{stdout}");
    assert!(
        stdout.contains("UNREACHED unreached reached messages-dropped in 0 of 4 runs (0.0%), below its floor of 50%"),
        "{stdout}"
    );
    // The rerun runs the same seeds: `--seeds N` is kept.
    let fewer = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["run", &file.display().to_string(), "--seeds", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&fewer.stdout);
    assert!(stdout.contains("in 0 of 2 runs"), "{stdout}");
    assert!(stdout.contains("unreached.toml --seeds 2\n"), "{stdout}");
    // A shard or a single seed is part of a suite: its share says nothing
    // (merge checks the whole), so only pinned seeds answer for their event.
    let part = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mcsim"))
            .arg("run")
            .arg(&file)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(part(&["--seed", "1"]).status.code(), Some(0));
    assert_eq!(part(&["--shard", "1/2"]).status.code(), Some(0));
    let pinned = dir.join("pinned.toml");
    std::fs::write(
        &pinned,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("rate_min = 0.5 }", "rate_min = 0.0 }\npinned = [3]"),
    )
    .unwrap();
    let missed = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(["run", &pinned.display().to_string(), "--seed", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&missed.stdout);
    assert_eq!(missed.status.code(), Some(i32::from(exit::HARNESS)), "{stdout}");
    assert!(stdout.contains("pinned seed(s) [3] did not reach it"), "{stdout}");
    assert!(stdout.contains("; rerun: mcsim repro "), "{stdout}");
    assert!(stdout.contains("pinned.toml --seed 3\n"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
