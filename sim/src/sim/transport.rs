//! How a message travels in the simulated world: a client's request goes
//! out over its link (its fate drawn by `crate::nemesis::fate`), is applied
//! by its server even if the client has given up, and the reply comes back
//! the same way; a client's timer times out the request it waits for; a
//! reset or a restart kills messages in flight; a healed partition releases
//! what it held.

use memcache_collections::store::{Command, Reply, StoreError};

use super::client::Incoming;
use super::oracles::Prior;
use super::world::{Awaiting, Event, World};
use crate::nemesis::{Direction, Fate};
use crate::trace::{Parties, TraceKind, describe_reply, reply_fields};

impl World {
    /// Sends a client's request: fires the faults pinned to its request
    /// count, then, unless they crashed or paused the client, sends it.
    pub(crate) fn send(&mut self, client: usize, command: Command) {
        // Request triggers count the deque's data requests only: a lifetime
        // check (`stats`, hardened handles) is invisible to them, so a
        // trigger pins the same algorithm step on every variant.
        let counted = !matches!(command, Command::Lifetime { .. });
        if counted {
            self.fire_request_triggers(client);
        }
        let state = &mut self.clients[client];
        if state.finished {
            return;
        }
        state.requests_sent += u64::from(counted);
        if state.paused_until_us > Some(self.now_us) {
            // A pause fired before this request: it waits for the resume,
            // as behind the real backend's gate.
            state.held_request = Some(command);
            return;
        }
        self.transmit_request(client, command);
    }

    /// Arms the client's timer and puts its request on its link.
    pub(crate) fn transmit_request(&mut self, client: usize, command: Command) {
        let server = self.ring.server_for(command.key().as_bytes());
        let request = self.next_request;
        self.next_request += 1;
        self.counters.requests += 1;
        self.oracles.sent(request, self.clients[client].op_index);
        let state = &mut self.clients[client];
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
            Parties::link(client, server).about(request),
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
    pub(crate) fn transmit(&mut self, client: usize, server: usize, direction: Direction, event: Event) {
        let request = match &event {
            Event::Arrive { request, .. } | Event::Reply { request, .. } => *request,
            _ => unreachable!("only requests and replies cross a link"),
        };
        match self.network.fate(client, server, direction) {
            Fate::Arrives { after_us, spiked } => {
                self.counters.messages_spiked += u64::from(spiked);
                self.schedule(after_us, event);
            }
            Fate::Dropped | Fate::Cut => self.lose_message(client, server, request, &[], || {
                format!("#{request} {direction:?} lost")
            }),
            Fate::Reset { after_us } => {
                self.counters.resets += 1;
                self.lose_message(client, server, request, &[request], || {
                    format!("#{request} {direction:?} lost: connection reset")
                });
                self.schedule(after_us, Event::Reset { client, request });
            }
            Fate::Held => {
                self.counters.messages_held += 1;
                self.trace.note(
                    self.now_us,
                    TraceKind::Hold,
                    Parties::link(client, server).about(request),
                    &[],
                    &[],
                    || format!("#{request} {direction:?} held by partition"),
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
        self.lose_message(client, server, request, &[request], || {
            format!("#{request} {what} reset: the server restarted")
        });
        true
    }

    /// Counts and traces a message of `request` lost on the link between
    /// `client` and `server` (`tags`: what the trace hash covers).
    fn lose_message(
        &mut self,
        client: usize,
        server: usize,
        request: u64,
        tags: &[u64],
        detail: impl FnOnce() -> String,
    ) {
        self.counters.messages_dropped += 1;
        self.trace.note(
            self.now_us,
            TraceKind::Drop,
            Parties::link(client, server).about(request),
            tags,
            &[],
            detail,
        );
    }

    /// A request reaches its server, which applies it (whether or not its
    /// client still waits) and replies.
    pub(crate) fn arrive(&mut self, client: usize, server: usize, request: u64, epoch: u32, command: Command) {
        if self.reset_by_restart(client, server, request, epoch, "request") {
            return;
        }
        let life = self.servers[server].epoch;
        let stale = self.probes.is_stale((client, server, life), &command);
        let prior = Prior::capture(&self.servers[server], &command);
        // A stale-token CAS that lands destroys what the entry held.
        let replaced = stale.then(|| self.servers[server].core.peek(command.key()).map(<[u8]>::to_vec));
        let reply = self.servers[server].core.apply(&command);
        self.probes
            .applied((client, server, life), request, (&command, stale), &reply);
        if let (Some(Some(bytes)), Reply::Stored { .. }) = (replaced, &reply) {
            self.record_stale_cas(server as u32, command.key(), &bytes);
        }
        if matches!((&command, &reply), (Command::Add { .. }, Reply::Stored { .. }))
            && command.key().as_bytes() == crate::config::DEQUE_NAME.as_bytes()
        {
            self.anchor_recreated();
        }
        self.oracles.applied(
            (client, server, life),
            (request, self.now_us),
            (&command, prior, stale),
            &reply,
            (&self.servers, &self.ring),
        );
        for lost in self.servers[server].core.take_lost() {
            self.record_loss(server as u32, lost);
        }
        let reply_tag = reply_fields(&reply);
        self.trace.note(
            self.now_us,
            TraceKind::Apply,
            Parties::link(client, server).about(request),
            &[request, reply_tag.0, reply_tag.1],
            command.key().as_bytes(),
            || {
                format!(
                    "#{request} {} {} -> {}",
                    command.name(),
                    command.key(),
                    describe_reply(&reply)
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

    /// A reply reaches its client: delivered if the client still waits for
    /// it, else counted as stale.
    pub(crate) fn reply(&mut self, client: usize, server: usize, request: u64, epoch: u32, reply: Reply) {
        if self.reset_by_restart(client, server, request, epoch, "reply") {
            return;
        }
        let waiting = self.clients[client]
            .awaiting
            .as_ref()
            .is_some_and(|a| a.request == request);
        if !waiting {
            self.sim_counters.stale_replies += 1;
            self.trace.note(
                self.now_us,
                TraceKind::StaleReply,
                Parties::link(client, server).about(request),
                &[request],
                &[],
                || format!("#{request} arrived after its timeout"),
            );
            return;
        }
        self.clients[client].awaiting = None;
        self.probes.delivered(request);
        self.oracles.delivered(request);
        self.trace.note(
            self.now_us,
            TraceKind::Reply,
            Parties::link(client, server).about(request),
            &[request],
            &[],
            || format!("#{request} {}", describe_reply(&reply)),
        );
        self.deliver(client, Incoming::Reply(Ok(reply)));
    }

    /// The client's timer fired: time out the request it waits for if that
    /// request's deadline has passed, else re-arm for the deadline.
    pub(crate) fn timeout(&mut self, client: usize) {
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
        self.give_up(client, detail);
    }

    /// The connection under `request` was reset: its client fails it now,
    /// if it is still waiting for it.
    pub(crate) fn reset(&mut self, client: usize, request: u64) {
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
        self.counters.requests_failed += 1;
        let request = awaiting.request;
        self.trace.note(
            self.now_us,
            TraceKind::Timeout,
            Parties::client(client as u32).about(request),
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

    /// Hands a client what it waited for and polls it.
    pub(crate) fn deliver(&mut self, client: usize, incoming: Incoming) {
        if self.clients[client].finished {
            return;
        }
        self.shared.slots.borrow_mut()[client].incoming = Some(incoming);
        self.poll_client(client);
    }

    /// A partition between `server` and `clients` heals: each link that is
    /// now up releases what it held, with a fresh latency.
    pub(crate) fn heal(&mut self, server: usize, clients: &[usize]) {
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
}
