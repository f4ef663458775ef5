//! The nemesis: everything about injecting faults that does not depend on
//! the world, written once for the simulator and the real backend (and any
//! world to come). When an armed fault fires ([`triggers`]), which random
//! fault comes next ([`random`]), which entry a targeted loss destroys
//! ([`target`]), what a lost entry held ([`held`]), and what happens to
//! each message on a link ([`fate`]).
//! A world only applies what these decide.

pub mod fate;
pub mod held;
pub mod random;
pub mod target;
pub mod triggers;

pub use fate::{Direction, Fate};
pub use random::RandomKind;
pub use target::{Holdings, loss_target};
pub use triggers::Triggers;
