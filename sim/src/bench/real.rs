//! `mcsim bench real`: the deque against private local memcached servers,
//! for every combination of client count, operation mix and value size.
//!
//! The default point is the workload FACTS.md measured the 2013 Python
//! library with (each client alternates push_back and pop_front on a deque
//! pre-filled with 200 items, 16 B values), so the two tables stand side by
//! side. Every figure comes from counting, not estimating: operations and
//! latencies at the client, requests and round trips through a
//! `CountingStore`, attempts from the deque handle.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memcache_collections::memcached::{LocalServer, LocalServerConfig, LocalServerError};
use memcache_collections::store::{CountingStore, block_on};
use memcache_collections::{BlockingDeque, DequeOptions, MemcachedOptions, MemcachedStore, ShardedDeque, Side};
use serde::Serialize;

use super::{jain_index, quantile};

/// The Python library's total ops/s by client count (FACTS.md), for the table.
pub const PYTHON_OPS_PER_S: &[(usize, f64)] = &[(1, 3011.0), (2, 8309.0), (4, 4278.0), (8, 2022.0)];

/// Which operations a client runs, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mix {
    /// push_back, pop_front: a queue (FACTS.md's workload).
    Fifo,
    /// push_back, pop_back: a stack; both ends of one op pair meet.
    Lifo,
    /// push_back, pop_front, push_front, pop_back: every end, both ways.
    BothEnds,
}

impl Mix {
    fn name(self) -> &'static str {
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
    /// The clients' deque settings (algorithm, backoff).
    pub options: DequeOptions,
}

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
}

/// One (mix, value size, client count) point.
#[derive(Debug, Clone, Serialize)]
pub struct RealBenchPoint {
    /// The operation mix.
    pub mix: Mix,
    /// Bytes per value.
    pub value_size_bytes: usize,
    /// Concurrent clients, each a thread with its own connections.
    pub clients: usize,
    /// Operations completed (pushes and pops).
    pub ops: u64,
    /// Operations per second, all clients together.
    pub ops_per_s: f64,
    /// memcached requests per operation.
    pub requests_per_op: f64,
    /// Round trips per operation (a pipelined batch is one per server).
    pub round_trips_per_op: f64,
    /// Attempts beyond the first per operation: races lost.
    pub retries_per_op: f64,
    /// Operations that returned an error.
    pub errors: u64,
    /// Median operation latency.
    pub latency_us_p50: u32,
    /// 99th percentile operation latency.
    pub latency_us_p99: u32,
    /// 99.9th percentile operation latency.
    pub latency_us_p999: u32,
    /// Jain's fairness index over per-client op counts.
    pub jain_index: f64,
    /// The 2013 Python library at this client count (FACTS.md), if measured
    /// (its workload: FIFO, 16 B values).
    pub python_ops_per_s: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RealBenchReport {
    pub variant: String,
    /// Backoff bounds (first, max), microseconds.
    pub backoff_us: (u32, u32),
    /// Measured seconds per point.
    pub duration_s: f64,
    /// Items pre-filled.
    pub prefill_items: usize,
    /// Servers used.
    pub servers: usize,
    /// Shards (1: a plain deque).
    pub shards: usize,
    /// One entry per point.
    pub points: Vec<RealBenchPoint>,
}

struct ClientTally {
    ops: u64,
    errors: u64,
    requests: u64,
    round_trips: u64,
    attempts: u64,
    latencies_us: Vec<u32>,
}

/// Starts the servers, measures every point, stops the servers.
pub fn run(config: &RealBenchConfig) -> Result<RealBenchReport, LocalServerError> {
    let largest = config.value_sizes_bytes.iter().copied().max().unwrap_or(0);
    let server_config = LocalServerConfig {
        // Room for the prefill and every client's values at the largest size.
        memory_mb: (64 + largest * (config.prefill_items + 64) / (1 << 20)) as u32,
        ..LocalServerConfig::default()
    };
    let servers: Vec<LocalServer> = (0..config.servers.max(1))
        .map(|_| LocalServer::start(server_config.clone()))
        .collect::<Result<_, _>>()?;
    let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
    let mut points = Vec::new();
    for &mix in &config.mixes {
        for &size in &config.value_sizes_bytes {
            for &clients in &config.clients {
                points.push(measure(config, &addresses, mix, size, clients));
            }
        }
    }
    Ok(RealBenchReport {
        variant: config.options.variant.name().to_owned(),
        backoff_us: (config.options.backoff.first_us, config.options.backoff.max_us),
        duration_s: config.duration.as_secs_f64(),
        prefill_items: config.prefill_items,
        servers: addresses.len(),
        shards: config.shards,
        points,
    })
}

fn connect(addresses: &[String]) -> MemcachedStore {
    MemcachedStore::connect(addresses, &MemcachedOptions::default()).expect("a server we just started accepts clients")
}

fn measure(config: &RealBenchConfig, addresses: &[String], mix: Mix, size: usize, clients: usize) -> RealBenchPoint {
    let name = format!("bench-{}-{size}-{clients}-{}", mix.name(), config.shards);
    let store = CountingStore::new(connect(addresses));
    let mut deque = if config.shards > 1 {
        Handle::Sharded(
            block_on(ShardedDeque::create(
                &store,
                &name,
                config.shards,
                config.options.clone(),
            ))
            .expect("create bench deque"),
        )
    } else {
        Handle::Plain(Box::new(
            BlockingDeque::create(&store, Some(&name), config.options.clone()).expect("create bench deque"),
        ))
    };
    let value = vec![b'v'; size];
    for _ in 0..config.prefill_items {
        assert!(deque.push(Side::Right, value.clone()), "prefill");
    }
    let start = Barrier::new(clients + 1);
    let (tallies, elapsed) = thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| client_loop(addresses, &name, &value, mix, &start, config)))
            .collect();
        start.wait();
        let began = Instant::now();
        let tallies: Vec<ClientTally> = workers.into_iter().map(|w| w.join().expect("bench client")).collect();
        (tallies, began.elapsed())
    });
    let ops: u64 = tallies.iter().map(|t| t.ops).sum();
    let per_op = |total: u64| total as f64 / ops.max(1) as f64;
    let mut latencies: Vec<u32> = tallies.iter().flat_map(|t| t.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let shares: Vec<f64> = tallies.iter().map(|t| t.ops as f64).collect();
    let attempts: u64 = tallies.iter().map(|t| t.attempts).sum();
    let python = (mix == Mix::Fifo && size == 16)
        .then(|| PYTHON_OPS_PER_S.iter().find(|(c, _)| *c == clients).map(|(_, v)| *v))
        .flatten();
    RealBenchPoint {
        mix,
        value_size_bytes: size,
        clients,
        ops,
        ops_per_s: ops as f64 / elapsed.as_secs_f64(),
        requests_per_op: per_op(tallies.iter().map(|t| t.requests).sum()),
        round_trips_per_op: per_op(tallies.iter().map(|t| t.round_trips).sum()),
        retries_per_op: per_op(attempts.saturating_sub(ops)),
        errors: tallies.iter().map(|t| t.errors).sum(),
        latency_us_p50: quantile(&latencies, 0.5),
        latency_us_p99: quantile(&latencies, 0.99),
        latency_us_p999: quantile(&latencies, 0.999),
        jain_index: jain_index(&shares),
        python_ops_per_s: python,
    }
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
) -> ClientTally {
    let store = CountingStore::new(connect(addresses));
    let mut deque = if config.shards > 1 {
        Handle::Sharded(
            block_on(ShardedDeque::bind(&store, name, config.shards, config.options.clone()))
                .expect("bind bench deque"),
        )
    } else {
        Handle::Plain(Box::new(
            BlockingDeque::bind(&store, name, config.options.clone()).expect("bind bench deque"),
        ))
    };
    let baseline = store.counts();
    let attempts_before = deque.attempts();
    let mut tally = ClientTally {
        ops: 0,
        errors: 0,
        requests: 0,
        round_trips: 0,
        attempts: 0,
        latencies_us: Vec::new(),
    };
    start.wait();
    let deadline = Instant::now() + config.duration;
    while Instant::now() < deadline {
        let began = Instant::now();
        let ok = match (mix, tally.ops % 4) {
            (Mix::BothEnds, 2) => deque.push(Side::Left, value.to_vec()),
            (Mix::BothEnds, 3) | (Mix::Lifo, 1 | 3) => deque.pop(Side::Right),
            (_, 0 | 2) => deque.push(Side::Right, value.to_vec()),
            _ => deque.pop(Side::Left),
        };
        tally
            .latencies_us
            .push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        tally.ops += 1;
        tally.errors += u64::from(!ok);
    }
    let counts = store.counts();
    tally.requests = counts.total() - baseline.total();
    tally.round_trips = counts.round_trips - baseline.round_trips;
    tally.attempts = deque.attempts() - attempts_before;
    tally
}

/// The human-readable table, beside the Python library's figures.
pub fn render_table(report: &RealBenchReport) -> String {
    let mut out = format!(
        "deque ({}, {} shard(s), backoff {}-{} us) on local memcached ({} server(s)), {} prefilled, {:.0} s per point\n",
        report.variant,
        report.shards,
        report.backoff_us.0,
        report.backoff_us.1,
        report.servers,
        report.prefill_items,
        report.duration_s
    );
    out.push_str(
        "mix        value B clients      ops/s  req/op  rt/op retry/op  p50 us  p99 us p99.9 us   jain errors  python ops/s  vs python\n",
    );
    for p in &report.points {
        let (python, ratio) = match p.python_ops_per_s {
            Some(py) => (format!("{py:.0}"), format!("{:.2}x", p.ops_per_s / py)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        out.push_str(&format!(
            "{:<10} {:>7} {:>7} {:>10.0} {:>7.2} {:>6.2} {:>8.2} {:>7} {:>7} {:>8} {:>6.3} {:>6} {:>13} {:>10}\n",
            p.mix.name(),
            p.value_size_bytes,
            p.clients,
            p.ops_per_s,
            p.requests_per_op,
            p.round_trips_per_op,
            p.retries_per_op,
            p.latency_us_p50,
            p.latency_us_p99,
            p.latency_us_p999,
            p.jain_index,
            p.errors,
            python,
            ratio
        ));
    }
    out
}

/// An SVG line chart of ops/s against client count, one line per (mix,
/// value size), with the Python library's FIFO figures dashed.
pub fn render_svg(report: &RealBenchReport) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 420.0;
    const MARGIN: f64 = 60.0;
    let clients_max = report.points.iter().map(|p| p.clients).max().unwrap_or(1).max(8) as f64;
    let ops_max = report
        .points
        .iter()
        .map(|p| p.ops_per_s)
        .chain(PYTHON_OPS_PER_S.iter().map(|(_, v)| *v))
        .fold(1.0, f64::max)
        * 1.1;
    let x = |clients: f64| MARGIN + (clients / clients_max) * (WIDTH - 2.0 * MARGIN);
    let y = |ops: f64| HEIGHT - MARGIN - (ops / ops_max) * (HEIGHT - 2.0 * MARGIN);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{MARGIN}\" y=\"24\">ops/s by client count ({}, backoff {}-{} us, {} server(s))</text>\n\
         <line x1=\"{MARGIN}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <line x1=\"{MARGIN}\" y1=\"{MARGIN}\" x2=\"{MARGIN}\" y2=\"{b}\" stroke=\"black\"/>\n",
        report.variant,
        report.backoff_us.0,
        report.backoff_us.1,
        report.servers,
        b = HEIGHT - MARGIN,
        r = WIDTH - MARGIN,
    );
    for tick in 0..=4 {
        let ops = ops_max * f64::from(tick) / 4.0;
        svg.push_str(&format!("<text x=\"4\" y=\"{:.0}\">{:.0}</text>\n", y(ops) + 4.0, ops));
    }
    let mut counts: Vec<usize> = report.points.iter().map(|p| p.clients).collect();
    counts.sort_unstable();
    counts.dedup();
    for c in counts {
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">{c}</text>\n",
            x(c as f64),
            HEIGHT - MARGIN + 16.0
        ));
    }
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    ];
    let mut series: Vec<(Mix, usize)> = report.points.iter().map(|p| (p.mix, p.value_size_bytes)).collect();
    series.dedup();
    let mut line = |points: Vec<(f64, f64)>, colour: &str, dash: &str, label: &str, row: usize| {
        let path: Vec<String> = points
            .iter()
            .map(|(c, o)| format!("{:.1},{:.1}", x(*c), y(*o)))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>\n\
             <text x=\"{:.0}\" y=\"{:.0}\" fill=\"{colour}\">{label}</text>\n",
            path.join(" "),
            WIDTH - MARGIN - 150.0,
            MARGIN + 16.0 * row as f64,
        ));
    };
    for (row, (mix, size)) in series.iter().enumerate() {
        let points = report
            .points
            .iter()
            .filter(|p| p.mix == *mix && p.value_size_bytes == *size)
            .map(|p| (p.clients as f64, p.ops_per_s))
            .collect();
        line(
            points,
            colours[row % colours.len()],
            "",
            &format!("{} {size} B", mix.name()),
            row,
        );
    }
    let python = PYTHON_OPS_PER_S.iter().map(|(c, o)| (*c as f64, *o)).collect();
    line(python, "gray", "6 4", "Python 2013 (FACTS.md)", series.len());
    svg.push_str(&format!(
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">clients</text>\n</svg>\n",
        WIDTH / 2.0,
        HEIGHT - 12.0
    ));
    svg
}
