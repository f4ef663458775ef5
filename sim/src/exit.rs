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
/// The harness itself failed: a run could not start (`could-not-start`,
/// memcached would not start, a fault could not be applied), a run was not
/// deterministic, the checker could not decide (`unknown`), a report could
/// not be written.
pub const HARNESS: u8 = 4;

/// The more serious of two exit statuses: correctness, then liveness, then
/// harness failures, then usage errors, then success.
pub fn worst(a: u8, b: u8) -> u8 {
    let rank = |status: u8| match status {
        CORRECTNESS => 4,
        LIVENESS => 3,
        HARNESS => 2,
        USAGE => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}
