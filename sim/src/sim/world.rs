//! The discrete-event world: virtual time, an event queue ordered by (time,
//! sequence number), simulated servers on the shared semantics core, the
//! network, the clients' futures, and the faults. `run` is a pure function of
//! (configuration, seed).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use memcache_collections::format;
use memcache_collections::key::Key;
use memcache_collections::memcore::{CoreConfig, LossReason, ServerCore};
use memcache_collections::routing::{KetamaRing, ServerSpec};
use memcache_collections::store::{Command, Reply, StoreError};
use memcache_collections::{Deque, DequeOptions, Variant};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::client::{Incoming, Outgoing, Shared, SimStore, Slot};
use super::config::{Fault, FaultSpec, LossTarget, SimConfig, Trigger};
use super::direct::DirectStore;
use super::fault_draw::RandomKind;
use super::network::{Direction, Fate, Network};
use super::rng::{self, Stream};
use super::trace::{Parties, Trace, TraceKind, TraceRecord};
use crate::history::{History, HistoryOp, Loss, LossCause, OpName, OpResult};
use crate::workload;

/// The deque every simulated client shares.
pub const DEQUE_NAME: &str = "simdeque";

/// Events processed before a run is declared stuck.
const EVENTS_MAX: u64 = 200_000_000;

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The variant name is not in the catalogue.
    #[error("unknown variant {0:?} (see `mcsim list`)")]
    UnknownVariant(String),
    /// The configuration cannot describe a run.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Creating or pre-filling the deque failed, before any fault.
    #[error("setting up the deque failed: {0}")]
    Setup(String),
}

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunStats {
    /// Requests sent by clients.
    pub requests: u64,
    /// Messages lost (flaky link, cut link, reset by a restart).
    pub messages_dropped: u64,
    /// Requests whose client gave up waiting.
    pub timeouts: u64,
    /// Messages lost to a connection reset (counted in `messages_dropped`
    /// too).
    pub resets: u64,
    /// Replies that arrived after their client gave up.
    pub stale_replies: u64,
    /// Items evicted by memory pressure.
    pub evictions: u64,
    /// Faults that fired.
    pub faults: u64,
    /// Events processed.
    pub events: u64,
    /// Virtual time at the end of the workload.
    pub virtual_time_us: u64,
    /// True if the event budget ran out before the clients finished.
    pub stuck: bool,
    /// Deques clients created again after an anchor loss.
    pub recreations: u64,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The seed it ran with.
    pub seed: u64,
    /// The client-boundary history, drain included.
    pub history: History,
    /// Summary of the whole trace.
    pub trace_hash: u64,
    /// The trace, if the configuration kept it.
    pub trace: Vec<TraceRecord>,
    /// Counters.
    pub stats: RunStats,
}

/// A simulated memcached process: the semantics core plus an epoch that a
/// restart bumps, so messages on connections from before it are reset.
#[derive(Debug)]
pub(crate) struct SimServer {
    pub(crate) core: ServerCore,
    pub(crate) epoch: u32,
}

#[derive(Debug)]
enum Event {
    Arrive {
        client: usize,
        server: usize,
        request: u64,
        epoch: u32,
        command: Command,
    },
    Reply {
        client: usize,
        server: usize,
        request: u64,
        epoch: u32,
        reply: Reply,
    },
    Timeout {
        client: usize,
    },
    /// The connection carrying `request` was reset.
    Reset {
        client: usize,
        request: u64,
    },
    Wake {
        client: usize,
    },
    Resume {
        client: usize,
    },
    Fault(Fault),
    RandomFault(RandomKind),
    Heal {
        server: usize,
        clients: Vec<usize>,
    },
}

/// A queue entry: small, so heap sifts move 24 bytes; the event itself
/// waits in the slab.
struct Scheduled {
    at_us: u64,
    seq: u64,
    slot: usize,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.seq) == (other.at_us, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Earliest first in a max-heap; ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_us, other.seq).cmp(&(self.at_us, self.seq))
    }
}

struct Awaiting {
    request: u64,
    deadline_us: u64,
    is_read: bool,
    command: &'static str,
    key: Key,
}

#[derive(Default)]
struct ClientState {
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    awaiting: Option<Awaiting>,
    requests_sent: u64,
    /// Whether a timeout event for this client is queued. One per client,
    /// re-armed for the current request's deadline when it fires early:
    /// far fewer events than one per request.
    timer_queued: bool,
    paused: bool,
    poll_deferred: bool,
    finished: bool,
    /// History index of the op in progress.
    op_index: Option<usize>,
}

struct World {
    config: SimConfig,
    now_us: u64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    /// Events by slot; freed slots are reused.
    events: Vec<Option<Event>>,
    free_slots: Vec<usize>,
    servers: Vec<SimServer>,
    ring: KetamaRing,
    network: Network,
    fault_rng: ChaCha8Rng,
    shared: Rc<Shared>,
    clients: Vec<ClientState>,
    history_cursor: usize,
    held: Vec<(usize, usize, Event)>,
    /// Faults with op- or request-count triggers, not yet fired.
    armed: Vec<FaultSpec>,
    workload_over: bool,
    next_request: u64,
    trace: Trace,
    losses: Vec<Loss>,
    stats: RunStats,
}

/// Runs one simulation.
pub fn run(config: &SimConfig, seed: u64) -> Result<RunOutcome, SimError> {
    let variant =
        Variant::from_name(&config.variant).ok_or_else(|| SimError::UnknownVariant(config.variant.clone()))?;
    if config.servers.count == 0 {
        return Err(SimError::InvalidConfig("servers.count must be at least 1".into()));
    }
    let client_count = config.clients.count as usize;
    let specs: Vec<ServerSpec> = (0..config.servers.count)
        .map(|i| ServerSpec::new("sim", 11211 + i as u16))
        .collect();
    let core_config = CoreConfig {
        item_size_max: config.servers.item_size_max_bytes,
        memory_limit_bytes: config.servers.memory_limit_bytes,
        evictions: config.servers.evictions,
    };
    let shared = Rc::new(Shared::default());
    shared.slots.borrow_mut().resize_with(client_count, Slot::default);
    let mut world = World {
        config: config.clone(),
        now_us: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: Vec::new(),
        free_slots: Vec::new(),
        servers: (0..specs.len())
            .map(|_| SimServer {
                core: ServerCore::new(core_config),
                epoch: 0,
            })
            .collect(),
        ring: KetamaRing::new(&specs),
        network: Network::new(
            config.network.clone(),
            rng::stream(seed, Stream::Network, 0),
            client_count,
            specs.len(),
        ),
        fault_rng: rng::stream(seed, Stream::Faults, 0),
        shared: shared.clone(),
        clients: (0..client_count).map(|_| ClientState::default()).collect(),
        history_cursor: 0,
        held: Vec::new(),
        armed: Vec::new(),
        workload_over: false,
        next_request: 0,
        trace: Trace::new(config.keep_trace),
        losses: Vec::new(),
        stats: RunStats::default(),
    };
    let options = |client: u32| workload::deque_options(config, variant, seed, client);
    world.setup(options(config.clients.count))?;
    let ring = Rc::new(world.ring.clone());
    for client in 0..client_count {
        let deque = Deque::attach(
            SimStore::new(client, shared.clone(), ring.clone()),
            DEQUE_NAME,
            options(client as u32),
        )
        .map_err(|e| SimError::Setup(e.to_string()))?;
        let workload = rng::stream(seed, Stream::Workload, client as u32);
        let future = workload::client_main(
            client as u32,
            deque,
            workload,
            config.clients.clone(),
            options(client as u32),
            shared.clone(),
        );
        world.clients[client].future = Some(Box::pin(future));
    }
    world.schedule_faults();
    for client in 0..client_count {
        world.poll_client(client);
    }
    world.run_events();
    world.stats.virtual_time_us = world.now_us;
    world.stats.recreations = shared.recreations.get();
    if config.drain && !world.stats.stuck {
        world.drain(options(config.clients.count + 1));
    }
    let mut history = History {
        ops: shared.history.take(),
        losses: world.losses,
        drain_client: config.drain.then_some(config.clients.count + 1),
    };
    history.ops.sort_by_key(|op| op.invoke_us);
    Ok(RunOutcome {
        seed,
        history,
        trace_hash: world.trace.hash(),
        trace: world.trace.into_records(),
        stats: world.stats,
    })
}

impl World {
    fn schedule(&mut self, after_us: u64, event: Event) {
        self.seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.events[slot] = Some(event);
                slot
            }
            None => {
                self.events.push(Some(event));
                self.events.len() - 1
            }
        };
        self.queue.push(Scheduled {
            at_us: self.now_us + after_us,
            seq: self.seq,
            slot,
        });
    }

    /// Creates the deque and pushes the prefill directly on the servers (no
    /// network, no faults); prefill pushes enter the history as one
    /// pseudo-client's completed operations at time 0.
    fn setup(&mut self, options: DequeOptions) -> Result<(), SimError> {
        let prefill_client = self.config.clients.count;
        let prefill_items = self.config.clients.prefill_items;
        let size_bytes = self.config.clients.value_size_bytes_min;
        let direct = DirectStore::new(&mut self.servers, &self.ring);
        let mut deque = memcache_collections::store::block_on(Deque::create(&direct, Some(DEQUE_NAME), options))
            .map_err(|e| SimError::Setup(e.to_string()))?;
        let mut history = self.shared.history.borrow_mut();
        for i in 0..prefill_items {
            let id = format!("p.{i}");
            memcache_collections::store::block_on(deque.push_back(workload::value_bytes(&id, size_bytes)))
                .map_err(|e| SimError::Setup(e.to_string()))?;
            // Prefill pushes are sequential: each its own instant, before
            // the workload starts.
            history.push(HistoryOp {
                client: prefill_client,
                op: OpName::PushBack,
                value: Some(id),
                invoke_us: 2 * i,
                return_us: Some(2 * i + 1),
                result: OpResult::Ok,
            });
        }
        self.history_cursor = history.len();
        self.now_us = 2 * prefill_items + 1;
        self.shared.now_us.set(self.now_us);
        Ok(())
    }

    fn schedule_faults(&mut self) {
        for spec in self.config.faults.clone() {
            match spec.trigger {
                Trigger::AtUs { at_us } => self.schedule(at_us, Event::Fault(spec.fault)),
                Trigger::AfterOps { .. } | Trigger::AfterClientRequests { .. } => self.armed.push(spec),
            }
        }
        for kind in RandomKind::ALL {
            self.schedule_random(kind);
        }
    }

    fn random_rate(&self, kind: RandomKind) -> f64 {
        kind.rate_per_s(&self.config.random_faults)
    }

    fn schedule_random(&mut self, kind: RandomKind) {
        let rate = self.random_rate(kind);
        if rate > 0.0 && !self.workload_over {
            let after_us = rng::sample_interval_us(&mut self.fault_rng, rate);
            self.schedule(after_us, Event::RandomFault(kind));
        }
    }

    fn run_events(&mut self) {
        while let Some(Scheduled { at_us, slot, .. }) = self.queue.pop() {
            let event = self.events[slot].take().expect("a queued slot holds its event");
            self.free_slots.push(slot);
            self.now_us = at_us;
            self.shared.now_us.set(at_us);
            self.stats.events += 1;
            if self.stats.events > EVENTS_MAX {
                self.stats.stuck = true;
                return;
            }
            self.handle(event);
            if !self.workload_over && self.clients.iter().all(|c| c.finished) {
                // No new random faults; in-flight messages still land (a
                // late write can change the deque before the drain).
                self.workload_over = true;
                self.stats.virtual_time_us = self.now_us;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrive {
                client,
                server,
                request,
                epoch,
                command,
            } => self.arrive(client, server, request, epoch, command),
            Event::Reply {
                client,
                server,
                request,
                epoch,
                reply,
            } => self.reply(client, server, request, epoch, reply),
            Event::Timeout { client } => self.timeout(client),
            Event::Reset { client, request } => self.reset(client, request),
            Event::Wake { client } => self.deliver(client, Incoming::Woken),
            Event::Resume { client } => {
                self.clients[client].paused = false;
                if std::mem::take(&mut self.clients[client].poll_deferred) {
                    self.poll_client(client);
                }
            }
            Event::Fault(fault) => self.fire(fault),
            Event::RandomFault(kind) => {
                if !self.workload_over {
                    let fault = self.draw_random_fault(kind);
                    self.fire(fault);
                    self.schedule_random(kind);
                }
            }
            Event::Heal { server, clients } => self.heal(server, &clients),
        }
    }

    /// Polls a client's future until it parks again, then sends whatever it
    /// parked on.
    fn poll_client(&mut self, client: usize) {
        if self.clients[client].paused {
            self.clients[client].poll_deferred = true;
            return;
        }
        let Some(future) = self.clients[client].future.as_mut() else {
            return;
        };
        let mut context = Context::from_waker(Waker::noop());
        if let Poll::Ready(()) = future.as_mut().poll(&mut context) {
            self.clients[client].future = None;
            self.clients[client].finished = true;
        }
        self.trace_ops(client);
        self.fire_op_count_triggers();
        let outgoing = self.shared.slots.borrow_mut()[client].outgoing.take();
        match outgoing {
            Some(Outgoing::Request(command)) => self.send(client, command),
            Some(Outgoing::Sleep(duration_us)) => self.schedule(duration_us, Event::Wake { client }),
            None => {}
        }
    }

    /// Notes op invocations and returns that the last poll produced.
    fn trace_ops(&mut self, client: usize) {
        // A second handle on the shared block, so the history can be read
        // while the trace is written: no op is copied on this hot path.
        let shared = Rc::clone(&self.shared);
        let history = shared.history.borrow();
        let mut noted = Vec::new();
        if let Some(index) = self.clients[client].op_index
            && history[index].return_us.is_some()
        {
            noted.push((TraceKind::Return, index));
            self.clients[client].op_index = None;
        }
        for index in self.history_cursor..history.len() {
            noted.push((TraceKind::Invoke, index));
            match history[index].return_us {
                Some(_) => noted.push((TraceKind::Return, index)),
                None => self.clients[client].op_index = Some(index),
            }
        }
        self.history_cursor = history.len();
        for (kind, index) in noted {
            let op = &history[index];
            let detail = || match kind {
                TraceKind::Invoke => format!("{} {}", op.op.as_str(), op.value.as_deref().unwrap_or("")),
                _ => format!("{} -> {:?}", op.op.as_str(), op.result),
            };
            self.trace.note(
                self.now_us,
                kind,
                Parties::client(op.client),
                &[],
                op.op.as_str().as_bytes(),
                detail,
            );
        }
    }

    fn send(&mut self, client: usize, command: Command) {
        // Request triggers count the deque's data requests only: a lifetime
        // check (`stats`, hardened handles) is invisible to them, so a
        // trigger pins the same algorithm step on every variant.
        let counted = !matches!(command, Command::Lifetime { .. });
        if counted {
            self.fire_request_triggers(client);
        }
        if self.clients[client].finished {
            return;
        }
        let server = self.ring.server_for(command.key().as_bytes());
        let request = self.next_request;
        self.next_request += 1;
        self.stats.requests += 1;
        let state = &mut self.clients[client];
        state.requests_sent += u64::from(counted);
        state.awaiting = Some(Awaiting {
            request,
            deadline_us: self.now_us + self.network.timeout_us(),
            is_read: !command.has_side_effect(),
            command: command.name(),
            key: command.key().clone(),
        });
        self.trace.note(
            self.now_us,
            TraceKind::Send,
            Parties::link(client, server),
            &[request],
            command.key().as_bytes(),
            || format!("#{request} {} {}", command.name(), command.key()),
        );
        if !self.clients[client].timer_queued {
            self.clients[client].timer_queued = true;
            let timeout_us = self.network.timeout_us();
            self.schedule(timeout_us, Event::Timeout { client });
        }
        let epoch = self.servers[server].epoch;
        let event = Event::Arrive {
            client,
            server,
            request,
            epoch,
            command,
        };
        self.transmit(client, server, Direction::Request, event);
    }

    /// Sends a message over the client-server link: it arrives, is lost, or
    /// waits for a partition to heal.
    fn transmit(&mut self, client: usize, server: usize, direction: Direction, event: Event) {
        match self.network.fate(client, server, direction) {
            Fate::Arrives { after_us } => self.schedule(after_us, event),
            Fate::Dropped | Fate::Cut => self.lose_message(client, server, &[], || format!("{direction:?} lost")),
            Fate::Reset { after_us } => {
                self.stats.resets += 1;
                let request = match &event {
                    Event::Arrive { request, .. } | Event::Reply { request, .. } => *request,
                    _ => unreachable!("only requests and replies cross a link"),
                };
                self.lose_message(client, server, &[request], || {
                    format!("#{request} {direction:?} lost: connection reset")
                });
                self.schedule(after_us, Event::Reset { client, request });
            }
            Fate::Held => {
                self.trace.note(
                    self.now_us,
                    TraceKind::Hold,
                    Parties::link(client, server),
                    &[],
                    &[],
                    || format!("{direction:?} held by partition"),
                );
                self.held.push((client, server, event));
            }
        }
    }

    /// Whether a message sent in `epoch` died with its connection because
    /// the server restarted since; if so it is counted and traced.
    fn reset_by_restart(&mut self, client: usize, server: usize, request: u64, epoch: u32, what: &str) -> bool {
        if self.servers[server].epoch == epoch {
            return false;
        }
        self.lose_message(client, server, &[request], || {
            format!("#{request} {what} reset: the server restarted")
        });
        true
    }

    /// Counts and traces a message lost on the link between `client` and
    /// `server` (`tags`: its request number, when known).
    fn lose_message(&mut self, client: usize, server: usize, tags: &[u64], detail: impl FnOnce() -> String) {
        self.stats.messages_dropped += 1;
        self.trace.note(
            self.now_us,
            TraceKind::Drop,
            Parties::link(client, server),
            tags,
            &[],
            detail,
        );
    }

    fn arrive(&mut self, client: usize, server: usize, request: u64, epoch: u32, command: Command) {
        if self.reset_by_restart(client, server, request, epoch, "request") {
            return;
        }
        let reply = self.servers[server].core.apply(&command);
        for (key, why) in self.servers[server].core.take_lost() {
            self.record_loss(server as u32, key, why);
        }
        let reply_tag = reply_fields(&reply);
        self.trace.note(
            self.now_us,
            TraceKind::Apply,
            Parties::link(client, server),
            &[request, reply_tag.0, reply_tag.1],
            command.key().as_bytes(),
            || {
                format!(
                    "#{request} {} {} -> {}",
                    command.name(),
                    command.key(),
                    describe(&reply)
                )
            },
        );
        let event = Event::Reply {
            client,
            server,
            request,
            epoch,
            reply,
        };
        self.transmit(client, server, Direction::Reply, event);
    }

    fn reply(&mut self, client: usize, server: usize, request: u64, epoch: u32, reply: Reply) {
        if self.reset_by_restart(client, server, request, epoch, "reply") {
            return;
        }
        let waiting = self.clients[client]
            .awaiting
            .as_ref()
            .is_some_and(|a| a.request == request);
        if !waiting {
            self.stats.stale_replies += 1;
            self.trace.note(
                self.now_us,
                TraceKind::StaleReply,
                Parties::link(client, server),
                &[request],
                &[],
                || format!("#{request} arrived after its timeout"),
            );
            return;
        }
        self.clients[client].awaiting = None;
        self.trace.note(
            self.now_us,
            TraceKind::Reply,
            Parties::link(client, server),
            &[request],
            &[],
            || format!("#{request} {}", describe(&reply)),
        );
        self.deliver(client, Incoming::Reply(Ok(reply)));
    }

    /// The client's timer fired: time out the request it waits for if that
    /// request's deadline has passed, else re-arm for the deadline.
    fn timeout(&mut self, client: usize) {
        self.clients[client].timer_queued = false;
        let deadline_us = match &self.clients[client].awaiting {
            Some(awaiting) => awaiting.deadline_us,
            None => return,
        };
        if deadline_us > self.now_us {
            self.clients[client].timer_queued = true;
            self.schedule(deadline_us - self.now_us, Event::Timeout { client });
            return;
        }
        let detail = format!("no reply within {} us", self.network.timeout_us());
        self.stats.timeouts += 1;
        self.give_up(client, detail);
    }

    /// The connection under `request` was reset: its client fails it now,
    /// if it is still waiting for it.
    fn reset(&mut self, client: usize, request: u64) {
        if self.clients[client]
            .awaiting
            .as_ref()
            .is_some_and(|a| a.request == request)
        {
            self.give_up(client, "connection reset".to_owned());
        }
    }

    /// Fails the request `client` awaits: a read had no effect; a write
    /// may or may not have.
    fn give_up(&mut self, client: usize, detail: String) {
        let awaiting = self.clients[client].awaiting.take().expect("the client awaits a reply");
        let request = awaiting.request;
        self.trace.note(
            self.now_us,
            TraceKind::Timeout,
            Parties::client(client as u32),
            &[request],
            &[],
            || format!("#{request} {}", detail),
        );
        let error = if awaiting.is_read {
            StoreError::NotApplied {
                command: awaiting.command,
                key: awaiting.key,
                detail,
            }
        } else {
            StoreError::OutcomeUnknown {
                command: awaiting.command,
                key: awaiting.key,
                detail,
            }
        };
        self.deliver(client, Incoming::Reply(Err(error)));
    }

    fn deliver(&mut self, client: usize, incoming: Incoming) {
        if self.clients[client].finished {
            return;
        }
        self.shared.slots.borrow_mut()[client].incoming = Some(incoming);
        self.poll_client(client);
    }

    fn fire_op_count_triggers(&mut self) {
        let completed = self.shared.ops_completed.get();
        let due: Vec<FaultSpec> = extract(
            &mut self.armed,
            |spec| matches!(spec.trigger, Trigger::AfterOps { ops } if completed >= ops),
        );
        for spec in due {
            self.fire(spec.fault);
        }
    }

    fn fire_request_triggers(&mut self, client: usize) {
        let sent = self.clients[client].requests_sent;
        let due: Vec<FaultSpec> = extract(
            &mut self.armed,
            |spec| matches!(spec.trigger, Trigger::AfterClientRequests { client: c, requests } if c as usize == client && requests == sent),
        );
        for spec in due {
            self.fire(spec.fault);
        }
    }

    fn fire(&mut self, fault: Fault) {
        self.stats.faults += 1;
        self.trace.note(
            self.now_us,
            TraceKind::Fault,
            Parties::default(),
            &[],
            format!("{fault:?}").as_bytes(),
            || format!("{fault:?}"),
        );
        match fault {
            Fault::Restart { server } => {
                if let Some(target) = self.servers.get_mut(server as usize) {
                    target.core.restart();
                    target.epoch += 1;
                    self.lose_everything(server, LossCause::Restart);
                }
            }
            Fault::FlushAll { server } => {
                if let Some(target) = self.servers.get_mut(server as usize) {
                    target.core.flush_all();
                    self.lose_everything(server, LossCause::Flush);
                }
            }
            Fault::Lose { target } => {
                if let Some(key) = self.loss_target(target) {
                    let server = self.ring.server_for(key.as_bytes());
                    if self.servers[server].core.lose(&key) {
                        self.losses.push(Loss {
                            at_us: self.now_us,
                            server: server as u32,
                            key: Some(key.to_string()),
                            cause: LossCause::Injected,
                        });
                    }
                }
            }
            Fault::Partition {
                server,
                clients,
                duration_us,
                mode,
            } => {
                let server = server as usize;
                if server < self.servers.len() {
                    let clients = super::config::partitioned_clients(&clients, self.clients.len());
                    self.network.cut(server, &clients, mode);
                    self.schedule(duration_us, Event::Heal { server, clients });
                }
            }
            Fault::Pause { client, duration_us } => {
                if let Some(state) = self.clients.get_mut(client as usize)
                    && !state.finished
                {
                    state.paused = true;
                    self.schedule(
                        duration_us,
                        Event::Resume {
                            client: client as usize,
                        },
                    );
                }
            }
            Fault::Crash { client } => {
                if let Some(state) = self.clients.get_mut(client as usize)
                    && !state.finished
                {
                    state.future = None;
                    state.awaiting = None;
                    state.finished = true;
                    self.trace
                        .note(self.now_us, TraceKind::Crash, Parties::client(client), &[], &[], || {
                            "crashed; its operation in progress never returns".to_owned()
                        });
                }
            }
        }
    }

    fn heal(&mut self, server: usize, clients: &[usize]) {
        for &client in clients {
            if self.network.heal(server, client) {
                let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
                    .into_iter()
                    .partition(|(c, s, _)| *c == client && *s == server);
                self.held = kept;
                for (_, _, event) in released {
                    let after_us = self.network.latency_us();
                    self.schedule(after_us, event);
                }
            }
        }
    }

    fn draw_random_fault(&mut self, kind: RandomKind) -> Fault {
        let (servers, clients) = (self.servers.len() as u32, self.clients.len() as u32);
        kind.draw(&mut self.fault_rng, servers, clients, &self.config.random_faults)
    }

    /// The key a targeted loss destroys, read from the servers as an oracle.
    fn loss_target(&mut self, target: LossTarget) -> Option<Key> {
        let anchor_key = Key::new(DEQUE_NAME).expect("a valid name");
        match target {
            LossTarget::Anchor => Some(anchor_key),
            LossTarget::RandomNode => {
                let prefix = format!("{DEQUE_NAME}:");
                let nodes: Vec<Key> = self
                    .servers
                    .iter()
                    .flat_map(|s| s.core.keys_sorted())
                    .filter(|k| k.as_bytes().starts_with(prefix.as_bytes()))
                    .collect();
                let mut nodes = nodes;
                nodes.sort_unstable();
                if nodes.is_empty() {
                    return None;
                }
                let pick = self.fault_rng.random_range(0..nodes.len());
                Some(nodes.swap_remove(pick))
            }
            LossTarget::NodeAt { position } => {
                let anchor = format::decode_anchor(self.peek(&anchor_key)?).ok()?;
                let mut id = anchor.left?;
                for _ in 0..position {
                    let node = format::decode_node(self.peek(&node_key(id))?).ok()?;
                    id = node.next?;
                }
                Some(node_key(id))
            }
        }
    }

    fn peek(&self, key: &Key) -> Option<&[u8]> {
        self.servers[self.ring.server_for(key.as_bytes())].core.peek(key)
    }

    /// A fresh client drains the deque from alternating ends, on healed links
    /// and with no faults, until it reports empty or an error.
    fn drain(&mut self, options: DequeOptions) {
        let drain_client = self.config.clients.count + 1;
        let at_us = self.now_us;
        let pushes = self.shared.history.borrow().iter().filter(|op| op.op.is_push()).count();
        let direct = DirectStore::new(&mut self.servers, &self.ring);
        let Ok(mut deque) = Deque::attach(&direct, DEQUE_NAME, options) else {
            return;
        };
        let mut history = self.shared.history.borrow_mut();
        // Each round pops one value or ends; a deque cannot hold more values
        // than were pushed, so this bound only stops a corrupted cycle.
        for round in 0..pushes + 2 {
            let op = if round % 2 == 0 {
                OpName::PopFront
            } else {
                OpName::PopBack
            };
            let result = memcache_collections::store::block_on(workload::run_op(&mut deque, op, Vec::new()));
            let finished = !matches!(result, OpResult::Value { .. });
            // Drain pops are sequential: each its own instant after the run.
            let invoke_us = at_us + 1 + 2 * round as u64;
            history.push(HistoryOp {
                client: drain_client,
                op,
                value: None,
                invoke_us,
                return_us: Some(invoke_us + 1),
                result,
            });
            if finished {
                break;
            }
        }
        drop(history);
        for (server, key, why) in direct.take_lost() {
            self.record_loss(server, key, why);
        }
    }

    /// Records that every item on `server` is gone.
    fn lose_everything(&mut self, server: u32, cause: LossCause) {
        self.losses.push(Loss {
            at_us: self.now_us,
            server,
            key: None,
            cause,
        });
    }

    /// Records an item the server dropped on its own.
    fn record_loss(&mut self, server: u32, key: Key, why: LossReason) {
        let cause = match why {
            LossReason::Evicted => {
                self.stats.evictions += 1;
                LossCause::Eviction
            }
            LossReason::RefusedStore => LossCause::RefusedStore,
        };
        self.losses.push(Loss {
            at_us: self.now_us,
            server,
            key: Some(key.to_string()),
            cause,
        });
    }
}

fn node_key(id: format::NodeId) -> Key {
    Key::new(format!("{DEQUE_NAME}:{id}")).expect("node keys of a valid name are valid")
}

/// Removes and returns the elements matching `due`, keeping order.
fn extract(specs: &mut Vec<FaultSpec>, due: impl Fn(&FaultSpec) -> bool) -> Vec<FaultSpec> {
    if !specs.iter().any(&due) {
        return Vec::new();
    }
    let (fired, kept): (Vec<_>, Vec<_>) = std::mem::take(specs).into_iter().partition(|s| due(s));
    *specs = kept;
    fired
}

/// The parts of a reply the trace hash covers: its kind and token.
fn reply_fields(reply: &Reply) -> (u64, u64) {
    match reply {
        Reply::Value(item) => (1, item.cas.0 ^ (item.value.len() as u64) << 40),
        Reply::Miss => (2, 0),
        Reply::Stored { cas } => (3, cas.0),
        Reply::NotStored => (4, 0),
        Reply::Exists => (5, 0),
        Reply::NotFound => (6, 0),
        Reply::Deleted => (7, 0),
        Reply::ServerError(_) => (8, 0),
        Reply::Lifetime(life) => (9, *life),
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Value(item) => format!("VALUE {} bytes cas {}", item.value.len(), item.cas.0),
        Reply::Miss => "MISS".to_owned(),
        Reply::Stored { cas } => format!("STORED cas {}", cas.0),
        Reply::NotStored => "NOT_STORED".to_owned(),
        Reply::Exists => "EXISTS".to_owned(),
        Reply::NotFound => "NOT_FOUND".to_owned(),
        Reply::Deleted => "DELETED".to_owned(),
        Reply::ServerError(error) => format!("SERVER_ERROR {error}"),
        Reply::Lifetime(life) => format!("LIFETIME {life}"),
    }
}
