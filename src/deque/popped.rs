//! A `hardened` pop's node after its CAS: read back in the CAS's round
//! trip instead of deleted in a round trip of its own, and deleted with the
//! handle's next request to its server (docs/algorithm.md, "What `hardened`
//! changes"; FINDINGS.md, finding 1b, for why the pop checks it at all).

use crate::deque::Flaw;
use crate::deque::context::Context;
use crate::deque::context::Effect;
use crate::deque::error::{CorruptionKind, DequeError, OpKind};
use crate::format::{Anchor, NodeId};
use crate::key::Key;
use crate::store::{self, CasToken, Command, Item, Reply, Store, StoreError};

/// The largest value whose pop leaves its delete to the next request.
/// Measured in interleaved runs of the two pops on one server (`mcsim bench
/// real --clients 1,8 --value-size-bytes 4096,65536,524288 --mix fifo`,
/// each binary twice): up to 64 KiB the 2-round-trip pop is as fast or
/// faster (one client +14 to +30% at 64 KiB, 8 clients level); at 512 KiB
/// it was slower (one client about -18%, 8 clients about -40%, with more
/// retries per op), for reasons not yet found, so such pops keep the
/// checked delete's 3 round trips.
pub(crate) const POP_DEFERRED_DELETE_VALUE_BYTES_MAX: usize = 64 * 1024;

impl<S: Store> Context<S> {
    /// Sends `command`, followed in the same round trip by the delete of
    /// the node this handle last popped, if that is still to be done and
    /// lives on `command`'s server (elsewhere it would cost a round trip of
    /// its own, so it waits for a request that goes there).
    ///
    /// The delete compares the node's token: if the node was lost after the
    /// pop and its key written again (ids that repeat: handles sharing an
    /// id seed, FINDINGS.md finding 6), the new item is not this pop's to
    /// delete, and survives. It goes after `command`, so losing its reply
    /// cannot fail `command`. Its reply is ignored: a failed delete leaks
    /// the item until memcached evicts it, as a failed delete always did.
    ///
    /// A neighbour link kept back by this handle's last push
    /// (`deferred_link.rs`) goes out with `command` too, ahead of it, or
    /// just before it when it lives on another server. Ahead of it in one
    /// batch, a link whose request or reply is lost fails `command` too
    /// (the batch stops at the first failure): the operation then ends
    /// with no effect, as after any lost request.
    pub(crate) async fn call_releasing(&mut self, command: Command) -> Result<Reply, StoreError> {
        let mut link = self.take_link_command();
        if let Some(alone) = link.take_if(|link| !self.store.colocated(command.key(), link.key())) {
            let reply = self.store.call(alone.clone()).await;
            self.link_answered(&alone, reply);
        }
        let release = self
            .release
            .filter(|(id, _)| self.store.colocated(command.key(), &self.node_key(*id)));
        if release.is_none() && link.is_none() {
            return self.store.call(command).await;
        }
        if release.is_some() {
            self.release = None;
        }
        // The link first: `command` may read the node it links (a pop of
        // the far end of a two-node deque loads it for its inward link).
        // FLAW (link-after-first-request): the link after `command`.
        let link_last = self.has(Flaw::LinkAfterFirstRequest);
        let mut commands: Vec<Command> = Vec::new();
        if !link_last {
            commands.extend(link.iter().cloned());
        }
        let command_at = commands.len();
        commands.push(command);
        let link_at = if link_last { command_at + 1 } else { 0 };
        if link_last {
            commands.extend(link.iter().cloned());
        }
        if let Some((id, token)) = release {
            commands.push(Command::DeleteCas {
                key: self.node_key(id),
                token,
            });
        }
        let replies = self.store.call_batch(commands.clone()).await;
        let mut replies: Vec<_> = store::replies_for(&commands, replies).into_iter().map(Some).collect();
        if let Some(link) = link {
            let reply = replies[link_at].take().expect("one reply per command");
            self.link_answered(&link, reply);
        }
        replies[command_at].take().expect("one reply per command")
    }

    /// `gets` of `key` through [`call_releasing`](Context::call_releasing).
    pub(crate) async fn gets_releasing(&mut self, key: Key) -> Result<Option<Item>, StoreError> {
        let command = Command::Gets { key };
        let reply = self.call_releasing(command.clone()).await;
        store::gets_outcome(&command, reply)
    }

    /// Whether a pop may check its node in the round trip of its anchor CAS
    /// and leave the delete to the handle's next request: `hardened`, only
    /// when the node lives on the anchor's server (see
    /// [`cas_anchor_and_check_popped`](Context::cas_anchor_and_check_popped)),
    /// and only for a value of at most [`POP_DEFERRED_DELETE_VALUE_BYTES_MAX`].
    pub(crate) fn checks_popped_in_cas_batch(&self, id: NodeId, value_len_bytes: usize) -> bool {
        self.engineered
            && value_len_bytes <= POP_DEFERRED_DELETE_VALUE_BYTES_MAX
            && self.store.colocated(&self.anchor_key, &self.node_key(id))
    }

    /// A pop's linearizing anchor CAS and, in the same round trip, a read
    /// of the node it removes (its token only, `Command::Version`); the
    /// node's delete waits for the handle's next request
    /// ([`call_releasing`](Context::call_releasing)), so an uncontended pop
    /// from a known anchor takes two round trips: load the node, then this.
    ///
    /// The read does the checked delete's job ([`delete_popped`](Context::delete_popped)):
    /// if the CAS won and the node is gone, the CAS was a stale token
    /// accepted by a new life of the server (the restart ABA, FINDINGS.md
    /// finding 1b), and the value may already have been popped by someone
    /// else, or the node was lost after this client loaded it: either way
    /// corruption is reported instead of the value. This holds only on one
    /// server: a restart wipes the node with the anchor, and the server
    /// answers in order. On two servers a node popped by another client
    /// that has not yet sent its delete could survive the anchor's restart,
    /// so there the caller deletes at once, as before.
    ///
    /// The check relies on node ids not repeating within a server life:
    /// read back, a node is seen, not claimed, so two pops that removed the
    /// same key from two places (possible only after a colliding id refilled
    /// a lost node's key, finding 6, still open) would both return it, where
    /// the checked delete let only one through.
    ///
    /// Until the delete goes out, the popped node stays readable and keeps
    /// its memory (one item per handle, up to the item size limit, at the
    /// recently used end of memcached's LRU); clients working from a stale
    /// anchor may load it, and their CAS from that anchor fails as it would
    /// have. A handle dropped before its next operation leaves that item to
    /// memcached's eviction. `popped_token` is the node's token when the
    /// pop loaded it, for the delete's compare when the read-back's reply
    /// is lost.
    pub(crate) async fn cas_anchor_and_check_popped(
        &mut self,
        op: OpKind,
        anchor: &Anchor,
        token: CasToken,
        popped: NodeId,
        popped_token: CasToken,
    ) -> Result<Option<CasToken>, DequeError> {
        if !self.link_allows_cas() {
            return Ok(None);
        }
        let cas = self.anchor_cas_command(anchor, token);
        // Its token, not its bytes: a large value would cross the network a
        // second time for nothing.
        let check = Command::Version {
            key: self.node_key(popped),
        };
        let commands = [cas.clone(), check.clone()];
        let replies = self.store.call_batch(commands.to_vec()).await;
        let [cas_reply, check_reply]: [Result<Reply, StoreError>; 2] = store::replies_for(&commands, replies)
            .try_into()
            .expect("replies_for gives one reply per command");
        let Some(won) = self.anchor_cas_outcome(op, Effect::Linearizing, anchor, &cas, cas_reply)? else {
            return Ok(None);
        };
        let node_token = match store::gets_outcome(&check, check_reply) {
            Ok(Some(item)) => item.cas,
            Ok(None) => {
                // The won anchor may be a stale write: not a guess to start from.
                self.guess.forget();
                return Err(self.corruption(op, &self.node_key(popped), CorruptionKind::MissingNode(popped)));
            }
            // Unchecked, as when the checked delete's reply was lost.
            Err(_) => popped_token,
        };
        self.release = Some((popped, node_token));
        Ok(Some(won))
    }
}

#[cfg(test)]
mod tests {
    use crate::deque::error::{CorruptionKind, DequeError};
    use crate::deque::{Deque, DequeOptions};
    use crate::format::{self, NodeId};
    use crate::key::Key;
    use crate::store::{Command, MemoryStore, Reply, Store, StoreError, block_on};

    /// The id of the node at the right end of deque `name`.
    fn right_end(store: &MemoryStore, name: &str) -> NodeId {
        let item = block_on(store.gets(&Key::new(name).unwrap())).unwrap().unwrap();
        format::decode_anchor(&item.value).unwrap().right.unwrap()
    }

    fn node_key(name: &str, id: NodeId) -> Key {
        format::node_key(name, id).unwrap()
    }

    /// A popped node stays until the handle's next request, which deletes
    /// it; a key written again after the node was lost is not the pop's to
    /// delete, and survives.
    #[test]
    fn the_next_request_deletes_the_popped_node_but_not_a_refilled_key() {
        let store = MemoryStore::default();
        let mut deque = block_on(Deque::create(&store, Some("q"), DequeOptions::default())).unwrap();
        for value in ["a", "b", "c"] {
            block_on(deque.push_back(value)).unwrap();
        }
        let c = node_key("q", right_end(&store, "q"));
        assert_eq!(block_on(deque.pop_back()).unwrap(), Some(b"c".to_vec()));
        assert!(
            block_on(store.gets(&c)).unwrap().is_some(),
            "kept until the next request"
        );
        let b = node_key("q", right_end(&store, "q"));
        assert_eq!(block_on(deque.pop_back()).unwrap(), Some(b"b".to_vec()));
        assert!(
            block_on(store.gets(&c)).unwrap().is_none(),
            "deleted with the next request"
        );
        // b's node is lost, and its key is written again by someone else.
        block_on(store.delete(&b)).unwrap();
        block_on(store.set(&b, b"another".to_vec())).unwrap();
        assert_eq!(block_on(deque.pop_back()).unwrap(), Some(b"a".to_vec()));
        assert_eq!(block_on(store.gets(&b)).unwrap().unwrap().value, b"another");
    }

    /// A value above the bound pops with the checked delete: its node is
    /// gone when the pop returns.
    #[test]
    fn a_large_value_is_deleted_before_its_pop_returns() {
        let store = MemoryStore::default();
        let mut deque = block_on(Deque::create(&store, Some("q"), DequeOptions::default())).unwrap();
        let large = vec![7u8; super::POP_DEFERRED_DELETE_VALUE_BYTES_MAX + 1];
        block_on(deque.push_back(large.clone())).unwrap();
        let node = node_key("q", right_end(&store, "q"));
        assert_eq!(block_on(deque.pop_back()).unwrap(), Some(large));
        assert!(block_on(store.gets(&node)).unwrap().is_none());
    }

    /// A store that loses `victim` right before it applies a CAS of
    /// `anchor`: what a pop sees when its CAS was a stale token accepted
    /// by a new server life (the restart wiped the node).
    struct LoseBeforeAnchorCas<'a> {
        inner: &'a MemoryStore,
        anchor: Key,
        victim: Key,
    }

    impl Store for LoseBeforeAnchorCas<'_> {
        async fn call(&self, command: Command) -> Result<Reply, StoreError> {
            if matches!(&command, Command::Cas { key, .. } if *key == self.anchor) {
                self.inner.delete(&self.victim).await.unwrap();
            }
            self.inner.call(command).await
        }

        fn colocated(&self, _: &Key, _: &Key) -> bool {
            true
        }
    }

    #[test]
    fn a_node_gone_right_after_the_won_cas_is_reported_not_returned() {
        let store = MemoryStore::default();
        let mut pusher = block_on(Deque::create(&store, Some("q"), DequeOptions::default())).unwrap();
        block_on(pusher.push_back("a")).unwrap();
        block_on(pusher.push_back("b")).unwrap();
        let b = right_end(&store, "q");
        let losing = LoseBeforeAnchorCas {
            inner: &store,
            anchor: Key::new("q").unwrap(),
            victim: node_key("q", b),
        };
        let mut popper = block_on(Deque::bind(&losing, "q", DequeOptions::default())).unwrap();
        match block_on(popper.pop_back()) {
            Err(DequeError::Corruption {
                kind: CorruptionKind::MissingNode(id),
                ..
            }) => assert_eq!(id, b),
            other => panic!("expected the missing node reported, got {other:?}"),
        }
    }
}
