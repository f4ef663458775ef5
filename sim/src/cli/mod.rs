//! The command implementations behind `mcsim`'s subcommands.

pub mod bench;
pub mod check;
pub mod sim;
