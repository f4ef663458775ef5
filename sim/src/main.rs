//! `mcsim`: the harness's command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use memcache_sim::{bench, demo};

/// Exit status: everything ran and was as expected.
const EXIT_OK: u8 = 0;
/// Exit status: a correctness check failed.
const EXIT_CORRECTNESS: u8 = 1;
/// Exit status: the harness itself could not run (e.g. memcached missing).
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
    }
}
