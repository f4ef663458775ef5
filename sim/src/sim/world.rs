//! The discrete-event world: virtual time, the event queue, the simulated
//! servers, the network, the clients' futures. This file holds the world's
//! state, its main loop and the phases of a run (setup, workload, drain);
//! how messages travel is in `transport.rs`, how faults strike in
//! `faults.rs`. A run is a pure function of its plan.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use memcache_collections::key::Key;
use memcache_collections::memcore::{CoreConfig, ServerCore};
use memcache_collections::routing::{KetamaRing, ServerSpec};
use memcache_collections::store::{Command, Reply, block_on};
use memcache_collections::{Deque, DequeError, DequeOptions};
use rand_chacha::ChaCha8Rng;

use super::client::{Outgoing, Shared, SimStore};
use super::direct::DirectStore;
use super::network::Network;
use super::queue::EventQueue;
use crate::algorithm::Algorithm;
use crate::config::{DEQUE_NAME, Fault, RunConfig};
use crate::history::{History, Loss};
use crate::nemesis::{RandomKind, Triggers};
use crate::outcome::{Counters, Outcome, RunEnd, SimCounters};
use crate::plan::RunPlan;
use crate::rng::{self, Stream};
use crate::trace::{Parties, Trace, TraceKind};
use crate::workload::{self, HistoryLog, TickClock};

/// Events processed before a run is declared stuck.
pub(crate) const EVENTS_MAX: u64 = 200_000_000;

/// A simulated memcached process: the semantics core plus an epoch that a
/// restart bumps, so messages on connections from before it are reset.
#[derive(Debug)]
pub(crate) struct SimServer {
    pub(crate) core: ServerCore,
    pub(crate) epoch: u32,
}

/// Something that happens at a virtual time.
#[derive(Debug)]
pub(crate) enum Event {
    /// A request reaches its server.
    Arrive {
        client: usize,
        server: usize,
        request: u64,
        epoch: u32,
        command: Command,
    },
    /// A reply reaches its client.
    Reply {
        client: usize,
        server: usize,
        request: u64,
        epoch: u32,
        reply: Reply,
    },
    /// A client's timer: it times out the request it waits for, or re-arms.
    Timeout { client: usize },
    /// The connection carrying `request` was reset.
    Reset { client: usize, request: u64 },
    /// A client's think time or backoff is over.
    Wake { client: usize },
    /// A paused client goes on.
    Resume { client: usize },
    /// A scheduled fault at its time.
    Fault(Fault),
    /// The next event of a random fault kind.
    RandomFault(RandomKind),
    /// A partition heals.
    Heal { server: usize, clients: Vec<usize> },
}

/// The request a client waits for.
pub(crate) struct Awaiting {
    pub(crate) request: u64,
    pub(crate) deadline_us: u64,
    pub(crate) is_read: bool,
    pub(crate) command: &'static str,
    pub(crate) key: Key,
}

/// One client, as the world sees it.
#[derive(Default)]
pub(crate) struct ClientState {
    pub(crate) future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    pub(crate) awaiting: Option<Awaiting>,
    /// Data requests sent (lifetime checks excluded), for request triggers.
    pub(crate) requests_sent: u64,
    /// Whether a timeout event for this client is queued. One per client,
    /// re-armed for the current request's deadline when it fires early:
    /// far fewer events than one per request.
    pub(crate) timer_queued: bool,
    /// Paused until this virtual time. Overlapping pauses end with the last
    /// of them, as on the real backend's client gate.
    pub(crate) paused_until_us: Option<u64>,
    pub(crate) poll_deferred: bool,
    /// A request a pause fired just before it holds until the pause ends
    /// (as the real backend's gate holds it).
    pub(crate) held_request: Option<memcache_collections::store::Command>,
    pub(crate) finished: bool,
    /// History index of the op in progress.
    pub(crate) op_index: Option<usize>,
}

/// The whole simulated world of one run.
pub(crate) struct World {
    pub(crate) config: RunConfig,
    variant: Algorithm,
    pub(crate) seed: u64,
    pub(crate) now_us: u64,
    queue: EventQueue<Event>,
    pub(crate) servers: Vec<SimServer>,
    pub(crate) ring: KetamaRing,
    pub(crate) network: Network,
    pub(crate) fault_rng: ChaCha8Rng,
    pub(crate) shared: Rc<Shared>,
    pub(crate) clients: Vec<ClientState>,
    history_cursor: usize,
    /// Messages a partition holds: (client, server, message).
    pub(crate) held: Vec<(usize, usize, Event)>,
    pub(crate) triggers: Triggers,
    /// The faults at a time, from the start of the workload.
    timed: Vec<(u64, Fault)>,
    pub(crate) workload_over: bool,
    pub(crate) next_request: u64,
    pub(crate) trace: Trace,
    pub(crate) losses: Vec<Loss>,
    pub(crate) counters: Counters,
    pub(crate) sim_counters: SimCounters,
    pub(crate) probes: super::probes::Probes,
    pub(crate) oracles: super::oracles::Oracles,
    /// The prefill's operations, before the workload's.
    setup_ops: Vec<crate::history::HistoryOp>,
    /// Events processed before the run is declared stuck.
    pub(crate) events_max: u64,
    stuck: bool,
    /// An MCAS run's bank (`bank.rs`); `None` in a deque run.
    pub(crate) bank: Option<super::bank::Bank>,
}

/// Runs one plan in the simulator.
pub fn run(plan: &RunPlan) -> Outcome {
    if let Algorithm::Mcas(variant) = plan.variant {
        return super::bank::run(plan, variant);
    }
    let mut world = World::new(plan);
    if let Err(error) = world.setup() {
        return Outcome::setup_failed(&error);
    }
    world.spawn_workload();
    world.start();
    world.run_events();
    world.finish()
}

impl World {
    /// A world for `plan`, before setup: servers, ring, network and fault
    /// stream built from the seed.
    pub(crate) fn new(plan: &RunPlan) -> World {
        let config = &plan.config;
        let client_count = config.clients.count as usize;
        let specs: Vec<ServerSpec> = (0..config.servers.count)
            .map(|i| ServerSpec::new("sim", 11211 + i as u16))
            .collect();
        let core_config = CoreConfig {
            item_size_max: config.servers.item_size_max_bytes,
            memory_limit_bytes: config.servers.memory_limit_bytes,
            evictions: config.servers.evictions,
            cas: config.servers.cas,
            restart_keeps_identity: config.servers.restart_keeps_identity,
        };
        let (timed, triggers) = Triggers::arm(&config.faults);
        World {
            config: config.clone(),
            variant: plan.variant,
            seed: plan.seed,
            now_us: 0,
            queue: EventQueue::new(),
            servers: (0..specs.len())
                .map(|_| SimServer {
                    core: ServerCore::new(core_config),
                    epoch: 0,
                })
                .collect(),
            ring: KetamaRing::new(&specs),
            network: Network::new(
                config.network.clone(),
                rng::stream(plan.seed, Stream::Network, 0),
                client_count,
                specs.len(),
            ),
            fault_rng: rng::stream(plan.seed, Stream::Faults, 0),
            shared: Rc::new(Shared::new(client_count)),
            clients: (0..client_count).map(|_| ClientState::default()).collect(),
            history_cursor: 0,
            held: Vec::new(),
            triggers,
            timed,
            workload_over: false,
            next_request: 0,
            trace: Trace::new(plan.keep_trace),
            losses: Vec::new(),
            counters: Counters::default(),
            sim_counters: SimCounters::default(),
            probes: super::probes::Probes::default(),
            oracles: super::oracles::Oracles::default(),
            setup_ops: Vec::new(),
            events_max: EVENTS_MAX,
            stuck: false,
            bank: None,
        }
    }

    /// The deque options of client `client` (setup and drain clients
    /// included). Only deque runs build them.
    fn options(&self, client: u32) -> DequeOptions {
        let variant = self.variant.deque().unwrap_or_default();
        workload::deque_options(&self.config, variant, self.seed, client)
    }

    /// Schedules `event` `after_us` from now.
    pub(crate) fn schedule(&mut self, after_us: u64, event: Event) {
        self.queue.push(self.now_us + after_us, event);
    }

    /// Creates the deque and pushes the prefill straight on the servers (no
    /// network, no faults), each push its own instant before the workload.
    pub(crate) fn setup(&mut self) -> Result<(), DequeError> {
        let clients = self.config.clients.clone();
        let options = self.options(clients.count);
        let direct = DirectStore::new(&mut self.servers, &self.ring);
        let log = std::cell::RefCell::new(HistoryLog::new(TickClock::starting_at(0)));
        block_on(async {
            let mut deque = Deque::create(&direct, Some(DEQUE_NAME), options).await?;
            workload::setup::prefill(
                &mut deque,
                clients.prefill_items,
                clients.value_size_bytes_min,
                clients.count,
                &log,
            )
            .await
        })?;
        // A prefill can evict earlier prefill nodes: such losses happened
        // before the workload, and are recorded at its start (no later than
        // they happened).
        let lost = direct.take_lost();
        for (server, item) in lost {
            self.record_loss(server, item);
        }
        self.setup_ops = log.into_inner().into_ops();
        self.now_us = 2 * clients.prefill_items + 1;
        self.shared.now_us.0.set(self.now_us);
        Ok(())
    }

    /// Gives every client its deque handle and workload.
    pub(crate) fn spawn_workload(&mut self) {
        let ring = Rc::new(self.ring.clone());
        for client in 0..self.clients.len() {
            let options = self.options(client as u32);
            let batches = rng::stream(self.seed, Stream::Batches, client as u32);
            let store = SimStore::new(client, self.shared.clone(), ring.clone(), batches);
            let deque = Deque::attach(store, DEQUE_NAME, options.clone()).expect("the setup created this name");
            let future = workload::client_main(
                client as u32,
                workload::LibraryClient::new(deque, options),
                rng::stream(self.seed, Stream::Workload, client as u32),
                self.config.clients.clone(),
                self.shared.clone(),
            );
            self.clients[client].future = Some(Box::pin(future));
        }
    }

    /// Schedules the faults and lets every client take its first step.
    pub(crate) fn start(&mut self) {
        // Times count from the start of the workload.
        for (at_us, fault) in std::mem::take(&mut self.timed) {
            self.schedule(at_us, Event::Fault(fault));
        }
        for kind in RandomKind::ALL {
            self.schedule_random(kind);
        }
        self.fire_op_count_triggers();
        for client in 0..self.clients.len() {
            self.poll_client(client);
        }
    }

    pub(crate) fn run_events(&mut self) {
        while let Some((at_us, event)) = self.queue.pop() {
            self.now_us = at_us;
            self.shared.now_us.0.set(at_us);
            self.sim_counters.events += 1;
            if self.sim_counters.events > self.events_max {
                self.stuck = true;
                return;
            }
            self.handle(event);
            if !self.workload_over && self.clients.iter().all(|c| c.finished) {
                // No new random faults; in-flight messages still land (a
                // late write can change the deque before the drain).
                self.workload_over = true;
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
            Event::Wake { client } => self.deliver(client, super::client::Incoming::Woken),
            Event::Resume { client } => {
                if self.clients[client].paused_until_us > Some(self.now_us) {
                    // A later pause is still on; its own resume comes.
                    return;
                }
                self.clients[client].paused_until_us = None;
                if let Some(command) = self.clients[client].held_request.take() {
                    // A client that crashed meanwhile never sends it.
                    if !self.clients[client].finished {
                        self.transmit_request(client, command);
                    }
                } else if std::mem::take(&mut self.clients[client].poll_deferred) {
                    self.poll_client(client);
                }
            }
            Event::Fault(fault) => self.fire(fault),
            Event::RandomFault(kind) => self.random_fault(kind),
            Event::Heal { server, clients } => self.heal(server, &clients),
        }
    }

    /// Polls a client's future until it parks again, then sends whatever it
    /// parked on.
    pub(crate) fn poll_client(&mut self, client: usize) {
        if self.clients[client].paused_until_us.is_some() {
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
        if let Some(bank) = &self.bank {
            self.shared.ops_completed.set(bank.log.completed());
        }
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
        let log = shared.log.borrow();
        let history = log.ops();
        let mut noted = Vec::new();
        if let Some(index) = self.clients[client].op_index
            && history[index].return_us.is_some()
        {
            noted.push((TraceKind::Return, index));
            self.clients[client].op_index = None;
        }
        for (index, op) in history.iter().enumerate().skip(self.history_cursor) {
            noted.push((TraceKind::Invoke, index));
            match op.return_us {
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

    /// Whether the event budget ran out before the clients finished.
    pub(crate) fn stuck(&self) -> bool {
        self.stuck
    }

    /// Drains the deque (unless the run got stuck) and hands back the run.
    pub(crate) fn finish(mut self) -> Outcome {
        let drain_client = self.config.clients.count + 1;
        let log = std::mem::replace(
            &mut *self.shared.log.borrow_mut(),
            HistoryLog::new(self.shared.now_us.clone()),
        );
        let oracles = std::mem::take(&mut self.oracles).finish(log.ops());
        self.sim_counters.stale_anchor_successes = oracles.stale_anchor_successes;
        let oracle_violations = oracles.violations;
        // The workload's ops are most of the history: keep their vector and
        // put the (few) prefill ops in front.
        let mut ops = log.into_ops();
        ops.splice(0..0, std::mem::take(&mut self.setup_ops));
        if !self.stuck {
            let pushes = ops.iter().filter(|op| op.op.is_push()).count();
            ops.extend(self.drain(drain_client, pushes));
        }
        ops.sort_by_key(|op| op.invoke_us);
        // A stuck run is not drained.
        let drain_client = (!self.stuck).then_some(drain_client);
        self.into_outcome(ops, drain_client, oracle_violations)
    }

    /// The outcome's parts every subject shares (how the run ended, the
    /// losses, counters and trace) around the deque history `ops`.
    pub(crate) fn into_outcome(
        mut self,
        ops: Vec<crate::history::HistoryOp>,
        drain_client: Option<u32>,
        oracle_violations: Vec<crate::outcome::OracleViolation>,
    ) -> Outcome {
        let end = if self.stuck {
            RunEnd::Stuck {
                reason: format!("the run did not finish within {} events", self.events_max),
            }
        } else {
            RunEnd::Finished
        };
        self.sim_counters.virtual_time_us = self.now_us;
        self.counters.recreations = self.shared.recreations.get();
        std::mem::take(&mut self.probes).finish(&mut self.sim_counters);
        self.counters.sim = Some(self.sim_counters);
        Outcome {
            end,
            history: History {
                ops,
                losses: self.losses,
                drain_client,
            },
            workload_clients: self.config.clients.count,
            trace_hash: Some(self.trace.hash()),
            trace: self.trace.into_records(),
            counters: self.counters,
            oracle_violations,
            mcas: None,
        }
    }

    /// A fresh client drains the deque on healed links with no faults, each
    /// pop its own instant after the run.
    fn drain(&mut self, client: u32, pushes: usize) -> Vec<crate::history::HistoryOp> {
        let options = self.options(client);
        let log = std::cell::RefCell::new(HistoryLog::new(TickClock::starting_at(self.now_us + 1)));
        let direct = DirectStore::new(&mut self.servers, &self.ring);
        if let Ok(mut deque) = Deque::attach(&direct, DEQUE_NAME, options) {
            block_on(workload::setup::drain(&mut deque, pushes, client, &log));
        }
        let lost = direct.take_lost();
        for (server, item) in lost {
            self.record_loss(server, item);
        }
        log.into_inner().into_ops()
    }
}
