//! `mcsim run [PATHS...]`: every scenario x seed, in parallel, then a summary.

use std::path::{Path, PathBuf};

use memcache_sim::algorithm::Algorithm;
use memcache_sim::output::manifest::{self, Manifest};
use memcache_sim::output::{files, junit, table};
use memcache_sim::pipeline::Ran;
use memcache_sim::plan::{Backend, Overrides, RunPlan};
use memcache_sim::record::{self, summarise};
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::{capability, exit};

/// `mcsim run`'s arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run seeds 0..N of every scenario instead of its own (N >= 1), plus the pinned seeds a regression names.
    #[arg(long, value_parser = super::parse_count)]
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
    /// Canaries (scenarios of a deliberately broken variant) keep theirs.
    #[arg(long, value_parser = super::parse_variant)]
    pub variant: Option<Algorithm>,
    /// Write a JSON record per run under this directory (which must be
    /// new or empty), and for every unexpected run its history and its HTML
    /// report; `manifest.json` says what was run, for `mcsim merge`.
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
    /// Run each deque client as this command (by `sh -c`, one process per
    /// client) speaking the client protocol (docs/client-protocol.md)
    /// instead of the library in this process: `mcsim client` is the Rust
    /// one. Real backend only.
    #[arg(long, value_name = "COMMAND")]
    pub client_cmd: Option<String>,
}

/// The plans with `command` as their clients, leaving out (and naming on
/// standard error) the scenarios a client process cannot run: MCAS ones,
/// and those with faults pinned to a client's request count. They are
/// not run, so they pass nothing.
fn client_process_plans(plans: Vec<RunPlan>, command: &str) -> Vec<RunPlan> {
    let mut kept = Vec::new();
    let mut skipped: Vec<(String, usize, String)> = Vec::new();
    for mut plan in plans {
        let why = capability::client_process_refusals(plan.backend, plan.subject(), &plan.config);
        if why.is_empty() {
            plan.client_command = Some(command.to_owned());
            kept.push(plan);
            continue;
        }
        let path = plan.run_id().0;
        match skipped.last_mut() {
            Some((last, runs, _)) if *last == path => *runs += 1,
            _ => skipped.push((path, 1, why.join("; "))),
        }
    }
    for (path, runs, why) in &skipped {
        eprintln!("skipped {path} ({runs} runs), not for a client process: {why}");
    }
    kept
}

/// How many more runs a real scenario below its reach floor gets, on fresh
/// seeds, before its floor is judged on all of its runs.
///
/// A seed fixes a simulated run, not a real one's timing, so on real
/// memcached one run that missed its event says little about the share of
/// runs that reach it: `restart-recreate` reaches `recreations` in 97.5-100%
/// of real runs (`mcsim run scenarios/restart-recreate.toml --backend real`,
/// 200 runs, five times), so a suite of one seed per scenario missed it in
/// about one run of 70 and failed, with the scenario healthy. Judged on
/// its first runs and [`RESAMPLE_RUNS`] more, a healthy scenario passes and
/// one that no longer reaches its event still fails: the floor is the same.
pub const RESAMPLE_RUNS: u64 = 19;

/// The plans [`RESAMPLE_RUNS`] asks for: per scenario below its floor,
/// that many seeds after the last one it ran.
fn resample_plans(
    scenarios: &[memcache_sim::scenario::LoadedScenario],
    records: &[record::RunRecord],
    overrides: Overrides,
) -> Vec<RunPlan> {
    let below: Vec<String> = summarise(records)
        .into_iter()
        .filter_map(|summary| summary.reach)
        .filter(|tally| tally.observed > 0 && tally.below_floor())
        .map(|tally| tally.scenario)
        .collect();
    let mut plans = Vec::new();
    for name in below {
        let Some(scenario) = scenarios.iter().find(|s| s.name == name) else {
            continue;
        };
        let last = records
            .iter()
            .filter(|r| r.scenario == name)
            .map(|r| r.seed)
            .max()
            .unwrap_or(0);
        eprintln!(
            "{name} fell below its reach floor on real memcached: {RESAMPLE_RUNS} more runs (seeds {} to {}) \
             before judging it, as a seed does not reproduce a real run",
            last + 1,
            last + RESAMPLE_RUNS
        );
        let selection = SeedSelection {
            count: Some(last + 1 + RESAMPLE_RUNS),
            single: None,
            shard: None,
            skip_pinned: true,
        };
        plans.extend(
            runner::plans(std::slice::from_ref(scenario), selection, overrides)
                .into_iter()
                .filter(|plan| plan.seed > last),
        );
    }
    plans
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
        skip_pinned: false,
    };
    let overrides = Overrides {
        variant: args.variant,
        backend: args.backend,
    };
    let mut plans = runner::plans(&scenarios, selection, overrides);
    if let Some(command) = &args.client_cmd {
        if args.backend != Backend::Real {
            eprintln!("mcsim: --client-cmd runs client processes on real memcached: add --backend real");
            return exit::USAGE;
        }
        if command.trim().is_empty() {
            eprintln!("mcsim: --client-cmd is empty: give the command that starts one client process");
            return exit::USAGE;
        }
        plans = client_process_plans(plans, command);
        if plans.is_empty() {
            eprintln!("mcsim: every selected scenario was skipped: none is for a client process (see above)");
            return exit::USAGE;
        }
    }
    if plans.is_empty() {
        eprintln!("mcsim: the selection leaves no run (a shard of fewer seeds than shards?): nothing to test");
        return exit::USAGE;
    }
    let manifest = args.report.as_ref().map(|_| Manifest {
        paths: args.paths.iter().map(|p| p.display().to_string()).collect(),
        seeds: args.seeds,
        seed: args.seed,
        shard: args.shard,
        variant: args.variant.map(|v| v.name().to_string()),
        backend: args.backend,
        runs_planned: plans.len(),
        runs_written: None,
        planned: Manifest::plan_list(plans.iter().map(RunPlan::run_id)),
    });
    if let (Some(dir), Some(manifest)) = (&args.report, &manifest) {
        let mut named: Vec<(&str, &Path)> = scenarios.iter().map(|s| (s.name.as_str(), s.path.as_path())).collect();
        named.sort();
        if let Some(pair) = named.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            eprintln!(
                "mcsim: {} and {} are both named {}: their records would share {}/{}/ under --report; \
                 rename one or run them apart",
                pair[0].1.display(),
                pair[1].1.display(),
                pair[0].0,
                dir.display(),
                pair[0].0
            );
            return exit::USAGE;
        }
        if let Err(error) = start_report(dir, manifest) {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
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
    let mut run_ids: Vec<_> = plans.iter().map(RunPlan::run_id).collect();
    let batch = runner::run_all(plans, threads, !args.json, &sink);
    let mut records = batch.records;
    let mut sink_errors = batch.sink_errors;
    // A shard or a single seed is part of a suite run: its share of runs
    // reaching an event says nothing (merge checks the whole).
    let floors = if args.shard.is_some() || args.seed.is_some() {
        record::Floors::PinnedOnly
    } else {
        record::Floors::Whole
    };
    if args.backend == Backend::Real && floors == record::Floors::Whole {
        let mut again = resample_plans(&scenarios, &records, overrides);
        if let Some(command) = &args.client_cmd {
            again = client_process_plans(again, command);
        }
        again
            .iter_mut()
            .for_each(|plan| plan.keep_trace = args.report.is_some());
        if !again.is_empty() {
            run_ids.extend(again.iter().map(RunPlan::run_id));
            let extra = runner::run_all(again, threads, !args.json, &sink);
            records.extend(extra.records);
            sink_errors.extend(extra.sink_errors);
            // Beside their scenario's first runs, so each is one summary.
            let first = |name: &str| records.iter().position(|r| r.scenario == name);
            let order: Vec<usize> = records.iter().map(|r| first(&r.scenario).unwrap_or(0)).collect();
            let mut keyed: Vec<(usize, record::RunRecord)> = order.into_iter().zip(records).collect();
            keyed.sort_by_key(|(position, _)| *position);
            records = keyed.into_iter().map(|(_, r)| r).collect();
            let first_id = |path: &str| run_ids.iter().position(|id| id.0 == path);
            let mut ids: Vec<(usize, _)> = run_ids
                .iter()
                .map(|id| (first_id(&id.0).unwrap_or(0), id.clone()))
                .collect();
            ids.sort_by_key(|(position, _)| *position);
            run_ids = ids.into_iter().map(|(_, id)| id).collect();
        }
    }
    let manifest = manifest.map(|manifest| Manifest {
        runs_planned: run_ids.len(),
        planned: Manifest::plan_list(run_ids),
        ..manifest
    });
    let mut status = record::exit_status(&records, floors);
    for error in &sink_errors {
        eprintln!("mcsim: {error}");
        status = exit::worst(status, exit::HARNESS);
    }
    if let (Some(dir), Some(mut manifest)) = (&args.report, manifest)
        && sink_errors.is_empty()
    {
        manifest.runs_written = Some(records.len());
        if let Err(error) = manifest.write(dir) {
            eprintln!("mcsim: cannot write {}: {error}", dir.join(manifest::FILE).display());
            status = exit::worst(status, exit::HARNESS);
        }
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
            "unreached": record::reach_failures(&records, floors),
        });
        outln!("{}", serde_json::to_string_pretty(&value).expect("summaries serialise"));
    } else {
        out!("{}", table::render(&records, floors));
        let unexpected = records.iter().filter(|r| !r.expected).count();
        outln!("{} runs, {unexpected} unexpected", records.len());
        if let Some(dir) = &args.report {
            outln!(
                "records under {}/<scenario>/seed-<S>.json; {}",
                dir.display(),
                if unexpected == 0 {
                    "no unexpected run, so no history or page".to_string()
                } else {
                    format!(
                        "histories beside them, pages as {}/<scenario>-seed<S>.html",
                        dir.display()
                    )
                }
            );
        }
    }
    status
}

/// Makes `dir` a fresh report directory holding `manifest` (unfinished),
/// before any run: a directory that cannot be written is found now, not
/// after the last run, and records of an earlier run are never mixed in.
fn start_report(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    let has_entries = std::fs::read_dir(dir).map(|mut entries| entries.next().is_some());
    match has_entries {
        Ok(true) => {
            return Err(format!(
                "--report {}: the directory is not empty; records of an earlier run would mix with \
                 this one's (and `mcsim merge` would count them): remove it or choose a new one",
                dir.display()
            ));
        }
        Ok(false) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("--report {}: {error}", dir.display())),
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| manifest.write(dir))
        .map_err(|error| format!("--report {}: cannot write there: {error}", dir.display()))
}
