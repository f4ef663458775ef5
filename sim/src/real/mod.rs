//! The real backend: a scenario file run against real memcached processes
//! that the harness starts on free loopback ports, with the scenario's
//! faults applied for real, and the history checked by the same checkers.
//!
//! | scenario asks for | the real backend does |
//! |---|---|
//! | servers, `-I`, `-M`, `cas = false` | one memcached per server with those flags (`-C` for no CAS; `crate::capability`) |
//! | `restart_keeps_identity` | each memcached as process 1 of its own PID namespace (`unshare`, root), the servers started at the top of a wall-clock second, so a restart within the run's first second repeats the process id and the start second |
//! | `memory_limit_bytes` | `-m` rounded up to whole MiB (at least 2) and filler traffic that fills it before the workload and keeps it full |
//! | restart | kill the process, start it again on the same port |
//! | `flush_all` | `flush_all` on an admin connection |
//! | loss of the anchor or a node | the target chosen as in the simulator (`crate::nemesis::target`, keys listed with `lru_crawler metadump`), made a miss with `touch <key> -1` (a client cannot tell it from an eviction) |
//! | latency, drops, spikes, resets, partitions | a fault-injecting proxy per client-server link (`proxy.rs`), each message's fate drawn by `crate::nemesis::fate` |
//! | pause, crash | the client's gate, between two of its requests |
//! | timed and random faults | real microseconds since the workload began |
//!
//! Clients are threads, each running the shared workload
//! (`crate::workload`, or the bank's for MCAS, `bank.rs`) over
//! `MemcachedStore` through its proxies; the
//! history is stamped with a monotonic clock. memcached's own evictions are
//! seen only as counters, so each is recorded as a loss at the last reading
//! before it (`background::loss_monitor`).
//!
//! A seed fixes every choice (operations, values, fault draws, message
//! fates by position on each link) but not the interleaving: that belongs
//! to the operating system. A real run is a sample, not a replay. Anything
//! memcached cannot be made to do is refused before the run
//! (`crate::capability`), and the run ends as `could-not-start`.

mod background;
mod bank;
mod client;
mod cluster;
mod control;
pub(crate) mod external;
mod framing;
mod proxy;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use memcache_collections::Deque;
use memcache_collections::memcached::{MemcachedOptions, MemcachedStore};
use memcache_collections::store::block_on;

use crate::algorithm::Algorithm;
use crate::capability;
use crate::config::{DEQUE_NAME, RunConfig};
use crate::history::History;
use crate::nemesis::Triggers;
use crate::outcome::{Counters, Outcome, RealCounters, RunEnd};
use crate::plan::RunPlan;
use crate::protocol::{Init, ServerLink};
use crate::rng::{self, Stream};
use crate::workload;
use bank::RealBank;
use client::GatedStore;
use cluster::Cluster;
use control::Control;
use external::ProcessClient;
use proxy::LinkProxy;

/// How long the clients may take before the run is declared stuck: the
/// suite's slowest healthy real run takes about 2 s here, and a client
/// stuck retrying a lost node (1,000 attempts with backoff) takes minutes.
const WORKLOAD_DEADLINE: Duration = Duration::from_secs(30);

/// Runs a plan against real memcached servers with its seed's choices.
pub(crate) fn run(plan: &RunPlan) -> Outcome {
    match start(plan) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::could_not_start(reason),
    }
}

fn start(plan: &RunPlan) -> Result<Outcome, String> {
    let config = &plan.config;
    let servers = capability::servers(config);
    if servers.local.own_pid_namespace {
        // Start at the top of a wall-clock second, so that a restart within
        // the run's first second repeats the start second as well as the
        // process id: the identity a container restart repeats.
        let into_second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_micros());
        std::thread::sleep(Duration::from_micros(u64::from(1_000_000 - into_second)));
    }
    let cluster = Cluster::start(config.servers.count, &servers.local).map_err(|e| e.to_string())?;
    // Deque options are built in deque runs only.
    let deque_variant = plan.variant.deque().unwrap_or_default();
    let options = |client: u32| workload::deque_options(config, deque_variant, plan.seed, client);
    let direct = || {
        cluster
            .direct_store(&MemcachedOptions::default())
            .map_err(|e| format!("cannot connect to the servers: {e}"))
    };
    let setup_store = direct()?;
    let admin = direct()?;
    let filler_store = direct()?;
    let client_count = config.clients.count;
    let proxies = start_proxies(&cluster, config, plan.seed)?;
    let stores = client_stores(&cluster, &proxies, config)?;
    let (timed, triggers) = Triggers::arm(&config.faults);
    let control = Control::new(
        cluster,
        proxies,
        admin,
        triggers,
        rng::stream(plan.seed, Stream::Faults, 0),
    );
    let first_readings = background::readings(&control);
    let bank = match plan.variant {
        Algorithm::Mcas(variant) => Some(
            RealBank::open(&setup_store, &control, config, plan.seed, variant)
                .map_err(|e| format!("opening the bank's accounts failed: {e}"))?,
        ),
        Algorithm::Deque(_) => None,
    };
    let setup = block_on(async {
        if bank.is_some() {
            return Ok(());
        }
        let mut deque = Deque::create(&setup_store, Some(DEQUE_NAME), options(client_count)).await?;
        let clients = &config.clients;
        workload::setup::prefill(
            &mut deque,
            clients.prefill_items,
            clients.value_size_bytes_min,
            client_count,
            &control.log,
        )
        .await
    });
    if let Err(error) = setup {
        return Ok(Outcome::setup_failed(&error));
    }
    let mut counters = Counters::default();
    let mut real = RealCounters::default();
    let mut filler = servers.memory_pressure.then(|| {
        let sizes = config.clients.value_size_bytes_min..=config.clients.value_size_bytes_max;
        background::Filler::new(filler_store, rng::stream(plan.seed, Stream::Filler, 0), sizes)
    });
    if let Some(filler) = &mut filler {
        real.memory_full = filler.fill_up(&control);
    }
    // Client processes start after the setup made the deque, before the
    // clock of the workload: each answers its `init` first.
    let mut processes = match &plan.client_command {
        Some(command) => (0..client_count)
            .map(|client| {
                let init = external_init(&control, config, client, &options(client));
                ProcessClient::start(command, init, Some(&control)).map(Some)
            })
            .collect::<Result<Vec<_>, String>>()?,
        None => Vec::new(),
    };
    processes.resize_with(client_count as usize, || None);
    let monitor_stop = AtomicBool::new(false);
    let workload_started = Instant::now();
    let control_ref = &control;
    let bank_ref = bank.as_ref();
    let mut stuck = false;
    std::thread::scope(|scope| {
        // A panic in this scope (a client thread's, re-raised by its join)
        // must stop the background threads, or the scope waits for them
        // for ever: the run would hang instead of failing.
        let _stop = StopOnUnwind(&monitor_stop, &control_ref.workload_over);
        let monitor = scope.spawn(|| background::loss_monitor(control_ref, first_readings, &monitor_stop));
        let schedule = background::schedule(control_ref, timed, &config.random_faults);
        control_ref.start_workload();
        let clock = scope.spawn(|| background::fault_clock(control_ref, schedule, &config.random_faults));
        let filler_thread = filler.as_mut().map(|f| scope.spawn(move || f.run(control_ref)));
        let (done, finished) = mpsc::channel();
        let clients: Vec<_> = stores
            .into_iter()
            .zip(processes)
            .enumerate()
            .map(|(client, (store, process))| {
                let done = done.clone();
                let deque_options = options(client as u32);
                scope.spawn(move || {
                    let store = GatedStore::new(client, store, control_ref);
                    if let Some(bank) = bank_ref {
                        let life = bank.client(client, store, control_ref, config, plan.seed);
                        let ran = client::drive(life, control_ref, client).is_some();
                        let _ = done.send(());
                        return ran;
                    }
                    if let Some(process) = process {
                        let life = workload::client_main(
                            client as u32,
                            process,
                            rng::stream(plan.seed, Stream::Workload, client as u32),
                            config.clients.clone(),
                            control_ref,
                        );
                        let ran = client::drive(life, control_ref, client).is_some();
                        let _ = done.send(());
                        return ran;
                    }
                    let deque =
                        Deque::attach(store, DEQUE_NAME, deque_options.clone()).expect("the setup created this name");
                    let life = workload::client_main(
                        client as u32,
                        workload::LibraryClient::new(deque, deque_options),
                        rng::stream(plan.seed, Stream::Workload, client as u32),
                        config.clients.clone(),
                        control_ref,
                    );
                    let ran = client::drive(life, control_ref, client).is_some();
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
                stuck = true;
                control_ref.gates.iter().for_each(|gate| gate.crash());
                break;
            }
        }
        for client in clients {
            client.join().expect("a client thread does not panic");
        }
        real.workload_ms = workload_started.elapsed().as_millis() as u64;
        control_ref.workload_over.store(true, Ordering::SeqCst);
        clock.join().expect("the fault clock does not panic");
        if let Some(thread) = filler_thread {
            thread.join().expect("the filler does not panic");
        }
        // Every client is gone: let what the links held land, then drain.
        let links = control_ref.shutdown_links();
        counters.messages_dropped = links.dropped;
        counters.messages_spiked = links.spiked;
        counters.resets = links.resets;
        counters.messages_held = links.held;
        if !stuck {
            match bank_ref {
                Some(bank) => bank.close(&setup_store, client_count + 1, plan.seed),
                None => drain(control_ref, &setup_store, client_count + 1, options(client_count + 1)),
            }
        }
        monitor_stop.store(true, Ordering::SeqCst);
        counters.items_dropped = monitor.join().expect("the monitor does not panic");
    });
    let errors = control.fault_errors();
    if !errors.is_empty() {
        return Err(format!("a fault could not be applied: {}", errors.join("; ")));
    }
    counters.faults = control.faults_fired.load(Ordering::Relaxed);
    counters.crashed_clients = control.crashes.load(Ordering::Relaxed);
    counters.recreations = control.recreations.load(Ordering::Relaxed);
    counters.requests = control.requests.load(Ordering::Relaxed);
    counters.requests_failed = control.requests_failed.load(Ordering::Relaxed);
    real.filler_sets = filler.as_ref().map_or(0, background::Filler::sets);
    real.client_processes = plan.client_command.is_some();
    counters.real = Some(real);
    let client_failures = control.client_failures();
    let end = if !client_failures.is_empty() {
        // The first in full: the rest are most often the same failure.
        let others = match client_failures.len() - 1 {
            0 => String::new(),
            more => format!(" ({more} more client process(es) failed too)"),
        };
        RunEnd::ClientFailed {
            reason: format!("{}{others}", client_failures[0]),
        }
    } else if stuck {
        RunEnd::Stuck {
            reason: format!(
                "the clients did not finish within the real backend's {} s deadline",
                WORKLOAD_DEADLINE.as_secs()
            ),
        }
    } else {
        RunEnd::Finished
    };
    if let Some(error) = bank.as_ref().and_then(RealBank::error) {
        return Err(format!("the bank workload failed: {error}"));
    }
    let mcas = bank.map(|bank| {
        let losses = bank.losses(&control);
        bank.into_run(losses, config)
    });
    Ok(Outcome {
        end,
        history: History {
            ops: control.take_ops(),
            losses: control.take_losses(),
            drain_client: mcas.is_none().then_some(client_count + 1),
        },
        workload_clients: client_count,
        trace_hash: None,
        trace: Vec::new(),
        counters,
        oracle_violations: Vec::new(),
        mcas,
    })
}

/// Stops the loss monitor and the fault clock when dropped while
/// unwinding.
struct StopOnUnwind<'a>(&'a AtomicBool, &'a AtomicBool);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
            self.1.store(true, Ordering::SeqCst);
        }
    }
}

/// What client process `client` is told first: the servers by name, its
/// own proxies to dial, and the deque options a Rust client would use.
fn external_init(
    control: &Control,
    config: &RunConfig,
    client: u32,
    options: &memcache_collections::DequeOptions,
) -> Init {
    let dial = control.client_links(client as usize);
    let servers = control
        .cluster
        .addresses()
        .iter()
        .zip(dial)
        .map(|(name, dial)| ServerLink {
            name: name.clone(),
            dial: dial.to_string(),
        })
        .collect();
    Init::new(client, servers, DEQUE_NAME, options, config.network.client_timeout_us)
}

/// Each client's store: routed by the servers' names, dialling the
/// client's own proxies, with the scenario's timeout on every exchange.
fn client_stores(
    cluster: &Cluster,
    proxies: &[Vec<LinkProxy>],
    config: &RunConfig,
) -> Result<Vec<MemcachedStore>, String> {
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
                .map_err(|e| format!("cannot connect a client through its proxies: {e}"))
        })
        .collect()
}

fn start_proxies(cluster: &Cluster, config: &RunConfig, seed: u64) -> Result<Vec<Vec<LinkProxy>>, String> {
    (0..config.clients.count)
        .map(|client| {
            cluster
                .addresses()
                .iter()
                .enumerate()
                .map(|(server, address)| {
                    let upstream: SocketAddr = address.parse().expect("LocalServer::address is a socket address");
                    LinkProxy::start(upstream, &config.network, seed, client, server as u32)
                        .map_err(|e| format!("cannot start the proxy for client {client}, server {server}: {e}"))
                })
                .collect()
        })
        .collect()
}

/// A fresh client, straight to the servers, drains the deque.
fn drain(control: &Control, store: &MemcachedStore, client: u32, options: memcache_collections::DequeOptions) {
    let Ok(mut deque) = Deque::attach(store, DEQUE_NAME, options) else {
        return;
    };
    let pushes = control
        .log
        .lock()
        .map_or(0, |log| log.ops().iter().filter(|op| op.op.is_push()).count());
    block_on(workload::setup::drain(&mut deque, pushes, client, &control.log));
}
