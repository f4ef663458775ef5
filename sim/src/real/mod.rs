//! The real backend: a scenario file run against real memcached processes
//! that the harness starts on free loopback ports, with the scenario's
//! faults applied for real, and the history checked by the same checkers.
//!
//! | scenario asks for | the real backend does |
//! |---|---|
//! | servers, `-I`, `-M` | one memcached per server with those flags (`plan.rs`) |
//! | `memory_limit_bytes` | `-m` rounded up to whole MiB (at least 2) and filler traffic that fills it before the workload and keeps it full |
//! | restart | kill the process, start it again on the same port |
//! | `flush_all` | `flush_all` on an admin connection |
//! | loss of the anchor or a node | `touch <key> -1` (FACTS.md: a miss a client cannot tell from an eviction) |
//! | latency, drops, spikes, resets, partitions | a fault-injecting proxy per client-server link (`proxy.rs`) |
//! | pause, crash | the client's gate, between two of its requests |
//! | timed and random faults | real microseconds since the workload began |
//!
//! Clients are threads, each running the shared workload
//! (`crate::workload`) over `MemcachedStore` through its proxies; the
//! history is stamped with a monotonic clock. memcached's own evictions are
//! seen only as counters, so each is recorded as a loss at the last reading
//! before it (`background::loss_monitor`).
//!
//! A seed fixes every choice (operations, values, fault draws, message
//! fates by position on each link) but not the interleaving: that belongs
//! to the operating system. A real run is a sample, not a replay.

mod background;
mod client;
mod cluster;
mod control;
pub mod plan;
mod proxy;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use memcache_collections::memcached::{LocalServerError, MemcachedOptions, MemcachedStore};
use memcache_collections::store::block_on;
use memcache_collections::{Deque, Variant};
use serde::Serialize;

use crate::history::{History, HistoryOp, OpName, OpResult};
use crate::sim::DEQUE_NAME;
use crate::sim::config::{Fault, FaultSpec, SimConfig, Trigger};
use crate::sim::rng::{self, Stream};
use crate::workload;
use client::GatedStore;
use cluster::Cluster;
use control::Control;
use proxy::LinkProxy;

/// How long the clients may take before the run is declared stuck: the
/// suite's slowest healthy real run takes about 2 s here, and a client
/// stuck retrying a lost node (1,000 attempts with backoff) takes minutes.
const WORKLOAD_DEADLINE: Duration = Duration::from_secs(30);

/// Why a real run could not happen or could not be trusted.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    /// The scenario asks for something the real backend cannot do.
    #[error("the real backend cannot run this scenario: {}", .0.join("; "))]
    Unsupported(Vec<String>),
    /// The variant name is not in the catalogue.
    #[error("unknown variant {0:?} (see `mcsim list`)")]
    UnknownVariant(String),
    /// memcached would not start.
    #[error(transparent)]
    Server(#[from] LocalServerError),
    /// A proxy or a connection could not be set up.
    #[error("cannot set up the run: {0}")]
    Setup(String),
    /// A fault could not be applied (the run did not test what it says).
    #[error("a fault could not be applied: {}", .0.join("; "))]
    Fault(Vec<String>),
}

/// Counters of one real run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RealStats {
    /// Messages the proxies forwarded.
    pub messages_forwarded: u64,
    /// Messages they swallowed (drops and cut links).
    pub messages_dropped: u64,
    /// Connections the proxies reset under a message.
    pub connection_resets: u64,
    /// Messages held for a delay spike.
    pub messages_spiked: u64,
    /// Messages held by a partition until it healed.
    pub messages_held: u64,
    /// Faults fired.
    pub faults: u64,
    /// Items memcached evicted or refused for lack of memory (its counters).
    pub items_dropped: u64,
    /// Filler sets written (memory-limited scenarios).
    pub filler_sets: u64,
    /// Whether the filler reached full memory before the workload.
    pub memory_full: bool,
    /// Deques clients created again after an anchor loss.
    pub recreations: u64,
    /// Clients that crashed.
    pub crashed_clients: u64,
    /// True if the clients did not finish within the deadline.
    pub stuck: bool,
    /// Wall-clock milliseconds of the workload.
    pub workload_ms: u64,
}

/// Everything a real run produced.
#[derive(Debug)]
pub struct RealOutcome {
    /// The seed it ran with.
    pub seed: u64,
    /// The client-boundary history, drain included.
    pub history: History,
    /// Counters.
    pub stats: RealStats,
}

/// Runs `config` against real memcached servers with `seed`'s choices.
pub fn run(config: &SimConfig, seed: u64) -> Result<RealOutcome, RealError> {
    let variant =
        Variant::from_name(&config.variant).ok_or_else(|| RealError::UnknownVariant(config.variant.clone()))?;
    let refusals = plan::refusals(config);
    if !refusals.is_empty() {
        return Err(RealError::Unsupported(refusals));
    }
    let plan = plan::servers(config);
    let cluster = Cluster::start(config.servers.count, &plan.local)?;
    let options = |client: u32| workload::deque_options(config, variant, seed, client);
    let direct = || {
        cluster
            .direct_store(&MemcachedOptions::default())
            .map_err(RealError::Setup)
    };
    let setup_store = direct()?;
    let admin = direct()?;
    let filler_store = direct()?;
    let client_count = config.clients.count;
    let proxies = start_proxies(&cluster, config, seed)?;
    let stores = client_stores(&cluster, &proxies, config)?;
    let (timed, armed) = split_faults(config);
    let control = Control::new(cluster, proxies, admin, armed, rng::stream(seed, Stream::Faults, 0));
    setup(&control, &setup_store, config, options(client_count))?;
    let mut stats = RealStats::default();
    let mut filler = plan.memory_pressure.then(|| {
        let sizes = config.clients.value_size_bytes_min..=config.clients.value_size_bytes_max;
        background::Filler::new(filler_store, rng::stream(seed, Stream::Filler, 0), sizes)
    });
    if let Some(filler) = &mut filler {
        stats.memory_full = filler.fill_up(&control);
    }
    let monitor_stop = AtomicBool::new(false);
    let workload_started = Instant::now();
    let control_ref = &control;
    std::thread::scope(|scope| {
        let monitor = scope.spawn(|| background::loss_monitor(control_ref, &monitor_stop));
        let clock = scope.spawn(|| background::fault_clock(control_ref, timed, &config.random_faults));
        let filler_thread = filler.as_mut().map(|f| scope.spawn(move || f.run(control_ref)));
        let (done, finished) = mpsc::channel();
        let clients: Vec<_> = stores
            .into_iter()
            .enumerate()
            .map(|(client, store)| {
                let done = done.clone();
                let deque_options = options(client as u32);
                scope.spawn(move || {
                    let store = GatedStore::new(client, store, control_ref);
                    let ran = Deque::attach(store, DEQUE_NAME, deque_options.clone()).map(|deque| {
                        let workload = rng::stream(seed, Stream::Workload, client as u32);
                        let life = workload::client_main(
                            client as u32,
                            deque,
                            workload,
                            config.clients.clone(),
                            deque_options,
                            control_ref,
                        );
                        client::drive(life, control_ref, client).is_some()
                    });
                    let _ = done.send(());
                    ran
                })
            })
            .collect();
        drop(done);
        let deadline = workload_started + WORKLOAD_DEADLINE;
        for _ in 0..clients.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if finished.recv_timeout(left).is_err() {
                stats.stuck = true;
                control_ref.gates.iter().for_each(|gate| gate.crash());
                break;
            }
        }
        for client in clients {
            match client.join().expect("a client thread does not panic") {
                Ok(true) => {}
                Ok(false) => stats.crashed_clients += 1,
                Err(error) => panic!("attaching to a deque the setup created failed: {error}"),
            }
        }
        stats.workload_ms = workload_started.elapsed().as_millis() as u64;
        control_ref.workload_over.store(true, Ordering::SeqCst);
        clock.join().expect("the fault clock does not panic");
        if let Some(thread) = filler_thread {
            thread.join().expect("the filler does not panic");
        }
        // Every client is gone: let what the links held land, then drain.
        let links = control_ref.shutdown_links();
        stats.messages_forwarded = links.forwarded;
        stats.messages_dropped = links.dropped;
        stats.messages_spiked = links.spiked;
        stats.connection_resets = links.resets;
        stats.messages_held = links.held;
        if config.drain && !stats.stuck {
            drain(control_ref, &setup_store, config, options(client_count + 1));
        }
        monitor_stop.store(true, Ordering::SeqCst);
        stats.items_dropped = monitor.join().expect("the monitor does not panic");
    });
    stats.faults = control.faults_fired.load(Ordering::Relaxed);
    stats.recreations = control.recreations.load(Ordering::Relaxed);
    stats.filler_sets = filler.as_ref().map_or(0, background::Filler::sets);
    let errors = control.fault_errors();
    if !errors.is_empty() {
        return Err(RealError::Fault(errors));
    }
    let (ops, losses) = control.take_history();
    Ok(RealOutcome {
        seed,
        history: History {
            ops,
            losses,
            drain_client: config.drain.then_some(client_count + 1),
        },
        stats,
    })
}

/// Each client's store: routed by the servers' names, dialling the
/// client's own proxies, with the scenario's timeout on every exchange.
fn client_stores(
    cluster: &Cluster,
    proxies: &[Vec<LinkProxy>],
    config: &SimConfig,
) -> Result<Vec<MemcachedStore>, RealError> {
    let timeout = Duration::from_micros(config.network.client_timeout_us);
    let options = MemcachedOptions {
        io_timeout: timeout,
        connect_timeout: timeout,
    };
    proxies
        .iter()
        .map(|links| {
            let dial: Vec<String> = links.iter().map(|l| l.address().to_string()).collect();
            MemcachedStore::connect_via(cluster.addresses(), &dial, &options)
                .map_err(|e| RealError::Setup(e.to_string()))
        })
        .collect()
}

/// The scenario's faults: those at a time, for the fault clock, and those
/// armed on op or request counts, for the clients to fire.
fn split_faults(config: &SimConfig) -> (Vec<(u64, Fault)>, Vec<FaultSpec>) {
    let mut timed = Vec::new();
    let mut armed = Vec::new();
    for spec in &config.faults {
        match spec.trigger {
            Trigger::AtUs { at_us } => timed.push((at_us, spec.fault.clone())),
            _ => armed.push(spec.clone()),
        }
    }
    (timed, armed)
}

fn start_proxies(cluster: &Cluster, config: &SimConfig, seed: u64) -> Result<Vec<Vec<LinkProxy>>, RealError> {
    (0..config.clients.count)
        .map(|client| {
            cluster
                .addresses()
                .iter()
                .enumerate()
                .map(|(server, address)| {
                    let upstream: SocketAddr = address.parse().expect("LocalServer::address is a socket address");
                    LinkProxy::start(upstream, &config.network, seed, client, server as u32)
                        .map_err(|e| RealError::Setup(format!("proxy for client {client}, server {server}: {e}")))
                })
                .collect()
        })
        .collect()
}

/// Creates the deque and pushes the prefill, each push recorded.
fn setup(
    control: &Control,
    store: &MemcachedStore,
    config: &SimConfig,
    options: memcache_collections::DequeOptions,
) -> Result<(), RealError> {
    let setup_failed = |e: memcache_collections::DequeError| RealError::Setup(format!("setting up the deque: {e}"));
    let mut deque = block_on(Deque::create(store, Some(DEQUE_NAME), options)).map_err(setup_failed)?;
    for i in 0..config.clients.prefill_items {
        let id = format!("p.{i}");
        let invoke_us = control.now_us();
        let value = workload::value_bytes(&id, config.clients.value_size_bytes_min);
        block_on(deque.push_back(value)).map_err(setup_failed)?;
        control.record(HistoryOp {
            client: config.clients.count,
            op: OpName::PushBack,
            value: Some(id),
            invoke_us,
            return_us: Some(control.now_us()),
            result: OpResult::Ok,
        });
    }
    Ok(())
}

/// A fresh client, straight to the servers, pops from alternating ends
/// until the deque reports empty or an error.
fn drain(control: &Control, store: &MemcachedStore, config: &SimConfig, options: memcache_collections::DequeOptions) {
    let drain_client = config.clients.count + 1;
    let Ok(mut deque) = Deque::attach(store, DEQUE_NAME, options) else {
        return;
    };
    let pushes = config.clients.prefill_items + u64::from(config.clients.count) * config.clients.ops_per_client;
    for round in 0..pushes + 2 {
        let op = if round % 2 == 0 {
            OpName::PopFront
        } else {
            OpName::PopBack
        };
        let invoke_us = control.now_us();
        let result = block_on(workload::run_op(&mut deque, op, Vec::new()));
        let finished = !matches!(result, OpResult::Value { .. });
        control.record(HistoryOp {
            client: drain_client,
            op,
            value: None,
            invoke_us,
            return_us: Some(control.now_us()),
            result,
        });
        if finished {
            break;
        }
    }
}
