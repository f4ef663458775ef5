//! The one place a run becomes a verdict, for every command and world: a
//! run that could not start is a harness failure (`could-not-start`); a run
//! that got stuck is a liveness failure, judged without its partial
//! history; any other run is checked. Then the verdict is compared with
//! what the plan expects, and an unexpected verdict gets its exit class
//! (an unexpected pass counts as a correctness failure of the suite: the
//! bug it should catch went unseen).

use crate::check::{self, CheckOptions, CheckReport, Explanation};
use crate::exit;
use crate::outcome::{Outcome, RunEnd};
use crate::verdict::Verdict;

/// A run's verdict, and whether it was expected.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub verdict: Verdict,
    /// One sentence on why.
    pub reason: String,
    /// Whether the plan accepts this verdict.
    pub expected: bool,
    /// The checker's report, when the history was checked.
    pub check: Option<CheckReport>,
}

impl Judgement {
    /// The exit status this judgement alone calls for.
    pub fn exit_class(&self) -> u8 {
        if self.expected {
            exit::OK
        } else {
            self.verdict.exit_class_unexpected()
        }
    }

    /// The explanation of a failing check, computed now if the check was
    /// run without one (it reuses where the search failed).
    pub fn explanation(&self, outcome: &Outcome) -> Option<Explanation> {
        check::explain(&outcome.history, self.check.as_ref()?)
    }
}

/// Judges `outcome` against the verdicts `expect` accepts.
pub fn judge(outcome: &Outcome, expect: &[Verdict], options: CheckOptions) -> Judgement {
    let (verdict, reason, check) = match &outcome.end {
        RunEnd::CouldNotStart { reason } => (
            Verdict::CouldNotStart,
            format!("the run could not start: {reason}"),
            None,
        ),
        RunEnd::Stuck { reason } => (Verdict::Liveness, reason.clone(), None),
        RunEnd::Finished => {
            let report = check::check(&outcome.history, options);
            (report.verdict, report.reason.clone(), Some(report))
        }
    };
    Judgement {
        verdict,
        reason,
        expected: expect.contains(&verdict),
        check,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{History, HistoryOp, OpName, OpResult};
    use crate::outcome::Counters;

    fn outcome(end: RunEnd) -> Outcome {
        // A history the checker would call silent corruption: an
        // acknowledged push, then an empty pop.
        let op = |op, value: Option<&str>, at: u64, result| HistoryOp {
            client: 0,
            op,
            value: value.map(str::to_owned),
            invoke_us: at,
            return_us: Some(at + 1),
            result,
        };
        Outcome {
            end,
            history: History {
                ops: vec![
                    op(OpName::PushBack, Some("a"), 0, OpResult::Ok),
                    op(OpName::PopFront, None, 5, OpResult::Empty),
                ],
                losses: Vec::new(),
                drain_client: None,
            },
            trace_hash: None,
            trace: Vec::new(),
            counters: Counters::default(),
        }
    }

    const PASSING: &[Verdict] = &[Verdict::Linearizable, Verdict::DetectedCorruption];

    /// A stuck run is a liveness failure whatever its partial history says;
    /// a run that could not start is a harness failure; only a finished run
    /// is checked.
    #[test]
    fn how_a_run_ended_decides_before_its_history() {
        let stuck = judge(
            &outcome(RunEnd::Stuck {
                reason: "the budget ran out".into(),
            }),
            PASSING,
            CheckOptions::default(),
        );
        assert_eq!((stuck.verdict, stuck.exit_class()), (Verdict::Liveness, exit::LIVENESS));
        assert!(stuck.check.is_none());
        let unstarted = judge(
            &outcome(RunEnd::CouldNotStart {
                reason: "no memcached".into(),
            }),
            PASSING,
            CheckOptions::default(),
        );
        assert_eq!(
            (unstarted.verdict, unstarted.exit_class()),
            (Verdict::CouldNotStart, exit::HARNESS)
        );
        assert!(unstarted.reason.contains("could not start: no memcached"));
        let finished = judge(&outcome(RunEnd::Finished), PASSING, CheckOptions::default());
        assert_eq!(finished.verdict, Verdict::SilentCorruption, "{}", finished.reason);
        assert_eq!(finished.exit_class(), exit::CORRECTNESS);
    }

    /// An expected failure (a broken variant's scenario) passes; an
    /// unexpected pass of it fails the suite as a correctness failure.
    #[test]
    fn expectations_decide_the_exit_class() {
        let failing = judge(
            &outcome(RunEnd::Finished),
            &[Verdict::SilentCorruption],
            CheckOptions::default(),
        );
        assert!(failing.expected && failing.exit_class() == exit::OK);
        let mut clean = outcome(RunEnd::Finished);
        clean.history.ops.pop();
        let unexpected_pass = judge(&clean, &[Verdict::SilentCorruption], CheckOptions::default());
        assert_eq!(unexpected_pass.verdict, Verdict::Linearizable);
        assert_eq!(unexpected_pass.exit_class(), exit::CORRECTNESS);
    }
}
