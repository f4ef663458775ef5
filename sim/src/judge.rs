//! The one place a run becomes a verdict, for every command and world: a
//! run that could not start is a harness failure (`could-not-start`); a run
//! that got stuck is a liveness failure unless its partial history already
//! proves a violation (that verdict outranks it); any other run is checked, and a pass whose workload made no
//! progress is `vacuous` (it tested nothing). A violation the world's
//! oracles saw (`Outcome::oracle_violations`) makes any of these
//! `silent-corruption`: it is a proof the history may not carry. Then the verdict is compared
//! with what the plan expects, and an unexpected verdict gets its exit class
//! (an unexpected pass counts as a correctness failure of the suite: the
//! bug it should catch went unseen).

use crate::check::{self, CheckOptions, CheckReport, Explanation};
use crate::exit;
use crate::outcome::{Outcome, RunEnd};
use crate::verdict::Verdict;

/// What a plan expects of its run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Expectation {
    /// The verdicts it accepts.
    pub verdicts: Vec<Verdict>,
    /// Fewer successful workload operations than this, and a passing
    /// history is `vacuous`.
    pub ops_succeeded_min: u64,
    /// The event that makes the run meaningful, if the scenario names one.
    pub reach: Option<crate::reach::Reach>,
    /// Whether the seed is one the scenario pins: it must reach the event.
    pub pinned: bool,
}

impl Expectation {
    /// Any pass, with at least one successful operation.
    pub fn passing() -> Expectation {
        Expectation {
            verdicts: vec![Verdict::Linearizable, Verdict::DetectedCorruption],
            ops_succeeded_min: 1,
            reach: None,
            pinned: false,
        }
    }
}

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

/// Judges `outcome` against what `expect` accepts.
pub fn judge(outcome: &Outcome, expect: &Expectation, options: CheckOptions) -> Judgement {
    if let Some(bank) = &outcome.mcas {
        let (verdict, reason) = judge_mcas(outcome, bank, expect, options);
        return Judgement {
            verdict,
            reason,
            expected: expect.verdicts.contains(&verdict),
            check: None,
        };
    }
    let (verdict, reason, check) = match &outcome.end {
        RunEnd::CouldNotStart { reason } => (
            Verdict::CouldNotStart,
            format!("the run could not start: {reason}"),
            None,
        ),
        RunEnd::Refused { reason } => (Verdict::Refused, reason.clone(), None),
        RunEnd::ClientFailed { reason } => (Verdict::ClientFailed, reason.clone(), None),
        RunEnd::Stuck { reason } => {
            // What the partial history already proves outranks getting
            // stuck: a proven violation is never reported as mere liveness.
            // Anything short of a proof (a pass, an undecided check) leaves
            // the run a liveness failure, judged without its history.
            let report = check::check(&outcome.history, options);
            if report.verdict.exit_class_unexpected() == exit::CORRECTNESS && !report.verdict.is_pass() {
                let why = format!("{}; the run also got stuck: {reason}", report.reason);
                (report.verdict, why, Some(report))
            } else {
                (Verdict::Liveness, reason.clone(), None)
            }
        }
        RunEnd::Finished => {
            let report = check::check(&outcome.history, options);
            let succeeded = outcome.op_counts().succeeded;
            if report.verdict.is_pass() && succeeded < expect.ops_succeeded_min {
                let reason = format!(
                    "the history passes ({}), but {succeeded} workload operations succeeded, fewer than the {} the \
                     scenario needs to have tested anything",
                    report.verdict, expect.ops_succeeded_min
                );
                (Verdict::Vacuous, reason, Some(report))
            } else {
                (report.verdict, report.reason.clone(), Some(report))
            }
        }
    };
    // What the world saw break directly is a proof the history may lack:
    // it outranks a pass, a vacuous pass, getting stuck and a check that
    // ran out of budget.
    let (verdict, reason) = match outcome.oracle_violations.first() {
        Some(first)
            if verdict.is_pass() || matches!(verdict, Verdict::Vacuous | Verdict::Liveness | Verdict::Unknown) =>
        {
            let more = match outcome.oracle_violations.len() {
                1 => String::new(),
                n => format!(" ({} more)", n - 1),
            };
            (
                Verdict::SilentCorruption,
                format!("the simulator's oracle saw it: {first}{more}; the history alone gave: {reason}"),
            )
        }
        _ => (verdict, reason),
    };
    Judgement {
        verdict,
        reason,
        expected: expect.verdicts.contains(&verdict),
        check,
    }
}

/// An MCAS run's verdict, by the same rules as a deque run's: how the run
/// ended first; then the register checker (`crate::mcas::check_mcas`);
/// then, on a linearizable history, the bank's invariant (money neither
/// created nor destroyed in any confirmed snapshot), which must have been
/// checked at least once unless an account was lost (no snapshot can be
/// confirmed then), and is stated in the reason.
fn judge_mcas(
    outcome: &Outcome,
    bank: &crate::mcas::bank_run::BankRun,
    expect: &Expectation,
    options: CheckOptions,
) -> (Verdict, String) {
    let checked = || match crate::mcas::check_mcas(&bank.history, options.steps_max) {
        Ok(report) => (report.verdict, report.reason),
        Err(malformed) => (
            Verdict::Unknown,
            format!("the harness recorded an invalid MCAS history: {malformed}"),
        ),
    };
    match &outcome.end {
        RunEnd::CouldNotStart { reason } => (Verdict::CouldNotStart, format!("the run could not start: {reason}")),
        RunEnd::Refused { reason } => (Verdict::Refused, reason.clone()),
        RunEnd::ClientFailed { reason } => (Verdict::ClientFailed, reason.clone()),
        RunEnd::Stuck { reason } => match checked() {
            (verdict, why) if verdict.is_correctness_failure() => {
                (verdict, format!("{why}; the run also got stuck: {reason}"))
            }
            _ => (Verdict::Liveness, reason.clone()),
        },
        RunEnd::Finished => {
            let (verdict, reason) = checked();
            if !verdict.is_pass() {
                return (verdict, reason);
            }
            let snapshots = match crate::mcas::bank::money_conserved(&bank.history, &bank.accounts, bank.total) {
                Err(broken) => return (Verdict::NotLinearizable, broken),
                Ok(snapshots) => snapshots,
            };
            let succeeded = outcome.op_counts().succeeded;
            // A lost account, or a lost descriptor whose claim leaves an
            // account unreadable, keeps every later snapshot from being
            // confirmed.
            let lost = bank
                .history
                .losses
                .iter()
                .any(|loss| loss.protocol_items || loss.keys.iter().any(|k| bank.accounts.contains(k)));
            if (snapshots == 0 && !lost) || succeeded < expect.ops_succeeded_min {
                let reason = format!(
                    "the history passes ({verdict}), but {succeeded} workload operations succeeded (the scenario \
                     needs {}) and {snapshots} snapshots were confirmed: it tested nothing",
                    expect.ops_succeeded_min
                );
                return (Verdict::Vacuous, reason);
            }
            let money = match snapshots {
                0 => "no snapshot was confirmed, an account (or a descriptor claiming one) being lost".to_owned(),
                n => format!("money conserved in all {n} confirmed snapshots"),
            };
            (verdict, format!("{reason}; {money}"))
        }
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
            workload_clients: 1,
            trace_hash: None,
            trace: Vec::new(),
            counters: Counters::default(),
            oracle_violations: Vec::new(),
            mcas: None,
        }
    }

    fn passing() -> Expectation {
        Expectation {
            ops_succeeded_min: 0,
            ..Expectation::passing()
        }
    }

    fn expecting(verdict: Verdict) -> Expectation {
        Expectation {
            verdicts: vec![verdict],
            ..passing()
        }
    }

    /// A stuck run is a liveness failure unless its partial history proves
    /// a violation; a run that could not start is a harness failure.
    #[test]
    fn how_a_run_ended_decides_before_its_history() {
        let stuck_end = || RunEnd::Stuck {
            reason: "the budget ran out".into(),
        };
        let mut clean = outcome(stuck_end());
        clean.history.ops.pop();
        let stuck = judge(&clean, &passing(), CheckOptions::default());
        assert_eq!((stuck.verdict, stuck.exit_class()), (Verdict::Liveness, exit::LIVENESS));
        assert!(stuck.check.is_none());
        let proven = judge(&outcome(stuck_end()), &passing(), CheckOptions::default());
        assert_eq!(
            (proven.verdict, proven.exit_class()),
            (Verdict::SilentCorruption, exit::CORRECTNESS)
        );
        assert!(
            proven.reason.ends_with("the run also got stuck: the budget ran out"),
            "{}",
            proven.reason
        );
        let unstarted = judge(
            &outcome(RunEnd::CouldNotStart {
                reason: "no memcached".into(),
            }),
            &passing(),
            CheckOptions::default(),
        );
        assert_eq!(
            (unstarted.verdict, unstarted.exit_class()),
            (Verdict::CouldNotStart, exit::HARNESS)
        );
        assert!(unstarted.reason.contains("could not start: no memcached"));
        let finished = judge(&outcome(RunEnd::Finished), &passing(), CheckOptions::default());
        assert_eq!(finished.verdict, Verdict::SilentCorruption, "{}", finished.reason);
        assert_eq!(finished.exit_class(), exit::CORRECTNESS);
    }

    /// What an oracle saw outranks a passing history and getting stuck,
    /// and the verdict names the request that proves it.
    #[test]
    fn an_oracle_violation_outranks_a_pass_and_a_stuck_run() {
        let violation = crate::outcome::OracleViolation {
            at_us: 40,
            request: 7,
            what: "a node's value replaced".into(),
        };
        for end in [
            RunEnd::Finished,
            RunEnd::Stuck {
                reason: "the budget ran out".into(),
            },
        ] {
            let mut run = outcome(end);
            run.history.ops.pop();
            run.oracle_violations.push(violation.clone());
            let judged = judge(&run, &passing(), CheckOptions::default());
            assert_eq!(judged.verdict, Verdict::SilentCorruption);
            assert!(
                judged.reason.contains("a node's value replaced (request #7 at 40 us"),
                "{}",
                judged.reason
            );
        }
    }

    /// An expected failure (a broken variant's scenario) passes; an
    /// unexpected pass of it fails the suite as a correctness failure.
    #[test]
    fn expectations_decide_the_exit_class() {
        let failing = judge(
            &outcome(RunEnd::Finished),
            &expecting(Verdict::SilentCorruption),
            CheckOptions::default(),
        );
        assert!(failing.expected && failing.exit_class() == exit::OK);
        let mut clean = outcome(RunEnd::Finished);
        clean.history.ops.pop();
        let unexpected_pass = judge(&clean, &expecting(Verdict::SilentCorruption), CheckOptions::default());
        assert_eq!(unexpected_pass.verdict, Verdict::Linearizable);
        assert_eq!(unexpected_pass.exit_class(), exit::CORRECTNESS);
    }

    /// A history that passes while no workload operation succeeded tested
    /// nothing: `vacuous`, a harness failure, never a pass.
    #[test]
    fn a_pass_without_progress_is_vacuous() {
        let mut nothing = outcome(RunEnd::Finished);
        for op in &mut nothing.history.ops {
            op.result = crate::history::OpResult::Unknown;
            op.return_us = None;
        }
        let judgement = judge(&nothing, &Expectation::passing(), CheckOptions::default());
        assert_eq!(judgement.verdict, Verdict::Vacuous, "{}", judgement.reason);
        assert_eq!(judgement.exit_class(), exit::HARNESS);
        let mut clean = outcome(RunEnd::Finished);
        clean.history.ops.pop();
        let judgement = judge(&clean, &Expectation::passing(), CheckOptions::default());
        assert_eq!(judgement.verdict, Verdict::Linearizable, "one push succeeded");
    }
}
