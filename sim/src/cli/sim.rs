//! `mcsim sim`: one simulated run of a configuration file (the sections of
//! a scenario file without `[scenario]`), checked, optionally self-checked.

use std::path::{Path, PathBuf};

use memcache_sim::algorithm::Algorithm;
use memcache_sim::check::CheckOptions;
use memcache_sim::config::RunConfig;
use memcache_sim::plan::RunPlan;
use memcache_sim::replay::Replay;
use memcache_sim::{exit, pipeline, scenario};

/// `mcsim sim`'s arguments.
#[derive(clap::Args)]
pub struct SimArgs {
    /// A configuration (TOML: `[servers]`, `[network]`, `[clients]`,
    /// `[[faults]]`, `[random_faults]`); the defaults if absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Master seed: the run is a pure function of (configuration, variant,
    /// seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The algorithm variant (`mcsim list`).
    #[arg(long, value_parser = super::parse_variant, default_value = "hardened")]
    pub variant: Algorithm,
    /// Run the seed twice and fail if anything differs.
    #[arg(long)]
    pub self_check: bool,
    /// Write the history as JSON to this file.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

fn load(path: Option<&Path>) -> Result<RunConfig, u8> {
    let Some(path) = path else {
        return Ok(RunConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|error| {
        eprintln!("mcsim: cannot read {}: {error}", path.display());
        exit::USAGE
    })?;
    let config: RunConfig = toml::from_str(&text).map_err(|error| {
        eprint!(
            "mcsim: {}: {}",
            path.display(),
            scenario::parse_error_message(&text, &error)
        );
        let is_scenario = text
            .parse::<toml::Table>()
            .is_ok_and(|table| table.contains_key("scenario"));
        if is_scenario {
            eprintln!(
                "mcsim: {} is a scenario file (it has [scenario]); run it with `mcsim run {0}` or replay a seed \
                 with `mcsim repro {0} --seed S`",
                path.display()
            );
        }
        exit::USAGE
    })?;
    let problems = config.problems();
    if !problems.is_empty() {
        eprintln!("mcsim: {}: {}", path.display(), problems.join("; "));
        return Err(exit::USAGE);
    }
    Ok(config)
}

/// Runs, checks, reports; returns the exit status.
pub fn run(args: &SimArgs) -> u8 {
    let config = match load(args.config.as_deref()) {
        Ok(config) => config,
        Err(status) => return status,
    };
    let plan = RunPlan::for_config(config, args.config.clone(), args.seed, args.variant);
    let replay = plan.replay();
    let ran = pipeline::run(plan, CheckOptions::default());
    let divergence = if args.self_check {
        pipeline::divergence(&ran.outcome, &ran.plan)
    } else {
        None
    };
    let mut status = ran.judgement.exit_class();
    if let Some(path) = &args.history {
        // An MCAS run's history in its own format (`mcsim check` reads both).
        let text = match &ran.outcome.mcas {
            Some(bank) => serde_json::to_string_pretty(&bank.history),
            None => serde_json::to_string_pretty(&ran.outcome.history),
        }
        .expect("history serialises");
        if let Err(error) = std::fs::write(path, text) {
            eprintln!("mcsim: cannot write {}: {error}", path.display());
            status = exit::worst(status, exit::HARNESS);
        }
    }
    let record = &ran.record;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(record).expect("records serialise"));
    } else {
        let counters = &record.counters;
        outln!(
            "seed {} trace {} | {} requests, {} ops ({} succeeded, {} failed, {} unknown, {} reported corruption), \
             {} without reply, {} messages lost, {} faults, {} losses | {}: {}",
            record.seed,
            record.trace_hash.as_deref().unwrap_or("-"),
            counters.requests,
            record.ops.total,
            record.ops.succeeded,
            record.ops.failed,
            record.ops.unknown,
            record.ops.corruption,
            counters.requests_failed,
            counters.messages_dropped,
            counters.faults,
            ran.outcome.history.losses.len(),
            record.verdict,
            record.reason
        );
        if let Some(explanation) = ran.judgement.explanation(&ran.outcome) {
            outln!("{}", explanation.text);
        }
    }
    if !ran.judgement.expected {
        eprintln!("FAIL: {}: {}; replay: {replay}", record.verdict, record.reason);
    }
    if let Some(divergence) = divergence {
        let replay = Replay {
            self_check: true,
            ..replay
        };
        eprintln!("FAIL: nondeterminism: {divergence}; replay: {replay}");
        status = exit::worst(status, exit::HARNESS);
    } else if args.self_check && !args.json {
        outln!(
            "self-check: ran seed {} twice; the traces are identical ({})",
            record.seed,
            record.trace_hash.as_deref().unwrap_or("-")
        );
    }
    status
}
