//! The human-readable summary of a batch: one row per scenario (seeds,
//! unexpected verdicts, how the operations ended, how many runs reached the
//! scenario's event, the slowest seed, the verdict counts), then one failure
//! line per unexpected run, ending with the command that replays it, and one
//! line per scenario below its reach floor.

use std::path::{Path, PathBuf};

use crate::record::{Floors, RunRecord, reach_failures, summarise};

/// How the table names a scenario: its file's path below the directory
/// every scenario of the batch shares, without `.toml` (`clean`,
/// `regressions/restart-aba`), so that two files of one name in different
/// directories stay apart; the scenario's name when it has no file.
fn display_name(records: &[RunRecord], scenario: &str) -> String {
    let parent = |record: &RunRecord| Path::new(&record.path).parent().map(Path::to_path_buf);
    let mut common: Option<PathBuf> = None;
    for dir in records.iter().filter(|r| !r.path.is_empty()).filter_map(parent) {
        common = Some(match common {
            None => dir,
            Some(so_far) => so_far
                .components()
                .zip(dir.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    let record = records.iter().find(|r| r.scenario == scenario && !r.path.is_empty());
    match (record, common) {
        (Some(record), Some(common)) => Path::new(&record.path)
            .strip_prefix(&common)
            .map_or_else(|_| scenario.to_owned(), |p| p.with_extension("").display().to_string()),
        _ => scenario.to_owned(),
    }
}

/// The summary table and failure lines.
pub fn render(records: &[RunRecord], floors: Floors) -> String {
    let summaries = summarise(records);
    let names: Vec<String> = summaries.iter().map(|s| display_name(records, &s.scenario)).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0).max(26);
    let mut out = format!(
        "{:<width$} {:>6} {:>10} {:>34} {:>9}  {:<16} verdicts\n",
        "scenario", "seeds", "unexpected", "ops ok/failed/unknown/corruption", "reached", "slowest seed"
    );
    for (s, name) in summaries.iter().zip(&names) {
        // A failing verdict a scenario expects is a catch (a canary, or a
        // broken variant's scenario): say so, lest it read as a failure. An
        // expected refusal is the library doing its job, not a catch.
        let expected_catch = |verdict: crate::verdict::Verdict| {
            !verdict.is_pass()
                && verdict != crate::verdict::Verdict::Refused
                && records
                    .iter()
                    .any(|r| r.scenario == s.scenario && r.verdict == verdict && r.expected)
        };
        let verdicts: Vec<String> = s
            .verdicts
            .iter()
            .map(|&(v, n)| {
                if expected_catch(v) {
                    format!("{v} {n} (expected catch)")
                } else {
                    format!("{v} {n}")
                }
            })
            .collect();
        let slowest = s
            .slowest
            .map_or("-".to_owned(), |(seed, ms)| format!("{seed} ({ms:.0} ms)"));
        let ops = format!(
            "{}/{}/{}/{}",
            s.ops.succeeded, s.ops.failed, s.ops.unknown, s.ops.corruption
        );
        // Runs that reached the scenario's event, of those whose world can
        // see it: "-" without a condition, "n/a" where no run could see it.
        let reached = match &s.reach {
            None => "-".to_owned(),
            Some(tally) if tally.observed == 0 => "n/a".to_owned(),
            Some(tally) => format!("{}/{}", tally.reached, tally.observed),
        };
        out.push_str(&format!(
            "{:<width$} {:>6} {:>10} {:>34} {:>9}  {:<16} {}\n",
            name,
            s.seeds,
            s.unexpected,
            ops,
            reached,
            slowest,
            verdicts.join(", ")
        ));
    }
    for record in records.iter().filter(|r| !r.expected) {
        out.push_str(&record.failure_line());
        out.push('\n');
    }
    for line in reach_failures(records, floors) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
