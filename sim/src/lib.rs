//! The harness around `memcache-collections`: benchmarks today; the
//! deterministic simulator, the checkers and the scenario runner as they land.
//! The `mcsim` binary is its command-line face.

pub mod bench;
pub mod check;
pub mod demo;
pub mod exit;
pub mod history;
pub mod one_run;
pub mod sim;
