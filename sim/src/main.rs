//! `mcsim`: the harness's command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use memcache_sim::one_run::{self, Divergence, RunSummary};
use memcache_sim::sim::{self, SimConfig};
use memcache_sim::{bench, demo};

/// Exit status: everything ran and was as expected.
const EXIT_OK: u8 = 0;
/// Exit status: a correctness check failed.
const EXIT_CORRECTNESS: u8 = 1;
/// Exit status: a bad configuration file or usage.
const EXIT_USAGE: u8 = 3;
/// Exit status: the harness itself failed (memcached missing, a
/// nondeterministic run).
const EXIT_HARNESS: u8 = 4;

#[derive(Parser)]
#[command(
    name = "mcsim",
    version,
    about = "Harness for the memcached deque: benchmarks and checks"
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
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// One simulated run: the deque under the configured faults, from one seed.
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
        /// Bytes per value.
        #[arg(long, default_value_t = 16)]
        value_size_bytes: usize,
        /// memcached servers to spread keys over.
        #[arg(long, default_value_t = 1)]
        servers: usize,
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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo { clients, ops, json } => match demo::run(clients, ops) {
            Ok(report) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
                } else {
                    println!(
                        "{} clients x {} ops on one deque: {} pushed, {} popped, {} drained; lost {}, duplicated or invented {}",
                        report.clients,
                        report.ops_per_client,
                        report.pushed,
                        report.popped,
                        report.drained,
                        report.lost,
                        report.duplicated_or_invented
                    );
                }
                if report.conserved() {
                    ExitCode::from(EXIT_OK)
                } else {
                    eprintln!(
                        "FAIL: values were lost or duplicated; replay: mcsim demo --clients {clients} --ops {ops}"
                    );
                    ExitCode::from(EXIT_CORRECTNESS)
                }
            }
            Err(error) => {
                eprintln!("FAIL: {error}; replay: mcsim demo --clients {clients} --ops {ops}");
                ExitCode::from(EXIT_CORRECTNESS)
            }
        },
        Command::Bench(BenchCommand::Real {
            clients,
            duration_s,
            prefill,
            value_size_bytes,
            servers,
            json,
        }) => {
            let config = bench::real::RealBenchConfig {
                clients,
                duration: Duration::from_secs_f64(duration_s),
                prefill_items: prefill,
                value_size_bytes,
                servers,
            };
            match bench::real::run(&config) {
                Ok(report) if json => {
                    println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
                    ExitCode::from(EXIT_OK)
                }
                Ok(report) => {
                    print!("{}", bench::real::render_table(&report));
                    ExitCode::from(EXIT_OK)
                }
                Err(error) => {
                    eprintln!("mcsim: {error}");
                    ExitCode::from(EXIT_HARNESS)
                }
            }
        }
        Command::Sim {
            config,
            seed,
            self_check,
            history,
            json,
        } => run_one(config, seed, self_check, history, json),
        Command::Bench(BenchCommand::Sim {
            ops,
            clients,
            seed,
            faults_off_only,
            json,
        }) => {
            let modes: &[bool] = if faults_off_only { &[false] } else { &[false, true] };
            let mut points = Vec::new();
            for &faults in modes {
                match bench::sim::measure(clients, ops, faults, seed) {
                    Ok(point) => points.push(point),
                    Err(error) => {
                        eprintln!("mcsim: {error}");
                        return ExitCode::from(EXIT_HARNESS);
                    }
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&points).expect("report serialises"));
            } else {
                print!("{}", bench::sim::render_table(&points));
            }
            ExitCode::from(EXIT_OK)
        }
    }
}

fn run_one(
    config_path: Option<PathBuf>,
    seed: u64,
    self_check: bool,
    history: Option<PathBuf>,
    json: bool,
) -> ExitCode {
    let replay = format!(
        "mcsim sim{} --seed {seed}{}",
        config_path
            .as_ref()
            .map(|p| format!(" --config {}", p.display()))
            .unwrap_or_default(),
        if self_check { " --self-check" } else { "" }
    );
    let config = match &config_path {
        Some(path) => match one_run::load_config(path) {
            Ok(config) => config,
            Err(error) => {
                eprintln!("mcsim: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => SimConfig::default(),
    };
    let (outcome, divergence) = if self_check {
        match one_run::self_check(&config, seed) {
            Ok(pair) => pair,
            Err(error) => {
                eprintln!("mcsim: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        match sim::run(&config, seed) {
            Ok(outcome) => (outcome, None),
            Err(error) => {
                eprintln!("mcsim: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    };
    if let Some(path) = history {
        let text = serde_json::to_string_pretty(&outcome.history).expect("history serialises");
        if let Err(error) = std::fs::write(&path, text) {
            eprintln!("mcsim: cannot write {}: {error}", path.display());
            return ExitCode::from(EXIT_HARNESS);
        }
    }
    let summary = RunSummary::of(&outcome);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serialises")
        );
    } else {
        println!(
            "seed {} trace {} | {} requests, {} ops, {} timeouts, {} dropped, {} faults, {} losses | results {:?}",
            summary.seed,
            summary.trace_hash,
            summary.stats.requests,
            outcome.history.ops.len(),
            summary.stats.timeouts,
            summary.stats.messages_dropped,
            summary.stats.faults,
            summary.losses,
            summary.results
        );
    }
    match divergence {
        None if outcome.stats.stuck => {
            eprintln!("FAIL: the run did not finish within the event budget; replay: {replay}");
            ExitCode::from(EXIT_HARNESS)
        }
        None => ExitCode::from(EXIT_OK),
        Some(Divergence::TraceHash(a, b)) => {
            eprintln!("FAIL: nondeterminism: trace hashes {a:016x} and {b:016x} differ; replay: {replay}");
            ExitCode::from(EXIT_HARNESS)
        }
        Some(Divergence::History(index)) => {
            eprintln!("FAIL: nondeterminism: histories differ at operation {index}; replay: {replay}");
            ExitCode::from(EXIT_HARNESS)
        }
    }
}
