//! The harness around `memcache-collections`: it runs the real deque in
//! several worlds and judges every history it gets back. One pipeline, in
//! stages that only flow forward:
//!
//! ```text
//! scenario file ─► plan ─► world ─► outcome ─► judge ─► record ─► outputs
//! (scenario)      (plan)   (sim,    (outcome)  (judge)  (record)  (output,
//!                          real)                                   exit)
//! ```
//!
//! - [`scenario`] reads a file; [`plan`] turns it, a seed and the command
//!   line's overrides into a [`plan::RunPlan`] (the effective
//!   [`config::RunConfig`], swarm draws applied), refused up front where a
//!   world cannot run it ([`capability`]);
//! - a world runs the plan and hands back one [`outcome::Outcome`]: the
//!   deterministic simulator ([`sim`]) or real memcached ([`real`]); both
//!   share the workload ([`workload`]), the fault injection rules
//!   ([`nemesis`]), the random streams ([`rng`]) and the trace ([`trace`]);
//! - [`judge`] turns an outcome into a [`verdict::Verdict`] (with the
//!   checkers of [`check`] on the [`history`]), [`record`] into a line of
//!   results, [`output`] into tables, JSON, JUnit and HTML, and the exit
//!   status into its class ([`exit`]); [`replay`] prints the command that
//!   runs any run again;
//! - [`pipeline`] runs one plan through every stage, [`runner`] many;
//!   [`shrink`], [`validate`] and the benchmarks ([`mod@bench`]) are built
//!   on them. The model checkers ([`models`], feature `models`) run the same
//!   deque under loom and shuttle and judge with the same checkers.

// The harness is an application with a library face for its own tests and
// binary: its items are documented where a reader needs it, not where a
// name already says everything. The library crate keeps `missing_docs`.
#![allow(missing_docs)]

pub mod algorithm;
pub mod bench;
pub mod capability;
pub mod check;
pub mod config;
pub mod demo;
pub mod exit;
pub mod history;
pub mod judge;
pub mod mcas;
#[cfg(feature = "models")]
pub mod models;
pub mod nemesis;
pub mod outcome;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod protocol;
pub mod reach;
pub mod real;
pub mod record;
pub mod replay;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod swarm;
pub mod trace;
pub mod validate;
pub mod verdict;
pub mod workload;
