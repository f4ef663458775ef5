//! The command implementations behind `mcsim`'s subcommands.

pub mod bench;
pub mod check;
pub mod list;
pub mod repro;
pub mod run;
pub mod shrink;
pub mod sim;
