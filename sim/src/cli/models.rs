//! `mcsim models compare`: the comparison table of the model checkers and
//! the simulator on the broken variants.

use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::models::compare::{CompareBudget, compare, render_markdown};

/// What `mcsim models compare` was asked.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Variants, comma-separated (default: every broken one).
    #[arg(long, value_delimiter = ',', value_parser = super::parse_deque_variant)]
    pub variants: Vec<Variant>,
    /// Scenario files or directories for the simulator column.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Preemption bound of loom's bounded cases (one more with a fault thread).
    #[arg(long, default_value_t = 2)]
    pub loom_preemptions: usize,
    /// Schedules per shuttle case.
    #[arg(long, default_value_t = 1000)]
    pub shuttle_iterations: usize,
    /// Seeds per scenario for the simulator.
    #[arg(long, default_value_t = 50, value_parser = super::parse_count)]
    pub sim_seeds: u64,
    /// Where to save failing shuttle schedules.
    #[arg(long, default_value = "reports/shuttle-schedules")]
    pub schedule_dir: PathBuf,
    /// Write the Markdown table here too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the comparison; exits 0 when every broken variant was caught by at
/// least one tool.
pub fn compare_command(args: &CompareArgs) -> u8 {
    let variants: Vec<Variant> = if args.variants.is_empty() {
        Variant::ALL.iter().copied().filter(|v| v.is_broken()).collect()
    } else {
        args.variants.clone()
    };
    let scenarios = match super::load_all(&args.scenarios) {
        Ok(scenarios) => scenarios,
        Err(status) => return status,
    };
    let budget = CompareBudget {
        loom_preemptions: args.loom_preemptions,
        shuttle_iterations: args.shuttle_iterations,
        sim_seeds: args.sim_seeds,
        schedule_dir: args.schedule_dir.clone(),
    };
    if let Err(error) = std::fs::create_dir_all(&budget.schedule_dir) {
        eprintln!("mcsim: cannot create {}: {error}", budget.schedule_dir.display());
        return exit::HARNESS;
    }
    // Every caught failure is a panic inside a model checker; their default
    // reports (and backtraces) would drown the table.
    std::panic::set_hook(Box::new(|_| {}));
    let rows = compare(&variants, &scenarios, &budget);
    let command = format!(
        "cargo run --release -p memcache-sim --features models -- models compare --loom-preemptions {} \
         --shuttle-iterations {} --sim-seeds {}",
        budget.loom_preemptions, budget.shuttle_iterations, budget.sim_seeds
    );
    let table = render_markdown(&rows, &command);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"));
    } else {
        out!("{table}");
    }
    if let Some(path) = &args.out
        && let Err(error) = std::fs::write(path, &table)
    {
        eprintln!("mcsim: cannot write {}: {error}", path.display());
        return exit::HARNESS;
    }
    let escaped: Vec<&str> = rows
        .iter()
        .filter(|row| row.efforts.iter().all(|e| !e.caught))
        .map(|row| row.variant.as_str())
        .collect();
    if escaped.is_empty() {
        exit::OK
    } else {
        eprintln!("FAIL: escaped every tool: {}; replay: {command}", escaped.join(", "));
        exit::CORRECTNESS
    }
}
