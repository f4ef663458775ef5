//! The harness around `memcache-collections`: the deterministic simulator
//! ([`sim`]), the history format ([`history`]), the linearizability and
//! corruption checkers ([`check`]) and the benchmarks ([`mod@bench`]). The
//! `mcsim` binary is its command-line face; scenario files and the suite
//! runner are next.

pub mod bench;
pub mod check;
pub mod demo;
pub mod exit;
pub mod history;
#[cfg(feature = "models")]
pub mod models;
pub mod one_run;
pub mod real;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod validate;
pub mod workload;
