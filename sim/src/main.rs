//! `mcsim`: the harness's command line. Exit statuses are documented in
//! `memcache_sim::exit`.

// The binary's items are its own; see the harness crate's note on docs.
#![allow(missing_docs)]

/// Whether stdout's reader went away (`mcsim ... | head`).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes CLI output to stdout. A reader that went away stops the output,
/// not the command: it goes on and exits with its own status, so a failing
/// run piped into `head` still fails, even without `pipefail`'s help.
fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(error) = std::io::stdout().lock().write_fmt(args) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            return;
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

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memcache_sim::exit;

#[derive(Parser)]
#[command(
    name = "mcsim",
    version,
    about = "Harness for the memcached deque and MCAS: simulate, check, benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every scenario x seed under PATHS (files or directories), in
    /// parallel, and compare each verdict with the scenario's expectation.
    Run(cli::run::RunArgs),
    /// Replay one run of a scenario exactly, with its configuration, trace
    /// and explanation, and write its HTML report.
    Repro(cli::repro::ReproArgs),
    /// Shrink a failing run to the smallest scenario that fails the same way,
    /// and save it.
    Shrink(cli::shrink::ShrinkArgs),
    /// Validate an algorithm change: hunt every catalogued broken variant
    /// with the suite (it must be caught) and run the suite on the default
    /// algorithm (it must pass).
    Validate(cli::validate::ValidateArgs),
    /// Merge the reports of a suite run split with `run --shard K/N
    /// --report DIR` into one summary, JUnit file and exit status.
    Merge(cli::merge::MergeArgs),
    /// List scenarios, variants, fault types and verdicts.
    List(cli::list::ListArgs),
    /// One simulated run from a configuration file (or the defaults) and a
    /// seed, checked for linearizability and corruption detection.
    Sim(cli::sim::SimArgs),
    /// Check a history file (JSON) from anywhere: a deque's, or MCAS
    /// registers' (`"subject": "mcas"`).
    Check(cli::check::CheckArgs),
    /// Several clients share a deque on the in-process store; every value
    /// must come out exactly once.
    Demo(cli::demo::DemoArgs),
    /// Serve the client protocol (docs/client-protocol.md) on standard
    /// input and output with the Rust library: the reference client
    /// process for `run --backend real --client-cmd`.
    Client(cli::client::ClientArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
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
        Command::Run(args) => cli::run::run(&args),
        Command::Repro(args) => cli::repro::run(&args),
        Command::Shrink(args) => cli::shrink::run(&args),
        Command::Validate(args) => cli::validate::run(&args),
        Command::Merge(args) => cli::merge::run(&args),
        Command::List(args) => cli::list::run(&args),
        Command::Sim(args) => cli::sim::run(&args),
        Command::Check(args) => cli::check::run(&args),
        Command::Demo(args) => cli::demo::run(&args),
        Command::Client(args) => cli::client::run(&args),
        Command::Bench(command) => cli::bench::run(command),
        #[cfg(feature = "models")]
        Command::Models(ModelsCommand::Compare(args)) => cli::models::compare_command(&args),
    })
}
