//! Every replay line the harness prints runs as printed (through `sh`, with
//! the built `mcsim` on the PATH) and gives the same run: the same verdict
//! and, in the simulator, the same trace hash. For each command that prints
//! one (the run summary, `repro`, `shrink`, `validate`, `sim`, the HTML
//! page, JSON records, JUnit) and each kind of run (a plain run, a
//! `--variant` run, a swarm seed, a shrunk file).

mod common;

use common::mcsim;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workdir(name: &str) -> PathBuf {
    let dir = common::fresh_dir("replay", name);
    common::copy_scenarios(&dir, &["swarm.toml", "regressions/restart-aba.toml"]);
    let suite = common::suite_dir();
    // The finding's scenario with the algorithm it was found on written in
    // the file: a plain run (no `--variant`) that fails.
    let aba = std::fs::read_to_string(suite.join("regressions/restart-aba.toml")).unwrap();
    let plain = aba.replace("[scenario]\n", "[scenario]\nvariant = \"michael2003\"\n");
    std::fs::write(dir.join("plain.toml"), plain).unwrap();
    std::fs::write(
        dir.join("lossy.toml"),
        "[network]\ndrop_reply_rate = 0.05\n\n[clients]\ncount = 4\nops_per_client = 60\n",
    )
    .unwrap();
    dir
}

/// Runs a printed line as a user would paste it.
fn run_line(line: &str, dir: &Path) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_mcsim")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("sh")
        .args(["-c", line])
        .env("PATH", path)
        .current_dir(dir)
        .output()
        .expect("sh runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn all(output: &Output) -> String {
    format!("{}{}", stdout(output), String::from_utf8_lossy(&output.stderr))
}

/// The text after `marker` on the first line holding it, up to the end of
/// the line.
fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    let start = text.find(marker).unwrap_or_else(|| panic!("no {marker:?} in {text}")) + marker.len();
    text[start..].lines().next().unwrap().trim()
}

/// The verdict and trace hash a `repro` or `sim` run printed.
fn earned(output: &Output) -> (String, String) {
    let text = stdout(output);
    if text.starts_with("seed ") {
        // `mcsim sim`: "seed S trace H | ... | verdict: reason"
        let hash = after(&text, " trace ").split(' ').next().unwrap().to_owned();
        let verdict = text.rsplit(" | ").next().unwrap().split(':').next().unwrap().to_owned();
        return (verdict, hash);
    }
    // `mcsim repro`: "<name> seed S: verdict (...)" then "trace H; ..."
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(" seed ") && l.contains(": "))
        .unwrap_or_else(|| panic!("no verdict line in {text}"));
    let verdict = line.split(": ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
    let hash = after(&text, "\ntrace ").split(';').next().unwrap().to_owned();
    (verdict, hash)
}

/// Runs `line` and checks it earns `verdict` with `hash` (if known).
fn replays(line: &str, dir: &Path, verdict: &str, hash: Option<&str>) {
    let output = run_line(line, dir);
    let (got_verdict, got_hash) = earned(&output);
    assert_eq!(got_verdict, verdict, "{line}: {}", all(&output));
    if let Some(hash) = hash {
        assert_eq!(got_hash, hash, "{line}");
    }
}

#[test]
fn the_run_summary_json_junit_and_page_lines_replay_the_run() {
    let dir = workdir("run");
    let scenario = "scenarios/regressions/restart-aba.toml";
    let json = mcsim(
        &[
            "run",
            scenario,
            "--seed",
            "180",
            "--variant",
            "michael2003",
            "--json",
            "--junit",
            "j.xml",
            "--report",
            "out",
        ],
        &dir,
    );
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let failure = &summary["failures"][0];
    let (verdict, hash) = (
        failure["verdict"].as_str().unwrap(),
        failure["trace_hash"].as_str().unwrap(),
    );
    assert_eq!(verdict, "silent-corruption");
    // JSON.
    replays(failure["replay"].as_str().unwrap(), &dir, verdict, Some(hash));
    // JUnit.
    let xml = std::fs::read_to_string(dir.join("j.xml")).unwrap();
    let junit_line = after(&xml, "; replay: ").split("</failure>").next().unwrap();
    replays(junit_line, &dir, verdict, Some(hash));
    // The HTML page.
    let page = std::fs::read_to_string(dir.join("out/restart-aba-seed180-michael2003.html")).unwrap();
    let page_line = after(&page, "id=\"replay\">").split("</code>").next().unwrap();
    replays(page_line, &dir, verdict, Some(hash));
    // The summary's failure line (a `--variant` run).
    let table = mcsim(&["run", scenario, "--seed", "180", "--variant", "michael2003"], &dir);
    replays(after(&stdout(&table), "; replay: "), &dir, verdict, Some(hash));
}

#[test]
fn a_plain_runs_and_a_swarm_seeds_lines_replay_them() {
    let dir = workdir("plain-swarm");
    for (args, verdict) in [
        (
            &["run", "plain.toml", "--seed", "180", "--json"][..],
            "silent-corruption",
        ),
        (
            &[
                "run",
                "scenarios/swarm.toml",
                "--seed",
                "6",
                "--variant",
                "delete-before-cas",
                "--json",
            ][..],
            "false-alarm",
        ),
    ] {
        let output = mcsim(args, &dir);
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let failure = &summary["failures"][0];
        assert_eq!(failure["verdict"], verdict, "{args:?}");
        let line = failure["replay"].as_str().unwrap();
        replays(line, &dir, verdict, failure["trace_hash"].as_str());
        // `repro` prints its own failure line: it replays too.
        let repro = run_line(line, &dir);
        let again = after(&String::from_utf8_lossy(&repro.stderr), "; replay: ").to_owned();
        assert_eq!(again, line);
    }
}

#[test]
fn a_shrunk_files_line_replays_it() {
    let dir = workdir("shrink");
    let output = mcsim(&["shrink", "plain.toml", "--seed", "180", "--out", "shrunk.toml"], &dir);
    let said = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    let verdict = after(&said, "workload ops still give ").trim_end_matches('.');
    let line = after(&said, "; replay: ");
    assert_eq!(line, "mcsim repro shrunk.toml --seed 180");
    let first = earned(&run_line(line, &dir));
    assert_eq!(first.0, verdict);
    assert_eq!(first, earned(&run_line(line, &dir)), "the same run twice");
}

#[test]
fn validates_and_sims_lines_replay_their_runs() {
    let dir = workdir("validate-sim");
    let output = mcsim(
        &[
            "validate",
            "scenarios/swarm.toml",
            "--variant",
            "delete-before-cas",
            "--master-seeds",
            "1",
            "--seeds",
            "1",
            "--no-shrink",
            "--json",
        ],
        &dir,
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", all(&output)));
    let caught = &report["variants"][0]["hunts"][0]["caught"];
    replays(
        caught["replay"].as_str().unwrap(),
        &dir,
        caught["verdict"].as_str().unwrap(),
        None,
    );
    let sim = mcsim(
        &[
            "sim",
            "--config",
            "lossy.toml",
            "--seed",
            "2",
            "--variant",
            "retry-unknown-cas",
        ],
        &dir,
    );
    let (verdict, hash) = earned(&sim);
    assert_eq!(verdict, "silent-corruption", "{}", all(&sim));
    let line = after(&String::from_utf8_lossy(&sim.stderr), "; replay: ").to_owned();
    assert_eq!(
        line,
        "mcsim sim --config lossy.toml --seed 2 --variant retry-unknown-cas"
    );
    replays(&line, &dir, &verdict, Some(&hash));
}
