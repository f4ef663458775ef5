//! The shared state of one real run: the clock, the history, the losses,
//! the per-client gates (pause, crash, request counts) and the faults armed
//! on op or request counts. Every thread of the run (clients, fault clock,
//! monitor) fires faults through [`Control::fire`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use memcache_collections::format;
use memcache_collections::key::Key;
use memcache_collections::memcached::MemcachedStore;
use memcache_collections::store::{Store, block_on};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::cluster::Cluster;
use super::proxy::{LinkProxy, LinkTotals};
use crate::history::{HistoryOp, Loss, LossCause, OpName, OpResult};
use crate::sim::DEQUE_NAME;
use crate::sim::config::{Fault, FaultSpec, LossTarget, Trigger, partitioned_clients};
use crate::workload::Recorder;

/// Nodes a random-node loss walks at most to pick its victim.
const WALK_NODES_MAX: usize = 100_000;

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
}

/// One real run's shared state.
pub struct Control {
    started: Instant,
    pub(crate) cluster: Cluster,
    /// `[client][server]`; emptied when the links shut down.
    proxies: Mutex<Vec<Vec<LinkProxy>>>,
    pub(crate) gates: Vec<ClientGate>,
    /// For loss targets: reads the deque straight from the servers.
    admin: MemcachedStore,
    armed: Mutex<Vec<FaultSpec>>,
    ops_completed: AtomicU64,
    pub(crate) fault_rng: Mutex<ChaCha8Rng>,
    history: Mutex<Vec<HistoryOp>>,
    losses: Mutex<Vec<Loss>>,
    pub(crate) workload_over: AtomicBool,
    pub(crate) recreations: AtomicU64,
    pub(crate) faults_fired: AtomicU64,
    /// Faults that could not be applied (a server that would not restart):
    /// the run is then a harness failure, not a verdict.
    fault_errors: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Control {
    /// The run's state; `armed` are the faults triggered by counts.
    pub fn new(
        cluster: Cluster,
        proxies: Vec<Vec<LinkProxy>>,
        admin: MemcachedStore,
        armed: Vec<FaultSpec>,
        fault_rng: ChaCha8Rng,
    ) -> Self {
        Control {
            started: Instant::now(),
            gates: proxies.iter().map(|_| ClientGate::default()).collect(),
            cluster,
            proxies: Mutex::new(proxies),
            admin,
            armed: Mutex::new(armed),
            ops_completed: AtomicU64::new(0),
            fault_rng: Mutex::new(fault_rng),
            history: Mutex::new(Vec::new()),
            losses: Mutex::new(Vec::new()),
            workload_over: AtomicBool::new(false),
            recreations: AtomicU64::new(0),
            faults_fired: AtomicU64::new(0),
            fault_errors: Mutex::new(Vec::new()),
        }
    }

    /// Monotonic microseconds since the run's state was made: the
    /// history's clock.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// The instant `at_us` stands for.
    pub fn instant(&self, at_us: u64) -> Instant {
        self.started + Duration::from_micros(at_us)
    }

    /// Appends a finished operation (setup and drain, which run alone).
    pub fn record(&self, op: HistoryOp) {
        lock(&self.history).push(op);
    }

    /// Records entries lost at `at_us` (at or before the loss itself, so
    /// the checker never counts a report of it as early).
    pub fn record_loss(&self, at_us: u64, server: usize, key: Option<String>, cause: LossCause) {
        lock(&self.losses).push(Loss {
            at_us,
            server: server as u32,
            key,
            cause,
        });
    }

    /// The history and losses, in time order.
    pub fn take_history(&self) -> (Vec<HistoryOp>, Vec<Loss>) {
        let mut ops = std::mem::take(&mut *lock(&self.history));
        ops.sort_by_key(|op| op.invoke_us);
        let mut losses = std::mem::take(&mut *lock(&self.losses));
        losses.sort_by_key(|loss| loss.at_us);
        (ops, losses)
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

    /// Faults that could not be applied.
    pub fn fault_errors(&self) -> Vec<String> {
        lock(&self.fault_errors).clone()
    }

    /// Called by client `client` before each request: fires the faults
    /// pinned to its request count, waits out a pause, and says whether the
    /// client may go on (`false`: it has crashed). `data` requests count;
    /// lifetime checks do not.
    pub fn before_request(&self, client: usize, data: bool) -> bool {
        let gate = &self.gates[client];
        if data {
            let sent = gate.data_requests.fetch_add(1, Ordering::SeqCst);
            let due = self.take_armed(|trigger| {
                matches!(trigger, Trigger::AfterClientRequests { client: c, requests }
                    if c as usize == client && requests == sent)
            });
            for fault in due {
                self.fire(fault);
            }
        }
        loop {
            if gate.crashed() {
                return false;
            }
            let until = *lock(&gate.paused_until);
            match until.and_then(|until| until.checked_duration_since(Instant::now())) {
                Some(wait) => std::thread::sleep(wait),
                None => return true,
            }
        }
    }

    /// Whether client `client` has a fault pinned strictly inside its next
    /// `count` data requests (so a batch of them must go one by one).
    pub fn trigger_within(&self, client: usize, count: u64) -> bool {
        let sent = self.gates[client].data_requests.load(Ordering::SeqCst);
        lock(&self.armed).iter().any(|spec| {
            matches!(spec.trigger, Trigger::AfterClientRequests { client: c, requests }
                if c as usize == client && requests > sent && requests < sent + count)
        })
    }

    /// Counts `count` data requests sent as one batch.
    pub fn count_requests(&self, client: usize, count: u64) {
        self.gates[client].data_requests.fetch_add(count, Ordering::SeqCst);
    }

    fn take_armed(&self, due: impl Fn(Trigger) -> bool) -> Vec<Fault> {
        let mut armed = lock(&self.armed);
        let mut fired = Vec::new();
        armed.retain(|spec| {
            let fire = due(spec.trigger);
            if fire {
                fired.push(spec.fault.clone());
            }
            !fire
        });
        fired
    }

    /// Applies a fault now, from whichever thread triggered it.
    pub fn fire(&self, fault: Fault) {
        self.faults_fired.fetch_add(1, Ordering::Relaxed);
        let failed = |what: String| lock(&self.fault_errors).push(what);
        match fault {
            Fault::Restart { server } => {
                let index = server as usize;
                self.record_loss(self.now_us(), index, None, LossCause::Restart);
                if let Err(error) = self.cluster.restart(index) {
                    failed(format!("restart of server {server}: {error}"));
                }
            }
            Fault::FlushAll { server } => {
                let index = server as usize;
                self.record_loss(self.now_us(), index, None, LossCause::Flush);
                if let Err(error) = self.cluster.flush_all(index) {
                    failed(format!("flush_all on server {server}: {error}"));
                }
            }
            Fault::Lose { target } => {
                let Some(key) = self.loss_target(target) else { return };
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
            Fault::Crash { client } => self.gates[client as usize].crash(),
        }
    }

    /// The key a targeted loss destroys, read from the servers directly.
    fn loss_target(&self, target: LossTarget) -> Option<Key> {
        let anchor_key = Key::new(DEQUE_NAME).expect("a valid name");
        match target {
            LossTarget::Anchor => Some(anchor_key),
            LossTarget::NodeAt { position } => {
                let nodes = self.walk(&anchor_key, position as usize + 1);
                nodes.into_iter().nth(position as usize)
            }
            LossTarget::RandomNode => {
                let mut nodes = self.walk(&anchor_key, WALK_NODES_MAX);
                if nodes.is_empty() {
                    return None;
                }
                let pick = lock(&self.fault_rng).random_range(0..nodes.len());
                Some(nodes.swap_remove(pick))
            }
        }
    }

    /// Node keys from the left end, following `next` links, at most
    /// `limit`. A random-node loss picks among the linked nodes only (the
    /// simulator also sees unlinked ones; memcached cannot list keys).
    fn walk(&self, anchor_key: &Key, limit: usize) -> Vec<Key> {
        let read = |key: &Key| block_on(self.admin.gets(key)).ok().flatten().map(|item| item.value);
        let mut keys = Vec::new();
        let Some(anchor) = read(anchor_key).and_then(|bytes| format::decode_anchor(&bytes).ok()) else {
            return keys;
        };
        let mut next = anchor.left;
        while let Some(id) = next
            && keys.len() < limit
        {
            let key = Key::new(format!("{DEQUE_NAME}:{id}")).expect("node keys of a valid name are valid");
            next = read(&key)
                .and_then(|bytes| format::decode_node(&bytes).ok())
                .and_then(|node| node.next);
            keys.push(key);
        }
        keys
    }
}

/// The history a client thread records, stamped with the run's clock; an
/// op's completion fires the faults pinned to the op count.
impl Recorder for &Control {
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize {
        let mut history = lock(&self.history);
        history.push(HistoryOp {
            client,
            op,
            value,
            invoke_us: self.now_us(),
            return_us: None,
            result: OpResult::Unknown,
        });
        history.len() - 1
    }

    fn complete(&self, index: usize, result: OpResult) {
        {
            let mut history = lock(&self.history);
            history[index].return_us = Some(self.now_us());
            history[index].result = result;
        }
        let completed = self.ops_completed.fetch_add(1, Ordering::SeqCst) + 1;
        for fault in self.take_armed(|trigger| matches!(trigger, Trigger::AfterOps { ops } if ops == completed)) {
            self.fire(fault);
        }
    }

    fn recreated(&self) {
        self.recreations.fetch_add(1, Ordering::Relaxed);
    }
}
