//! The node a push writes before it links it in: written so that it can
//! never replace an item the push does not own.
//!
//! A node's key is the deque's name and a 128-bit id from the handle's
//! generator. Written with a plain `set` (the 2013 library, `michael2003`
//! and its flawed copies), an id that repeats (two handles sharing an id
//! seed, a worker restarted with its seed) overwrites a node that is still
//! linked: its value is gone, every push returned `Ok`, and nothing reports
//! it (FINDINGS.md, colliding node ids). `hardened` does two things:
//! - it writes a fresh node with `add`, which stores only under a key that
//!   holds nothing, and draws another id on "not stored"; a push that
//!   retries after losing its anchor CAS rewrites its own node with `cas` on
//!   the token its `add` returned, so the key stays the push's own from
//!   first write to publication, at no extra request;
//! - it mixes the anchor version the push starts from (the anchor's CAS
//!   token) into every id. `add` cannot see a key whose node the store
//!   lost while the deque still names it: a repeated id would fill that
//!   hole with an unrelated value, served later as if it had been pushed
//!   there. Two generators that agree give the same id only for pushes that
//!   start from the same anchor version, and of those `add` lets one write
//!   while the first one's node lives. If that node is lost before the
//!   second `add` arrives, the key is free and the second push's node fills
//!   the hole after all (FINDINGS.md, finding 6, still open: swarm seed
//!   9919).

use crate::deque::context::{Context, no_effect};
use crate::deque::error::{DequeError, OpKind};
use crate::format::{self, Node, NodeId};
use crate::key::Key;
use crate::store::{self, AddOutcome, CasOutcome, CasToken, Command, Store};

/// A push's node before publication: its id once drawn, and the token it
/// was last stored with (none before its first write).
#[derive(Debug, Default)]
pub(crate) struct OwnNode {
    id: Option<NodeId>,
    token: Option<CasToken>,
}

impl<S: Store> Context<S> {
    /// A push's node, not written yet. `michael2003` and its copies draw
    /// its id now, before the push reads the anchor (the 2013 order of
    /// draws, which their pinned seeds replay); `hardened` draws it at the
    /// first write, from the anchor version read.
    pub(crate) fn own_node(&mut self) -> OwnNode {
        OwnNode {
            id: (!self.adds_fresh_nodes).then(|| self.fresh_id()),
            token: None,
        }
    }

    /// Writes `node` as the push's own node, for an attempt that read the
    /// anchor with `anchor_token`, and returns its id. `michael2003` and its
    /// copies draw the id once and `set` it on every attempt (the 2013
    /// behaviour, collisions unnoticed). `hardened` `add`s it under an id
    /// mixed with `anchor_token`, drawing another while the key is taken,
    /// or rewrites it with `cas` on its own token on a retry (drawing anew
    /// if even that fails: the node was lost or changed under it). A token
    /// of 0 is a server with CAS disabled ([`DequeError::CasDisabled`]).
    /// Gives up with [`DequeError::RetriesExhausted`] after the handle's
    /// attempt budget of drawn ids, which random 128-bit ids never reach.
    pub(crate) async fn write_own_node(
        &mut self,
        op: OpKind,
        own: &mut OwnNode,
        node: &Node,
        anchor_token: CasToken,
    ) -> Result<NodeId, DequeError> {
        if !self.adds_fresh_nodes {
            let id = *own.id.get_or_insert_with(|| self.fresh_id());
            self.write_node(op, &self.node_key(id), node).await?;
            return Ok(id);
        }
        let value = format::encode_node(node);
        for _ in 0..self.retries_max {
            let (id, stored) = match (own.id, own.token) {
                (Some(id), Some(token)) => {
                    let outcome = self.store.cas(&self.node_key(id), value.clone(), token).await;
                    match outcome.map_err(|source| no_effect(op, source))? {
                        CasOutcome::Stored(token) => (id, Some(token)),
                        CasOutcome::Exists | CasOutcome::NotFound => (id, None),
                    }
                }
                _ => {
                    let id = self.fresh_id_at(anchor_token);
                    let add = Command::Add {
                        key: self.node_key(id),
                        value: value.clone(),
                    };
                    let reply = self.call_releasing(add.clone()).await;
                    let outcome = store::add_outcome(&add, reply);
                    match outcome.map_err(|source| no_effect(op, source))? {
                        AddOutcome::Stored(token) => (id, Some(token)),
                        AddOutcome::NotStored => (id, None),
                    }
                }
            };
            match stored {
                Some(CasToken(0)) => return Err(self.cas_disabled(op, &self.node_key(id))),
                Some(token) => {
                    *own = OwnNode {
                        id: Some(id),
                        token: Some(token),
                    };
                    return Ok(id);
                }
                None => *own = OwnNode::default(),
            }
        }
        Err(self.retries_exhausted(op))
    }

    /// A fresh id with the anchor version `anchor_token` mixed in
    /// (splitmix64's finaliser, so neighbouring tokens spread over all
    /// bits): see the module's doc.
    fn fresh_id_at(&mut self, anchor_token: CasToken) -> NodeId {
        let mut z = anchor_token.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mix = u128::from(z ^ (z >> 31));
        NodeId(self.fresh_id().0 ^ (mix << 64 | mix))
    }

    /// The error for a server that answered `key` with the token 0.
    pub(crate) fn cas_disabled(&self, op: OpKind, key: &Key) -> DequeError {
        DequeError::CasDisabled {
            op,
            server: self.store.server_name(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::deque::{Deque, DequeOptions, Variant};
    use crate::store::{MemoryStore, Store, block_on};

    fn options(variant: Variant, seed: u64) -> DequeOptions {
        DequeOptions {
            variant,
            id_seed: Some(seed),
            ..DequeOptions::default()
        }
    }

    /// Two handles drawing the same ids: the hardened deque keeps every
    /// value; michael2003's `set` overwrites the first handle's node.
    fn shared_seed_pushes(variant: Variant) -> Vec<Vec<u8>> {
        let store = MemoryStore::default();
        let mut a = block_on(Deque::create(&store, Some("q"), options(variant, 7))).unwrap();
        let mut b = block_on(Deque::bind(&store, "q", options(variant, 7))).unwrap();
        block_on(a.push_back("a1")).unwrap();
        block_on(b.push_back("b1")).unwrap();
        block_on(a.push_back("a2")).unwrap();
        let mut popped = Vec::new();
        while let Ok(Some(value)) = block_on(a.pop_front()) {
            popped.push(value);
        }
        popped
    }

    #[test]
    fn hardened_keeps_every_value_when_ids_collide() {
        let popped = shared_seed_pushes(Variant::Hardened);
        assert_eq!(popped, vec![b"a1".to_vec(), b"b1".to_vec(), b"a2".to_vec()]);
    }

    #[test]
    fn michael2003_loses_a_value_when_ids_collide() {
        let popped = shared_seed_pushes(Variant::Michael2003);
        assert_ne!(popped, vec![b"a1".to_vec(), b"b1".to_vec(), b"a2".to_vec()]);
    }

    /// A handle whose generator repeats another's draws pushes after the
    /// other's node was lost while the deque still names it. `add` cannot
    /// see that hole, so only the anchor version mixed into the id keeps
    /// the repeated id from filling it: the loss must be reported, not
    /// served as the later push's value.
    #[test]
    fn a_repeated_id_does_not_fill_a_lost_nodes_hole() {
        let store = MemoryStore::default();
        let mut a = block_on(Deque::create(&store, Some("q"), options(Variant::Hardened, 7))).unwrap();
        let mut b = block_on(Deque::bind(&store, "q", options(Variant::Hardened, 7))).unwrap();
        block_on(a.push_back("a1")).unwrap();
        let anchor_key = crate::key::Key::new("q").unwrap();
        let anchor = block_on(store.gets(&anchor_key)).unwrap().unwrap();
        let lost = crate::format::decode_anchor(&anchor.value).unwrap().right.unwrap();
        let lost_key = crate::format::node_key("q", lost).unwrap();
        block_on(store.delete(&lost_key)).unwrap();
        block_on(b.push_back("b1")).unwrap();
        match block_on(a.pop_front()) {
            Err(error) => assert!(error.is_corruption(), "{error}"),
            Ok(popped) => panic!("popped {popped:?} from a deque that lost its front node"),
        }
    }

    #[test]
    fn a_restarted_worker_with_its_seed_keeps_the_values_before() {
        let store = MemoryStore::default();
        let mut first = block_on(Deque::create(&store, Some("q"), options(Variant::Hardened, 7))).unwrap();
        block_on(first.push_back("1")).unwrap();
        block_on(first.push_back("2")).unwrap();
        drop(first);
        let mut again = block_on(Deque::bind(&store, "q", options(Variant::Hardened, 7))).unwrap();
        block_on(again.push_back("3")).unwrap();
        let mut popped = Vec::new();
        loop {
            match block_on(again.pop_front()) {
                Ok(Some(value)) => popped.push(value),
                Ok(None) => break,
                Err(error) => panic!("{error}"),
            }
        }
        assert_eq!(popped, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    }
}
