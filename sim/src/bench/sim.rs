//! `mcsim bench sim`: how fast the simulator runs the real deque. 8 clients on
//! one server, faults off, then the same workload with every fault type on;
//! reports simulated requests and operations per wall-clock second on one
//! core (a run is single-threaded) and the process's peak memory.

use std::time::Instant;

use serde::Serialize;

use memcache_collections::Variant;

use crate::config::{Latency, RunConfig};
use crate::plan::RunPlan;
use crate::{judge, pipeline};

/// One measured run.
#[derive(Debug, Clone, Serialize)]
pub struct SimBenchPoint {
    /// Whether faults were injected.
    pub faults: bool,
    /// Simulated clients.
    pub clients: u32,
    /// Operations in the history (drain included).
    pub ops: u64,
    /// Simulated memcached requests.
    pub requests: u64,
    /// Events processed.
    pub events: u64,
    /// Wall-clock seconds of the run.
    pub wall_s: f64,
    /// Simulated requests per wall-clock second.
    pub requests_per_s: f64,
    /// Simulated operations per wall-clock second.
    pub ops_per_s: f64,
    /// Peak resident memory of the process so far (Linux `VmHWM`).
    pub peak_rss_bytes: Option<u64>,
}

/// The bench's configuration of one run: `ops_total` operations over
/// `clients` clients on one server.
pub fn bench_config(clients: u32, ops_total: u64, faults: bool) -> RunConfig {
    let mut config = RunConfig::default();
    config.clients.count = clients;
    config.clients.ops_per_client = ops_total / u64::from(clients.max(1));
    config.clients.think_time_us_max = 0;
    config.network.latency = Latency::Exponential {
        min_us: 20,
        tail_mean_us: 30,
    };
    if faults {
        config.network.drop_request_rate = 0.001;
        config.network.drop_reply_rate = 0.001;
        config.network.delay_spike_rate = 0.001;
        let random = &mut config.random_faults;
        random.restart_per_s = 0.5;
        random.flush_per_s = 0.2;
        random.lose_node_per_s = 2.0;
        random.lose_anchor_per_s = 0.2;
        random.partition_per_s = 1.0;
        random.pause_per_s = 2.0;
    }
    config
}

/// Runs one configuration and measures it. Only the simulation is timed;
/// the run is then judged like any other, and a run that did not pass is
/// the error (with its exit class and the judge's reason): a benchmark of a
/// broken run measures nothing.
pub fn measure(clients: u32, ops_total: u64, faults: bool, seed: u64) -> Result<SimBenchPoint, (u8, String)> {
    let plan = RunPlan::for_config(bench_config(clients, ops_total, faults), None, seed, Variant::default());
    let started = Instant::now();
    let outcome = pipeline::execute(&plan);
    let wall_s = started.elapsed().as_secs_f64();
    let judgement = judge::judge(&outcome, &plan.expect, pipeline::quiet());
    if !judgement.expected {
        return Err((
            judgement.exit_class(),
            format!("{}: {}", judgement.verdict, judgement.reason),
        ));
    }
    let ops = outcome.history.ops.len() as u64;
    let requests = outcome.counters.requests;
    Ok(SimBenchPoint {
        faults,
        clients,
        ops,
        requests,
        events: outcome.counters.sim.as_ref().map_or(0, |sim| sim.events),
        wall_s,
        requests_per_s: requests as f64 / wall_s,
        ops_per_s: ops as f64 / wall_s,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Peak resident set size of this process, from `/proc/self/status`.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The human-readable table.
pub fn render_table(points: &[SimBenchPoint]) -> String {
    let mut out = String::from("faults  clients       ops   requests  wall s   requests/s      ops/s  peak RSS MiB\n");
    for p in points {
        out.push_str(&format!(
            "{:>6} {:>8} {:>9} {:>10} {:>7.2} {:>12.0} {:>10.0} {:>13}\n",
            if p.faults { "on" } else { "off" },
            p.clients,
            p.ops,
            p.requests,
            p.wall_s,
            p.requests_per_s,
            p.ops_per_s,
            p.peak_rss_bytes
                .map_or("-".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0)),
        ));
    }
    out
}
