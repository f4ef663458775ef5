//! `mcsim check HISTORY.json`: checks a history from anywhere (the simulator,
//! real memcached, loom, shuttle, another tool) in the JSON format that
//! `memcache_sim::history` documents, or an MCAS history
//! (`"subject": "mcas"`, `memcache_sim::mcas::history`).

use std::path::PathBuf;

use memcache_sim::check::{CheckOptions, STEPS_MAX_DEFAULT, check};
use memcache_sim::exit;
use memcache_sim::history::History;
use memcache_sim::mcas::{McasHistory, check_mcas};
use memcache_sim::verdict::Verdict;

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
    /// Also write the history in Porcupine's operation format to this file
    /// (deque histories without losses or corruption reports; the format is
    /// in docs/history-format.md), to compare the two checkers on it.
    #[arg(long, value_name = "FILE")]
    pub export_porcupine: Option<PathBuf>,
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
    // A deque history has no subject; an MCAS history says so. Only that
    // field is read here: the operations are skipped, not built as a JSON
    // tree (which took 2.2 GB for a million operations).
    #[derive(serde::Deserialize)]
    struct Subject {
        #[serde(default)]
        subject: Option<serde_json::Value>,
    }
    // (Anything but an object is no history of either kind: the deque
    // parser below says so.)
    let parsed = if text.trim_start().starts_with('{') {
        match serde_json::from_str::<Subject>(&text) {
            Ok(parsed) => parsed,
            Err(error) => {
                eprintln!("mcsim: {} is not JSON: {error}", path.display());
                return exit::USAGE;
            }
        }
    } else {
        Subject { subject: None }
    };
    match parsed.subject.as_ref() {
        None => {}
        Some(serde_json::Value::String(subject)) if subject == "mcas" && args.export_porcupine.is_some() => {
            eprintln!(
                "mcsim: {}: --export-porcupine writes deque histories; this one is MCAS registers'",
                path.display()
            );
            return exit::USAGE;
        }
        Some(serde_json::Value::String(subject)) if subject == "mcas" => return run_mcas(args, &text),
        Some(other) => {
            eprintln!(
                "mcsim: {}: subject is {other}; the subjects are \"mcas\", or none for a deque history",
                path.display()
            );
            return exit::USAGE;
        }
    }
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
    if let Some(out) = &args.export_porcupine {
        let written = memcache_sim::check::porcupine::to_porcupine(&history).and_then(|ops| {
            let text = serde_json::to_string(&ops).expect("operations serialise");
            std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))
        });
        if let Err(error) = written {
            eprintln!("mcsim: --export-porcupine: {}: {error}", path.display());
            return exit::USAGE;
        }
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
    exit_with(report.verdict, path, steps_max)
}

/// The same for an MCAS history: the register checker, the same verdicts,
/// exit classes and replay line.
fn run_mcas(args: &CheckArgs, text: &str) -> u8 {
    let (path, steps_max) = (&args.history, args.steps_max);
    let history: McasHistory = match serde_json::from_str(text) {
        Ok(history) => history,
        Err(error) => {
            eprintln!(
                "mcsim: {} is not an MCAS history (the format is in docs/history-format.md): {error}",
                path.display()
            );
            return exit::USAGE;
        }
    };
    let report = match check_mcas(&history, steps_max) {
        Ok(report) => report,
        Err(error) => {
            eprintln!(
                "mcsim: {} is not a history any clients could produce: {error}",
                path.display()
            );
            return exit::USAGE;
        }
    };
    if args.json {
        let json = serde_json::json!({
            "verdict": report.verdict,
            "reason": report.reason,
            "steps": report.steps,
        });
        outln!("{}", serde_json::to_string_pretty(&json).expect("reports serialise"));
    } else {
        outln!("{}: {} ({} ops)", report.verdict, report.reason, history.ops.len());
    }
    exit_with(report.verdict, path, steps_max)
}

/// The verdict's exit class; a failure's line ends with its replay command.
fn exit_with(verdict: Verdict, path: &std::path::Path, steps_max: u64) -> u8 {
    let status = verdict.exit_class();
    if status != exit::OK {
        let steps = if steps_max == STEPS_MAX_DEFAULT {
            String::new()
        } else {
            format!(" --steps-max {steps_max}")
        };
        eprintln!(
            "FAIL: {verdict}; replay: mcsim check {}{steps}",
            memcache_sim::replay::quoted(path)
        );
    }
    status
}
