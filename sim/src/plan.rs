//! The run plan: everything one run is, after defaults, swarm draws and the
//! command line's overrides, so that a world needs nothing else and every
//! later stage (judge, record, outputs, replay line) reads the same facts.
//! The pipeline is scenario -> plan -> world -> outcome -> judge -> record
//! -> outputs; this is its second stage.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

pub use crate::algorithm::{Algorithm, Subject};
pub use crate::capability::Backend;
use crate::config::RunConfig;
use crate::judge::Expectation;
use crate::replay::{Replay, Source};
use crate::scenario::{LoadedScenario, SwarmDraws};

/// What a command line changes about a scenario's runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Run this variant instead of the scenario's own.
    pub variant: Option<Algorithm>,
    /// Where to run.
    pub backend: Backend,
}

/// One run, fully described.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPlan {
    /// The scenario's name (a configuration file's stem, or `default`).
    pub name: String,
    /// Where the run's description came from.
    #[serde(skip)]
    pub source: Source,
    /// The master seed: every random choice of the run derives from it.
    pub seed: u64,
    /// The algorithm that runs; its subject says what the clients do.
    #[serde(with = "crate::scenario::variant_name")]
    pub variant: Algorithm,
    /// Whether `variant` came from the command line rather than the file.
    pub variant_overridden: bool,
    /// Where it runs.
    pub backend: Backend,
    /// The effective configuration (swarm draws applied).
    pub config: RunConfig,
    /// What a swarm scenario drew for this seed.
    pub swarm: Option<SwarmDraws>,
    /// What the scenario accepts.
    pub expect: Expectation,
    /// Keep the full trace (the simulator always hashes it): for reports.
    #[serde(skip)]
    pub keep_trace: bool,
    /// A client process to run instead of the library (`--client-cmd`,
    /// run by `sh -c`, speaking `docs/client-protocol.md`): real backend,
    /// deque runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_command: Option<String>,
}

/// One run as records and manifests name it: scenario file, variant, seed.
pub type RunId = (String, String, u64);

impl RunPlan {
    /// Seed `seed` of a scenario, with the command line's overrides.
    pub fn for_scenario(loaded: &LoadedScenario, seed: u64, overrides: Overrides) -> RunPlan {
        let scenario = &loaded.scenario;
        let mut config = scenario.config.clone();
        let swarm = scenario.swarm.as_ref().map(|swarm| swarm.draw(seed));
        if let Some(draws) = &swarm {
            draws.apply(&mut config);
        }
        let variant = overrides.variant.unwrap_or(scenario.meta.variant);
        RunPlan {
            name: loaded.name.clone(),
            source: Source::Scenario(loaded.path.clone()),
            seed,
            variant,
            variant_overridden: variant != scenario.meta.variant,
            backend: overrides.backend,
            config,
            swarm,
            expect: Expectation {
                verdicts: scenario.meta.expect.clone(),
                ops_succeeded_min: scenario.meta.ops_succeeded_min,
                reach: scenario.meta.reach,
                // Pinned seeds reach their event on the scenario's own
                // algorithm in the simulator; another variant or a real run
                // owes nothing there.
                pinned: scenario.meta.pinned.contains(&seed)
                    && variant == scenario.meta.variant
                    && overrides.backend == Backend::Sim,
            },
            keep_trace: false,
            client_command: None,
        }
    }

    /// A run of a bare configuration (`mcsim sim`; tests and benchmarks):
    /// no scenario states expectations, so the passing verdicts are
    /// expected. `path` is the configuration's file, if any.
    pub fn for_config(config: RunConfig, path: Option<PathBuf>, seed: u64, variant: impl Into<Algorithm>) -> RunPlan {
        let variant = variant.into();
        let name = path
            .as_deref()
            .and_then(|p| p.file_stem())
            .map_or_else(|| "default".to_owned(), |s| s.to_string_lossy().into_owned());
        RunPlan {
            name,
            source: Source::Config(path),
            seed,
            variant,
            variant_overridden: variant != variant.subject().default_algorithm(),
            backend: Backend::Sim,
            config,
            swarm: None,
            expect: Expectation::passing(),
            keep_trace: false,
            client_command: None,
        }
    }

    /// The run as records and manifests name it: scenario file (empty for
    /// a built-in configuration), variant, seed.
    pub fn run_id(&self) -> RunId {
        let path = self.source.path().map_or_else(String::new, |p| p.display().to_string());
        (path, self.variant.name().to_owned(), self.seed)
    }

    /// The command that runs this plan again.
    pub fn replay(&self) -> Replay {
        Replay {
            source: self.source.clone(),
            seed: self.seed,
            variant: self.variant_overridden.then_some(self.variant),
            backend: self.backend,
            client_command: self.client_command.clone(),
            self_check: false,
        }
    }

    /// What the run's clients exercise.
    pub fn subject(&self) -> Subject {
        self.variant.subject()
    }

    /// Why a world cannot run this plan (empty: it can).
    pub fn refusals(&self) -> Vec<String> {
        let mut refusals = crate::capability::refusals(self.backend, self.subject(), &self.config);
        if self.client_command.is_some() {
            refusals.extend(crate::capability::client_process_refusals(
                self.backend,
                self.subject(),
                &self.config,
            ));
        }
        refusals
    }

    /// The effective configuration as TOML, headed by the seed, variant,
    /// backend and swarm draws, as TigerBeetle's simulator prints its
    /// options: a reader sees exactly what this run was.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# seed = {}", self.seed);
        let _ = writeln!(
            out,
            "# variant = {}{}",
            self.variant.name(),
            if self.variant_overridden {
                " (from the command line)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "# backend = {}", self.backend.name());
        if let Some(command) = &self.client_command {
            let _ = writeln!(out, "# clients = the process `{command}` (docs/client-protocol.md)");
        }
        if let Some(swarm) = &self.swarm {
            let _ = writeln!(out, "# swarm drew: {swarm}");
        }
        let expect: Vec<&str> = self.expect.verdicts.iter().map(|v| v.name()).collect();
        let _ = writeln!(
            out,
            "# expect = {} (with at least {} successful workload operations)",
            expect.join(", "),
            self.expect.ops_succeeded_min
        );
        out.push_str(&toml::to_string(&self.config).unwrap_or_else(|e| format!("# (not printable: {e})\n")));
        out
    }
}
