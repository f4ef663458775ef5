//! `mcsim sim`: one simulated run from a configuration file and a seed, with
//! an optional self-check that runs the seed twice and compares everything
//! (FoundationDB's "unseed" idea: a divergence is a determinism bug).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::history::History;
use crate::sim::{self, RunOutcome, RunStats, SimConfig};

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid configuration; the message names the line,
    /// column and key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong and where.
        message: String,
    },
}

/// Reads a simulator configuration from TOML (unknown keys are errors).
pub fn load_config(path: &Path) -> Result<SimConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}

/// A run's summary for people and scripts.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The seed.
    pub seed: u64,
    /// The trace hash, hex.
    pub trace_hash: String,
    /// Counters.
    pub stats: RunStats,
    /// How many operations ended with each result type.
    pub results: BTreeMap<String, u64>,
    /// Entries lost during the run.
    pub losses: usize,
}

impl RunSummary {
    /// Summarises an outcome.
    pub fn of(outcome: &RunOutcome) -> Self {
        let mut results = BTreeMap::new();
        for op in &outcome.history.ops {
            *results.entry(op.result.kind().to_owned()).or_default() += 1;
        }
        RunSummary {
            seed: outcome.seed,
            trace_hash: format!("{:016x}", outcome.trace_hash),
            stats: outcome.stats.clone(),
            results,
            losses: outcome.history.losses.len(),
        }
    }
}

/// What a self-check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divergence {
    /// The two runs' trace hashes differ.
    TraceHash(u64, u64),
    /// The histories differ at this operation index.
    History(usize),
}

/// Runs `seed` twice and compares traces and histories.
pub fn self_check(config: &SimConfig, seed: u64) -> Result<(RunOutcome, Option<Divergence>), sim::SimError> {
    let first = sim::run(config, seed)?;
    let second = sim::run(config, seed)?;
    let divergence = if first.trace_hash != second.trace_hash {
        Some(Divergence::TraceHash(first.trace_hash, second.trace_hash))
    } else {
        first_difference(&first.history, &second.history).map(Divergence::History)
    };
    Ok((first, divergence))
}

fn first_difference(a: &History, b: &History) -> Option<usize> {
    (0..a.ops.len().max(b.ops.len())).find(|&i| a.ops.get(i) != b.ops.get(i))
}
