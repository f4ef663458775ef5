//! `mcsim run [PATHS...]`: every scenario x seed, in parallel, then a summary.

use std::path::PathBuf;

use memcache_sim::exit;
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::scenario::{self, LoadedScenario};

/// Parses `K/N` (1 <= K <= N).
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text.split_once('/').ok_or("expected K/N, e.g. 2/4")?;
    let (k, n): (u64, u64) = (
        k.parse().map_err(|_| format!("{k:?} is not a number"))?,
        n.parse().map_err(|_| format!("{n:?} is not a number"))?,
    );
    if k == 0 || k > n {
        return Err(format!("shard {k}/{n}: K must be between 1 and N"));
    }
    Ok((k, n))
}

/// Loads every scenario under `paths`; the first bad file ends the run.
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

/// Where a suite run's results go besides the summary.
pub struct Outputs {
    /// A JSON record per run under this directory.
    pub report: Option<PathBuf>,
    /// JUnit XML to this file.
    pub junit: Option<PathBuf>,
    /// The summary as JSON on stdout instead of a table.
    pub json: bool,
    /// Run this variant instead of each scenario's own.
    pub variant: Option<String>,
    /// Where the scenarios run.
    pub backend: runner::Backend,
}

/// Runs, prints, returns the exit status.
pub fn run(paths: &[PathBuf], selection: SeedSelection, threads: usize, outputs: &Outputs) -> u8 {
    let json = outputs.json;
    let mut scenarios = match load_all(paths) {
        Ok(scenarios) => scenarios,
        Err(status) => return status,
    };
    if let Some(variant) = &outputs.variant {
        if memcache_collections::Variant::from_name(variant).is_none() {
            eprintln!("mcsim: unknown variant {variant:?} (see `mcsim list`)");
            return exit::USAGE;
        }
        for scenario in &mut scenarios {
            scenario.scenario.scenario.variant = variant.clone();
        }
    }
    let records = runner::run_all_on(outputs.backend, &scenarios, selection, threads, !json);
    let status = runner::exit_status(&records);
    if let Some(dir) = &outputs.report {
        // An HTML page replays the run in the simulator, which only means
        // the same run there.
        let replayable = |r: &&runner::RunRecord| r.backend == runner::Backend::Sim;
        let pages = records
            .iter()
            .filter(|r| !r.expected)
            .filter(replayable)
            .try_for_each(|record| {
                let scenario = scenarios
                    .iter()
                    .find(|s| s.name == record.scenario)
                    .expect("records name loaded scenarios");
                memcache_sim::report::write_for_seed(dir, scenario, record.seed).map(|_| ())
            });
        if let Err(error) = runner::write_reports(dir, &records).and(pages) {
            eprintln!("mcsim: cannot write reports under {}: {error}", dir.display());
            return exit::HARNESS;
        }
    }
    if let Some(file) = &outputs.junit
        && let Err(error) = std::fs::write(file, runner::junit(&records))
    {
        eprintln!("mcsim: cannot write {}: {error}", file.display());
        return exit::HARNESS;
    }
    if json {
        let failures: Vec<_> = records.iter().filter(|r| !r.expected).collect();
        let value = serde_json::json!({
            "exit": status,
            "runs": records.len(),
            "scenarios": runner::summarise(&records),
            "failures": failures,
        });
        outln!("{}", serde_json::to_string_pretty(&value).expect("summaries serialise"));
    } else {
        out!("{}", runner::render(&records));
        outln!(
            "{} runs, {} unexpected",
            records.len(),
            records.iter().filter(|r| !r.expected).count()
        );
    }
    status
}
