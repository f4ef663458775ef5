//! `mcsim check HISTORY.json`: checks a history from anywhere (the simulator,
//! real memcached, loom, shuttle, another tool) in the JSON format that
//! `memcache_sim::history` documents.

use std::path::PathBuf;

use memcache_sim::check::{CheckOptions, STEPS_MAX_DEFAULT, check};
use memcache_sim::exit;
use memcache_sim::history::History;

/// `mcsim check`'s arguments.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The history.
    pub history: PathBuf,
    /// Search steps before answering `unknown`; the explanation of a
    /// failure spends at most as many again.
    #[arg(long, default_value_t = STEPS_MAX_DEFAULT, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps_max: u64,
    /// Skip explaining a failure (the verdict and its reason only).
    #[arg(long)]
    pub no_explain: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads, checks and reports; returns the exit status.
pub fn run(args: &CheckArgs) -> u8 {
    let (path, steps_max, json) = (&args.history, args.steps_max, args.json);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("mcsim: cannot read {}: {error}", path.display());
            return exit::USAGE;
        }
    };
    let history: History = match serde_json::from_str(&text) {
        Ok(history) => history,
        Err(error) => {
            eprintln!(
                "mcsim: {} is not a history (the format is in docs/history-format.md): {error}",
                path.display()
            );
            return exit::USAGE;
        }
    };
    if let Err(error) = history.validate() {
        eprintln!(
            "mcsim: {} is not a history any clients could produce: {error}",
            path.display()
        );
        return exit::USAGE;
    }
    let report = check(
        &history,
        CheckOptions {
            steps_max,
            explain: !args.no_explain,
        },
    );
    if json {
        outln!("{}", serde_json::to_string_pretty(&report).expect("reports serialise"));
    } else {
        outln!("{}: {} ({} ops)", report.verdict, report.reason, history.ops.len());
        if let Some(explanation) = &report.explanation {
            outln!("{}", explanation.text);
        }
    }
    let status = report.verdict.exit_class();
    if status != exit::OK {
        let steps = if steps_max == STEPS_MAX_DEFAULT {
            String::new()
        } else {
            format!(" --steps-max {steps_max}")
        };
        eprintln!(
            "FAIL: {}; replay: mcsim check {}{steps}",
            report.verdict,
            path.display()
        );
    }
    status
}
