//! The human-readable summary of a batch: one row per scenario (seeds,
//! unexpected verdicts, how the operations ended, the slowest seed, the
//! verdict counts), then one failure line per unexpected run, ending with
//! the command that replays it.

use crate::record::{RunRecord, summarise};

/// The summary table and failure lines.
pub fn render(records: &[RunRecord]) -> String {
    let mut out = format!(
        "{:<26} {:>6} {:>10} {:>34}  {:<16} verdicts\n",
        "scenario", "seeds", "unexpected", "ops ok/failed/unknown/corruption", "slowest seed"
    );
    for s in summarise(records) {
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
        out.push_str(&format!(
            "{:<26} {:>6} {:>10} {:>34}  {:<16} {}\n",
            s.scenario,
            s.seeds,
            s.unexpected,
            ops,
            slowest,
            verdicts.join(", ")
        ));
    }
    for record in records.iter().filter(|r| !r.expected) {
        out.push_str(&record.failure_line());
        out.push('\n');
    }
    out
}
