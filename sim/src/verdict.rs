//! What a run earned: one enum for every world, command and output. The
//! checker gives most verdicts; the judge (`crate::judge`) adds those that
//! need no history (a run that could not start, a run that got stuck).
//! Each verdict has one exit class (`crate::exit`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::exit;

/// A run's (or a history's) verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A valid linearization exists and nothing was lost.
    Linearizable,
    /// Entries were lost, every effect was reported as corruption, nothing
    /// was duplicated or invented, and the rest is linearizable.
    DetectedCorruption,
    /// Clients saw results no sequential deque could give.
    NotLinearizable,
    /// Values lost, duplicated, invented or misordered with no corruption
    /// error to account for it.
    SilentCorruption,
    /// A corruption error although no entry was lost.
    FalseAlarm,
    /// An operation gave up after its retry bound, or the run did not
    /// finish (the simulator's event budget, the real backend's deadline).
    Liveness,
    /// The checker's budget ran out before it could decide; never a pass.
    Unknown,
    /// The history passed, but the workload made no progress (fewer
    /// successful operations than the scenario's `ops_succeeded_min`, 1 by
    /// default): the run tested nothing, which is no pass.
    Vacuous,
    /// The deque refused the servers at setup with an error that says why
    /// (a server with CAS disabled): the right answer to a world it cannot
    /// work in, when the scenario expects it; a false refusal otherwise.
    Refused,
    /// The run could not start (a world that cannot do what the plan asks,
    /// memcached that would not start, a deque that could not be set up) or
    /// could not apply one of its faults: the harness failed, so nothing was
    /// learned about the algorithm.
    CouldNotStart,
    /// A client process broke the protocol (`docs/client-protocol.md`):
    /// answered garbage, exited unasked, or missed its deadline. A harness
    /// failure (the client under test is the harness's instrument here),
    /// never a pass.
    ClientFailed,
}

impl Verdict {
    /// Every verdict, for listings.
    pub const ALL: &'static [Verdict] = &[
        Verdict::Linearizable,
        Verdict::DetectedCorruption,
        Verdict::NotLinearizable,
        Verdict::SilentCorruption,
        Verdict::FalseAlarm,
        Verdict::Liveness,
        Verdict::Unknown,
        Verdict::Vacuous,
        Verdict::Refused,
        Verdict::CouldNotStart,
        Verdict::ClientFailed,
    ];

    /// The verdict's name as reports and scenario files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::DetectedCorruption => "detected-corruption",
            Verdict::NotLinearizable => "not-linearizable",
            Verdict::SilentCorruption => "silent-corruption",
            Verdict::FalseAlarm => "false-alarm",
            Verdict::Liveness => "liveness",
            Verdict::Unknown => "unknown",
            Verdict::Vacuous => "vacuous",
            Verdict::Refused => "refused",
            Verdict::CouldNotStart => "could-not-start",
            Verdict::ClientFailed => "client-failed",
        }
    }

    /// What the verdict means, in one line (for `mcsim list`).
    pub fn meaning(self) -> &'static str {
        match self {
            Verdict::Linearizable => "a valid linearization exists; nothing was lost",
            Verdict::DetectedCorruption => "entries were lost and every effect was reported as corruption",
            Verdict::NotLinearizable => "clients saw results no sequential deque could give",
            Verdict::SilentCorruption => "values lost, duplicated or invented with no report",
            Verdict::FalseAlarm => "corruption reported although nothing was lost",
            Verdict::Liveness => "an operation gave up, or the run did not finish",
            Verdict::Unknown => "the checker ran out of budget (a harness failure, never a pass)",
            Verdict::Vacuous => "no workload operation succeeded: the run tested nothing (never a pass)",
            Verdict::Refused => "the deque refused the servers at setup, saying why (CAS disabled)",
            Verdict::CouldNotStart => "the run could not start or apply a fault (a harness failure)",
            Verdict::ClientFailed => "a client process broke the protocol (a harness failure, never a pass)",
        }
    }

    /// Looks a verdict up by name.
    pub fn from_name(name: &str) -> Option<Verdict> {
        Verdict::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Whether the verdict is a correctness failure of the algorithm.
    pub fn is_correctness_failure(self) -> bool {
        matches!(
            self,
            Verdict::NotLinearizable | Verdict::SilentCorruption | Verdict::FalseAlarm
        )
    }

    /// Whether the verdict says the algorithm did its job.
    pub fn is_pass(self) -> bool {
        matches!(self, Verdict::Linearizable | Verdict::DetectedCorruption)
    }

    /// Whether the verdict says nothing about the algorithm because the
    /// harness failed (the checker could not decide, or the run could not
    /// start).
    pub fn is_harness_failure(self) -> bool {
        matches!(
            self,
            Verdict::Unknown | Verdict::Vacuous | Verdict::CouldNotStart | Verdict::ClientFailed
        )
    }

    /// The exit status this verdict calls for when nobody expected it. An
    /// unexpected pass (a broken variant or a canary that stopped failing)
    /// is a correctness failure of the suite: the harness stopped finding
    /// the bug.
    pub fn exit_class_unexpected(self) -> u8 {
        match self {
            Verdict::Linearizable | Verdict::DetectedCorruption => exit::CORRECTNESS,
            Verdict::NotLinearizable | Verdict::SilentCorruption | Verdict::FalseAlarm => exit::CORRECTNESS,
            // A refusal nobody expected: the library would not work with
            // servers it should have worked with.
            Verdict::Refused => exit::CORRECTNESS,
            Verdict::Liveness => exit::LIVENESS,
            Verdict::Unknown | Verdict::Vacuous | Verdict::CouldNotStart | Verdict::ClientFailed => exit::HARNESS,
        }
    }

    /// The exit status of a verdict on its own, where no scenario states an
    /// expectation (`mcsim sim`, `mcsim check`): 0 for a pass.
    pub fn exit_class(self) -> u8 {
        if self.is_pass() {
            exit::OK
        } else {
            self.exit_class_unexpected()
        }
    }
}

impl<'de> Deserialize<'de> for Verdict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Verdict::from_name(&name).ok_or_else(|| {
            let known: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
            serde::de::Error::custom(format!(
                "unknown verdict {name:?}; the verdicts are {}",
                known.join(", ")
            ))
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
