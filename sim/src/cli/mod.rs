//! The command implementations behind `mcsim`'s subcommands: each file
//! holds one subcommand's arguments (a `clap::Args` struct) beside the code
//! that runs it. What several share is here.

pub mod bench;
pub mod check;
pub mod client;
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

use memcache_collections::{Backoff, Variant};
use memcache_sim::algorithm::Algorithm;
use memcache_sim::exit;
use memcache_sim::scenario::{self, LoadedScenario};

/// Parses a variant name of either subject on the command line (clap's
/// value parser): the one place a name becomes an [`Algorithm`].
pub fn parse_variant(name: &str) -> Result<Algorithm, String> {
    scenario::variant_name::parse(name)
}

/// Parses a deque variant, for the commands that run the deque alone
/// (`bench sim`, `models`): an MCAS name is refused by name.
pub fn parse_deque_variant(name: &str) -> Result<Variant, String> {
    match parse_variant(name)? {
        Algorithm::Deque(variant) => Ok(variant),
        Algorithm::Mcas(_) => Err(format!("{name} is an MCAS algorithm; this command runs the deque")),
    }
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

/// Parses `FIRST_US,MAX_US`, a backoff's bounds (`bench real
/// --backoff-us`): two whole numbers of microseconds, the first no larger
/// than the second (the bound doubles from the first up to the largest);
/// `0,0` retries at once.
pub fn parse_backoff(text: &str) -> Result<Backoff, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [first, max] = parts.as_slice() else {
        return Err(format!("{text:?} is not FIRST_US,MAX_US (two numbers of microseconds)"));
    };
    let number = |part: &str| {
        part.parse::<u32>()
            .map_err(|_| format!("{part:?} in {text:?} is not a whole number of microseconds"))
    };
    let (first_us, max_us) = (number(first)?, number(max)?);
    if first_us > max_us {
        return Err(format!(
            "the first bound {first_us} us is above the largest {max_us} us; the bound only grows"
        ));
    }
    Ok(Backoff { first_us, max_us })
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
    let loaded = files
        .iter()
        .map(|file| scenario::load(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            eprintln!("mcsim: {error}");
            exit::USAGE
        })?;
    // Records, reports and replay lines name a scenario by its file's
    // stem: two files with one stem would overwrite each other's reports.
    let mut names: Vec<(&str, &PathBuf)> = loaded.iter().map(|s| (s.name.as_str(), &s.path)).collect();
    names.sort();
    if let Some(pair) = names.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        eprintln!(
            "mcsim: {} and {} share the scenario name {:?}; rename one (records and reports are named by it)",
            pair[0].1.display(),
            pair[1].1.display(),
            pair[0].0
        );
        return Err(exit::USAGE);
    }
    Ok(loaded)
}

/// Loads one scenario file, or ends the command with the usage status.
pub fn load_one(path: &std::path::Path) -> Result<LoadedScenario, u8> {
    scenario::load(path).map_err(|error| {
        eprintln!("mcsim: {error}");
        exit::USAGE
    })
}

/// Loads one scenario to run under `variant` (if given), which must be an
/// algorithm of the scenario's subject: a usage error otherwise.
pub fn load_for(path: &std::path::Path, variant: Option<Algorithm>) -> Result<LoadedScenario, u8> {
    let loaded = load_one(path)?;
    match variant {
        Some(v) if !memcache_sim::runner::of_subject(&loaded, Some(v)) => {
            eprintln!(
                "mcsim: {} tests the {} subject, and {v} is an algorithm of the {} subject",
                path.display(),
                loaded.scenario.meta.subject.name(),
                v.subject().name()
            );
            Err(exit::USAGE)
        }
        _ => Ok(loaded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backoff_is_two_bounds_the_first_no_larger() {
        assert_eq!(
            parse_backoff("800,25600"),
            Ok(Backoff {
                first_us: 800,
                max_us: 25_600
            })
        );
        assert_eq!(parse_backoff("0,0"), Ok(Backoff::NONE));
        for (bad, says) in [
            ("800", "not FIRST_US,MAX_US"),
            ("1,2,3", "not FIRST_US,MAX_US"),
            ("800,x", "\"x\" in \"800,x\" is not a whole number"),
            ("-1,5", "not a whole number"),
            ("1000,10", "above the largest"),
        ] {
            let error = parse_backoff(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
