//! The per-client state and the store helpers every deque algorithm shares:
//! key naming, entry encoding, error mapping and corruption tracking.
//!
//! An algorithm module (such as [`michael2003`](super::michael2003)) holds
//! only the algorithm's control flow; everything about *how* an anchor is
//! read or a node written lives here, once.

use rand_chacha::ChaCha12Rng;
use rand_core::Rng;

use crate::deque::deferred_link::{LinkState, PendingLink};
use crate::deque::error::{CorruptionKind, DequeError, OpKind};
use crate::deque::guess::{GuessPolicy, Start};
use crate::deque::retries::{Retries, RetryCause};
use crate::deque::{Backoff, DequeOptions, Flaw};
use crate::format::{self, Anchor, FormatError, Node, NodeId};
use crate::key::Key;
use crate::store::{self, CasOutcome, CasToken, Command, DeleteOutcome, Item, Reply, Store, StoreError};

/// One client's view of one deque.
///
/// Its size is bounded: a random-id generator, the one id this client
/// last failed to load, and (`hardened`) its guess (an anchor and its
/// token), the one node it popped and has not deleted yet, with that node's
/// token, and the one push whose neighbour link it keeps back, with a copy
/// of the neighbour (up to the item size limit) and two tokens. Other CAS
/// tokens travel as values from read to write.
#[derive(Debug)]
pub(crate) struct Context<S> {
    pub(crate) store: S,
    pub(crate) name: String,
    pub(crate) anchor_key: Key,
    pub(crate) retries_max: u32,
    /// The broken variant's flaw (none for the real algorithms).
    flaw: Option<Flaw>,
    /// Whether anchors carry the server lifetime and every read checks it
    /// (the hardened algorithm).
    pub(crate) tracks_lifetime: bool,
    /// The lifetime of the anchor's server as this handle last asked it;
    /// asked again only when an anchor disagrees with it.
    pub(crate) lifetime: Option<u64>,
    /// Whether a token of 0 is refused as a server with CAS disabled
    /// ([`DequeError::CasDisabled`]; the hardened algorithm).
    pub(crate) checks_cas: bool,
    /// Whether fresh nodes are written with `add` (`own_node.rs`; the
    /// hardened algorithm).
    pub(crate) adds_fresh_nodes: bool,
    /// Whether the round-trip engineering is on (the hardened algorithm):
    /// operations may start from the guessed anchor, and a pusher reads and
    /// links its neighbour in pipelined batches.
    pub(crate) engineered: bool,
    /// When to start from the anchor this handle last wrote.
    pub(crate) guess: GuessPolicy,
    /// Waiting between attempts after a lost race.
    backoff: Backoff,
    /// Attempts started by this handle's operations (an uncontended
    /// operation makes one; each lost race one more).
    pub(crate) attempts: u64,
    /// The attempts that ended without finishing their operation, by cause.
    pub(crate) retries: Retries,
    /// Whether the current attempt started from the guessed anchor.
    guessed: bool,
    /// Whether a pusher may leave its neighbour link to its next request
    /// (`deferred_link.rs`).
    pub(crate) deferred_link: bool,
    /// The push whose link this handle has kept back, if any.
    pub(crate) pending_link: Option<PendingLink>,
    /// Whether the attempt in progress started from that push, and what
    /// became of its link.
    pub(crate) link_state: LinkState,
    rng: ChaCha12Rng,
    /// The node id this client last failed to load. Failing on the same id
    /// twice in a row (two failures, whatever loads succeeded in between)
    /// means it is gone for good (docs/algorithm.md). It is not cleared by a
    /// successful load: stabilize loads the last node, then fails on the
    /// penultimate, on every retry, and clearing in between would retry a
    /// lost penultimate node forever (the harness found exactly that).
    last_missing: Option<NodeId>,
    /// A node this handle popped whose item is still to be deleted, and
    /// the token it had when popped: the delete travels with the handle's
    /// next request to that node's server, in the same round trip
    /// (`hardened`, [`cas_anchor_and_check_popped`](Context::cas_anchor_and_check_popped)).
    pub(crate) release: Option<(NodeId, CasToken)>,
}

impl<S: Store> Context<S> {
    /// A handle's state, with what `options` and its variant ask for.
    pub(crate) fn new(store: S, name: String, anchor_key: Key, rng: ChaCha12Rng, options: &DequeOptions) -> Self {
        Context {
            store,
            name,
            anchor_key,
            retries_max: options.retries_max,
            flaw: options.variant.flaw(),
            tracks_lifetime: options.variant.tracks_lifetime(),
            lifetime: None,
            checks_cas: options.variant.checks_cas_support(),
            adds_fresh_nodes: options.variant.adds_fresh_nodes(),
            engineered: options.variant.engineers_round_trips(),
            guess: GuessPolicy::new(),
            backoff: options.backoff,
            attempts: 0,
            retries: Retries::default(),
            guessed: false,
            deferred_link: options.deferred_link && options.variant.engineers_round_trips(),
            pending_link: None,
            link_state: LinkState::NotRequired,
            rng,
            last_missing: None,
            release: None,
        }
    }

    /// Whether this handle's variant injects `flaw`.
    pub(crate) fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    /// Waits before attempt number `attempt` (0 is the first, which never
    /// waits): a random time up to the backoff's bound for this many losses
    /// in a row, drawn from the handle's own generator, so the simulator
    /// replays it.
    pub(crate) async fn back_off(&mut self, attempt: u32) {
        self.attempts += 1;
        let bound_us = self.backoff.bound_us(attempt);
        if attempt == 0 || bound_us == 0 {
            return;
        }
        let wait_us = self.rng.next_u64() % (u64::from(bound_us) + 1);
        self.store.pause(std::time::Duration::from_micros(wait_us)).await;
    }

    /// Counts an attempt that ends without finishing its operation.
    pub(crate) fn count_retry(&mut self, cause: RetryCause) {
        self.retries.count(cause);
    }

    /// A fresh node id; 128 random bits never repeat in practice.
    pub(crate) fn fresh_id(&mut self) -> NodeId {
        let high = u128::from(self.rng.next_u64());
        let low = u128::from(self.rng.next_u64());
        NodeId(high << 64 | low)
    }

    /// `<name>:<id>`; always a valid key because names leave room for it.
    pub(crate) fn node_key(&self, id: NodeId) -> Key {
        format::node_key(&self.name, id).expect("deque names leave room for node key suffixes")
    }

    pub(crate) fn corruption(&self, op: OpKind, key: &Key, kind: CorruptionKind) -> DequeError {
        DequeError::Corruption {
            op,
            key: key.clone(),
            kind,
        }
    }

    fn malformed(&self, op: OpKind, key: &Key, error: FormatError) -> DequeError {
        self.corruption(op, key, CorruptionKind::Malformed(error))
    }

    /// A contradiction found at `key` (`what`) by an attempt working from
    /// `held`, the anchor it holds with `token` (if it has one). `hardened`
    /// reports it only if the anchor has not moved since: if it has, the
    /// attempt worked from a stale view (a guessed anchor, or a node key
    /// popped and then reused by a colliding id) and is retried (`Ok`).
    /// `michael2003` and its copies report it at once, as the 2013 code did
    /// with ids that never repeat.
    pub(crate) async fn contradiction(
        &mut self,
        op: OpKind,
        key: &Key,
        what: &'static str,
        held: &Anchor,
        token: Option<CasToken>,
    ) -> Result<(), DequeError> {
        if self.engineered {
            let (current, current_token) = self.read_anchor(op).await?;
            let moved = match token {
                Some(token) => current_token != token,
                None => current != *held,
            };
            if moved {
                return Ok(());
            }
        }
        Err(self.broken_link(op, key, what))
    }

    /// A structural contradiction found at `key`.
    pub(crate) fn broken_link(&self, op: OpKind, key: &Key, what: &'static str) -> DequeError {
        self.corruption(op, key, CorruptionKind::BrokenLink(what))
    }

    /// Asks the anchor's server which lifetime it is running, and
    /// remembers the answer.
    pub(crate) async fn running_lifetime(&mut self, op: OpKind) -> Result<u64, DequeError> {
        let mark = self.rng.next_u64();
        let life = store::lifetime(&self.store, &self.anchor_key, mark)
            .await
            .map_err(|source| no_effect(op, source))?;
        // FLAW (lifetime-without-mark): the process identity alone.
        let running = if self.has(Flaw::LifetimeWithoutMark) {
            life.identity
        } else {
            life.stamp()
        };
        self.lifetime = Some(running);
        Ok(running)
    }

    /// Reads and decodes the anchor. A missing anchor is corruption at once:
    /// nothing but loss removes it. When lifetimes are tracked, an anchor
    /// stamped with another lifetime than the running one is corruption
    /// too: it was written from a CAS token of an earlier server life. The
    /// running lifetime is asked (one `stats`) only when the anchor's stamp
    /// differs from the one this handle last saw, so a healthy deque costs
    /// nothing extra.
    pub(crate) async fn read_anchor(&mut self, op: OpKind) -> Result<(Anchor, CasToken), DequeError> {
        let item = self
            .gets_releasing(self.anchor_key.clone())
            .await
            .map_err(|source| no_effect(op, source))?
            .ok_or_else(|| self.corruption(op, &self.anchor_key, CorruptionKind::MissingAnchor))?;
        if self.checks_cas && item.cas == CasToken(0) {
            return Err(self.cas_disabled(op, &self.anchor_key));
        }
        let anchor = format::decode_anchor(&item.value).map_err(|e| self.malformed(op, &self.anchor_key, e))?;
        if self.tracks_lifetime && (self.lifetime.is_none() || self.lifetime != anchor.lifetime) {
            let running = self.running_lifetime(op).await?;
            // FLAW (adopt-foreign-anchor): carry on with the anchor.
            if anchor.lifetime != Some(running) && !self.has(Flaw::AdoptForeignAnchor) {
                return Err(self.corruption(
                    op,
                    &self.anchor_key,
                    CorruptionKind::ForeignLifetime {
                        running,
                        found: anchor.lifetime,
                    },
                ));
            }
        }
        Ok((anchor, item.cas))
    }

    /// The anchor an operation's attempt starts from: the guess, if round
    /// trips are engineered and the guess policy offers one `usable` for
    /// this operation, else a fresh read.
    pub(crate) async fn start_anchor(
        &mut self,
        op: OpKind,
        usable: fn(&Anchor) -> bool,
    ) -> Result<(Anchor, CasToken), DequeError> {
        let engineered = self.engineered;
        self.link_state = LinkState::NotRequired;
        // This handle's own half-done push serves as the stable anchor it
        // stands for, once its link goes in (`deferred_link.rs`).
        let pending = self.pending_link.as_ref().map(|pending| pending.pushed);
        let serves = |anchor: &Anchor| {
            usable(anchor)
                || pending == Some(*anchor)
                    && usable(&Anchor {
                        status: format::Status::Stable,
                        ..*anchor
                    })
        };
        match self.guess.start(|anchor| engineered && serves(anchor)) {
            Start::Guess(anchor, token) if usable(&anchor) => {
                self.guessed = true;
                Ok((anchor, token))
            }
            Start::Guess(anchor, token) => match self.pending_as_stable(&anchor, token) {
                Some(stable) => {
                    self.guessed = true;
                    self.start_from_pending();
                    Ok((stable, token))
                }
                None => {
                    self.guessed = false;
                    self.read_anchor(op).await
                }
            },
            Start::Read => {
                self.guessed = false;
                self.read_anchor(op).await
            }
        }
    }

    /// Loads a node. `Ok(None)` means it is missing for the first time, which
    /// is normally a race (a concurrent pop deleted it); failing on the same
    /// id twice in a row is reported as corruption. A node that lost a race
    /// is never referenced again (pops stabilize before following an inward
    /// link), so a second failure on it cannot be a race.
    pub(crate) async fn load_node(&mut self, op: OpKind, id: NodeId) -> Result<Option<(Node, CasToken)>, DequeError> {
        let item = self.gets_releasing(self.node_key(id)).await;
        self.node_from(op, id, item)
    }

    /// What a `gets` of node `id` found, with [`load_node`](Context::load_node)'s
    /// rules for a miss (also for the node a pusher read in the batch of its
    /// CAS, [`cas_anchor_and_read`](Context::cas_anchor_and_read)).
    pub(crate) fn node_from(
        &mut self,
        op: OpKind,
        id: NodeId,
        item: Result<Option<Item>, StoreError>,
    ) -> Result<Option<(Node, CasToken)>, DequeError> {
        let key = self.node_key(id);
        match item.map_err(|source| no_effect(op, source))? {
            Some(item) => {
                let node = format::decode_node(&item.value).map_err(|e| self.malformed(op, &key, e))?;
                // The id is back: its earlier miss was another node under a
                // repeated id (`hardened`; ids that never repeat never come
                // back, so this changes nothing for them).
                if self.adds_fresh_nodes && self.last_missing == Some(id) {
                    self.last_missing = None;
                }
                Ok(Some((node, item.cas)))
            }
            // FLAW (no-corruption-detection): every miss is a race.
            None if self.has(Flaw::MissingNodeIsAlwaysARace) => Ok(None),
            // FLAW (corruption-on-first-miss): no second look.
            None if self.has(Flaw::CorruptionOnFirstMiss) => {
                Err(self.corruption(op, &key, CorruptionKind::MissingNode(id)))
            }
            None if self.last_missing == Some(id) => Err(self.corruption(op, &key, CorruptionKind::MissingNode(id))),
            None => {
                self.last_missing = Some(id);
                Ok(None)
            }
        }
    }

    /// Writes a node that no other client can see yet.
    pub(crate) async fn write_node(&self, op: OpKind, key: &Key, node: &Node) -> Result<(), DequeError> {
        self.store
            .set(key, format::encode_node(node))
            .await
            .map(|_| ())
            .map_err(|source| no_effect(op, source))
    }

    /// CASes a published node (a neighbour link). `Ok(false)` when the node
    /// changed or vanished meanwhile. Not a linearization point: a lost reply
    /// means this attempt failed without effect on the deque's contents.
    pub(crate) async fn cas_node(
        &self,
        op: OpKind,
        key: &Key,
        node: &Node,
        token: CasToken,
    ) -> Result<bool, DequeError> {
        let outcome = self
            .store
            .cas(key, format::encode_node(node), token)
            .await
            .map_err(|source| no_effect(op, source))?;
        Ok(matches!(outcome, CasOutcome::Stored(_)))
    }

    /// CASes the anchor. `Ok(None)` when another client won. What a lost
    /// reply means depends on the CAS's `effect`: the whole operation's
    /// outcome is unknown for the CAS that makes it take effect, while a
    /// housekeeping CAS (marking the anchor stable) changes no contents.
    pub(crate) async fn cas_anchor(
        &mut self,
        op: OpKind,
        effect: Effect,
        anchor: &Anchor,
        token: CasToken,
    ) -> Result<Option<CasToken>, DequeError> {
        if effect == Effect::Linearizing && !self.link_allows_cas() {
            return Ok(None);
        }
        let command = self.anchor_cas_command(anchor, token);
        let reply = self.store.call(command.clone()).await;
        self.anchor_cas_outcome(op, effect, anchor, &command, reply)
    }

    /// A push's linearizing anchor CAS and, in the same round trip, what the
    /// pusher's own stabilize needs: the node it links to (`pen`, the old
    /// end), then the anchor again. The reads' results come back raw and
    /// are looked at only if the CAS won ([`node_from`](Context::node_from)).
    /// Commands of a batch may be far apart in time (other clients run in
    /// between), so the anchor read after `pen` plays the part of
    /// docs/algorithm.md's re-check: only if the anchor still holds this push
    /// was `pen` read while linking it was this push's business.
    pub(crate) async fn cas_anchor_and_read(
        &mut self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
        pen: NodeId,
    ) -> (Result<Option<CasToken>, DequeError>, OwnPushReads) {
        if !self.link_allows_cas() {
            let unread = OwnPushReads {
                pen: Ok(None),
                anchor_token: None,
            };
            return (Ok(None), unread);
        }
        let cas = self.anchor_cas_command(anchor, token);
        let read_pen = Command::Gets {
            key: self.node_key(pen),
        };
        let read_anchor = Command::Gets {
            key: self.anchor_key.clone(),
        };
        let replies = self
            .store
            .call_batch(vec![cas.clone(), read_pen.clone(), read_anchor.clone()])
            .await;
        let [cas_reply, pen_reply, anchor_reply]: [Result<Reply, StoreError>; 3] =
            replies.try_into().expect("one reply per command");
        let won = self.anchor_cas_outcome(op, Effect::Linearizing, anchor, &cas, cas_reply);
        let reads = OwnPushReads {
            pen: store::gets_outcome(&read_pen, pen_reply),
            anchor_token: store::gets_outcome(&read_anchor, anchor_reply)
                .ok()
                .flatten()
                .map(|item| item.cas),
        };
        (won, reads)
    }

    /// Finishes this client's own push: links `pen` to the pushed node and
    /// marks the anchor `stable`, in one round trip when both live on one
    /// server (in order: the link first). Marking stable whatever the link
    /// did is safe: the anchor CAS succeeds only if the anchor still holds
    /// this push, and then nobody else can have moved `pen`'s link except
    /// to this push's node. On different servers the order is not kept, so
    /// the anchor is marked only after the link succeeded.
    pub(crate) async fn link_and_mark_stable(
        &mut self,
        op: OpKind,
        pen: NodeId,
        linked: &Node,
        pen_token: CasToken,
        stable: &Anchor,
        anchor_token: CasToken,
    ) -> Result<(), DequeError> {
        let pen_key = self.node_key(pen);
        let link = Command::Cas {
            key: pen_key.clone(),
            value: format::encode_node(linked),
            token: pen_token,
        };
        if !self.store.colocated(&pen_key, &self.anchor_key) {
            if self.cas_node(op, &pen_key, linked, pen_token).await? {
                self.cas_anchor(op, Effect::Housekeeping, stable, anchor_token).await?;
            }
            return Ok(());
        }
        let mark = self.anchor_cas_command(stable, anchor_token);
        let replies = self.store.call_batch(vec![link, mark.clone()]).await;
        let mark_reply = replies.into_iter().nth(1).expect("one reply per command");
        self.anchor_cas_outcome(op, Effect::Housekeeping, stable, &mark, mark_reply)?;
        Ok(())
    }

    pub(crate) fn anchor_cas_command(&self, anchor: &Anchor, token: CasToken) -> Command {
        Command::Cas {
            key: self.anchor_key.clone(),
            value: format::encode_anchor(anchor),
            token,
        }
    }

    /// What an anchor CAS reply means for the deque; remembers a won
    /// anchor as the next guess.
    pub(crate) fn anchor_cas_outcome(
        &mut self,
        op: OpKind,
        effect: Effect,
        anchor: &Anchor,
        command: &Command,
        reply: Result<Reply, StoreError>,
    ) -> Result<Option<CasToken>, DequeError> {
        self.guess.forget();
        match store::cas_outcome(command, reply) {
            Ok(CasOutcome::Stored(token)) => {
                self.guess.won(*anchor, token);
                Ok(Some(token))
            }
            Ok(CasOutcome::Exists) => {
                if effect == Effect::Linearizing {
                    self.count_retry(RetryCause::CasLost { guessed: self.guessed });
                }
                Ok(None)
            }
            Ok(CasOutcome::NotFound) => Err(self.corruption(op, &self.anchor_key, CorruptionKind::MissingAnchor)),
            Err(source) if source.outcome_unknown() && effect == Effect::Linearizing => {
                Err(DequeError::OutcomeUnknown { op, source })
            }
            Err(source) => Err(no_effect(op, source)),
        }
    }

    /// Deletes a popped node after the pop took effect. A failed request
    /// only leaks the item until memcached evicts it, so it is ignored.
    ///
    /// Only the pop whose anchor CAS removed a node deletes it, so the node
    /// is normally there. When lifetimes are tracked, a node found already
    /// gone is reported: it was lost after this client loaded it, or this
    /// pop's CAS was a stale token accepted after a restart (the restart
    /// ABA), and then the value may already have been popped by someone
    /// else. Returning it could hand out a duplicate, so the pop reports
    /// corruption instead.
    pub(crate) async fn delete_popped(&self, op: OpKind, id: NodeId) -> Result<(), DequeError> {
        let key = self.node_key(id);
        match self.store.delete(&key).await {
            Ok(DeleteOutcome::NotFound) if self.tracks_lifetime => {
                Err(self.corruption(op, &key, CorruptionKind::MissingNode(id)))
            }
            _ => Ok(()),
        }
    }

    /// The error for an operation whose every attempt lost a race.
    pub(crate) fn retries_exhausted(&self, op: OpKind) -> DequeError {
        DequeError::RetriesExhausted {
            op,
            attempts: self.retries_max,
        }
    }
}

/// What an anchor CAS does for its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// It makes the operation take effect: a lost reply leaves the
    /// operation's outcome unknown.
    Linearizing,
    /// Housekeeping any client may finish (marking the anchor stable): a
    /// lost reply changes no contents.
    Housekeeping,
}

/// What a pusher read right after its winning CAS, for its own stabilize.
#[derive(Debug)]
pub(crate) struct OwnPushReads {
    /// The node the push links to, as `gets` answered.
    pub(crate) pen: Result<Option<Item>, StoreError>,
    /// The anchor's token when read after `pen`, if it could be read.
    pub(crate) anchor_token: Option<CasToken>,
}

/// A store failure before the operation's linearization point: whatever the
/// request did, the deque's contents did not change.
pub(crate) fn no_effect(op: OpKind, source: StoreError) -> DequeError {
    DequeError::Backend { op, source }
}
