//! `mcsim run [PATHS...]`: every scenario x seed, in parallel, then a summary.

use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::output::{files, junit, table};
use memcache_sim::pipeline::Ran;
use memcache_sim::plan::{Backend, Overrides};
use memcache_sim::record::{self, summarise};
use memcache_sim::runner::{self, SeedSelection};

/// `mcsim run`'s arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run seeds 0..N of every scenario instead of its own.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Run only this seed of every scenario.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run only shard K of N (K from 1), splitting each scenario's seeds.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Worker threads; defaults to the number of cores (simulator) or 1
    /// (real memcached: a run is a dozen threads and its own servers).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run every scenario with this algorithm variant instead of its own
    /// (`mcsim list` names them); the scenarios' expectations still apply,
    /// so a broken variant shows up as unexpected verdicts: caught.
    #[arg(long, value_parser = super::parse_variant)]
    pub variant: Option<Variant>,
    /// Write a JSON record per run under this directory, and for every
    /// unexpected run its history and its HTML report.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write JUnit XML (one test case per seed) to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where to run: the simulator, or real memcached processes started
    /// by the harness with real faults.
    #[arg(long, value_enum, default_value_t = Backend::Sim)]
    pub backend: Backend,
}

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

/// Runs, prints, returns the exit status.
pub fn run(args: &RunArgs) -> u8 {
    let scenarios = match super::load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(status) => return status,
    };
    let selection = SeedSelection {
        count: args.seeds,
        single: args.seed,
        shard: args.shard,
    };
    let overrides = Overrides {
        variant: args.variant,
        backend: args.backend,
    };
    let mut plans = runner::plans(&scenarios, selection, overrides);
    if args.report.is_some() {
        // A failure's report page shows its trace: keep it while the run
        // is in memory, rather than run it again.
        plans.iter_mut().for_each(|plan| plan.keep_trace = true);
    }
    let threads = match (args.threads, args.backend) {
        (Some(threads), _) => threads,
        (None, Backend::Sim) => super::threads(None),
        (None, Backend::Real) => 1,
    };
    let sink = |ran: &Ran| match &args.report {
        Some(dir) => files::write_run(dir, ran).map_err(|error| {
            format!(
                "cannot write the report of {} under {}: {error}",
                ran.record.replay,
                dir.display()
            )
        }),
        None => Ok(()),
    };
    let batch = runner::run_all(plans, threads, !args.json, &sink);
    let records = batch.records;
    let mut status = record::exit_status(&records);
    for error in &batch.sink_errors {
        eprintln!("mcsim: {error}");
        status = exit::worst(status, exit::HARNESS);
    }
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
        });
        outln!("{}", serde_json::to_string_pretty(&value).expect("summaries serialise"));
    } else {
        out!("{}", table::render(&records));
        outln!(
            "{} runs, {} unexpected",
            records.len(),
            records.iter().filter(|r| !r.expected).count()
        );
    }
    status
}
