//! `mcsim bench mcas`: MCAS on private local memcached servers (started and
//! stopped here). Each client, on its own connections, reads `entries`
//! registers drawn from a pool and adds one to each by one MCAS, again and
//! again until time is up; the figures are per MCAS call (successful or
//! not): throughput, the share that succeeded, requests and round trips
//! (`CountingStore`: a pipeline counts once per server), and latency.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memcache_collections::memcached::{LocalServer, LocalServerConfig, LocalServerError};
use memcache_collections::store::{CountingStore, block_on};
use memcache_collections::{Key, McasClient, McasOptions, MemcachedOptions, MemcachedStore};
use rand::RngExt;
use serde::Serialize;

use super::{jain_index, quantile};
use crate::rng::{Stream, derived_seed, stream};

/// What to measure.
#[derive(Debug, Clone)]
pub struct McasBenchConfig {
    /// Client counts, one point each.
    pub clients: Vec<usize>,
    /// Entries per MCAS, one point each.
    pub entries: Vec<usize>,
    /// Registers the entries are drawn from (fewer: more contention).
    pub registers: usize,
    pub servers: usize,
    pub duration: Duration,
    /// Seeds the clients' register draws and descriptor ids.
    pub seed: u64,
}

/// One measured point.
#[derive(Debug, Clone, Serialize)]
pub struct McasBenchPoint {
    pub clients: usize,
    pub entries: usize,
    /// Registers drawn from (`--registers`, raised to `entries` if below).
    pub registers: usize,
    /// MCAS calls made.
    pub mcas: u64,
    pub mcas_per_s: f64,
    /// Share of the calls that replaced their registers (the rest found a
    /// register changed since it was read, or claimed).
    pub succeeded_ratio: f64,
    /// Calls that ended in an error (any).
    pub errors: u64,
    pub requests_per_mcas: f64,
    pub round_trips_per_mcas: f64,
    pub latency_us_p50: u32,
    pub latency_us_p99: u32,
    /// Fairness of the clients' successful MCAS counts.
    pub jain_index: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct McasBenchReport {
    pub servers: usize,
    pub registers: usize,
    pub duration_s: f64,
    pub points: Vec<McasBenchPoint>,
}

struct Tally {
    calls: u64,
    succeeded: u64,
    errors: u64,
    requests: u64,
    round_trips: u64,
    latencies_us: Vec<u32>,
}

/// Starts the servers, measures every point, stops the servers. `Err`
/// when a server would not start or a register could not be created.
pub fn run(config: &McasBenchConfig) -> Result<McasBenchReport, String> {
    let servers: Vec<LocalServer> = (0..config.servers.max(1))
        .map(|_| LocalServer::start(LocalServerConfig::default()))
        .collect::<Result<_, LocalServerError>>()
        .map_err(|e| e.to_string())?;
    let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
    let mut points = Vec::new();
    for &entries in &config.entries {
        for &clients in &config.clients {
            points.push(measure(config, &addresses, entries, clients)?);
        }
    }
    Ok(McasBenchReport {
        servers: addresses.len(),
        registers: config.registers,
        duration_s: config.duration.as_secs_f64(),
        points,
    })
}

fn connect(addresses: &[String]) -> Result<MemcachedStore, String> {
    MemcachedStore::connect(addresses, &MemcachedOptions::default()).map_err(|e| e.to_string())
}

fn register(point: &str, i: usize) -> Key {
    Key::new(format!("bench-mcas-{point}-{i}")).expect("a short printable key")
}

fn measure(
    config: &McasBenchConfig,
    addresses: &[String],
    entries: usize,
    clients: usize,
) -> Result<McasBenchPoint, String> {
    let point = format!("{entries}x{clients}");
    let registers = config.registers.max(entries);
    let mut setup = McasClient::new(connect(addresses)?, McasOptions::default());
    for i in 0..registers {
        block_on(setup.insert(&register(&point, i), b"0".to_vec())).map_err(|e| e.to_string())?;
    }
    let start = Barrier::new(clients + 1);
    let (tallies, elapsed) = thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (start, point) = (&start, &point);
                scope.spawn(move || client_loop(config, addresses, point, registers, entries, c as u32, start))
            })
            .collect();
        start.wait();
        let began = Instant::now();
        let tallies: Vec<Result<Tally, String>> =
            workers.into_iter().map(|w| w.join().expect("bench client")).collect();
        (tallies, began.elapsed())
    });
    let tallies = tallies.into_iter().collect::<Result<Vec<Tally>, String>>()?;
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let calls = sum(|t| t.calls);
    let per_call = |total: u64| total as f64 / calls.max(1) as f64;
    let mut latencies: Vec<u32> = tallies.iter().flat_map(|t| t.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let shares: Vec<f64> = tallies.iter().map(|t| t.succeeded as f64).collect();
    Ok(McasBenchPoint {
        clients,
        entries,
        registers,
        mcas: calls,
        mcas_per_s: calls as f64 / elapsed.as_secs_f64(),
        succeeded_ratio: per_call(sum(|t| t.succeeded)),
        errors: sum(|t| t.errors),
        requests_per_mcas: per_call(sum(|t| t.requests)),
        round_trips_per_mcas: per_call(sum(|t| t.round_trips)),
        latency_us_p50: quantile(&latencies, 0.5),
        latency_us_p99: quantile(&latencies, 0.99),
        jain_index: jain_index(&shares),
    })
}

/// One client: reads `entries` registers drawn from the pool (outside the
/// measured call) and adds one to each by one MCAS, until time is up.
fn client_loop(
    config: &McasBenchConfig,
    addresses: &[String],
    point: &str,
    registers: usize,
    entries: usize,
    client: u32,
    start: &Barrier,
) -> Result<Tally, String> {
    let store = CountingStore::new(connect(addresses)?);
    let options = McasOptions {
        id_seed: Some(derived_seed(config.seed, Stream::NodeIds, client)),
        ..McasOptions::default()
    };
    let mut mcas = McasClient::new(&store, options);
    let mut draws = stream(config.seed, Stream::Workload, client);
    let mut tally = Tally {
        calls: 0,
        succeeded: 0,
        errors: 0,
        requests: 0,
        round_trips: 0,
        latencies_us: Vec::new(),
    };
    start.wait();
    let deadline = Instant::now() + config.duration;
    while Instant::now() < deadline {
        let mut chosen: Vec<usize> = Vec::with_capacity(entries);
        while chosen.len() < entries {
            let i = draws.random_range(0..registers);
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        let mut updates = Vec::with_capacity(entries);
        for &i in &chosen {
            match block_on(mcas.get(&register(point, i))) {
                Ok(Some(entry)) => {
                    let n: u64 = std::str::from_utf8(entry.value())
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| format!("register {i} holds no number"))?;
                    updates.push((entry, (n + 1).to_string().into_bytes()));
                }
                Ok(None) => return Err(format!("register {i} vanished")),
                Err(_) => break,
            }
        }
        if updates.len() < entries {
            continue;
        }
        let before = store.counts();
        let began = Instant::now();
        let outcome = block_on(mcas.mcas(updates));
        tally
            .latencies_us
            .push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        let after = store.counts();
        tally.requests += after.total() - before.total();
        tally.round_trips += after.round_trips - before.round_trips;
        tally.calls += 1;
        match outcome {
            Ok(true) => tally.succeeded += 1,
            Ok(false) => {}
            Err(_) => tally.errors += 1,
        }
    }
    Ok(tally)
}

/// The human-readable table.
pub fn render_table(report: &McasBenchReport) -> String {
    let mut out = format!(
        "{} server(s), {} registers, {:.1} s per point\n\
         entries clients    mcas/s  succeeded  errors  requests/mcas  round trips/mcas  p50 us  p99 us  jain\n",
        report.servers, report.registers, report.duration_s
    );
    for p in &report.points {
        out.push_str(&format!(
            "{:>7} {:>7} {:>9.0} {:>9.1}% {:>7} {:>14.2} {:>17.2} {:>7} {:>7} {:>5.2}\n",
            p.entries,
            p.clients,
            p.mcas_per_s,
            p.succeeded_ratio * 100.0,
            p.errors,
            p.requests_per_mcas,
            p.round_trips_per_mcas,
            p.latency_us_p50,
            p.latency_us_p99,
            p.jain_index,
        ));
    }
    out
}
