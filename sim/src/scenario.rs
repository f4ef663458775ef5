//! Scenario files: a simulated world, its workload and faults, which seeds to
//! run, which algorithm variant, and which verdicts that variant is expected
//! to earn. TOML read with serde; unknown keys are errors that name the file,
//! line, column and key.
//!
//! ```toml
//! # What the scenario is for, in a comment.
//! [scenario]
//! variant = "hardened"                             # default
//! expect = ["linearizable", "detected-corruption"] # accepted verdicts
//! seeds = { count = 200 }                          # or { start = 5, end = 10 }
//! fails_on = ["michael2003"]  # regressions: variants some seed must fail on
//!
//! [clients]           # every section of `sim::config::SimConfig`, same keys
//! count = 6
//!
//! [swarm]             # optional: each seed draws its own fault mix
//! off_probability = 0.5
//! restart_per_s = [0.0, 5.0]
//! ```
//!
//! Defaults live in one place: `sim::config` for the world, this module for
//! the scenario table and swarm ranges.

use std::path::{Path, PathBuf};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::check::Verdict;
use crate::sim::config::{ClientsConfig, FaultSpec, NetworkConfig, RandomFaults, ServersConfig, SimConfig};
use crate::sim::rng::{self, Stream};
use memcache_collections::Variant;

/// A scenario file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What to run and what to expect.
    pub scenario: ScenarioMeta,
    /// The servers.
    #[serde(default)]
    pub servers: ServersConfig,
    /// The network.
    #[serde(default)]
    pub network: NetworkConfig,
    /// The clients and workload.
    #[serde(default)]
    pub clients: ClientsConfig,
    /// Scheduled faults.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Random faults at fixed rates.
    #[serde(default)]
    pub random_faults: RandomFaults,
    /// Per-seed random fault mixes (TigerBeetle's swarm testing).
    #[serde(default)]
    pub swarm: Option<Swarm>,
}

/// The `[scenario]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMeta {
    /// The algorithm variant to run.
    #[serde(default = "default_variant")]
    pub variant: String,
    /// The verdicts this variant is expected to earn on every seed.
    pub expect: Vec<String>,
    /// Which seeds to run.
    #[serde(default)]
    pub seeds: Seeds,
    /// For a regression scenario pinning a finding: the variants on which
    /// at least one of its seeds earns a verdict outside `expect` (the
    /// algorithm the finding was made on). `sim/tests/regressions.rs`
    /// checks both directions, so a regression cannot quietly stop
    /// reproducing.
    #[serde(default)]
    pub fails_on: Vec<String>,
}

fn default_variant() -> String {
    Variant::default().name().to_owned()
}

/// The seeds of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Seeds {
    /// Seeds `0..count`.
    Count {
        /// How many.
        count: u64,
    },
    /// Seeds `start..end`.
    Range {
        /// First seed.
        start: u64,
        /// One past the last seed.
        end: u64,
    },
}

impl Default for Seeds {
    fn default() -> Self {
        Seeds::Count { count: 100 }
    }
}

impl Seeds {
    /// The seeds, in order.
    pub fn list(self) -> Vec<u64> {
        match self {
            Seeds::Count { count } => (0..count).collect(),
            Seeds::Range { start, end } => (start..end).collect(),
        }
    }
}

/// Ranges from which each seed draws its own fault rates; every kind is also
/// switched off entirely with `off_probability`, so seeds explore very
/// different mixes (some kinds absent, others at wildly different rates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Swarm {
    /// Probability that a fault kind is off for a seed.
    pub off_probability: f64,
    /// Range of `network.drop_request_rate`.
    pub drop_request_rate: [f64; 2],
    /// Range of `network.drop_reply_rate`.
    pub drop_reply_rate: [f64; 2],
    /// Range of `network.delay_spike_rate`.
    pub delay_spike_rate: [f64; 2],
    /// Range of `random_faults.restart_per_s`.
    pub restart_per_s: [f64; 2],
    /// Range of `random_faults.flush_per_s`.
    pub flush_per_s: [f64; 2],
    /// Range of `random_faults.lose_node_per_s`.
    pub lose_node_per_s: [f64; 2],
    /// Range of `random_faults.lose_anchor_per_s`.
    pub lose_anchor_per_s: [f64; 2],
    /// Range of `random_faults.partition_per_s`.
    pub partition_per_s: [f64; 2],
    /// Range of `random_faults.pause_per_s`.
    pub pause_per_s: [f64; 2],
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            off_probability: 0.5,
            drop_request_rate: [0.0, 0.05],
            drop_reply_rate: [0.0, 0.05],
            delay_spike_rate: [0.0, 0.05],
            restart_per_s: [0.0, 5.0],
            flush_per_s: [0.0, 2.0],
            lose_node_per_s: [0.0, 20.0],
            lose_anchor_per_s: [0.0, 2.0],
            partition_per_s: [0.0, 20.0],
            pause_per_s: [0.0, 20.0],
        }
    }
}

/// Why a scenario file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TOML is invalid; the message names line, column and key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// The file parses but says something impossible.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Its file.
    pub path: PathBuf,
    /// Its name (the file stem).
    pub name: String,
    /// The parsed file.
    pub scenario: Scenario,
    /// The accepted verdicts.
    pub expect: Vec<Verdict>,
    /// The variant the file names, kept when a command line overrides
    /// `scenario.variant`, so replay commands can say so.
    pub file_variant: String,
}

impl LoadedScenario {
    /// The world of one seed (swarm rates drawn from the seed's own stream).
    pub fn config_for(&self, seed: u64) -> SimConfig {
        let s = &self.scenario;
        let mut config = SimConfig {
            variant: s.scenario.variant.clone(),
            servers: s.servers.clone(),
            network: s.network.clone(),
            clients: s.clients.clone(),
            faults: s.faults.clone(),
            random_faults: s.random_faults.clone(),
            drain: true,
            keep_trace: false,
        };
        if let Some(swarm) = &s.swarm {
            apply_swarm(swarm, seed, &mut config);
        }
        config
    }
}

fn apply_swarm(swarm: &Swarm, seed: u64, config: &mut SimConfig) {
    let mut rng = rng::stream(seed, Stream::Swarm, 0);
    let mut draw = |range: [f64; 2]| -> f64 {
        let off = rng.random_bool(swarm.off_probability.clamp(0.0, 1.0));
        let u: f64 = rng.random();
        if off { 0.0 } else { range[0] + u * (range[1] - range[0]) }
    };
    config.network.drop_request_rate = draw(swarm.drop_request_rate);
    config.network.drop_reply_rate = draw(swarm.drop_reply_rate);
    config.network.delay_spike_rate = draw(swarm.delay_spike_rate);
    let faults = &mut config.random_faults;
    faults.restart_per_s = draw(swarm.restart_per_s);
    faults.flush_per_s = draw(swarm.flush_per_s);
    faults.lose_node_per_s = draw(swarm.lose_node_per_s);
    faults.lose_anchor_per_s = draw(swarm.lose_anchor_per_s);
    faults.partition_per_s = draw(swarm.partition_per_s);
    faults.pause_per_s = draw(swarm.pause_per_s);
}

/// Reads and validates one scenario file.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })?;
    let scenario: Scenario = toml::from_str(&text).map_err(|error| ScenarioError::Parse {
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    let invalid = |message: String| ScenarioError::Invalid {
        path: path.to_owned(),
        message,
    };
    let expect = scenario
        .scenario
        .expect
        .iter()
        .map(|name| {
            Verdict::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
                invalid(format!(
                    "scenario.expect: unknown verdict {name:?}; expected one of {known:?}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if expect.is_empty() {
        return Err(invalid("scenario.expect: list at least one verdict".into()));
    }
    let named = std::iter::once(("scenario.variant", &scenario.scenario.variant))
        .chain(scenario.scenario.fails_on.iter().map(|v| ("scenario.fails_on", v)));
    for (field, variant) in named {
        if memcache_collections::Variant::from_name(variant).is_none() {
            return Err(invalid(format!(
                "{field}: unknown variant {variant:?} (see `mcsim list`)"
            )));
        }
    }
    if scenario.servers.count == 0 || scenario.clients.count == 0 {
        return Err(invalid("servers.count and clients.count must be at least 1".into()));
    }
    let name = path
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    Ok(LoadedScenario {
        path: path.to_owned(),
        name,
        file_variant: scenario.scenario.variant.clone(),
        scenario,
        expect,
    })
}

/// Every `.toml` file under the given paths (files as given, directories
/// recursively), sorted, so a run's order never depends on the file system.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut found = Vec::new();
    for path in paths {
        collect(path, &mut found)?;
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn collect(path: &Path, found: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    let read_error = |source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(read_error)? {
            let entry = entry.map_err(|source| ScenarioError::Read {
                path: path.to_owned(),
                source,
            })?;
            collect(&entry.path(), found)?;
        }
    } else if path.extension().is_some_and(|e| e == "toml") {
        found.push(path.to_owned());
    } else if !path.exists() {
        return Err(read_error(std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
    Ok(())
}
