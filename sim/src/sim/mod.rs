//! The deterministic simulator: simulated memcached servers (on the library's
//! semantics core), a fault-injecting network, simulated clients running the
//! real `Deque`, and one master seed from which every random choice derives.
//!
//! A run is a pure function of ([`SimConfig`], seed): the same pair gives the
//! same history and the same trace hash, in any process.

pub(crate) mod client;
pub mod config;
mod direct;
pub mod fault_draw;
mod network;
pub mod rng;
pub mod trace;
mod world;

pub use config::SimConfig;
pub use world::{DEQUE_NAME, RunOutcome, RunStats, SimError, run};
