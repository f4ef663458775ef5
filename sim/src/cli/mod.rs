//! The command implementations behind `mcsim`'s subcommands: each file
//! holds one subcommand's arguments (a `clap::Args` struct) beside the code
//! that runs it. What several share is here.

pub mod bench;
pub mod check;
pub mod demo;
pub mod list;
pub mod merge;
#[cfg(feature = "models")]
pub mod models;
pub mod repro;
pub mod run;
pub mod shrink;
pub mod sim;
pub mod validate;

use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::scenario::{self, LoadedScenario};

/// Parses a variant name on the command line (clap's value parser): the
/// one place a name becomes a [`Variant`].
pub fn parse_variant(name: &str) -> Result<Variant, String> {
    scenario::variant_name::parse(name)
}

/// Parses a count that must be at least 1 (`--seeds`, `--runs-max`): zero
/// would run nothing, and nothing is not a pass.
pub fn parse_count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 would run nothing; give at least 1".into()),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// The worker threads to use: as asked, or one per core.
pub fn threads(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Loads every scenario under `paths`; the first bad file ends the command
/// with the usage status, after saying what is wrong where.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<LoadedScenario>, u8> {
    let files = scenario::discover(paths).map_err(|error| {
        eprintln!("mcsim: {error}");
        exit::USAGE
    })?;
    if files.is_empty() {
        eprintln!("mcsim: no scenario files (*.toml) under {paths:?}");
        return Err(exit::USAGE);
    }
    files
        .iter()
        .map(|file| scenario::load(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            eprintln!("mcsim: {error}");
            exit::USAGE
        })
}

/// Loads one scenario file, or ends the command with the usage status.
pub fn load_one(path: &std::path::Path) -> Result<LoadedScenario, u8> {
    scenario::load(path).map_err(|error| {
        eprintln!("mcsim: {error}");
        exit::USAGE
    })
}
