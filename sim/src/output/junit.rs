//! JUnit XML, which CI systems read: one test suite per scenario, one test
//! case per seed, a failure for every unexpected verdict with its replay
//! command.

use super::escape;
use crate::record::{RunRecord, summarise};

/// The XML document.
pub fn render(records: &[RunRecord]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mcsim\">\n");
    for summary in summarise(records) {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
            escape(&summary.scenario),
            summary.seeds,
            summary.unexpected
        ));
        for record in records.iter().filter(|r| r.scenario == summary.scenario) {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"seed {}\" time=\"{:.3}\">",
                escape(&record.scenario),
                record.seed,
                record.wall_ms / 1e3
            ));
            if !record.expected {
                out.push_str(&format!(
                    "<failure message=\"{}\">{}; {}: {}</failure>",
                    escape(record.verdict.name()),
                    escape(&record.reason),
                    record.replay_label(),
                    escape(&record.replay)
                ));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
