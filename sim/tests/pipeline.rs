//! Every command runs through the one pipeline, so they agree: a run that
//! cannot start is a harness failure (exit 4) from every command; the HTML
//! page names the variant and replays it; a swarm seed's draws are shown
//! by `repro`, the JSON record and the page; a report page is rendered from
//! the run it reports, not from a second run; a real scenario below its
//! reach floor is judged on more runs.

mod common;

use common::mcsim;
use std::path::PathBuf;
use std::process::Output;

use memcache_sim::exit;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fresh directory holding a copy of the scenario suite.
fn workdir(name: &str) -> PathBuf {
    let dir = common::fresh_dir("pipeline", name);
    common::copy_scenarios(&dir, &["swarm.toml", "regressions/restart-aba.toml"]);
    dir
}

/// Values larger than the item limit: the prefill cannot push them.
const UNSTARTABLE: &str = "[servers]\nitem_size_max_bytes = 1024\n\n[clients]\nprefill_items = 1\n\
                           value_size_bytes_min = 2000\nvalue_size_bytes_max = 2000\n";

#[test]
fn a_run_that_cannot_start_is_a_harness_failure_from_every_command() {
    let dir = workdir("unstartable");
    std::fs::write(
        dir.join("unstartable.toml"),
        format!("# Cannot start.\n[scenario]\nexpect = [\"linearizable\"]\nseeds = {{ count = 1 }}\n\n{UNSTARTABLE}"),
    )
    .unwrap();
    std::fs::write(dir.join("config.toml"), UNSTARTABLE).unwrap();
    for args in [
        &["run", "unstartable.toml"][..],
        &["repro", "unstartable.toml", "--seed", "0"],
        &["shrink", "unstartable.toml", "--seed", "0"],
        &["sim", "--config", "config.toml"],
    ] {
        let output = mcsim(args, &dir);
        let said = text(&output);
        assert_eq!(output.status.code(), Some(i32::from(exit::HARNESS)), "{args:?}: {said}");
        assert!(said.contains("could not start"), "{args:?}: {said}");
    }
}

#[test]
fn the_page_of_a_variant_run_names_the_variant_and_replays_it() {
    let dir = workdir("variant-page");
    let output = mcsim(
        &[
            "repro",
            "scenarios/regressions/restart-aba.toml",
            "--seed",
            "180",
            "--variant",
            "michael2003",
        ],
        &dir,
    );
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::CORRECTNESS)),
        "{}",
        text(&output)
    );
    let page = std::fs::read_to_string(dir.join("reports/restart-aba-seed180-michael2003.html")).unwrap();
    assert!(
        page.contains("mcsim repro scenarios/regressions/restart-aba.toml --seed 180 --variant michael2003"),
        "the page's replay line keeps the variant"
    );
    assert!(page.contains("michael2003 (chosen on the command line)"));
    // The page shows the run it was given: its trace hash is the one repro
    // printed.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let hash = stdout
        .split("trace ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("repro prints the trace hash");
    assert!(page.contains(&format!("id=\"trace-hash\">{hash}<")), "{hash}");
}

#[test]
fn a_swarm_seeds_draws_are_shown_by_repro_the_record_and_the_page() {
    let dir = workdir("swarm-draws");
    let repro = mcsim(&["repro", "scenarios/swarm.toml", "--seed", "3"], &dir);
    let said = String::from_utf8_lossy(&repro.stdout);
    let drew = said
        .lines()
        .find(|line| line.starts_with("# swarm drew: "))
        .unwrap_or_else(|| panic!("repro shows the draws first: {said}"));
    assert!(drew.contains("random_faults.") || drew.contains("network."), "{drew}");
    assert!(said.starts_with("# seed = 3\n"), "the seed comes first");
    let page = std::fs::read_to_string(dir.join("reports/swarm-seed3.html")).unwrap();
    assert!(page.contains(&drew.replace('"', "&quot;")), "the page shows the draws");
    let run = mcsim(&["run", "scenarios/swarm.toml", "--seed", "3", "--report", "out"], &dir);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/swarm/seed-3.json")).unwrap()).unwrap();
    let rates = record["swarm"]["rates"].as_array().expect("the record keeps the draws");
    assert_eq!(rates.len(), 9);
}

#[test]
fn run_report_writes_the_page_of_each_unexpected_run_it_ran() {
    let dir = workdir("run-report");
    let output = mcsim(
        &[
            "run",
            "scenarios/regressions/restart-aba.toml",
            "--seed",
            "180",
            "--variant",
            "michael2003",
            "--report",
            "out",
            "--json",
        ],
        &dir,
    );
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit::CORRECTNESS)),
        "{}",
        text(&output)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let failure = &summary["failures"][0];
    let hash = failure["trace_hash"].as_str().unwrap();
    let page = std::fs::read_to_string(dir.join("out/restart-aba-seed180-michael2003.html")).unwrap();
    assert!(page.contains(&format!("id=\"trace-hash\">{hash}<")));
    assert!(dir.join("out/restart-aba/seed-180.history.json").exists());
}

/// On real memcached a seed does not reproduce a run, so a scenario below
/// its reach floor runs `RESAMPLE_RUNS` (19) more times before its floor is
/// judged; one that never reaches its event still fails, on all its runs,
/// and the report's manifest plans every run it wrote.
#[test]
fn a_real_scenario_below_its_floor_is_judged_on_more_runs() {
    let dir = common::fresh_dir("pipeline", "resample");
    std::fs::write(
        dir.join("never.toml"),
        "# Nothing here recreates the deque.\n[scenario]\nexpect = [\"linearizable\"]\nseeds = { count = 1 }\n\
         reach = { event = \"recreations\", rate_min = 0.9 }\n\n[clients]\ncount = 2\nops_per_client = 5\n",
    )
    .unwrap();
    let args = [
        "run",
        "never.toml",
        "--backend",
        "real",
        "--threads",
        "2",
        "--report",
        "report",
    ];
    let output = mcsim(&args, &dir);
    let text = text(&output);
    let rerun = "rerun: cargo test -p memcache-sim --test pipeline a_real_scenario_below_its_floor";
    assert_eq!(output.status.code(), Some(i32::from(exit::HARNESS)), "{text}\n{rerun}");
    assert!(text.contains("19 more runs (seeds 1 to 19)"), "{text}\n{rerun}");
    assert!(text.contains("recreations in 0 of 20 runs"), "{text}\n{rerun}");
    let merged = mcsim(&["merge", "report"], &dir);
    let merged_text = String::from_utf8_lossy(&merged.stdout);
    assert!(
        merged_text.contains("20 runs from 1 shard(s)"),
        "{merged_text}\n{rerun}"
    );
}
