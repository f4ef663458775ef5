//! How faults strike the simulated world. When an armed fault fires, which
//! random fault comes next and which entry a loss destroys are decided by
//! `crate::nemesis`, the same as on real memcached; this file applies them
//! (a restart bumps the server's epoch, a partition cuts links, a pause or
//! a crash stops a client) and records what was lost.

use memcache_collections::key::Key;
use memcache_collections::memcore::{LossReason, LostItem};
use memcache_collections::routing::KetamaRing;

use super::world::{Event, SimServer, World};
use crate::config::{DEQUE_NAME, Fault, partitioned_clients};
use crate::history::{Loss, LossCause};
use crate::nemesis::{self, Holdings, RandomKind, held};
use crate::trace::{Parties, TraceKind};

/// The servers as an oracle sees them, for choosing a loss target.
struct Oracle<'a> {
    servers: &'a [SimServer],
    ring: &'a KetamaRing,
}

impl Holdings for Oracle<'_> {
    fn peek(&self, key: &Key) -> Result<Option<Vec<u8>>, String> {
        let server = &self.servers[self.ring.server_for(key.as_bytes())];
        Ok(server.core.peek(key).map(<[u8]>::to_vec))
    }

    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<Key>, String> {
        let mut keys: Vec<Key> = self
            .servers
            .iter()
            .flat_map(|s| s.core.keys_sorted())
            .filter(|k| k.as_bytes().starts_with(prefix.as_bytes()))
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }
}

impl World {
    /// Fires the faults due on the count of returned operations.
    #[inline]
    pub(crate) fn fire_op_count_triggers(&mut self) {
        if self.triggers.is_empty() {
            return;
        }
        for fault in self.triggers.after_ops(self.shared.ops_completed.get()) {
            self.fire(fault);
        }
    }

    /// Fires the faults pinned before `client`'s next data request.
    pub(crate) fn fire_request_triggers(&mut self, client: usize) {
        if self.triggers.is_empty() {
            return;
        }
        let sent = self.clients[client].requests_sent;
        for fault in self.triggers.before_request(client, sent) {
            self.fire(fault);
        }
    }

    /// Schedules the next event of a random fault kind, while the workload
    /// runs.
    pub(crate) fn schedule_random(&mut self, kind: RandomKind) {
        let rate = kind.rate_per_s(&self.config.random_faults);
        if rate > 0.0 && !self.workload_over {
            let after_us = crate::rng::sample_interval_us(&mut self.fault_rng, rate);
            self.schedule(after_us, Event::RandomFault(kind));
        }
    }

    /// A random fault's time has come: draw it, fire it, schedule the next.
    pub(crate) fn random_fault(&mut self, kind: RandomKind) {
        if self.workload_over {
            return;
        }
        let (servers, clients) = (self.servers.len() as u32, self.clients.len() as u32);
        let fault = kind.draw(&mut self.fault_rng, servers, clients, &self.config.random_faults);
        self.fire(fault);
        self.schedule_random(kind);
    }

    /// Applies a fault now.
    pub(crate) fn fire(&mut self, fault: Fault) {
        self.counters.faults += 1;
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
                self.lose_everything(server, LossCause::Restart);
                let target = &mut self.servers[server as usize];
                target.core.restart();
                target.epoch += 1;
            }
            Fault::FlushAll { server } => {
                self.lose_everything(server, LossCause::Flush);
                self.servers[server as usize].core.flush_all();
            }
            Fault::Lose { target } => {
                let oracle = Oracle {
                    servers: &self.servers,
                    ring: &self.ring,
                };
                let chosen = nemesis::loss_target(target, DEQUE_NAME, &oracle, &mut self.fault_rng);
                if let Some(key) = chosen.expect("the simulator's servers always answer") {
                    let server = self.ring.server_for(key.as_bytes());
                    if let Some(bytes) = self.servers[server].core.lose(&key) {
                        self.record_entry_loss(server as u32, &key, &bytes, LossCause::Injected);
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
                let clients = partitioned_clients(&clients, self.clients.len());
                self.network.cut(server, &clients, mode);
                self.schedule(duration_us, Event::Heal { server, clients });
            }
            Fault::Pause { client, duration_us } => {
                let state = &mut self.clients[client as usize];
                if !state.finished {
                    let until_us = self.now_us.saturating_add(duration_us);
                    state.paused_until_us = state.paused_until_us.max(Some(until_us));
                    self.schedule(
                        duration_us,
                        Event::Resume {
                            client: client as usize,
                        },
                    );
                }
            }
            Fault::Crash { client } => {
                let state = &mut self.clients[client as usize];
                if !state.finished {
                    state.future = None;
                    state.awaiting = None;
                    state.finished = true;
                    self.counters.crashed_clients += 1;
                    self.trace
                        .note(self.now_us, TraceKind::Crash, Parties::client(client), &[], &[], || {
                            "crashed; its operation in progress never returns".to_owned()
                        });
                }
            }
        }
    }

    /// Records that every item on `server` is about to go, with what they
    /// held.
    fn lose_everything(&mut self, server: u32, cause: LossCause) {
        let keys = self.servers[server as usize].core.keys_sorted();
        self.note_bank_loss(&keys);
        let core = &self.servers[server as usize].core;
        let held = held::of(
            self.place(server),
            keys.iter()
                .filter_map(|key| core.peek(key).map(|bytes| (key.as_bytes(), bytes))),
        );
        if held.anchor {
            self.oracles.anchor_gone();
        }
        self.losses.push(Loss {
            at_us: self.now_us,
            server,
            key: None,
            cause,
            held: Some(held),
        });
    }

    /// Where a loss on `server` strikes, for reading what it held.
    fn place(&self, server: u32) -> held::Place<'static> {
        held::Place {
            deque: DEQUE_NAME,
            anchor_server: self.ring.server_for(DEQUE_NAME.as_bytes()) == server as usize,
        }
    }

    /// Records one entry destroyed now: `key` held `bytes`.
    fn record_entry_loss(&mut self, server: u32, key: &Key, bytes: &[u8], cause: LossCause) {
        self.note_bank_loss(std::slice::from_ref(key));
        let held = held::of(self.place(server), [(key.as_bytes(), bytes)]);
        if held.anchor && cause != LossCause::StaleCas {
            self.oracles.anchor_gone();
        }
        self.losses.push(Loss {
            at_us: self.now_us,
            server,
            key: Some(key.to_string()),
            cause,
            held: Some(held),
        });
    }

    /// A client created the anchor afresh: every anchor loss still open
    /// ends here for what it could have taken.
    pub(crate) fn anchor_recreated(&mut self) {
        for loss in &mut self.losses {
            if let Some(held) = loss
                .held
                .as_mut()
                .filter(|h| h.anchor && h.anchor_recreated_us.is_none())
            {
                held.anchor_recreated_us = Some(self.now_us);
            }
        }
    }

    /// Records an entry a compare-and-set with a token from the server's
    /// earlier life replaced: what it held is gone as surely as if lost.
    pub(crate) fn record_stale_cas(&mut self, server: u32, key: &Key, replaced: &[u8]) {
        self.record_entry_loss(server, key, replaced, LossCause::StaleCas);
    }

    /// Records an item the server dropped on its own.
    pub(crate) fn record_loss(&mut self, server: u32, lost: LostItem) {
        self.counters.items_dropped += 1;
        let cause = match lost.reason {
            LossReason::Evicted => LossCause::Eviction,
            LossReason::RefusedStore => LossCause::RefusedStore,
        };
        self.record_entry_loss(server, &lost.key, &lost.value, cause);
    }
}
