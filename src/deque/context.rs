//! The per-client state and the store helpers every deque algorithm shares:
//! key naming, entry encoding, error mapping and corruption tracking.
//!
//! An algorithm module (such as [`michael2003`](super::michael2003)) holds
//! only the algorithm's control flow; everything about *how* an anchor is
//! read or a node written lives here, once.

use rand_chacha::ChaCha12Rng;
use rand_core::Rng;

use crate::deque::error::{CorruptionKind, DequeError, OpKind};
use crate::deque::{Backoff, DequeOptions, Flaws};
use crate::format::{self, Anchor, FormatError, Node, NodeId};
use crate::key::Key;
use crate::store::{self, CasOutcome, CasToken, Command, DeleteOutcome, Item, Reply, Store, StoreError};

/// One client's view of one deque.
///
/// Its size is constant: a random-id generator and the one id this client
/// last failed to load. CAS tokens travel as values from read to write.
#[derive(Debug)]
pub(crate) struct Context<S> {
    pub(crate) store: S,
    pub(crate) name: String,
    pub(crate) anchor_key: Key,
    pub(crate) retries_max: u32,
    /// The broken variant's flaws (none for the real algorithm).
    pub(crate) flaws: Flaws,
    /// Whether anchors carry the server lifetime and every read checks it
    /// (the hardened algorithm).
    pub(crate) tracks_lifetime: bool,
    /// The lifetime of the anchor's server as this handle last asked it;
    /// asked again only when an anchor disagrees with it.
    pub(crate) lifetime: Option<u64>,
    /// Whether the round-trip engineering is on (the hardened algorithm):
    /// operations start from [`guess`](Context::guess), and a pusher reads
    /// and links its neighbour in pipelined batches.
    pub(crate) engineered: bool,
    /// The anchor and token of this client's last successful anchor CAS: an
    /// uncontended client's next operation can CAS against it without
    /// reading the anchor first. The CAS itself checks the guess (a wrong
    /// one fails on the token), and each guess is used once, so a stale one
    /// costs one failed attempt, never a wrong result.
    guess: Option<(Anchor, CasToken)>,
    /// Whether the current attempt started from the guess.
    guessing: bool,
    /// Guesses to pass up before trusting one again: a guess that missed
    /// (another client had moved the anchor) costs a round trip more than
    /// reading would have, so after a miss the handle reads for a while,
    /// twice as long after each miss in a row (up to
    /// [`GUESS_SKIP_MAX`]). A handle that returns to a deque others use
    /// (a shard, say) thus stops guessing; a lone client always guesses.
    guess_skip: u32,
    /// The skip the next miss sets.
    guess_skip_next: u32,
    /// Waiting between attempts after a lost race.
    backoff: Backoff,
    /// Attempts started by this handle's operations (an uncontended
    /// operation makes one; each lost race one more).
    pub(crate) attempts: u64,
    rng: ChaCha12Rng,
    /// The node id this client last failed to load. Failing on the same id
    /// twice in a row (two failures, whatever loads succeeded in between)
    /// means it is gone for good (ALGORITHM.md). It is not cleared by a
    /// successful load: stabilize loads the last node, then fails on the
    /// penultimate, on every retry, and clearing in between would retry a
    /// lost penultimate node forever (the harness found exactly that).
    last_missing: Option<NodeId>,
}

impl<S: Store> Context<S> {
    /// A handle's state, with what `options` and its variant ask for.
    pub(crate) fn new(store: S, name: String, anchor_key: Key, rng: ChaCha12Rng, options: &DequeOptions) -> Self {
        Context {
            store,
            name,
            anchor_key,
            retries_max: options.retries_max,
            flaws: options.variant.flaws(),
            tracks_lifetime: options.variant.tracks_lifetime(),
            lifetime: None,
            engineered: options.variant.engineers_round_trips(),
            guess: None,
            guessing: false,
            guess_skip: 0,
            guess_skip_next: 1,
            backoff: options.backoff,
            attempts: 0,
            rng,
            last_missing: None,
        }
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

    /// A fresh node id; 128 random bits never repeat in practice.
    pub(crate) fn fresh_id(&mut self) -> NodeId {
        let high = u128::from(self.rng.next_u64());
        let low = u128::from(self.rng.next_u64());
        NodeId(high << 64 | low)
    }

    /// `<name>:<id>`; always a valid key because names leave room for it.
    pub(crate) fn node_key(&self, id: NodeId) -> Key {
        Key::new(format!("{}:{id}", self.name)).expect("deque names leave room for node key suffixes")
    }

    fn corruption(&self, op: OpKind, key: &Key, kind: CorruptionKind) -> DequeError {
        DequeError::Corruption {
            op,
            key: key.clone(),
            kind,
        }
    }

    fn malformed(&self, op: OpKind, key: &Key, error: FormatError) -> DequeError {
        self.corruption(op, key, CorruptionKind::Malformed(error))
    }

    /// A structural contradiction found at `key`.
    pub(crate) fn broken_link(&self, op: OpKind, key: &Key, what: &'static str) -> DequeError {
        self.corruption(op, key, CorruptionKind::BrokenLink(what))
    }

    /// Asks the anchor's server which lifetime it is running, and
    /// remembers the answer.
    pub(crate) async fn running_lifetime(&mut self, op: OpKind) -> Result<u64, DequeError> {
        let running = store::lifetime(&self.store, &self.anchor_key)
            .await
            .map_err(|source| no_effect(op, source))?;
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
            .store
            .gets(&self.anchor_key)
            .await
            .map_err(|source| no_effect(op, source))?
            .ok_or_else(|| self.corruption(op, &self.anchor_key, CorruptionKind::MissingAnchor))?;
        let anchor = format::decode_anchor(&item.value).map_err(|e| self.malformed(op, &self.anchor_key, e))?;
        if self.tracks_lifetime && (self.lifetime.is_none() || self.lifetime != anchor.lifetime) {
            let running = self.running_lifetime(op).await?;
            if anchor.lifetime != Some(running) {
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
    /// trips are engineered and it is `usable` for this operation, else a
    /// fresh read. A guess is taken, so the next attempt reads afresh.
    pub(crate) async fn start_anchor(
        &mut self,
        op: OpKind,
        usable: fn(&Anchor) -> bool,
    ) -> Result<(Anchor, CasToken), DequeError> {
        if std::mem::take(&mut self.guessing) {
            // The last attempt started from a guess and did not win.
            self.guess_skip = self.guess_skip_next;
            self.guess_skip_next = (self.guess_skip_next * 2).min(GUESS_SKIP_MAX);
        }
        match self.guess.take() {
            Some((anchor, token)) if self.engineered && usable(&anchor) => {
                if self.guess_skip > 0 {
                    self.guess_skip -= 1;
                    return self.read_anchor(op).await;
                }
                self.guessing = true;
                Ok((anchor, token))
            }
            _ => self.read_anchor(op).await,
        }
    }

    /// Loads a node. `Ok(None)` means it is missing for the first time, which
    /// is normally a race (a concurrent pop deleted it); failing on the same
    /// id twice in a row is reported as corruption. A node that lost a race
    /// is never referenced again (pops stabilize before following an inward
    /// link), so a second failure on it cannot be a race.
    pub(crate) async fn load_node(&mut self, op: OpKind, id: NodeId) -> Result<Option<(Node, CasToken)>, DequeError> {
        let key = self.node_key(id);
        let item = self.store.gets(&key).await;
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
                Ok(Some((node, item.cas)))
            }
            // FLAW (no-corruption-detection): every miss is a race.
            None if self.flaws.missing_node_is_always_a_race => Ok(None),
            // FLAW (corruption-on-first-miss): no second look.
            None if self.flaws.corruption_on_first_miss => {
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

    /// CASes the anchor as the step that makes `op` take effect. `Ok(None)`
    /// when another client won; a lost reply makes the whole op's outcome
    /// unknown.
    pub(crate) async fn cas_anchor_linearizing(
        &mut self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
    ) -> Result<Option<CasToken>, DequeError> {
        let command = self.anchor_cas_command(anchor, token);
        let reply = self.store.call(command.clone()).await;
        self.anchor_cas_outcome(op, anchor, &command, reply, |source| DequeError::OutcomeUnknown {
            op,
            source,
        })
    }

    /// CASes the anchor as housekeeping (marking it stable): not a
    /// linearization point, so a lost reply means "no effect on contents".
    pub(crate) async fn cas_anchor_housekeeping(
        &mut self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
    ) -> Result<Option<CasToken>, DequeError> {
        let command = self.anchor_cas_command(anchor, token);
        let reply = self.store.call(command.clone()).await;
        self.anchor_cas_outcome(op, anchor, &command, reply, |source| no_effect(op, source))
    }

    /// A push's linearizing anchor CAS and, in the same round trip, what the
    /// pusher's own stabilize needs: the node it links to (`pen`, the old
    /// end), then the anchor again. The reads' results come back raw and
    /// are looked at only if the CAS won ([`node_from`](Context::node_from)).
    /// Commands of a batch may be far apart in time (other clients run in
    /// between), so the anchor read after `pen` plays the part of
    /// ALGORITHM.md's re-check: only if the anchor still holds this push
    /// was `pen` read while linking it was this push's business.
    pub(crate) async fn cas_anchor_and_read(
        &mut self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
        pen: NodeId,
    ) -> (Result<Option<CasToken>, DequeError>, OwnPushReads) {
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
        let won = self.anchor_cas_outcome(op, anchor, &cas, cas_reply, |source| DequeError::OutcomeUnknown {
            op,
            source,
        });
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
                self.cas_anchor_housekeeping(op, stable, anchor_token).await?;
            }
            return Ok(());
        }
        let mark = self.anchor_cas_command(stable, anchor_token);
        let replies = self.store.call_batch(vec![link, mark.clone()]).await;
        let mark_reply = replies.into_iter().nth(1).expect("one reply per command");
        self.anchor_cas_outcome(op, stable, &mark, mark_reply, |source| no_effect(op, source))?;
        Ok(())
    }

    fn anchor_cas_command(&self, anchor: &Anchor, token: CasToken) -> Command {
        Command::Cas {
            key: self.anchor_key.clone(),
            value: format::encode_anchor(anchor),
            token,
        }
    }

    /// What an anchor CAS reply means for the deque; remembers a won
    /// anchor as the next guess.
    fn anchor_cas_outcome(
        &mut self,
        op: OpKind,
        anchor: &Anchor,
        command: &Command,
        reply: Result<Reply, StoreError>,
        on_unknown: impl FnOnce(StoreError) -> DequeError,
    ) -> Result<Option<CasToken>, DequeError> {
        self.guess = None;
        match store::cas_outcome(command, reply) {
            Ok(CasOutcome::Stored(token)) => {
                if std::mem::take(&mut self.guessing) {
                    self.guess_skip_next = 1;
                }
                self.guess = Some((*anchor, token));
                Ok(Some(token))
            }
            Ok(CasOutcome::Exists) => Ok(None),
            Ok(CasOutcome::NotFound) => Err(self.corruption(op, &self.anchor_key, CorruptionKind::MissingAnchor)),
            Err(source) if source.outcome_unknown() => Err(on_unknown(source)),
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

/// The longest run of operations a handle reads the anchor for after its
/// guesses kept missing, before it tries a guess again.
const GUESS_SKIP_MAX: u32 = 64;

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
fn no_effect(op: OpKind, source: StoreError) -> DequeError {
    DequeError::Backend { op, source }
}
