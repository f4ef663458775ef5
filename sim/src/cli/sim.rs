//! `mcsim sim`: one simulated run, checked, optionally self-checked.

use std::path::{Path, PathBuf};

use memcache_sim::check::{CheckOptions, check};
use memcache_sim::exit;
use memcache_sim::one_run::{self, Divergence, RunSummary};
use memcache_sim::sim::{self, SimConfig};

/// What `mcsim sim` was asked.
pub struct SimArgs {
    /// Configuration file, or the defaults.
    pub config: Option<PathBuf>,
    /// Master seed.
    pub seed: u64,
    /// Run twice and compare.
    pub self_check: bool,
    /// Where to write the history.
    pub history: Option<PathBuf>,
    /// JSON summary.
    pub json: bool,
}

fn replay_command(args: &SimArgs) -> String {
    format!(
        "mcsim sim{} --seed {}{}",
        args.config
            .as_deref()
            .map(|p| format!(" --config {}", p.display()))
            .unwrap_or_default(),
        args.seed,
        if args.self_check { " --self-check" } else { "" }
    )
}

fn load(path: Option<&Path>) -> Result<SimConfig, u8> {
    match path {
        Some(path) => one_run::load_config(path).map_err(|error| {
            eprintln!("mcsim: {error}");
            exit::USAGE
        }),
        None => Ok(SimConfig::default()),
    }
}

/// Runs, checks, reports; returns the exit status.
pub fn run(args: &SimArgs) -> u8 {
    let replay = replay_command(args);
    let config = match load(args.config.as_deref()) {
        Ok(config) => config,
        Err(status) => return status,
    };
    let result = if args.self_check {
        one_run::self_check(&config, args.seed)
    } else {
        sim::run(&config, args.seed).map(|outcome| (outcome, None))
    };
    let (outcome, divergence) = match result {
        Ok(pair) => pair,
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    };
    if let Some(path) = &args.history {
        let text = serde_json::to_string_pretty(&outcome.history).expect("history serialises");
        if let Err(error) = std::fs::write(path, text) {
            eprintln!("mcsim: cannot write {}: {error}", path.display());
            return exit::HARNESS;
        }
    }
    let report = check(&outcome.history, CheckOptions::default());
    let summary = RunSummary::of(&outcome);
    if args.json {
        let value = serde_json::json!({ "run": summary, "verdict": report.verdict, "reason": report.reason });
        outln!("{}", serde_json::to_string_pretty(&value).expect("summary serialises"));
    } else {
        outln!(
            "seed {} trace {} | {} requests, {} ops, {} timeouts, {} dropped, {} faults, {} losses | {}: {}",
            summary.seed,
            summary.trace_hash,
            summary.stats.requests,
            outcome.history.ops.len(),
            summary.stats.timeouts,
            summary.stats.messages_dropped,
            summary.stats.faults,
            summary.losses,
            report.verdict,
            report.reason
        );
        if let Some(explanation) = &report.explanation {
            outln!("{}", explanation.text);
        }
    }
    if let Some(divergence) = divergence {
        let what = match divergence {
            Divergence::TraceHash(a, b) => format!("trace hashes {a:016x} and {b:016x} differ"),
            Divergence::History(index) => format!("histories differ at operation {index}"),
        };
        eprintln!("FAIL: nondeterminism: {what}; replay: {replay}");
        return exit::HARNESS;
    }
    if outcome.stats.stuck {
        eprintln!("FAIL: liveness: the run did not finish within the event budget; replay: {replay}");
        return exit::LIVENESS;
    }
    let status = exit::for_verdict(report.verdict);
    if status != exit::OK {
        eprintln!("FAIL: {}: {}; replay: {replay}", report.verdict, report.reason);
    }
    status
}
