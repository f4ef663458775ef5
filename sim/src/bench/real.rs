//! `mcsim bench real`: the deque against a private local memcached, the
//! workload FACTS.md measured the 2013 Python library with (each client
//! alternates push and pop on a deque pre-filled with 200 items), so the two
//! tables can stand side by side.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memcache_collections::memcached::{LocalServer, LocalServerConfig, LocalServerError};
use memcache_collections::store::CountingStore;
use memcache_collections::{BlockingDeque, DequeOptions, MemcachedOptions, MemcachedStore};
use serde::Serialize;

use super::{jain_index, quantile};

/// The Python library's total ops/s by client count (FACTS.md), for the table.
pub const PYTHON_OPS_PER_S: &[(usize, f64)] = &[(1, 3011.0), (2, 8309.0), (4, 4278.0), (8, 2022.0)];

/// What to measure.
#[derive(Debug, Clone)]
pub struct RealBenchConfig {
    /// Client counts, one measurement each.
    pub clients: Vec<usize>,
    /// Measured time per client count.
    pub duration: Duration,
    /// Items pushed before measuring.
    pub prefill_items: usize,
    /// Bytes per pushed value.
    pub value_size_bytes: usize,
    /// memcached servers to spread keys over.
    pub servers: usize,
}

/// One client count's figures.
#[derive(Debug, Clone, Serialize)]
pub struct RealBenchPoint {
    /// Concurrent clients, each a thread with its own connection.
    pub clients: usize,
    /// Operations completed (pushes and pops).
    pub ops: u64,
    /// Operations per second, all clients together.
    pub ops_per_s: f64,
    /// memcached requests per operation (every request is one round trip:
    /// nothing is pipelined yet).
    pub requests_per_op: f64,
    /// Operations that returned an error.
    pub errors: u64,
    /// Median operation latency.
    pub latency_us_p50: u32,
    /// 99th percentile operation latency.
    pub latency_us_p99: u32,
    /// Jain's fairness index over per-client op counts.
    pub jain_index: f64,
    /// The 2013 Python library at this client count (FACTS.md), if measured.
    pub python_ops_per_s: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RealBenchReport {
    /// Measured seconds per point.
    pub duration_s: f64,
    /// Items pre-filled.
    pub prefill_items: usize,
    /// Bytes per value.
    pub value_size_bytes: usize,
    /// Servers used.
    pub servers: usize,
    /// One entry per client count.
    pub points: Vec<RealBenchPoint>,
}

struct ClientTally {
    ops: u64,
    errors: u64,
    requests: u64,
    latencies_us: Vec<u32>,
}

/// Starts the servers, measures every client count, stops the servers.
pub fn run(config: &RealBenchConfig) -> Result<RealBenchReport, LocalServerError> {
    let servers: Vec<LocalServer> = (0..config.servers.max(1))
        .map(|_| LocalServer::start(LocalServerConfig::default()))
        .collect::<Result<_, _>>()?;
    let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
    let points = config
        .clients
        .iter()
        .map(|&clients| measure(config, &addresses, clients))
        .collect();
    Ok(RealBenchReport {
        duration_s: config.duration.as_secs_f64(),
        prefill_items: config.prefill_items,
        value_size_bytes: config.value_size_bytes,
        servers: addresses.len(),
        points,
    })
}

fn connect(addresses: &[String]) -> MemcachedStore {
    MemcachedStore::connect(addresses, &MemcachedOptions::default()).expect("a server we just started accepts clients")
}

fn measure(config: &RealBenchConfig, addresses: &[String], clients: usize) -> RealBenchPoint {
    let name = format!("bench-{clients}-clients");
    let store = connect(addresses);
    let mut deque = BlockingDeque::create(&store, Some(&name), DequeOptions::default()).expect("create bench deque");
    let value = vec![b'v'; config.value_size_bytes];
    for _ in 0..config.prefill_items {
        deque.push_back(value.clone()).expect("prefill");
    }
    let start = Barrier::new(clients + 1);
    let (tallies, elapsed) = thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| client_loop(addresses, &name, &value, &start, config.duration)))
            .collect();
        start.wait();
        let began = Instant::now();
        let tallies: Vec<ClientTally> = workers.into_iter().map(|w| w.join().expect("bench client")).collect();
        (tallies, began.elapsed())
    });
    let ops: u64 = tallies.iter().map(|t| t.ops).sum();
    let requests: u64 = tallies.iter().map(|t| t.requests).sum();
    let mut latencies: Vec<u32> = tallies.iter().flat_map(|t| t.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let shares: Vec<f64> = tallies.iter().map(|t| t.ops as f64).collect();
    RealBenchPoint {
        clients,
        ops,
        ops_per_s: ops as f64 / elapsed.as_secs_f64(),
        requests_per_op: requests as f64 / ops.max(1) as f64,
        errors: tallies.iter().map(|t| t.errors).sum(),
        latency_us_p50: quantile(&latencies, 0.5),
        latency_us_p99: quantile(&latencies, 0.99),
        jain_index: jain_index(&shares),
        python_ops_per_s: PYTHON_OPS_PER_S.iter().find(|(c, _)| *c == clients).map(|(_, v)| *v),
    }
}

/// One client: its own connection, alternating push and pop until time is up.
fn client_loop(addresses: &[String], name: &str, value: &[u8], start: &Barrier, duration: Duration) -> ClientTally {
    let store = CountingStore::new(connect(addresses));
    let mut deque = BlockingDeque::bind(&store, name, DequeOptions::default()).expect("bind bench deque");
    let baseline = store.counts().total();
    let mut tally = ClientTally {
        ops: 0,
        errors: 0,
        requests: 0,
        latencies_us: Vec::new(),
    };
    start.wait();
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        let began = Instant::now();
        let ok = if tally.ops % 2 == 0 {
            deque.push_back(value.to_vec()).is_ok()
        } else {
            deque.pop_front().is_ok()
        };
        tally
            .latencies_us
            .push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        tally.ops += 1;
        tally.errors += u64::from(!ok);
    }
    tally.requests = store.counts().total() - baseline;
    tally
}

/// The human-readable table, beside the Python library's figures.
pub fn render_table(report: &RealBenchReport) -> String {
    let mut out = format!(
        "deque on local memcached ({} server(s)), alternating push_back/pop_front, {} prefilled, {} B values, {:.0} s per point\n",
        report.servers, report.prefill_items, report.value_size_bytes, report.duration_s
    );
    out.push_str("clients      ops/s  req/op  p50 us  p99 us   jain  errors  python ops/s  vs python\n");
    for p in &report.points {
        let (python, ratio) = match p.python_ops_per_s {
            Some(py) => (format!("{py:.0}"), format!("{:.2}x", p.ops_per_s / py)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        out.push_str(&format!(
            "{:>7} {:>10.0} {:>7.2} {:>7} {:>7} {:>6.3} {:>7} {:>13} {:>10}\n",
            p.clients,
            p.ops_per_s,
            p.requests_per_op,
            p.latency_us_p50,
            p.latency_us_p99,
            p.jain_index,
            p.errors,
            python,
            ratio
        ));
    }
    out
}
