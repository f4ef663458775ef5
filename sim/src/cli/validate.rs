//! `mcsim validate`: the mutation table, and the default algorithm's run of
//! the whole suite.

use std::path::PathBuf;

use memcache_sim::algorithm::Algorithm;
use memcache_sim::exit;
use memcache_sim::plan::Overrides;
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::validate::{self, VariantRow};
use serde::Serialize;

/// `mcsim validate`'s arguments.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Hunt only this variant.
    #[arg(long, value_parser = super::parse_variant)]
    pub variant: Option<Algorithm>,
    /// Master seeds, comma-separated: one hunt per variant and master
    /// seed; the table gives medians.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5")]
    pub master_seeds: Vec<u64>,
    /// Runs per hunt before the variant counts as escaped.
    #[arg(long, default_value_t = 2_000, value_parser = super::parse_count)]
    pub runs_max: u64,
    /// Seeds 0..N of every scenario for the default algorithm (default:
    /// each scenario's own seeds).
    #[arg(long, value_parser = super::parse_count)]
    pub seeds: Option<u64>,
    /// Skip shrinking each variant's first catch.
    #[arg(long)]
    pub no_shrink: bool,
    /// Worker threads for the default algorithm's run.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    default_runs: usize,
    default_unexpected: usize,
    variants: &'a [VariantRow],
}

/// Runs validation; the exit status is the worst of the default
/// algorithm's unexpected runs and 1 if a variant escapes.
pub fn run(args: &ValidateArgs) -> u8 {
    let scenarios = match super::load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(status) => return status,
    };
    // By default, every broken algorithm of a subject the scenarios test.
    let variants: Vec<Algorithm> = match args.variant {
        None => Algorithm::all()
            .into_iter()
            .filter(|v| v.is_broken())
            .filter(|v| scenarios.iter().any(|s| s.scenario.meta.subject == v.subject()))
            .collect(),
        Some(variant) if !variant.is_broken() => {
            eprintln!(
                "mcsim: {} is not a broken variant: nothing to hunt (the suite's own run checks it)",
                variant.name()
            );
            return exit::USAGE;
        }
        Some(variant) => vec![variant],
    };
    let selection = SeedSelection {
        count: args.seeds,
        ..SeedSelection::default()
    };
    let plans = runner::plans(&scenarios, selection, Overrides::default());
    let default_records = runner::run_all(plans, super::threads(args.threads), !args.json, &runner::no_sink).records;
    let unexpected: Vec<_> = default_records.iter().filter(|r| !r.expected).collect();
    let rows = validate::validate(
        &scenarios,
        &variants,
        &args.master_seeds,
        args.runs_max,
        !args.no_shrink,
    );
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
            "default algorithms ({}): {} runs, {} unexpected",
            default_names(&scenarios),
            default_records.len(),
            unexpected.len()
        );
        out!("{}", validate::render(&rows));
    }
    let mut status = exit::OK;
    for record in &unexpected {
        eprintln!("{}", record.failure_line());
        status = exit::worst(status, record.exit_class);
    }
    // The default algorithm's suite must still reach what each scenario is
    // about, or its green rows test nothing.
    for line in memcache_sim::record::reach_failures(&default_records, memcache_sim::record::Floors::Whole) {
        eprintln!("{line}");
        status = exit::worst(status, exit::HARNESS);
    }
    for row in rows.iter().filter(|row| !row.caught()) {
        let escaped: Vec<String> = row
            .hunts
            .iter()
            .filter(|h| h.caught.is_none())
            .map(|h| h.master_seed.to_string())
            .collect();
        let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "FAIL: {} escaped the suite (master seeds {}); replay: mcsim validate {} --variant {} --master-seeds {} \
             --runs-max {} --no-shrink",
            row.variant,
            escaped.join(","),
            paths.join(" "),
            row.variant,
            escaped.join(","),
            args.runs_max
        );
        status = exit::worst(status, exit::CORRECTNESS);
    }
    status
}

/// The default algorithms of the subjects the scenarios test, by name.
fn default_names(scenarios: &[memcache_sim::scenario::LoadedScenario]) -> String {
    let mut names: Vec<&str> = scenarios
        .iter()
        .map(|s| s.scenario.meta.subject.default_algorithm().name())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}
