//! `mcsim validate`: the mutation table, and the default algorithm's run of
//! the whole suite.

use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::validate::{self, VariantRow};
use serde::Serialize;

/// What `mcsim validate` was asked.
pub struct ValidateArgs {
    /// Scenario files or directories.
    pub paths: Vec<PathBuf>,
    /// One variant only (default: every broken one).
    pub variant: Option<String>,
    /// Master seeds; one hunt per variant and master seed.
    pub master_seeds: Vec<u64>,
    /// Runs per hunt before a variant counts as escaped.
    pub runs_max: u64,
    /// Seeds per scenario for the default algorithm's run (default: each
    /// scenario's own).
    pub seeds: Option<u64>,
    /// Shrink each variant's first catch.
    pub shrink: bool,
    /// Worker threads for the default algorithm's run.
    pub threads: usize,
    /// JSON instead of the table.
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    default_runs: usize,
    default_unexpected: usize,
    variants: &'a [VariantRow],
}

/// Runs validation; exits 1 if a variant escapes or the default algorithm
/// fails any run.
pub fn run(args: &ValidateArgs) -> u8 {
    let variants: Vec<Variant> = match &args.variant {
        None => Variant::ALL.iter().copied().filter(|v| v.is_broken()).collect(),
        Some(name) => match Variant::from_name(name) {
            Some(variant) if !variant.is_broken() => {
                eprintln!("mcsim: {name} is not a broken variant: nothing to hunt (the suite's own run checks it)");
                return exit::USAGE;
            }
            Some(variant) => vec![variant],
            None => {
                eprintln!("mcsim: unknown variant {name:?} (see `mcsim list`)");
                return exit::USAGE;
            }
        },
    };
    let scenarios = match super::run::load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(status) => return status,
    };
    let selection = SeedSelection {
        count: args.seeds,
        ..SeedSelection::default()
    };
    let default_records = runner::run_all(&scenarios, selection, args.threads, !args.json);
    let unexpected: Vec<_> = default_records.iter().filter(|r| !r.expected).collect();
    let rows = validate::validate(&scenarios, &variants, &args.master_seeds, args.runs_max, args.shrink);
    if args.json {
        let report = Report {
            default_runs: default_records.len(),
            default_unexpected: unexpected.len(),
            variants: &rows,
        };
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
    } else {
        outln!(
            "default algorithm ({}): {} runs, {} unexpected",
            Variant::default().name(),
            default_records.len(),
            unexpected.len()
        );
        out!("{}", validate::render(&rows));
    }
    let mut status = exit::OK;
    for record in &unexpected {
        eprintln!(
            "FAIL: {} seed {}: {} (expected otherwise); replay: {}",
            record.scenario,
            record.seed,
            record.verdict,
            record.replay()
        );
        status = exit::CORRECTNESS;
    }
    for row in rows.iter().filter(|row| !row.caught()) {
        let escaped: Vec<String> = row
            .hunts
            .iter()
            .filter(|h| h.caught.is_none())
            .map(|h| h.master_seed.to_string())
            .collect();
        eprintln!(
            "FAIL: {} escaped the suite (master seeds {}); replay: mcsim validate --variant {} --master-seeds {}",
            row.variant,
            escaped.join(","),
            row.variant,
            escaped.join(",")
        );
        status = exit::CORRECTNESS;
    }
    status
}
