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
    /// The verdict.
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
