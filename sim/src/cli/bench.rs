//! `mcsim bench ...`: the three benchmarks' arguments and reports.

use std::path::PathBuf;
use std::time::Duration;

use memcache_collections::{Backoff, DequeOptions, Variant};
use memcache_sim::bench;
use memcache_sim::exit;

/// The benchmarks.
#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// The deque against a private local memcached (started and stopped here).
    Real(RealArgs),
    /// The simulator's own speed: 8 clients on one server, faults off then on.
    Sim(SimBenchArgs),
    /// The checker's speed and memory on generated histories with 1% unknown
    /// outcomes (deque histories, or with `--subject mcas` MCAS bank runs).
    Checker(CheckerArgs),
    /// MCAS against private local memcached servers (started and stopped
    /// here): throughput, success share, requests and latency per MCAS.
    Mcas(McasArgs),
}

/// `mcsim bench mcas`'s arguments.
#[derive(clap::Args)]
pub struct McasArgs {
    /// Client counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub clients: Vec<usize>,
    /// Entries per MCAS, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,4,8")]
    pub entries: Vec<usize>,
    /// Registers the entries are drawn from (fewer: more contention; at
    /// least as many as the entries of the point).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub registers: u64,
    /// memcached servers to spread the registers over.
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
    /// Seconds measured per point.
    #[arg(long, default_value_t = 2.0)]
    pub duration_s: f64,
    /// Seed of the clients' register draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mcsim bench real`'s arguments.
#[derive(clap::Args)]
pub struct RealArgs {
    /// Client counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub clients: Vec<usize>,
    /// Seconds measured per point and round.
    #[arg(long, default_value_t = 3.0)]
    pub duration_s: f64,
    /// Items pushed before measuring.
    #[arg(long, default_value_t = 200)]
    pub prefill: usize,
    /// Bytes per value, comma-separated (16 B to 512 KiB fit memcached's
    /// default item limit).
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub value_size_bytes: Vec<usize>,
    /// Operation mixes, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "fifo")]
    pub mix: Vec<bench::real::Mix>,
    /// memcached servers to spread keys over.
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
    /// Measure a sharded deque of this many shards (1: a plain deque).
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Also write the report as JSON and an SVG plot of ops/s under this
    /// directory (`bench-real.json`, `bench-real.svg`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The deque's backoff after a lost race, `FIRST_US,MAX_US` (`0,0`
    /// retries at once); the library's default if absent.
    #[arg(long, value_name = "FIRST_US,MAX_US", value_parser = super::parse_backoff)]
    pub backoff_us: Option<Backoff>,
    /// Whether pushers leave their neighbour link to their next request
    /// (`DequeOptions::deferred_link`): `on` or `off`; the library's
    /// default if absent.
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub deferred_link: Option<bool>,
    /// Algorithm variants to compare in this run, comma-separated (`mcsim
    /// list`).
    #[arg(long, value_delimiter = ',', value_parser = super::parse_deque_variant, default_value = "hardened")]
    pub variant: Vec<Variant>,
    /// Rounds per point: every point is measured this many times, rounds
    /// interleaved, and the table gives medians and flags noisy points.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Give every client a deque of its own instead of one they share:
    /// the same servers and load with no contention, the floor a shared
    /// deque's latency compares with.
    #[arg(long)]
    pub own_deques: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also measure client processes (docs/client-protocol.md) beside the
    /// library's threads, each as `NAME=COMMAND` (repeatable): e.g.
    /// `--client-cmd python='python3 -m mcdeque.adapter'`. Their requests
    /// are counted by the servers; their round trips and retries are not
    /// seen (`-`).
    #[arg(long, value_name = "NAME=COMMAND", value_parser = parse_named_command)]
    pub client_cmd: Vec<(String, String)>,
    /// Measure nothing: print (and with `--out` plot) the report of an
    /// earlier run from its `bench-real.json`.
    #[arg(long)]
    pub replot: Option<PathBuf>,
}

/// `mcsim bench sim`'s arguments.
#[derive(clap::Args)]
pub struct SimBenchArgs {
    /// Operations per run, all clients together.
    #[arg(long, default_value_t = 200_000)]
    pub ops: u64,
    /// Simulated clients.
    #[arg(long, default_value_t = 8)]
    pub clients: u32,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only the faults-off run (for a clean peak-memory figure).
    #[arg(long)]
    pub faults_off_only: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mcsim bench checker`'s arguments.
#[derive(clap::Args)]
pub struct CheckerArgs {
    /// History lengths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub ops: Vec<usize>,
    /// Client counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,8,32")]
    pub clients: Vec<u32>,
    /// Seed of the generated histories.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Whose histories: the deque's (generated), or MCAS registers' (the
    /// bank on the in-process store, stepped by the seeded scheduler).
    #[arg(long, value_enum, default_value = "deque")]
    pub subject: Subject,
    /// Run these adversarial families (comma-separated, or `all`) instead
    /// of the random grid, each at growing sizes until a check takes 1 s.
    #[arg(long, value_delimiter = ',', value_parser = parse_family)]
    pub families: Vec<FamilySelection>,
    /// With `--families`: write each history checked to this directory
    /// (created if missing) as `<family>-<size>.json`, to check it again
    /// with `mcsim check` or another tool.
    #[arg(long, requires = "families")]
    pub export: Option<std::path::PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The structure whose checker is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Subject {
    Deque,
    Mcas,
}

/// One `--families` item: a family, or every one.
#[derive(Debug, Clone, Copy)]
pub enum FamilySelection {
    All,
    One(bench::families::Family),
}

fn parse_family(text: &str) -> Result<FamilySelection, String> {
    use clap::ValueEnum;
    if text == "all" {
        return Ok(FamilySelection::All);
    }
    bench::families::Family::from_str(text, false)
        .map(FamilySelection::One)
        .map_err(|_| {
            let names: Vec<&str> = bench::families::Family::ALL.iter().map(|f| f.name()).collect();
            format!("unknown family {text:?}; the families are all, {}", names.join(", "))
        })
}

/// Runs a benchmark; returns the exit status.
pub fn run(command: BenchCommand) -> u8 {
    match command {
        BenchCommand::Real(args) => {
            if let Some(file) = &args.replot {
                return replot(file, args.json, args.out.as_deref());
            }
            let backoff = args.backoff_us.unwrap_or_default();
            let config = bench::real::RealBenchConfig {
                variants: args.variant,
                rounds: args.rounds,
                clients: args.clients,
                duration: Duration::from_secs_f64(args.duration_s),
                prefill_items: args.prefill,
                value_sizes_bytes: args.value_size_bytes,
                mixes: args.mix,
                servers: args.servers,
                shards: args.shards,
                options: DequeOptions {
                    backoff,
                    deferred_link: args.deferred_link.unwrap_or(DequeOptions::default().deferred_link),
                    ..Default::default()
                },
                processes: args.client_cmd.clone(),
                own_deques: args.own_deques,
            };
            let mut names: Vec<&str> = args.client_cmd.iter().map(|(name, _)| name.as_str()).collect();
            names.sort_unstable();
            if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
                eprintln!(
                    "mcsim: --client-cmd names {} twice: each process needs its own name",
                    pair[0]
                );
                return exit::USAGE;
            }
            real(&config, args.json, args.out.as_deref())
        }
        BenchCommand::Sim(args) => sim(args.ops, args.clients, args.seed, args.faults_off_only, args.json),
        BenchCommand::Checker(args) if args.subject == Subject::Mcas && !args.families.is_empty() => {
            eprintln!("mcsim: --families are deque histories; leave out --subject mcas");
            exit::USAGE
        }
        BenchCommand::Checker(args) if !args.families.is_empty() => {
            families(&args.families, args.seed, args.json, args.export.as_deref())
        }
        BenchCommand::Checker(args) => checker(&args.ops, &args.clients, args.seed, args.subject, args.json),
        BenchCommand::Mcas(args) => mcas(&args),
    }
}

fn print<T: serde::Serialize>(json: bool, report: &T, table: impl FnOnce() -> String) {
    if json {
        outln!("{}", serde_json::to_string_pretty(report).expect("reports serialise"));
    } else {
        out!("{}", table());
    }
}

/// `mcsim bench real --replot FILE`.
fn replot(file: &std::path::Path, json: bool, out: Option<&std::path::Path>) -> u8 {
    let report = std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
    match report {
        Ok(report) => show(&report, json, out),
        Err(error) => {
            eprintln!("mcsim: {} is not a bench-real report: {error}", file.display());
            exit::USAGE
        }
    }
}

/// Prints a `bench real` report, and writes it under `out` if asked.
fn show(report: &bench::real::RealBenchReport, json: bool, out: Option<&std::path::Path>) -> u8 {
    print(json, report, || bench::real::render_table(report));
    if let Some(dir) = out {
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| {
                let text = serde_json::to_string_pretty(report).expect("reports serialise");
                std::fs::write(dir.join("bench-real.json"), text)
            })
            .and_then(|()| std::fs::write(dir.join("bench-real.svg"), bench::real::render_svg(report)));
        if let Err(error) = written {
            eprintln!("mcsim: cannot write the report under {}: {error}", dir.display());
            return exit::HARNESS;
        }
        eprintln!(
            "wrote {} and {}",
            dir.join("bench-real.json").display(),
            dir.join("bench-real.svg").display()
        );
    }
    exit::OK
}

/// `mcsim bench real`.
fn real(config: &bench::real::RealBenchConfig, json: bool, out: Option<&std::path::Path>) -> u8 {
    match bench::real::run(config) {
        Ok(report) => show(&report, json, out),
        Err(error) => {
            eprintln!("mcsim: {error}");
            eprintln!("{}", rerun_line());
            exit::HARNESS
        }
    }
}

/// `rerun: mcsim ARGS`, this process's own arguments as shell words: a
/// benchmark on real memcached is not replayed from a seed, only run again
/// with the same settings.
fn rerun_line() -> String {
    let words: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| memcache_sim::replay::quoted(std::path::Path::new(&arg)))
        .collect();
    format!("rerun: mcsim {}", words.join(" "))
}

/// `mcsim bench mcas`.
fn mcas(args: &McasArgs) -> u8 {
    let positive = args.duration_s > 0.0 && args.duration_s.is_finite() && args.servers > 0;
    if !positive || args.clients.contains(&0) || args.entries.contains(&0) {
        eprintln!("mcsim: --duration-s, --servers, --clients and --entries must be positive");
        return exit::USAGE;
    }
    let config = bench::mcas::McasBenchConfig {
        clients: args.clients.clone(),
        entries: args.entries.clone(),
        registers: args.registers as usize,
        servers: args.servers,
        duration: Duration::from_secs_f64(args.duration_s),
        seed: args.seed,
    };
    match bench::mcas::run(&config) {
        Ok(report) => {
            print(args.json, &report, || bench::mcas::render_table(&report));
            exit::OK
        }
        Err(error) => {
            eprintln!("mcsim: {error}");
            eprintln!("{}", rerun_line());
            exit::HARNESS
        }
    }
}

/// `mcsim bench sim`.
fn sim(ops: u64, clients: u32, seed: u64, faults_off_only: bool, json: bool) -> u8 {
    let modes: &[bool] = if faults_off_only { &[false] } else { &[false, true] };
    let mut points = Vec::new();
    for &faults in modes {
        match bench::sim::measure(clients, ops, faults, seed) {
            Ok(point) => points.push(point),
            Err((status, why)) => {
                let off = if faults { "" } else { " --faults-off-only" };
                eprintln!(
                    "FAIL: the benchmark's run did not pass: {why}; replay: mcsim bench sim --ops {ops} --clients \
                     {clients} --seed {seed}{off}"
                );
                return status;
            }
        }
    }
    print(json, &points, || bench::sim::render_table(&points));
    exit::OK
}

/// `mcsim bench checker`.
fn checker(sizes: &[usize], clients: &[u32], seed: u64, subject: Subject, json: bool) -> u8 {
    let mut points = Vec::new();
    // The size each point was asked for (an MCAS history's is approximate).
    let mut asked = Vec::new();
    for &ops in sizes {
        for &c in clients {
            asked.push(ops);
            let point = match subject {
                Subject::Deque => Ok(bench::checker::measure(c, ops, seed)),
                Subject::Mcas => bench::checker::measure_mcas(c, ops, seed),
            };
            match point {
                Ok(point) => points.push(point),
                Err(error) => {
                    eprintln!(
                        "FAIL: the bank run could not finish: {error}; replay: mcsim bench checker --subject mcas \
                         --ops {ops} --clients {c} --seed {seed}"
                    );
                    return exit::HARNESS;
                }
            }
        }
    }
    print(json, &points, || bench::checker::render_table(&points));
    let undecided = points
        .iter()
        .position(|p| p.verdict != memcache_sim::verdict::Verdict::Linearizable);
    if let Some(i) = undecided {
        eprintln!(
            "FAIL: a generated (linearizable) history was judged {}; replay: mcsim bench checker --subject {} \
             --ops {} --clients {} --seed {seed}",
            points[i].verdict,
            if subject == Subject::Mcas { "mcas" } else { "deque" },
            asked[i],
            points[i].clients
        );
        return exit::HARNESS;
    }
    exit::OK
}

/// `mcsim bench checker --families`.
fn families(selection: &[FamilySelection], seed: u64, json: bool, export: Option<&std::path::Path>) -> u8 {
    use bench::families::Family;
    let mut chosen: Vec<Family> = Vec::new();
    for item in selection {
        match item {
            FamilySelection::All => chosen.extend(Family::ALL),
            FamilySelection::One(family) => chosen.push(*family),
        }
    }
    chosen.dedup();
    if let Some(dir) = export
        && let Err(error) = std::fs::create_dir_all(dir)
    {
        eprintln!("mcsim: cannot create {}: {error}", dir.display());
        return exit::USAGE;
    }
    let mut points = Vec::new();
    for family in chosen {
        match bench::checker::measure_family(family, seed, export) {
            Ok(measured) => points.extend(measured),
            Err(error) => {
                eprintln!("mcsim: {error}");
                return exit::USAGE;
            }
        }
    }
    print(json, &points, || bench::checker::render_family_table(&points));
    if let Some(wrong) = points.iter().find(|p| !p.is_right()) {
        eprintln!(
            "FAIL: {} at size {}: {} where {} is right; replay: mcsim bench checker --families {} --seed {seed}",
            wrong.family, wrong.size, wrong.verdict, wrong.expected, wrong.family
        );
        return exit::HARNESS;
    }
    exit::OK
}

/// Parses `NAME=COMMAND` for `bench real --client-cmd`.
fn parse_named_command(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, command)) if !name.is_empty() && !name.contains(' ') && !command.trim().is_empty() => {
            Ok((name.to_owned(), command.to_owned()))
        }
        _ => Err(format!(
            "{text:?}: expected NAME=COMMAND, e.g. python='python3 -m mcdeque.adapter'"
        )),
    }
}
