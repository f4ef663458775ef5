//! The second subject's checks: histories of MCAS registers
//! (`memcache_collections::mcas`) judged against a sequential register
//! spec, and the bank workload's invariant (Jepsen's bank test: a
//! consistent snapshot always holds all the money).
//!
//! The search is the generic one ([`crate::check::wgl`]); the brute force
//! here, written from the definition, cross-validates it
//! (`sim/tests/mcas_checker.rs`). The history's JSON format is in
//! [`history`] and `docs/history-format.md`.
//!
//! The bank's clients ([`workload`]) run in the simulator under scenario
//! files with `subject = "mcas"` (`crate::sim`, `scenarios/mcas/`), and
//! and on real memcached (`crate::real`), and under the stepping scheduler
//! of [`bank_run`]. Both worlds record the registers restarts and flushes
//! take as the history's losses, which explain the corruption reported
//! after them. Not yet here (issue 20): the model checkers.

pub mod bank;
pub mod bank_run;
pub mod brute;
pub mod check;
pub mod history;
pub mod spec;
pub mod workload;

pub use check::{McasReport, check_mcas};
pub use history::{McasHistory, McasHistoryOp, McasOpKind, McasResult, Update};
