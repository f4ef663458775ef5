//! The per-client state and the store helpers every deque algorithm shares:
//! key naming, entry encoding, error mapping and corruption tracking.
//!
//! An algorithm module (such as [`michael2003`](super::michael2003)) holds
//! only the algorithm's control flow; everything about *how* an anchor is
//! read or a node written lives here, once.

use rand_chacha::ChaCha12Rng;
use rand_core::Rng;

use crate::deque::Flaws;
use crate::deque::error::{CorruptionKind, DequeError, OpKind};
use crate::format::{self, Anchor, FormatError, Node, NodeId};
use crate::key::Key;
use crate::store::{self, CasOutcome, CasToken, DeleteOutcome, Store, StoreError};

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
    pub(crate) fn new(
        store: S,
        name: String,
        anchor_key: Key,
        retries_max: u32,
        rng: ChaCha12Rng,
        flaws: Flaws,
        tracks_lifetime: bool,
    ) -> Self {
        Context {
            store,
            name,
            anchor_key,
            retries_max,
            flaws,
            tracks_lifetime,
            lifetime: None,
            rng,
            last_missing: None,
        }
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

    /// Loads a node. `Ok(None)` means it is missing for the first time, which
    /// is normally a race (a concurrent pop deleted it); failing on the same
    /// id twice in a row is reported as corruption. A node that lost a race
    /// is never referenced again (pops stabilize before following an inward
    /// link), so a second failure on it cannot be a race.
    pub(crate) async fn load_node(&mut self, op: OpKind, id: NodeId) -> Result<Option<(Node, CasToken)>, DequeError> {
        let key = self.node_key(id);
        let item = self.store.gets(&key).await.map_err(|source| no_effect(op, source))?;
        match item {
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
        &self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
    ) -> Result<Option<CasToken>, DequeError> {
        self.cas_anchor(op, anchor, token, |source| DequeError::OutcomeUnknown { op, source })
            .await
    }

    /// CASes the anchor as housekeeping (marking it stable): not a
    /// linearization point, so a lost reply means "no effect on contents".
    pub(crate) async fn cas_anchor_housekeeping(
        &self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
    ) -> Result<Option<CasToken>, DequeError> {
        self.cas_anchor(op, anchor, token, |source| no_effect(op, source)).await
    }

    async fn cas_anchor(
        &self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
        on_unknown: impl FnOnce(StoreError) -> DequeError,
    ) -> Result<Option<CasToken>, DequeError> {
        match self
            .store
            .cas(&self.anchor_key, format::encode_anchor(anchor), token)
            .await
        {
            Ok(CasOutcome::Stored(token)) => Ok(Some(token)),
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

/// A store failure before the operation's linearization point: whatever the
/// request did, the deque's contents did not change.
fn no_effect(op: OpKind, source: StoreError) -> DequeError {
    DequeError::Backend { op, source }
}
