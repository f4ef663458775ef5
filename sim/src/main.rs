//! `mcsim`: the harness's command line. Exit statuses are documented in
//! `memcache_sim::exit`.

/// Writes CLI output to stdout. A reader that went away (`mcsim ... | head`)
/// ends the program quietly instead of panicking on the broken pipe.
fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(error) = std::io::stdout().lock().write_fmt(args) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(memcache_sim::exit::OK));
        }
        panic!("cannot write to stdout: {error}");
    }
}

/// `println!` through [`emit`].
macro_rules! outln {
    ($($arg:tt)*) => { crate::emit(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` through [`emit`].
macro_rules! out {
    ($($arg:tt)*) => { crate::emit(format_args!($($arg)*)) };
}

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use memcache_sim::check::STEPS_MAX_DEFAULT;
use memcache_sim::{bench, demo, exit};

#[derive(Parser)]
#[command(
    name = "mcsim",
    version,
    about = "Harness for the memcached deque: simulate, check, benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Several clients share a deque on the in-process store; every value
    /// must come out exactly once.
    Demo {
        /// Client threads.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Operations per client.
        #[arg(long, default_value_t = 5_000)]
        ops: usize,
    },
    /// One simulated run from one seed, checked for linearizability and
    /// corruption detection.
    Sim {
        /// Simulator configuration (TOML); the defaults if absent.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Master seed: the run is a pure function of (configuration, seed).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run the seed twice and fail if anything differs.
        #[arg(long)]
        self_check: bool,
        /// Write the history as JSON to this file.
        #[arg(long)]
        history: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every scenario x seed under PATHS (files or directories), in
    /// parallel, and compare each verdict with the scenario's expectation.
    Run {
        /// Scenario files or directories.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Run seeds 0..N of every scenario instead of its own seeds.
        #[arg(long)]
        seeds: Option<u64>,
        /// Run only this seed of every scenario.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Run only shard K of N (K from 1), splitting each scenario's seeds.
        #[arg(long, value_parser = cli::run::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Worker threads; defaults to the number of cores.
        #[arg(long)]
        threads: Option<usize>,
        /// Run every scenario with this algorithm variant instead of its own
        /// (`mcsim list` names them); the scenarios' expectations still apply,
        /// so a broken variant shows up as unexpected verdicts: caught.
        #[arg(long)]
        variant: Option<String>,
        /// Write a JSON record per run under this directory.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write JUnit XML (one test case per seed) to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Print a machine-readable summary on stdout.
        #[arg(long)]
        json: bool,
        /// Where to run: the simulator, or real memcached processes started
        /// by the harness with real faults (one run at a time unless
        /// `--threads` says otherwise).
        #[arg(long, value_enum, default_value_t = memcache_sim::runner::Backend::Sim)]
        backend: memcache_sim::runner::Backend,
    },
    /// Replay one run of a scenario exactly, with its trace and explanation.
    Repro {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed to replay.
        #[arg(long)]
        seed: u64,
        /// Where to write the HTML report.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
        /// Run this algorithm variant instead of the scenario's own (as the
        /// `run --variant` that found the failure did).
        #[arg(long)]
        variant: Option<String>,
        /// How many trace events to print before the failure.
        #[arg(long, default_value_t = cli::repro::TRACE_LINES_DEFAULT)]
        trace_lines: usize,
    },
    /// Shrink a failing run to the smallest scenario that fails the same way,
    /// and save it.
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to save the shrunk scenario (default: `NAME-shrunk-seedS.toml`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List scenarios, variants, fault types and verdicts.
    List {
        /// Scenario files or directories.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Check a history file (JSON) from anywhere.
    Check {
        /// The history.
        history: PathBuf,
        /// Search steps before answering `unknown`.
        #[arg(long, default_value_t = STEPS_MAX_DEFAULT)]
        steps_max: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate an algorithm change: hunt every catalogued broken variant
    /// with the suite (it must be caught) and run the suite on the default
    /// algorithm (it must pass).
    Validate {
        /// Scenario files or directories.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Hunt only this variant.
        #[arg(long)]
        variant: Option<String>,
        /// Master seeds, comma-separated: one hunt per variant and master
        /// seed; the table gives medians.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5")]
        master_seeds: Vec<u64>,
        /// Runs per hunt before the variant counts as escaped.
        #[arg(long, default_value_t = 2_000)]
        runs_max: u64,
        /// Seeds 0..N of every scenario for the default algorithm (default:
        /// each scenario's own seeds).
        #[arg(long)]
        seeds: Option<u64>,
        /// Skip shrinking each variant's first catch.
        #[arg(long)]
        no_shrink: bool,
        /// Worker threads for the default algorithm's run.
        #[arg(long)]
        threads: Option<usize>,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The deque under the model checkers loom and shuttle.
    #[cfg(feature = "models")]
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[cfg(feature = "models")]
#[derive(Subcommand)]
enum ModelsCommand {
    /// For each broken variant, executions and wall time to the first
    /// failure under loom, shuttle (random, PCT) and the simulator.
    Compare(cli::models::CompareArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The deque against a private local memcached (started and stopped here).
    Real {
        /// Client counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
        clients: Vec<usize>,
        /// Seconds measured per client count.
        #[arg(long, default_value_t = 5.0)]
        duration_s: f64,
        /// Items pushed before measuring.
        #[arg(long, default_value_t = 200)]
        prefill: usize,
        /// Bytes per value, comma-separated (16 B to 512 KiB fit memcached's
        /// default item limit).
        #[arg(long, value_delimiter = ',', default_value = "16")]
        value_size_bytes: Vec<usize>,
        /// Operation mixes, comma-separated.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "fifo")]
        mix: Vec<bench::real::Mix>,
        /// memcached servers to spread keys over.
        #[arg(long, default_value_t = 1)]
        servers: usize,
        /// Measure a sharded deque of this many shards (1: a plain deque).
        #[arg(long, default_value_t = 1)]
        shards: usize,
        /// Also write the report as JSON and an SVG plot of ops/s under this
        /// directory (`bench-real.json`, `bench-real.svg`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The deque's backoff after a lost race, `FIRST_US,MAX_US` (`0,0`
        /// retries at once); the library's default if absent.
        #[arg(long, value_delimiter = ',')]
        backoff_us: Option<Vec<u32>>,
        /// The algorithm variant (`mcsim list`).
        #[arg(long, default_value = "hardened")]
        variant: String,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The simulator's own speed: 8 clients on one server, faults off then on.
    Sim {
        /// Operations per run, all clients together.
        #[arg(long, default_value_t = 200_000)]
        ops: u64,
        /// Simulated clients.
        #[arg(long, default_value_t = 8)]
        clients: u32,
        /// Master seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only the faults-off run (for a clean peak-memory figure).
        #[arg(long)]
        faults_off_only: bool,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The checker's speed and memory on generated histories with 1% unknown
    /// outcomes.
    Checker {
        /// History lengths, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        ops: Vec<usize>,
        /// Client counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "2,8,32")]
        clients: Vec<u32>,
        /// Seed of the generated histories.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap exits 2 on bad usage; ours says 2 is a liveness failure.
            let status = if error.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = error.print();
            return ExitCode::from(status);
        }
    };
    ExitCode::from(match cli.command {
        Command::Demo { clients, ops } => run_demo(clients, ops),
        Command::Sim {
            config,
            seed,
            self_check,
            history,
            json,
        } => cli::sim::run(&cli::sim::SimArgs {
            config,
            seed,
            self_check,
            history,
            json,
        }),
        Command::Run {
            paths,
            seeds,
            seed,
            shard,
            threads,
            variant,
            report,
            junit,
            json,
            backend,
        } => {
            let threads = threads.unwrap_or_else(|| match backend {
                memcache_sim::runner::Backend::Sim => std::thread::available_parallelism().map_or(1, |n| n.get()),
                // A real run is a dozen threads and its own servers already.
                memcache_sim::runner::Backend::Real => 1,
            });
            let selection = memcache_sim::runner::SeedSelection {
                count: seeds,
                single: seed,
                shard,
            };
            let outputs = cli::run::Outputs {
                report,
                junit,
                json,
                variant,
                backend,
            };
            cli::run::run(&paths, selection, threads, &outputs)
        }
        Command::Repro {
            scenario,
            seed,
            report_dir,
            variant,
            trace_lines,
        } => cli::repro::run(&scenario, seed, &report_dir, variant.as_deref(), trace_lines),
        Command::Shrink { scenario, seed, out } => cli::shrink::run(&scenario, seed, out),
        Command::List { paths } => cli::list::run(&paths),
        Command::Check {
            history,
            steps_max,
            json,
        } => cli::check::run(&history, steps_max, json),
        Command::Validate {
            paths,
            variant,
            master_seeds,
            runs_max,
            seeds,
            no_shrink,
            threads,
            json,
        } => cli::validate::run(&cli::validate::ValidateArgs {
            paths,
            variant,
            master_seeds,
            runs_max,
            seeds,
            shrink: !no_shrink,
            threads: threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            json,
        }),
        Command::Bench(BenchCommand::Real {
            clients,
            duration_s,
            prefill,
            value_size_bytes,
            mix,
            servers,
            shards,
            out,
            backoff_us,
            variant,
            json,
        }) => {
            let Some(variant) = memcache_collections::Variant::from_name(&variant) else {
                eprintln!("mcsim: unknown variant {variant:?} (see `mcsim list`)");
                return ExitCode::from(exit::USAGE);
            };
            let backoff = match backoff_us.as_deref() {
                None => memcache_collections::Backoff::default(),
                Some([first_us, max_us]) => memcache_collections::Backoff {
                    first_us: *first_us,
                    max_us: *max_us,
                },
                Some(other) => {
                    eprintln!("mcsim: --backoff-us takes FIRST_US,MAX_US, got {other:?}");
                    return ExitCode::from(exit::USAGE);
                }
            };
            let config = bench::real::RealBenchConfig {
                clients,
                duration: Duration::from_secs_f64(duration_s),
                prefill_items: prefill,
                value_sizes_bytes: value_size_bytes,
                mixes: mix,
                servers,
                shards,
                options: memcache_collections::DequeOptions {
                    variant,
                    backoff,
                    ..Default::default()
                },
            };
            cli::bench::real(&config, json, out.as_deref())
        }
        Command::Bench(BenchCommand::Sim {
            ops,
            clients,
            seed,
            faults_off_only,
            json,
        }) => cli::bench::sim(ops, clients, seed, faults_off_only, json),
        Command::Bench(BenchCommand::Checker {
            ops,
            clients,
            seed,
            json,
        }) => cli::bench::checker(&ops, &clients, seed, json),
        #[cfg(feature = "models")]
        Command::Models(ModelsCommand::Compare(args)) => cli::models::compare_command(&args),
    })
}

fn run_demo(clients: usize, ops: usize) -> u8 {
    let replay = format!("mcsim demo --clients {clients} --ops {ops}");
    match demo::run(clients, ops) {
        Ok(report) => {
            outln!(
                "{} clients x {} ops on one deque: {} pushed, {} popped, {} drained; lost {}, duplicated or invented {}",
                report.clients,
                report.ops_per_client,
                report.pushed,
                report.popped,
                report.drained,
                report.lost,
                report.duplicated_or_invented
            );
            if report.conserved() {
                exit::OK
            } else {
                eprintln!("FAIL: values were lost or duplicated; replay: {replay}");
                exit::CORRECTNESS
            }
        }
        Err(error) => {
            eprintln!("FAIL: {error}; replay: {replay}");
            exit::CORRECTNESS
        }
    }
}
