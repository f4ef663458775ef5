//! Scenario files: a run configuration ([`RunConfig`]: servers, network,
//! clients, faults), which seeds to run, which algorithm variant, and which
//! verdicts that variant is expected to earn. TOML read with serde; unknown
//! keys, unknown variants or verdicts, and out-of-range rates are errors
//! that name the file, line, column and key.
//!
//! ```toml
//! # What the scenario is for, in a comment.
//! [scenario]
//! subject = "deque"          # default; "mcas" runs the bank on MCAS
//! variant = "hardened"       # default: the subject's own algorithm
//! expect = ["linearizable", "detected-corruption"] # accepted verdicts
//! seeds = { count = 200 }                          # or { start = 5, end = 10 }
//! fails_on = ["michael2003"]  # regressions: variants some seed must fail on
//! reach = { event = "stale-token-cas", rate_min = 0.1 } # see crate::reach
//! pinned = [180]              # seeds run under --seeds and --shard too
//!
//! [clients]           # every section of `config::RunConfig`, same keys
//! count = 6
//!
//! [swarm]             # optional: each seed draws its own fault mix
//! off_probability = 0.5
//! restart_per_s = [0.0, 5.0]
//! ```
//!
//! Defaults live in one place: `crate::config` for the run, this module for
//! the scenario table and swarm ranges.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::algorithm::{Algorithm, Subject};
use crate::config::RunConfig;
use crate::reach::Reach;

pub use crate::swarm::{Swarm, SwarmDraws};
use crate::verdict::Verdict;

/// A scenario file, as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// The `[scenario]` table: what to run and what to expect.
    #[serde(rename = "scenario")]
    pub meta: ScenarioMeta,
    /// The run configuration: every other section but `[swarm]`.
    #[serde(flatten)]
    pub config: RunConfig,
    /// Per-seed random fault mixes (TigerBeetle's swarm testing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
}

impl<'de> Deserialize<'de> for Scenario {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Sections;
        impl<'de> Visitor<'de> for Sections {
            type Value = Scenario;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scenario")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scenario, A::Error> {
                let mut meta = None;
                let mut config = RunConfig::default();
                let mut swarm = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "scenario" => meta = Some(map.next_value()?),
                        "swarm" => swarm = Some(map.next_value()?),
                        _ if config.read_section(&key, &mut map)? => {}
                        _ => {
                            let mut known = vec!["scenario", "swarm"];
                            known.extend_from_slice(RunConfig::SECTIONS);
                            return Err(A::Error::custom(format!(
                                "unknown section `{key}`, expected one of {}",
                                known.join(", ")
                            )));
                        }
                    }
                }
                let meta = meta.ok_or_else(|| A::Error::missing_field("scenario"))?;
                Ok(Scenario { meta, config, swarm })
            }
        }
        deserializer.deserialize_map(Sections)
    }
}

/// The `[scenario]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MetaFile")]
pub struct ScenarioMeta {
    /// What the runs exercise: the deque, or MCAS under the bank workload.
    pub subject: Subject,
    /// The algorithm to run, one of the subject's.
    #[serde(with = "variant_name")]
    pub variant: Algorithm,
    /// The verdicts this variant is expected to earn on every seed.
    pub expect: Vec<Verdict>,
    /// Which seeds to run.
    #[serde(default)]
    pub seeds: Seeds,
    /// A run whose workload has fewer successful operations than this
    /// tested nothing: its verdict is `vacuous` however its history checks.
    #[serde(default = "ops_succeeded_min_default")]
    pub ops_succeeded_min: u64,
    /// For a regression scenario pinning a finding: the variants on which
    /// at least one of its seeds earns a verdict outside `expect` (the
    /// algorithm the finding was made on). `sim/tests/regressions.rs`
    /// checks both directions, so a regression cannot quietly stop
    /// reproducing.
    #[serde(with = "variant_names", skip_serializing_if = "Vec::is_empty")]
    pub fails_on: Vec<Algorithm>,
    /// The event that makes the scenario meaningful and the least share of
    /// its runs that must reach it (`crate::reach`); every fault and
    /// regression scenario states one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
    /// Seeds that always run, under `--seeds N` and `--shard K/N` too:
    /// a regression's seeds that reach its race on the default algorithm.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<u64>,
}

/// The `[scenario]` table as written: the subject follows from the
/// variant when only that is given, and the variant is the subject's own
/// algorithm when only the subject is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaFile {
    #[serde(default)]
    subject: Option<Subject>,
    #[serde(default, with = "variant_option")]
    variant: Option<Algorithm>,
    expect: Vec<Verdict>,
    #[serde(default)]
    seeds: Seeds,
    #[serde(default = "ops_succeeded_min_default")]
    ops_succeeded_min: u64,
    #[serde(default, with = "variant_names")]
    fails_on: Vec<Algorithm>,
    #[serde(default)]
    reach: Option<Reach>,
    #[serde(default)]
    pinned: Vec<u64>,
}

impl TryFrom<MetaFile> for ScenarioMeta {
    type Error = String;

    fn try_from(file: MetaFile) -> Result<ScenarioMeta, String> {
        let subject = file
            .subject
            .or(file.variant.map(Algorithm::subject))
            .unwrap_or_default();
        let variant = file.variant.unwrap_or(subject.default_algorithm());
        let foreign = std::iter::once(&variant).chain(&file.fails_on);
        if let Some(other) = foreign.into_iter().find(|v| v.subject() != subject) {
            return Err(format!(
                "{other} is an algorithm of the {} subject, but the scenario's subject is {}",
                other.subject().name(),
                subject.name()
            ));
        }
        Ok(ScenarioMeta {
            subject,
            variant,
            expect: file.expect,
            seeds: file.seeds,
            ops_succeeded_min: file.ops_succeeded_min,
            fails_on: file.fails_on,
            reach: file.reach,
            pinned: file.pinned,
        })
    }
}

fn ops_succeeded_min_default() -> u64 {
    1
}

/// Variants in files and on the command line: by [`Algorithm::name`].
pub mod variant_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::algorithm::Algorithm;

    /// Parses a variant name of either subject; the error lists both
    /// catalogues.
    pub fn parse(name: &str) -> Result<Algorithm, String> {
        Algorithm::from_name(name).ok_or_else(|| {
            let all = Algorithm::all();
            let of = |subject| {
                all.iter()
                    .filter(|a| a.subject() == subject)
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            use crate::algorithm::Subject::{Deque, Mcas};
            format!(
                "unknown variant {name:?}; the deque's variants are {}; MCAS's are {}",
                of(Deque),
                of(Mcas)
            )
        })
    }

    /// Writes the name.
    pub fn serialize<S: Serializer>(variant: &Algorithm, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(variant.name())
    }

    /// Reads a name.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Algorithm, D::Error> {
        let name = String::deserialize(deserializer)?;
        parse(&name).map_err(serde::de::Error::custom)
    }
}

/// An optional variant by name.
mod variant_option {
    use serde::Deserializer;

    use crate::algorithm::Algorithm;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Algorithm>, D::Error> {
        super::variant_name::deserialize(deserializer).map(Some)
    }
}

/// A list of variants by name.
mod variant_names {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::algorithm::Algorithm;

    pub fn serialize<S: Serializer>(variants: &[Algorithm], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(variants.len()))?;
        for variant in variants {
            seq.serialize_element(variant.name())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Algorithm>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|name| super::variant_name::parse(name).map_err(serde::de::Error::custom))
            .collect()
    }
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
    /// A path given (or the default `scenarios`) does not exist.
    #[error(
        "no scenario file or directory {path}{}",
        if path.is_relative() {
            format!(
                " (relative to the current directory, {}; run from the repository's root or pass the path)",
                std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()
            )
        } else {
            String::new()
        }
    )]
    NotFound {
        /// The path as given.
        path: PathBuf,
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
}

/// Parses a scenario from its text; `path` is only for messages.
pub fn parse(path: &Path, text: &str) -> Result<LoadedScenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(text).map_err(|error| ScenarioError::Parse {
        path: path.to_owned(),
        message: parse_error_message(text, &error),
    })?;
    let invalid = |message: String| ScenarioError::Invalid {
        path: path.to_owned(),
        message,
    };
    let expect = &scenario.meta.expect;
    if expect.is_empty() {
        return Err(invalid("scenario.expect: list at least one verdict".into()));
    }
    if let Some(harness) = expect.iter().find(|v| v.is_harness_failure()) {
        return Err(invalid(format!(
            "scenario.expect: {harness} is a harness failure, not a verdict a scenario can expect"
        )));
    }
    if scenario.meta.seeds.list().is_empty() {
        return Err(invalid("scenario.seeds: no seeds to run".into()));
    }
    let mut problems = scenario.config.problems();
    let pinned = !scenario.meta.pinned.is_empty();
    if pinned && scenario.meta.reach.is_none() {
        problems.push(
            "scenario.pinned: pinned seeds must reach an event; name it with reach = { event, rate_min }".to_owned(),
        );
    }
    problems.extend(scenario.meta.reach.as_ref().and_then(|reach| reach.problem(pinned)));
    if let Some(swarm) = &scenario.swarm {
        problems.extend(swarm.problems());
    }
    if !problems.is_empty() {
        return Err(invalid(problems.join("; ")));
    }
    let name = path
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    Ok(LoadedScenario {
        path: path.to_owned(),
        name,
        scenario,
    })
}

/// The toml crate's message for `error` in `text`, pointing at the line of
/// the offending key when the crate could only point at the whole document
/// (an unknown section or top-level key: its span is the file's start).
pub fn parse_error_message(text: &str, error: &toml::de::Error) -> String {
    let whole_document = error.span().is_some_and(|span| span.start == 0);
    let key = error
        .message()
        .split('`')
        .nth(1)
        .filter(|_| error.message().starts_with("unknown"));
    let (true, Some(key)) = (whole_document, key) else {
        return error.to_string();
    };
    let line = text.lines().position(|line| {
        let line = line.trim();
        let header = line.trim_start_matches('[').trim_end_matches(']').trim();
        (line.starts_with('[') && header == key)
            || line
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match line {
        Some(index) => {
            let number = index + 1;
            let gutter = " ".repeat(number.to_string().len());
            format!(
                "TOML parse error at line {number}, column 1\n{gutter} |\n{number} | {}\n{gutter} | ^\n{}\n",
                text.lines().nth(index).unwrap_or_default(),
                error.message()
            )
        }
        None => error.to_string(),
    }
}

/// Reads and validates one scenario file.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
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
        return Err(ScenarioError::NotFound { path: path.to_owned() });
    }
    Ok(())
}
