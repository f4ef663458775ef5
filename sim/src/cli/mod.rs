//! The command implementations behind `mcsim`'s subcommands.

pub mod bench;
pub mod check;
pub mod list;
#[cfg(feature = "models")]
pub mod models;
pub mod repro;
pub mod run;
pub mod shrink;
pub mod sim;
pub mod validate;
