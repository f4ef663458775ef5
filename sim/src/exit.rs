//! `mcsim`'s exit statuses, by class of outcome, so CI can tell a bug in the
//! algorithm from a broken harness.

/// Everything ran and ended as expected.
pub const OK: u8 = 0;
/// A correctness failure: not-linearizable, silent corruption, false alarm.
pub const CORRECTNESS: u8 = 1;
/// A liveness failure: an operation never finished or gave up.
pub const LIVENESS: u8 = 2;
/// A bad scenario, configuration, history file or command line.
pub const USAGE: u8 = 3;
/// The harness itself failed: memcached could not start, a run was not
/// deterministic, the checker could not decide (`unknown`).
pub const HARNESS: u8 = 4;

/// The exit status a verdict calls for when it was not expected.
pub fn for_verdict(verdict: crate::check::Verdict) -> u8 {
    use crate::check::Verdict;
    match verdict {
        Verdict::Linearizable | Verdict::DetectedCorruption => OK,
        Verdict::NotLinearizable | Verdict::SilentCorruption | Verdict::FalseAlarm => CORRECTNESS,
        Verdict::Liveness => LIVENESS,
        Verdict::Unknown => HARNESS,
    }
}
