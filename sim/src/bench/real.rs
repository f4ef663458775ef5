//! `mcsim bench real`: the deque against private local memcached servers,
//! for every combination of algorithm variant, operation mix, value size and
//! client count.
//!
//! Every point is measured in several rounds, and the rounds of all points
//! are interleaved (round 1 of every point, then round 2, ...), so a point
//! compares with another only inside one run, on the same machine and the
//! same minutes: the table gives each figure's median over the rounds and
//! flags a point whose rounds spread wide (`noisy`), as criterion does. No
//! figure comes from another day or machine. Every figure comes from counting,
//! not estimating: operations and latencies at the client, requests and round
//! trips through a `CountingStore`, attempts and their causes from the deque
//! handle.
//!
//! `--own-deques` gives every client a deque of its own on the same servers:
//! the same load with no contention at all, so the difference from a shared
//! deque's figures is what contention costs (on this 2-core machine, 8
//! clients' p99.9 was 0.9 ms on their own deques against 121 ms sharing one;
//! README, "Benchmarks").

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memcache_collections::deque::Retries;
use memcache_collections::memcached::{LocalServer, LocalServerConfig, LocalServerError};
use memcache_collections::store::{CountingStore, block_on};
use memcache_collections::{
    BlockingDeque, DequeOptions, MemcachedOptions, MemcachedStore, ShardedDeque, Side, Variant,
};
use serde::{Deserialize, Serialize};

use super::{jain_index, process, quantile};
use crate::history::OpName;

/// Which operations a client runs, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mix {
    /// push_back, pop_front: a queue (the workload the 2013 library was
    /// measured with).
    Fifo,
    /// push_back, pop_back: a stack; both ends of one op pair meet.
    Lifo,
    /// push_back, pop_front, push_front, pop_back: every end, both ways.
    BothEnds,
}

impl Mix {
    /// A client's `n`-th operation (from 0) in this mix: pushes and pops
    /// alternate; both-ends visits every end in turn.
    pub(super) fn op(self, n: u64) -> OpName {
        match (self, n % 4) {
            (Mix::BothEnds, 2) => OpName::PushFront,
            (Mix::BothEnds, 3) | (Mix::Lifo, 1 | 3) => OpName::PopBack,
            (_, 0 | 2) => OpName::PushBack,
            _ => OpName::PopFront,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Mix::Fifo => "fifo",
            Mix::Lifo => "lifo",
            Mix::BothEnds => "both-ends",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct RealBenchConfig {
    /// The algorithms, compared in one run.
    pub variants: Vec<Variant>,
    /// Rounds per point (the figures are medians over them).
    pub rounds: usize,
    /// Client counts.
    pub clients: Vec<usize>,
    /// Operation mixes.
    pub mixes: Vec<Mix>,
    /// Bytes per pushed value.
    pub value_sizes_bytes: Vec<usize>,
    /// Measured time per point.
    pub duration: Duration,
    /// Items pushed before measuring.
    pub prefill_items: usize,
    /// memcached servers to spread keys over.
    pub servers: usize,
    /// Shards of a [`ShardedDeque`]; 1 measures a plain deque.
    pub shards: usize,
    /// The clients' deque settings but the variant (backoff, retries).
    pub options: DequeOptions,
    /// Client processes measured beside the library's threads (`--client-cmd
    /// NAME=COMMAND`): a name for the table, and the command
    /// (`bench/process.rs`).
    pub processes: Vec<(String, String)>,
    /// Whether every client works on a deque of its own instead of one
    /// they share: the same servers and load without contention.
    pub own_deques: bool,
}

/// How wide a point's rounds may spread before it is flagged `noisy`:
/// (largest - smallest) / median, for ops/s and for p99.9 latency.
pub const OPS_SPREAD_NOISY: f64 = 0.25;
/// The same for the p99.9 latency, whose rounds spread more.
pub const P999_SPREAD_NOISY: f64 = 1.0;

/// A plain or a sharded deque handle, driven the same way.
enum Handle<'a> {
    Plain(Box<BlockingDeque<&'a CountingStore<MemcachedStore>>>),
    Sharded(ShardedDeque<&'a CountingStore<MemcachedStore>>),
}

impl Handle<'_> {
    fn push(&mut self, side: Side, value: Vec<u8>) -> bool {
        match self {
            Handle::Plain(deque) => block_on(deque.as_async().push(side, value)).is_ok(),
            Handle::Sharded(deque) => block_on(deque.push(side, value)).is_ok(),
        }
    }

    fn pop(&mut self, side: Side) -> bool {
        match self {
            Handle::Plain(deque) => block_on(deque.as_async().pop(side)).is_ok(),
            Handle::Sharded(deque) => block_on(deque.pop(side)).is_ok(),
        }
    }

    fn attempts(&mut self) -> u64 {
        match self {
            Handle::Plain(deque) => deque.as_async().attempts(),
            Handle::Sharded(deque) => deque.shards().iter().map(|shard| shard.attempts()).sum(),
        }
    }

    fn settle(&mut self) {
        match self {
            Handle::Plain(deque) => deque.settle(),
            Handle::Sharded(deque) => block_on(deque.settle()),
        }
    }

    fn retries(&mut self) -> Retries {
        match self {
            Handle::Plain(deque) => deque.as_async().retries(),
            Handle::Sharded(deque) => deque.shards().iter().map(|shard| shard.retries()).sum(),
        }
    }
}

/// Retries per operation by cause ([`Retries`]), all rounds together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryCausesPerOp {
    /// The anchor CAS lost on the anchor the client last wrote.
    pub cas_lost_on_guess: f64,
    /// The anchor CAS lost after a read in the same attempt.
    pub cas_lost_after_read: f64,
    /// Another client's half-done push finished first.
    pub helped_push: f64,
    /// A pop's node gone because the anchor moved on.
    pub node_gone: f64,
    /// A lost reply retried (broken variants only).
    pub reply_lost: f64,
}

impl RetryCausesPerOp {
    fn of(retries: Retries, ops: u64) -> Self {
        let per_op = |count: u64| count as f64 / ops.max(1) as f64;
        RetryCausesPerOp {
            cas_lost_on_guess: per_op(retries.cas_lost_on_guess),
            cas_lost_after_read: per_op(retries.cas_lost_after_read),
            helped_push: per_op(retries.helped_push),
            node_gone: per_op(retries.node_gone),
            reply_lost: per_op(retries.reply_lost),
        }
    }
}

/// One (variant, mix, value size, client count) point: medians over its
/// rounds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealBenchPoint {
    /// The algorithm.
    pub variant: String,
    /// The operation mix.
    pub mix: Mix,
    /// Bytes per value.
    pub value_size_bytes: usize,
    /// Concurrent clients, each a thread with its own connections.
    pub clients: usize,
    /// Rounds measured.
    pub rounds: usize,
    /// Operations completed (pushes and pops), all rounds together.
    pub ops: u64,
    /// Operations per second, all clients together: the median round.
    pub ops_per_s: f64,
    /// The slowest and fastest rounds.
    pub ops_per_s_min: f64,
    pub ops_per_s_max: f64,
    /// memcached requests per operation, all rounds together.
    pub requests_per_op: f64,
    /// Round trips per operation (a pipelined batch is one per server);
    /// `None` for a client process, whose round trips are not seen.
    pub round_trips_per_op: Option<f64>,
    /// Attempts beyond the first per operation: races lost; `None` for a
    /// client process.
    pub retries_per_op: Option<f64>,
    /// The most races one operation lost, over every round: a p99.9 made
    /// of lost races shows here (`mcsim bench real --clients 8,16`, FIFO on
    /// one server: 68 and 85 where retries per op were 0.07 and 0.13);
    /// `None` for a client process, and in reports written before it was
    /// measured.
    #[serde(default)]
    pub retries_op_max: Option<u32>,
    /// The retries per operation by cause, all rounds together; `None` for
    /// a client process, and in reports written before it was measured.
    #[serde(default)]
    pub retry_causes_per_op: Option<RetryCausesPerOp>,
    /// Operations that returned an error.
    pub errors: u64,
    /// Median operation latency (the median round's).
    pub latency_us_p50: u32,
    /// 99th percentile operation latency (the median round's).
    pub latency_us_p99: u32,
    /// 99.9th percentile operation latency (the median round's), and the
    /// rounds' smallest and largest.
    pub latency_us_p999: u32,
    pub latency_us_p999_min: u32,
    pub latency_us_p999_max: u32,
    /// Jain's fairness index over per-client op counts (the median round's).
    pub jain_index: f64,
    /// Whether the rounds spread wider than [`OPS_SPREAD_NOISY`] (ops/s)
    /// or [`P999_SPREAD_NOISY`] (p99.9): compare this point with care.
    pub noisy: bool,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealBenchReport {
    /// Backoff bounds (first, max), microseconds.
    pub backoff_us: (u32, u32),
    /// Measured seconds per point and round.
    pub duration_s: f64,
    /// Rounds per point.
    pub rounds: usize,
    pub prefill_items: usize,
    pub servers: usize,
    /// Shards (1: a plain deque).
    pub shards: usize,
    /// Whether every client had a deque of its own (`--own-deques`): no
    /// contention; `false` in reports written before it existed.
    #[serde(default)]
    pub own_deques: bool,
    /// Whether pushers kept their neighbour link for their next request
    /// (`DequeOptions::deferred_link`); `false` in reports written before
    /// it existed, which linked at once.
    #[serde(default)]
    pub deferred_link: bool,
    /// One entry per point.
    pub points: Vec<RealBenchPoint>,
}

/// One round of one point.
#[derive(Debug, Clone)]
struct Sample {
    ops: u64,
    ops_per_s: f64,
    requests: u64,
    round_trips: Option<u64>,
    attempts: Option<u64>,
    retries_op_max: Option<u32>,
    retries: Option<Retries>,
    errors: u64,
    latency_us_p50: u32,
    latency_us_p99: u32,
    latency_us_p999: u32,
    jain_index: f64,
}

/// What a point is.
#[derive(Debug, Clone, Copy)]
struct PointKey {
    variant: Variant,
    mix: Mix,
    size: usize,
    clients: usize,
    /// The client process measured (an index into `processes`), or the
    /// library's threads.
    process: Option<usize>,
}

/// What one client counted. A client process's requests are counted by
/// the servers, its round trips and attempts not at all (`None`).
#[derive(Default)]
pub(super) struct ClientTally {
    pub(super) ops: u64,
    pub(super) errors: u64,
    pub(super) requests: u64,
    pub(super) round_trips: Option<u64>,
    pub(super) attempts: Option<u64>,
    /// The most attempts beyond the first one operation made.
    pub(super) retries_op_max: Option<u32>,
    /// The attempts beyond the first, by cause.
    pub(super) retries: Option<Retries>,
    pub(super) latencies_us: Vec<u32>,
}

/// Starts the servers, measures every point in every round (rounds
/// interleaved), stops the servers.
pub fn run(config: &RealBenchConfig) -> Result<RealBenchReport, String> {
    let largest = config.value_sizes_bytes.iter().copied().max().unwrap_or(0);
    let server_config = LocalServerConfig {
        // Room for the prefill and every client's values at the largest size.
        memory_mb: (64 + largest * (config.prefill_items + 64) / (1 << 20)) as u32,
        ..LocalServerConfig::default()
    };
    let servers: Vec<LocalServer> = (0..config.servers.max(1))
        .map(|_| LocalServer::start(server_config.clone()))
        .collect::<Result<_, LocalServerError>>()
        .map_err(|e| e.to_string())?;
    let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
    let mut keys = Vec::new();
    for &variant in &config.variants {
        for &mix in &config.mixes {
            for &size in &config.value_sizes_bytes {
                for &clients in &config.clients {
                    for process in std::iter::once(None).chain((0..config.processes.len()).map(Some)) {
                        keys.push(PointKey {
                            variant,
                            mix,
                            size,
                            clients,
                            process,
                        });
                    }
                }
            }
        }
    }
    let rounds = config.rounds.max(1);
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); keys.len()];
    for round in 0..rounds {
        for (key, samples) in keys.iter().zip(&mut samples) {
            samples.push(measure(config, &servers, &addresses, *key, round)?);
        }
    }
    Ok(RealBenchReport {
        backoff_us: (config.options.backoff.first_us, config.options.backoff.max_us),
        duration_s: config.duration.as_secs_f64(),
        rounds,
        prefill_items: config.prefill_items,
        servers: addresses.len(),
        shards: config.shards,
        own_deques: config.own_deques,
        deferred_link: config.options.deferred_link,
        points: keys
            .iter()
            .zip(samples)
            .map(|(key, samples)| point(config, *key, samples))
            .collect(),
    })
}

/// A point's figures from its rounds: medians, and the spread.
fn point(config: &RealBenchConfig, key: PointKey, mut samples: Vec<Sample>) -> RealBenchPoint {
    let rounds = samples.len();
    let sum = |f: fn(&Sample) -> u64| samples.iter().map(f).sum::<u64>();
    let ops = sum(|s| s.ops);
    let per_op = |total: u64| total as f64 / ops.max(1) as f64;
    // Not measured for a client process: `None`, shown as `-`.
    let seen = |total: Option<u64>| total.map(per_op);
    let sum_seen = |f: fn(&Sample) -> Option<u64>| samples.iter().map(f).sum::<Option<u64>>();
    let (requests, round_trips, attempts, errors) = (
        sum(|s| s.requests),
        sum_seen(|s| s.round_trips),
        sum_seen(|s| s.attempts),
        sum(|s| s.errors),
    );
    let mut p999: Vec<u32> = samples.iter().map(|s| s.latency_us_p999).collect();
    p999.sort_unstable();
    samples.sort_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s));
    let median = samples[rounds / 2].clone();
    let (slowest, fastest) = (samples[0].ops_per_s, samples[rounds - 1].ops_per_s);
    let p999_median = p999[rounds / 2];
    let spread = |low: f64, high: f64, middle: f64| (high - low) / middle.max(f64::MIN_POSITIVE);
    let noisy = spread(slowest, fastest, median.ops_per_s) > OPS_SPREAD_NOISY
        || spread(f64::from(p999[0]), f64::from(p999[rounds - 1]), f64::from(p999_median)) > P999_SPREAD_NOISY;
    RealBenchPoint {
        variant: match key.process {
            Some(index) => format!("{}/{}", key.variant.name(), config.processes[index].0),
            None => key.variant.name().to_owned(),
        },
        mix: key.mix,
        value_size_bytes: key.size,
        clients: key.clients,
        rounds,
        ops,
        ops_per_s: median.ops_per_s,
        ops_per_s_min: slowest,
        ops_per_s_max: fastest,
        requests_per_op: per_op(requests),
        round_trips_per_op: seen(round_trips),
        retries_per_op: seen(attempts.map(|attempts| attempts.saturating_sub(ops))),
        retries_op_max: samples.iter().map(|s| s.retries_op_max).max().flatten(),
        retry_causes_per_op: samples
            .iter()
            .map(|s| s.retries)
            .sum::<Option<Retries>>()
            .map(|retries| RetryCausesPerOp::of(retries, ops)),
        errors,
        latency_us_p50: median.latency_us_p50,
        latency_us_p99: median.latency_us_p99,
        latency_us_p999: p999_median,
        latency_us_p999_min: p999[0],
        latency_us_p999_max: p999[rounds - 1],
        jain_index: median.jain_index,
        noisy,
    }
}

fn connect(addresses: &[String]) -> MemcachedStore {
    MemcachedStore::connect(addresses, &MemcachedOptions::default()).expect("a server we just started accepts clients")
}

fn measure(
    config: &RealBenchConfig,
    servers: &[LocalServer],
    addresses: &[String],
    key: PointKey,
    round: usize,
) -> Result<Sample, String> {
    let PointKey {
        variant,
        mix,
        size,
        clients,
        process,
    } = key;
    let name = format!(
        "bench-{}-{}-{size}-{clients}-{}-p{}-r{round}",
        variant.name(),
        mix.name(),
        config.shards,
        process.map_or(0, |index| index + 1)
    );
    let options = DequeOptions {
        variant,
        ..config.options.clone()
    };
    let store = CountingStore::new(connect(addresses));
    let value = vec![b'v'; size];
    // The deque each client binds: one for all, or one each.
    let names: Vec<String> = match config.own_deques {
        false => vec![name; clients],
        true => (0..clients).map(|client| format!("{name}-c{client}")).collect(),
    };
    let mut names_created = names.clone();
    names_created.dedup();
    for name in &names_created {
        let mut deque = if config.shards > 1 {
            Handle::Sharded(
                block_on(ShardedDeque::create(&store, name, config.shards, options.clone()))
                    .expect("create bench deque"),
            )
        } else {
            Handle::Plain(Box::new(
                BlockingDeque::create(&store, Some(name), options.clone()).expect("create bench deque"),
            ))
        };
        for _ in 0..config.prefill_items {
            assert!(deque.push(Side::Right, value.clone()), "prefill");
        }
        deque.settle();
    }
    let start = Barrier::new(clients + 1);
    let (tallies, elapsed) = match process {
        None => thread::scope(|scope| {
            let workers: Vec<_> = names
                .iter()
                .map(|name| scope.spawn(|| client_loop(addresses, name, &value, mix, &start, config, &options)))
                .collect();
            start.wait();
            let began = Instant::now();
            let tallies: Vec<ClientTally> = workers.into_iter().map(|w| w.join().expect("bench client")).collect();
            (tallies, began.elapsed())
        }),
        Some(index) => {
            let command = &config.processes[index].1;
            let processes = (0..clients)
                .map(|client| process::start(command, client, addresses, &names[client], &options))
                .collect::<Result<Vec<_>, String>>()?;
            let before = process::server_requests(servers)?;
            let (tallies, elapsed) = thread::scope(|scope| {
                let workers: Vec<_> = processes
                    .into_iter()
                    .map(|p| scope.spawn(|| process::client_loop(p, &value, mix, &start, config.duration)))
                    .collect();
                start.wait();
                let began = Instant::now();
                let tallies: Vec<Result<ClientTally, String>> =
                    workers.into_iter().map(|w| w.join().expect("bench client")).collect();
                (tallies, began.elapsed())
            });
            let mut tallies = tallies.into_iter().collect::<Result<Vec<_>, String>>()?;
            // The servers' count is the processes' all together.
            tallies[0].requests = process::server_requests(servers)? - before;
            (tallies, elapsed)
        }
    };
    let ops: u64 = tallies.iter().map(|t| t.ops).sum();
    let mut latencies: Vec<u32> = tallies.iter().flat_map(|t| t.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let shares: Vec<f64> = tallies.iter().map(|t| t.ops as f64).collect();
    Ok(Sample {
        ops,
        ops_per_s: ops as f64 / elapsed.as_secs_f64(),
        requests: tallies.iter().map(|t| t.requests).sum(),
        round_trips: tallies.iter().map(|t| t.round_trips).sum(),
        attempts: tallies.iter().map(|t| t.attempts).sum(),
        retries_op_max: tallies.iter().map(|t| t.retries_op_max).max().flatten(),
        retries: tallies.iter().map(|t| t.retries).sum(),
        errors: tallies.iter().map(|t| t.errors).sum(),
        latency_us_p50: quantile(&latencies, 0.5),
        latency_us_p99: quantile(&latencies, 0.99),
        latency_us_p999: quantile(&latencies, 0.999),
        jain_index: jain_index(&shares),
    })
}

/// One client: its own connections, the mix's operations in turn until time
/// is up.
fn client_loop(
    addresses: &[String],
    name: &str,
    value: &[u8],
    mix: Mix,
    start: &Barrier,
    config: &RealBenchConfig,
    options: &DequeOptions,
) -> ClientTally {
    let store = CountingStore::new(connect(addresses));
    let mut deque = if config.shards > 1 {
        Handle::Sharded(
            block_on(ShardedDeque::bind(&store, name, config.shards, options.clone())).expect("bind bench deque"),
        )
    } else {
        Handle::Plain(Box::new(
            BlockingDeque::bind(&store, name, options.clone()).expect("bind bench deque"),
        ))
    };
    let baseline = store.counts();
    let attempts_before = deque.attempts();
    let retries_before = deque.retries();
    let mut tally = ClientTally {
        retries_op_max: Some(0),
        ..ClientTally::default()
    };
    start.wait();
    let deadline = Instant::now() + config.duration;
    while Instant::now() < deadline {
        let began = Instant::now();
        let attempts_op_before = deque.attempts();
        let ok = match mix.op(tally.ops) {
            OpName::PushBack => deque.push(Side::Right, value.to_vec()),
            OpName::PushFront => deque.push(Side::Left, value.to_vec()),
            OpName::PopBack => deque.pop(Side::Right),
            OpName::PopFront => deque.pop(Side::Left),
        };
        tally
            .latencies_us
            .push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        let retries = deque.attempts().saturating_sub(attempts_op_before + 1);
        tally.retries_op_max = tally
            .retries_op_max
            .max(Some(u32::try_from(retries).unwrap_or(u32::MAX)));
        tally.ops += 1;
        tally.errors += u64::from(!ok);
    }
    let counts = store.counts();
    tally.requests = counts.total() - baseline.total();
    tally.round_trips = Some(counts.round_trips - baseline.round_trips);
    tally.attempts = Some(deque.attempts() - attempts_before);
    tally.retries = Some(deque.retries().since(&retries_before));
    tally
}

pub use super::real_report::{render_svg, render_table};
