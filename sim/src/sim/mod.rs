//! The deterministic simulator, one world of the pipeline: simulated
//! memcached servers (on the library's semantics core), a fault-injecting
//! network, simulated clients running the real `Deque`, and one master seed
//! from which every random choice derives. A run is a pure function of its
//! plan: the same plan gives the same history and the same trace hash, in
//! any process.
//!
//! - `world.rs`: the world's state, main loop and phases (setup, workload,
//!   drain);
//! - `queue.rs`: the event queue (virtual time, ties in scheduling order);
//! - `transport.rs`: how requests and replies travel, time out and reset;
//! - `network.rs`: the per-link state machine and each message's fate;
//! - `faults.rs`: how faults strike;
//! - `probes.rs`: the reach probes, counting the events a scenario needs to
//!   have happened to mean anything;
//! - `oracles.rs`: rules only the servers' view can check (a node's value
//!   replaced, a node unlinked twice, success built on a stale anchor);
//! - `client.rs`: the `Store` a simulated client sees, and the shared block
//!   where the history is recorded;
//! - `direct.rs`: fault-free access for setup and the drain.

mod bank;
mod client;
mod direct;
mod faults;
mod network;
mod oracles;
mod probes;
mod queue;
#[cfg(test)]
mod tests;
mod transport;
mod world;

pub(crate) use world::run;
