//! What a simulated client runs on: a `Store` whose every call parks the
//! client until the world delivers a reply (or a timeout), and the shared
//! block where the history is recorded in virtual time (the harness's one
//! `HistoryLog`, on a clock the world moves). The workload loop itself is
//! `crate::workload`, shared with the real backend.
//!
//! Clients and world share one single-threaded `Shared` block: the client
//! leaves its outgoing request in its slot and returns `Pending`; the world
//! takes it, simulates the network and the server, puts the outcome in the
//! slot and polls the client again. No threads, no wakers: the world knows
//! exactly when each client can make progress.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use memcache_collections::key::Key;
use memcache_collections::routing::KetamaRing;
use memcache_collections::store::{Command, Reply, Store, StoreError, call_one_by_one};
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;

use crate::history::{OpName, OpResult};
use crate::workload::{Clock, HistoryLog, Recorder};

/// What a parked client is waiting for.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A memcached request.
    Request(Command),
    /// Think time before the next operation.
    Sleep(u64),
}

/// What the world hands back to a parked client.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The reply, or the timeout.
    Reply(Result<Reply, StoreError>),
    /// The sleep is over.
    Woken,
}

/// One client's mailbox.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) outgoing: Option<Outgoing>,
    pub(crate) incoming: Option<Incoming>,
}

/// Virtual time, as the world last set it.
#[derive(Debug, Clone, Default)]
pub(crate) struct VirtualClock(pub(crate) Rc<Cell<u64>>);

impl Clock for VirtualClock {
    fn now_us(&self) -> u64 {
        self.0.get()
    }
}

/// State shared by the world and every client future.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) now_us: VirtualClock,
    pub(crate) slots: RefCell<Vec<Slot>>,
    pub(crate) log: RefCell<HistoryLog<VirtualClock>>,
    pub(crate) ops_completed: Cell<u64>,
    /// Deques created again by clients after an anchor loss.
    pub(crate) recreations: Cell<u64>,
}

impl Shared {
    pub(crate) fn new(clients: usize) -> Self {
        let now_us = VirtualClock::default();
        let mut slots = Vec::new();
        slots.resize_with(clients, Slot::default);
        Shared {
            log: RefCell::new(HistoryLog::new(now_us.clone())),
            now_us,
            slots: RefCell::new(slots),
            ops_completed: Cell::new(0),
            recreations: Cell::new(0),
        }
    }
}

impl Recorder for Rc<Shared> {
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize {
        self.log.borrow_mut().invoke(client, op, value)
    }

    fn complete(&self, index: usize, result: OpResult) {
        self.log.borrow_mut().complete(index, result);
        self.ops_completed.set(self.ops_completed.get() + 1);
    }

    fn recreated(&self) {
        self.recreations.set(self.recreations.get() + 1);
    }
}

/// The `Store` of one simulated client.
#[derive(Debug, Clone)]
pub(crate) struct SimStore {
    client: usize,
    shared: Rc<Shared>,
    /// The world's routing, so the client knows which keys share a server
    /// (and batches them as a real client would).
    ring: Rc<KetamaRing>,
    /// Draws the order a batch's per-server parts go out in.
    batch_rng: Rc<RefCell<ChaCha8Rng>>,
}

impl SimStore {
    /// Client `client`'s store; `batch_rng` is its `Stream::Batches`
    /// sub-stream.
    pub(crate) fn new(client: usize, shared: Rc<Shared>, ring: Rc<KetamaRing>, batch_rng: ChaCha8Rng) -> Self {
        SimStore {
            client,
            shared,
            ring,
            batch_rng: Rc::new(RefCell::new(batch_rng)),
        }
    }
}

/// Parks the client until the world answers.
struct Park {
    client: usize,
    shared: Rc<Shared>,
    outgoing: Option<Outgoing>,
}

impl Future for Park {
    type Output = Incoming;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Incoming> {
        let this = &mut *self;
        let mut slots = this.shared.slots.borrow_mut();
        if let Some(outgoing) = this.outgoing.take() {
            slots[this.client].outgoing = Some(outgoing);
            return Poll::Pending;
        }
        match slots[this.client].incoming.take() {
            Some(incoming) => Poll::Ready(incoming),
            None => Poll::Pending,
        }
    }
}

impl Store for SimStore {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        let park = Park {
            client: self.client,
            shared: self.shared.clone(),
            outgoing: Some(Outgoing::Request(command)),
        };
        match park.await {
            Incoming::Reply(result) => result,
            Incoming::Woken => unreachable!("the world wakes only sleeping clients"),
        }
    }

    /// A batch as the real client sends it: one pipeline per server. Each
    /// server's part keeps its order and stops at its own first transport
    /// failure (a broken connection); the parts are independent, so a
    /// batch over two servers can be applied in either order, or only in
    /// part. The order of the parts is drawn per batch; within a part the
    /// commands go one after another, which allows every interleaving a
    /// pipeline on one connection allows.
    async fn call_batch(&self, commands: Vec<Command>) -> Vec<Result<Reply, StoreError>> {
        let mut parts: Vec<(u32, Vec<usize>)> = Vec::new();
        for (i, command) in commands.iter().enumerate() {
            let server = self.ring.server_for(command.key().as_bytes()) as u32;
            match parts.iter_mut().find(|(s, _)| *s == server) {
                Some((_, indices)) => indices.push(i),
                None => parts.push((server, vec![i])),
            }
        }
        if parts.len() > 1 {
            let mut rng = self.batch_rng.borrow_mut();
            // Fisher-Yates over the parts.
            for i in (1..parts.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                parts.swap(i, j);
            }
        }
        let mut results: Vec<Option<Result<Reply, StoreError>>> = (0..commands.len()).map(|_| None).collect();
        for (_, indices) in parts {
            let part: Vec<Command> = indices.iter().map(|&i| commands[i].clone()).collect();
            let answers = call_one_by_one(self, part).await;
            for (i, answer) in indices.into_iter().zip(answers) {
                results[i] = Some(answer);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every command is in one part"))
            .collect()
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.ring.server_for(a.as_bytes()) == self.ring.server_for(b.as_bytes())
    }

    fn server_name(&self, key: &Key) -> String {
        format!("simulated server {}", self.ring.server_for(key.as_bytes()))
    }

    /// Sleeps in virtual time, like think time.
    async fn pause(&self, duration: std::time::Duration) {
        let duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        if duration_us > 0 {
            let park = Park {
                client: self.client,
                shared: self.shared.clone(),
                outgoing: Some(Outgoing::Sleep(duration_us)),
            };
            match park.await {
                Incoming::Woken => {}
                Incoming::Reply(_) => unreachable!("the world answers only clients with a request out"),
            }
        }
    }
}
