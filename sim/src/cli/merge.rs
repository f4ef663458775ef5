//! `mcsim merge DIR...`: one summary and one exit status for a suite run
//! split over CI jobs (`mcsim run --shard K/N --report DIR-K` in each), from
//! the JSON records the jobs left. Each directory's manifest proves the
//! set whole: every shard of one finished run, once, with nothing stale.

use std::path::{Path, PathBuf};

use memcache_sim::exit;
use memcache_sim::output::manifest::{self, Manifest};
use memcache_sim::output::{junit, table};
use memcache_sim::record::{self, RunRecord, summarise};

/// `mcsim merge`'s arguments.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// Report directories written by `mcsim run --report` (one per shard).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Write JUnit XML of every run to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The records under a report directory: `<scenario>/seed-<S>.json`.
fn records_in(dir: &Path) -> Result<Vec<RunRecord>, String> {
    let read = |path: &Path| std::fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
    let mut records = Vec::new();
    for scenario in read(dir)? {
        let scenario = scenario
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if !scenario.is_dir() {
            continue;
        }
        for file in read(&scenario)? {
            let file = file
                .map_err(|e| format!("cannot read {}: {e}", scenario.display()))?
                .path();
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !name.starts_with("seed-") || !name.ends_with(".json") || name.ends_with(".history.json") {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let record: RunRecord =
                serde_json::from_str(&text).map_err(|e| format!("{} is not a run record: {e}", file.display()))?;
            records.push(record);
        }
    }
    Ok(records)
}

/// Reads every shard's records, prints the summary, returns the exit status
/// the whole suite would have had.
pub fn run(args: &MergeArgs) -> u8 {
    let mut records = Vec::new();
    let mut shards = Vec::new();
    for dir in &args.dirs {
        let manifest = match Manifest::read(dir) {
            Ok(manifest) => manifest,
            Err(error) => {
                eprintln!("mcsim: {error}");
                return exit::USAGE;
            }
        };
        match records_in(dir) {
            Ok(found) => {
                let runs = found
                    .iter()
                    .map(|r| (r.path.clone(), r.variant.clone(), r.seed))
                    .collect();
                shards.push((dir.clone(), manifest, runs));
                records.extend(found);
            }
            Err(error) => {
                eprintln!("mcsim: {error}");
                return exit::USAGE;
            }
        }
    }
    // Every shard of one finished run, once each, nothing stale: otherwise
    // the summary would be green over fewer runs than the suite has.
    if let Err(error) = manifest::check_whole(&shards) {
        eprintln!("mcsim: {error}");
        return exit::USAGE;
    }
    if records.is_empty() {
        eprintln!("mcsim: no run records (<scenario>/seed-<S>.json) under {:?}", args.dirs);
        return exit::USAGE;
    }
    // The order a single run would have printed: scenario files, then seeds.
    records.sort_by(|a, b| (&a.path, &a.scenario, a.seed).cmp(&(&b.path, &b.scenario, b.seed)));
    let duplicate = records.windows(2).find(|pair| {
        (&pair[0].path, &pair[0].scenario, pair[0].seed) == (&pair[1].path, &pair[1].scenario, pair[1].seed)
    });
    if let Some(pair) = duplicate {
        eprintln!(
            "mcsim: {} seed {} is in two shards: the directories overlap",
            pair[0].scenario, pair[0].seed
        );
        return exit::USAGE;
    }
    let mut status = record::exit_status(&records, record::Floors::Whole);
    if let Some(file) = &args.junit
        && let Err(error) = std::fs::write(file, junit::render(&records))
    {
        eprintln!("mcsim: cannot write {}: {error}", file.display());
        status = exit::worst(status, exit::HARNESS);
    }
    if args.json {
        let failures: Vec<_> = records.iter().filter(|r| !r.expected).collect();
        let value = serde_json::json!({
            "exit": status,
            "runs": records.len(),
            "scenarios": summarise(&records),
            "failures": failures,
            "unreached": record::reach_failures(&records, record::Floors::Whole),
        });
        outln!("{}", serde_json::to_string_pretty(&value).expect("summaries serialise"));
    } else {
        out!("{}", table::render(&records, record::Floors::Whole));
        outln!(
            "{} runs from {} shard(s), {} unexpected",
            records.len(),
            args.dirs.len(),
            records.iter().filter(|r| !r.expected).count()
        );
    }
    status
}
