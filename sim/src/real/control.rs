//! The shared state of one real run: the clock, the history, the losses,
//! the per-client gates (pause, crash, request counts) and the faults armed
//! on counts (`crate::nemesis::Triggers`, the same rule as the simulator's).
//! Every thread of the run (clients, fault clock, monitor) fires faults
//! through [`Control::fire`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use memcache_collections::key::Key;
use memcache_collections::memcached::MemcachedStore;
use memcache_collections::store::{Store, block_on};
use rand_chacha::ChaCha8Rng;

use super::cluster::Cluster;
use super::proxy::{LinkProxy, LinkTotals};
use crate::config::{DEQUE_NAME, Fault, partitioned_clients};
use crate::history::{HistoryOp, Loss, LossCause, OpName, OpResult};
use crate::nemesis::{self, Holdings, Triggers};
use crate::workload::{Clock, HistoryLog, Recorder};

/// Microseconds since the run's state was made, on a monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct RealClock(Instant);

impl Clock for RealClock {
    fn now_us(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// What other threads can do to one client between its requests.
#[derive(Debug, Default)]
pub struct ClientGate {
    paused_until: Mutex<Option<Instant>>,
    crashed: AtomicBool,
    /// Data requests sent (lifetime checks excluded, as in the simulator).
    data_requests: AtomicU64,
}

impl ClientGate {
    /// Whether the client has crashed: it sends nothing more.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Crashes the client at its next request.
    pub fn crash(&self) {
        self.crashed.store(true, Ordering::SeqCst);
    }

    /// Until when a pause holds the client, if one was ever fired.
    pub fn paused_until(&self) -> Option<Instant> {
        *lock(&self.paused_until)
    }

    /// Waits out a pause; `false` once the client has crashed.
    pub fn wait(&self) -> bool {
        loop {
            if self.crashed() {
                return false;
            }
            match self
                .paused_until()
                .and_then(|until| until.checked_duration_since(Instant::now()))
            {
                Some(wait) => std::thread::sleep(wait),
                None => return true,
            }
        }
    }
}

/// One real run's shared state.
pub struct Control {
    clock: RealClock,
    pub(crate) cluster: Cluster,
    /// `[client][server]`; emptied when the links shut down.
    proxies: Mutex<Vec<Vec<LinkProxy>>>,
    pub(crate) gates: Vec<ClientGate>,
    /// For loss targets: reads the deque straight from the servers.
    admin: MemcachedStore,
    triggers: Mutex<Triggers>,
    ops_completed: AtomicU64,
    pub(crate) fault_rng: Mutex<ChaCha8Rng>,
    /// The history, on the run's clock.
    pub(crate) log: Mutex<HistoryLog<RealClock>>,
    losses: Mutex<Vec<Loss>>,
    /// Restarts and flushes: `(server, from_us, until_us)`.
    loss_windows: Mutex<Vec<(usize, u64, u64)>>,
    pub(crate) workload_over: AtomicBool,
    pub(crate) recreations: AtomicU64,
    pub(crate) faults_fired: AtomicU64,
    /// Clients a `crash` fault stopped (not those the deadline stopped).
    pub(crate) crashes: AtomicU64,
    /// Requests the clients sent, and those that got no reply.
    pub(crate) requests: AtomicU64,
    pub(crate) requests_failed: AtomicU64,
    /// Faults that could not be applied (a server that would not restart):
    /// the run then could not test what it says.
    fault_errors: Mutex<Vec<String>>,
    /// How client processes broke the protocol (`external.rs`).
    client_failures: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The servers as a loss target's chooser sees them.
struct Servers<'a> {
    cluster: &'a Cluster,
    admin: &'a MemcachedStore,
}

impl Holdings for Servers<'_> {
    fn peek(&self, key: &Key) -> Result<Option<Vec<u8>>, String> {
        block_on(self.admin.gets(key))
            .map(|item| item.map(|item| item.value))
            .map_err(|e| e.to_string())
    }

    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<Key>, String> {
        self.cluster
            .keys_with_prefix(prefix)
            .map_err(|e| format!("listing the keys (lru_crawler metadump): {e}"))
    }
}

impl Control {
    /// The run's state; `triggers` are the faults armed on counts.
    pub fn new(
        cluster: Cluster,
        proxies: Vec<Vec<LinkProxy>>,
        admin: MemcachedStore,
        triggers: Triggers,
        fault_rng: ChaCha8Rng,
    ) -> Self {
        let clock = RealClock(Instant::now());
        Control {
            clock,
            gates: proxies.iter().map(|_| ClientGate::default()).collect(),
            cluster,
            proxies: Mutex::new(proxies),
            admin,
            triggers: Mutex::new(triggers),
            ops_completed: AtomicU64::new(0),
            fault_rng: Mutex::new(fault_rng),
            log: Mutex::new(HistoryLog::new(clock)),
            losses: Mutex::new(Vec::new()),
            loss_windows: Mutex::new(Vec::new()),
            workload_over: AtomicBool::new(false),
            recreations: AtomicU64::new(0),
            faults_fired: AtomicU64::new(0),
            crashes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            requests_failed: AtomicU64::new(0),
            fault_errors: Mutex::new(Vec::new()),
            client_failures: Mutex::new(Vec::new()),
        }
    }

    /// The history's clock: monotonic microseconds since the run began.
    pub fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    /// The instant `at_us` stands for.
    pub fn instant(&self, at_us: u64) -> Instant {
        self.clock.0 + Duration::from_micros(at_us)
    }

    /// Records entries lost at `at_us` (at or before the loss itself, so
    /// the checker never counts a report of it as early).
    pub fn record_loss(&self, at_us: u64, server: usize, key: Option<String>, cause: LossCause) {
        // Real memcached is not looked inside: a stale-token CAS after a
        // restart is invisible here, so a loss may account for any value
        // pushed before the last report after it.
        lock(&self.losses).push(Loss {
            at_us,
            server: server as u32,
            key,
            cause,
            held: None,
        });
    }

    /// The history so far, in invocation order.
    pub fn take_ops(&self) -> Vec<HistoryOp> {
        std::mem::replace(&mut *lock(&self.log), HistoryLog::new(self.clock)).into_ops()
    }

    /// A workload operation returned (the deque's or the bank's): fires
    /// the faults armed on the count of returned ops.
    pub fn op_returned(&self) {
        let completed = self.ops_completed.fetch_add(1, Ordering::SeqCst) + 1;
        self.fire_op_count_triggers(completed);
    }

    /// The run's clock, for a log of its own (the bank's).
    pub fn clock(&self) -> RealClock {
        self.clock
    }

    /// Every restart and flush so far: `(server, from_us, until_us)`, the
    /// loss having happened at one instant in between.
    pub fn loss_windows(&self) -> Vec<(usize, u64, u64)> {
        lock(&self.loss_windows).clone()
    }

    /// The losses, in time order.
    pub fn take_losses(&self) -> Vec<Loss> {
        let mut losses = std::mem::take(&mut *lock(&self.losses));
        losses.sort_by_key(|loss| loss.at_us);
        losses
    }

    /// Heals every link, lets each deliver what it held, waits for its
    /// connections to close (call once the clients are gone), and sums
    /// the links' counters: after this, nothing is in flight.
    pub fn shutdown_links(&self) -> LinkTotals {
        let links = std::mem::take(&mut *lock(&self.proxies));
        let mut totals = LinkTotals::default();
        for link in links.into_iter().flatten() {
            link.heal();
            link.shutdown_and_count(&mut totals);
        }
        totals
    }

    /// Where client `client` dials each server: its proxies, in server
    /// order.
    pub fn client_links(&self, client: usize) -> Vec<std::net::SocketAddr> {
        lock(&self.proxies)
            .get(client)
            .map(|links| links.iter().map(LinkProxy::address).collect())
            .unwrap_or_default()
    }

    /// How client processes broke the protocol, in order.
    pub fn client_failures(&self) -> Vec<String> {
        lock(&self.client_failures).clone()
    }

    /// Records that a client process broke the protocol: the run ends
    /// `client-failed`.
    pub fn client_failed(&self, how: String) {
        lock(&self.client_failures).push(how);
    }

    /// Faults that could not be applied.
    pub fn fault_errors(&self) -> Vec<String> {
        lock(&self.fault_errors).clone()
    }

    /// The workload starts: faults armed on zero returned operations fire.
    pub fn start_workload(&self) {
        self.fire_op_count_triggers(0);
    }

    /// Called by client `client` before each request: fires the faults
    /// pinned to its request count, waits out a pause, and says whether the
    /// client may go on (`false`: it has crashed). `data` requests count;
    /// lifetime checks do not.
    pub fn before_request(&self, client: usize, data: bool) -> bool {
        let gate = &self.gates[client];
        if data {
            let sent = gate.data_requests.fetch_add(1, Ordering::SeqCst);
            let due = lock(&self.triggers).before_request(client, sent);
            for fault in due {
                self.fire(fault);
            }
        }
        gate.wait()
    }

    /// Whether client `client` has a fault pinned strictly inside its next
    /// `count` data requests (so a batch of them must go one by one).
    pub fn trigger_within(&self, client: usize, count: u64) -> bool {
        let sent = self.gates[client].data_requests.load(Ordering::SeqCst);
        lock(&self.triggers).pinned_within(client, sent, count)
    }

    /// Counts `count` data requests sent as one batch.
    pub fn count_requests(&self, client: usize, count: u64) {
        self.gates[client].data_requests.fetch_add(count, Ordering::SeqCst);
    }

    fn fire_op_count_triggers(&self, completed: u64) {
        let due = lock(&self.triggers).after_ops(completed);
        for fault in due {
            self.fire(fault);
        }
    }

    /// Applies a fault now, from whichever thread triggered it.
    pub fn fire(&self, fault: Fault) {
        self.faults_fired.fetch_add(1, Ordering::Relaxed);
        let failed = |what: String| lock(&self.fault_errors).push(what);
        match fault {
            Fault::Restart { server } => {
                let index = server as usize;
                let from_us = self.now_us();
                self.record_loss(from_us, index, None, LossCause::Restart);
                if let Err(error) = self.cluster.restart(index) {
                    failed(format!("restart of server {server}: {error}"));
                }
                lock(&self.loss_windows).push((index, from_us, self.now_us()));
            }
            Fault::FlushAll { server } => {
                let index = server as usize;
                let from_us = self.now_us();
                self.record_loss(from_us, index, None, LossCause::Flush);
                if let Err(error) = self.cluster.flush_all(index) {
                    failed(format!("flush_all on server {server}: {error}"));
                }
                lock(&self.loss_windows).push((index, from_us, self.now_us()));
            }
            Fault::Lose { target } => {
                let servers = Servers {
                    cluster: &self.cluster,
                    admin: &self.admin,
                };
                let chosen = nemesis::loss_target(target, DEQUE_NAME, &servers, &mut lock(&self.fault_rng));
                let key = match chosen {
                    Ok(Some(key)) => key,
                    Ok(None) => return,
                    Err(error) => return failed(format!("choosing the entry to lose: {error}")),
                };
                let at_us = self.now_us();
                match self.cluster.expire(&key) {
                    Ok((server, true)) => self.record_loss(at_us, server, Some(key.to_string()), LossCause::Injected),
                    Ok((_, false)) => {}
                    Err(error) => failed(format!("touch {key} -1: {error}")),
                }
            }
            Fault::Partition {
                server,
                clients,
                duration_us,
                mode,
            } => {
                let proxies = lock(&self.proxies);
                for client in partitioned_clients(&clients, self.gates.len()) {
                    if let Some(link) = proxies.get(client).and_then(|links| links.get(server as usize)) {
                        link.cut(Duration::from_micros(duration_us), mode);
                    }
                }
            }
            Fault::Pause { client, duration_us } => {
                let until = Instant::now() + Duration::from_micros(duration_us);
                let mut paused = lock(&self.gates[client as usize].paused_until);
                *paused = Some(paused.map_or(until, |current| current.max(until)));
            }
            Fault::Crash { client } => {
                let gate = &self.gates[client as usize];
                if !gate.crashed() {
                    self.crashes.fetch_add(1, Ordering::Relaxed);
                }
                gate.crash();
            }
        }
    }
}

/// The history a client thread records, stamped with the run's clock; an
/// op's return fires the faults armed on the count of returned ops.
impl Recorder for &Control {
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize {
        lock(&self.log).invoke(client, op, value)
    }

    fn complete(&self, index: usize, result: OpResult) {
        lock(&self.log).complete(index, result);
        self.op_returned();
    }

    fn recreated(&self) {
        self.recreations.fetch_add(1, Ordering::Relaxed);
    }
}
