//! The deque and MCAS under the model checkers loom and shuttle (feature
//! `models`).
//!
//! The simulator draws latencies at random and may never produce a given
//! interleaving of requests; loom enumerates them (all of them for two
//! clients, or those within a preemption bound), shuttle samples them with a
//! random walk or PCT. Both run the library's real `Deque` over
//! [`ModelStore`]: the memcached semantics core behind the model checker's
//! own lock, one scheduling point per request. Each execution's history goes
//! through the same checkers as a simulated run.
//!
//! - [`world`]: the facade (loom, shuttle or std) chosen by type parameter.
//! - [`store`]: the store, its request-count clock and its faults.
//! - [`case`]: what to run, and one execution as a history.
//! - [`mcas_case`]: the MCAS bank as a case, judged as MCAS runs are.
//! - [`explore`]: the explorers, failure capture and shuttle replay.
//! - [`compare`]: executions and time to the first failure, per tool and
//!   broken variant (`mcsim models compare`).

pub mod case;
pub mod compare;
pub mod mcas_case;

pub mod explore;
pub mod store;
pub mod world;

pub(crate) use case::time_of;
pub use case::{Case, Chaos, all_combinations, execute, judge};
pub use explore::{
    Exploration, ModelCase, ModelFailure, ShuttleScheduler, explore_loom, explore_shuttle, replay_shuttle,
};
pub use mcas_case::McasCase;
pub use store::{FaultRates, ModelStore, Shared};
pub use world::{LoomWorld, ShuttleWorld, StdWorld, World};
