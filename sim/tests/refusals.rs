//! Input that would make a command answer something meaningless is refused
//! with the usage status (3) and a message that says what and where: a run
//! of zero seeds, a configuration nothing can run, a report directory that
//! already holds records, shards that are not one whole run, a history no
//! clients could produce. And what a user runs outside the repository, or
//! with the wrong command for a file, says what to do instead.

mod common;

use common::{mcsim, stderr, suite_dir};
use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::pipeline;
use memcache_sim::plan::{Overrides, RunPlan};
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::scenario;

const USAGE: Option<i32> = Some(exit::USAGE as i32);

/// A fresh, empty working directory.
fn workdir(name: &str) -> PathBuf {
    common::fresh_dir("refusals", name)
}

#[test]
fn zero_seeds_and_an_empty_shard_are_refused() {
    let dir = workdir("zero");
    let clean = suite_dir().join("clean.toml").display().to_string();
    let zero = mcsim(&["run", &clean, "--seeds", "0"], &dir);
    assert_eq!(zero.status.code(), USAGE);
    assert!(stderr(&zero).contains("0 would run nothing"), "{}", stderr(&zero));
    let empty = mcsim(&["run", &clean, "--seeds", "2", "--shard", "3/3"], &dir);
    assert_eq!(empty.status.code(), USAGE);
    assert!(stderr(&empty).contains("no run"), "{}", stderr(&empty));
}

#[test]
fn configurations_nothing_can_run_are_refused_naming_the_fields() {
    let dir = workdir("config");
    for (body, named) in [
        (
            "[clients]\nmix = { push_back = 0, push_front = 0, pop_back = 0, pop_front = 0 }\n",
            "clients.mix",
        ),
        (
            "[clients]\nvalue_size_bytes_min = 100\nvalue_size_bytes_max = 10\n",
            "value_size_bytes_min = 100 is above",
        ),
        (
            "[clients]\nbackoff_first_us = 1000\nbackoff_max_us = 10\n",
            "backoff_first_us = 1000 is above",
        ),
    ] {
        std::fs::write(
            dir.join("bad.toml"),
            format!("[scenario]\nexpect = [\"linearizable\"]\n\n{body}"),
        )
        .unwrap();
        let output = mcsim(&["run", "bad.toml"], &dir);
        assert_eq!(output.status.code(), USAGE, "{body}");
        assert!(stderr(&output).contains(named), "{}", stderr(&output));
    }
}

#[test]
fn an_unknown_section_is_pointed_at_on_its_own_line() {
    let dir = workdir("section");
    std::fs::write(
        dir.join("s.toml"),
        "[scenario]\nexpect = [\"linearizable\"]\n\n[clients]\ncount = 2\n\n[bogus]\nx = 1\n",
    )
    .unwrap();
    let output = mcsim(&["run", "s.toml"], &dir);
    assert_eq!(output.status.code(), USAGE);
    let text = stderr(&output);
    assert!(
        text.contains("line 7") && text.contains("[bogus]") && text.contains("unknown section `bogus`"),
        "{text}"
    );
    // A scenario file given to `sim --config` says which commands read it.
    let sim = mcsim(&["sim", "--config", "s.toml"], &dir);
    assert_eq!(sim.status.code(), USAGE);
    assert!(stderr(&sim).contains("mcsim run s.toml"), "{}", stderr(&sim));
}

#[test]
fn outside_the_repository_list_still_lists_and_run_says_where_it_looked() {
    let dir = workdir("elsewhere");
    let list = mcsim(&["list"], &dir);
    assert_eq!(list.status.code(), Some(0));
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("no scenarios listed") && text.contains("hardened") && text.contains("linearizable"));
    let run = mcsim(&["run"], &dir);
    assert_eq!(run.status.code(), USAGE);
    assert!(
        stderr(&run).contains("relative to the current directory"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn a_report_directory_is_fresh_and_merge_takes_only_a_whole_run() {
    let dir = workdir("merge");
    let clean = suite_dir().join("clean.toml").display().to_string();
    let shard = |k: u64, out: &str| {
        let shard = format!("{k}/3");
        mcsim(
            &["run", &clean, "--seeds", "3", "--shard", &shard, "--report", out],
            &dir,
        )
    };
    assert_eq!(shard(1, "s1").status.code(), Some(0));
    // The same directory again would mix two runs' records.
    let again = shard(1, "s1");
    assert_eq!(again.status.code(), USAGE);
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert_eq!(shard(3, "s3").status.code(), Some(0));
    let missing = mcsim(&["merge", "s1", "s3"], &dir);
    assert_eq!(missing.status.code(), USAGE);
    assert!(
        stderr(&missing).contains("shard(s) [2] of 3 are missing"),
        "{}",
        stderr(&missing)
    );
    assert_eq!(shard(2, "s2").status.code(), Some(0));
    assert_eq!(mcsim(&["merge", "s1", "s2", "s3"], &dir).status.code(), Some(0));
    // A stale record beside a shard's own is found by its count.
    let records = dir.join("s2/clean");
    std::fs::copy(records.join("seed-1.json"), records.join("seed-7.json")).unwrap();
    let stale = mcsim(&["merge", "s1", "s2", "s3"], &dir);
    assert_eq!(stale.status.code(), USAGE);
    assert!(stderr(&stale).contains("stale or missing"), "{}", stderr(&stale));
    // Another shard's record in place of this one's is found by name.
    std::fs::remove_file(records.join("seed-7.json")).unwrap();
    let own = std::fs::read_dir(&records).unwrap().next().unwrap().unwrap().path();
    let theirs = std::fs::read_dir(dir.join("s1/clean"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(theirs, own).unwrap();
    let swapped = mcsim(&["merge", "s1", "s2", "s3"], &dir);
    assert_eq!(swapped.status.code(), USAGE);
    assert!(
        stderr(&swapped).contains("is not a run its manifest planned"),
        "{}",
        stderr(&swapped)
    );
    // A directory no run wrote.
    std::fs::create_dir_all(dir.join("other/clean")).unwrap();
    let foreign = mcsim(&["merge", "other"], &dir);
    assert_eq!(foreign.status.code(), USAGE);
    assert!(stderr(&foreign).contains("no manifest.json"), "{}", stderr(&foreign));
}

#[test]
fn a_history_no_clients_could_produce_is_refused_naming_the_operation() {
    let dir = workdir("history");
    std::fs::write(
        dir.join("h.json"),
        r#"{"ops": [
            {"client": 0, "op": "push_back", "value": "a", "invoke_us": 0, "return_us": 10, "result": {"type": "ok"}},
            {"client": 0, "op": "pop_back", "value": null, "invoke_us": 5, "return_us": 20, "result": {"type": "empty"}}
        ]}"#,
    )
    .unwrap();
    let output = mcsim(&["check", "h.json"], &dir);
    assert_eq!(output.status.code(), USAGE);
    assert!(
        stderr(&output).contains("ops[1]: client 0 invokes at 5 us, but its ops[0] returns only at 10 us"),
        "{}",
        stderr(&output)
    );
}

/// The bench's histories can be taken elsewhere: `bench checker --export`
/// writes what it checked, `check --export-porcupine` turns one into
/// Porcupine's operations, and a history Porcupine cannot express (a
/// reported corruption) is refused by name rather than written wrong.
#[test]
fn exported_histories_round_trip_and_porcupine_refuses_corruption() {
    let dir = workdir("export");
    let bench = mcsim(
        &["bench", "checker", "--families", "lost-value", "--export", "out"],
        &dir,
    );
    assert_eq!(bench.status.code(), Some(0), "{}", stderr(&bench));
    let check = mcsim(
        &["check", "out/lost-value-20.json", "--export-porcupine", "p.json"],
        &dir,
    );
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.starts_with("silent-corruption"), "{stdout}");
    assert!(
        stderr(&check).ends_with("replay: mcsim check out/lost-value-20.json\n"),
        "{}",
        stderr(&check)
    );
    let ops: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
    assert_eq!(ops.len(), 42, "every operation of the 42");
    assert_eq!(ops[0]["Input"]["op"], "push_back");
    std::fs::write(
        dir.join("c.json"),
        r#"{"ops": [{"client": 0, "op": "pop_back", "value": null, "invoke_us": 0, "return_us": 9,
            "result": {"type": "corruption", "key": "k", "detail": "missing node"}}]}"#,
    )
    .unwrap();
    let refused = mcsim(&["check", "c.json", "--export-porcupine", "q.json"], &dir);
    assert_eq!(refused.status.code(), USAGE);
    assert!(
        stderr(&refused).contains("ops[0] reported corruption"),
        "{}",
        stderr(&refused)
    );
    assert!(!dir.join("q.json").exists());
}

/// Every world's histories obey the format's rules, so `mcsim check`
/// accepts whatever `run --report` wrote.
#[test]
fn every_shipped_scenarios_histories_are_valid() {
    for file in scenario::discover(&[suite_dir()]).unwrap() {
        let loaded = scenario::load(&file).unwrap();
        for seed in 0..3 {
            let ran = pipeline::run(
                RunPlan::for_scenario(&loaded, seed, Overrides::default()),
                pipeline::quiet(),
            );
            if let Err(error) = ran.outcome.history.validate() {
                panic!("{} seed {seed}: {error}", file.display());
            }
        }
    }
}

/// `run --variant X` tries X on the suite; a canary (a scenario of a
/// deliberately broken variant) checks the harness, not X, and keeps its
/// own variant, so a correct X does not fail it.
#[test]
fn a_variant_override_leaves_the_canary_its_variant() {
    let canary = scenario::load(&suite_dir().join("canary-one-end-single-pop.toml")).unwrap();
    let clean = scenario::load(&suite_dir().join("clean.toml")).unwrap();
    let overrides = Overrides {
        variant: Some(Variant::Michael2003.into()),
        ..Overrides::default()
    };
    let selection = SeedSelection {
        single: Some(0),
        ..SeedSelection::default()
    };
    let plans = runner::plans(&[canary, clean], selection, overrides);
    assert_eq!(plans[0].variant, Variant::OneEndSinglePop.into());
    assert_eq!(plans[1].variant, Variant::Michael2003.into());
}

/// `--backoff-us` takes the two bounds as one comma-separated value, as its
/// help says; anything else is refused before a server is started.
#[test]
fn a_backoff_that_is_not_two_growing_bounds_is_refused() {
    let dir = workdir("backoff");
    for (bad, says) in [("800", "not FIRST_US,MAX_US"), ("1000,10", "above the largest")] {
        let output = mcsim(&["bench", "real", "--backoff-us", bad], &dir);
        assert_eq!(output.status.code(), USAGE, "{bad}");
        assert!(stderr(&output).contains(says), "{bad}: {}", stderr(&output));
    }
}
