//! Which entry a targeted loss destroys, chosen the same way in every
//! world from what the servers hold: the anchor; the node at a position,
//! found by following `next` links from the anchor's left end; or a node
//! picked at random (from the fault stream) among every node item stored
//! under the deque's name, linked or not (a node written but not yet
//! published, or popped but not yet deleted, is fair game, as it is for an
//! eviction). Node keys come from the library's own layout
//! (`format::node_key`).

use memcache_collections::format::{self, NodeId};
use memcache_collections::key::Key;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::LossTarget;

/// What a world lets the chooser see of its servers. A world that cannot
/// look (a server that does not answer) says why: the fault then could not
/// be applied, which is a harness failure, never a silent no-op.
pub trait Holdings {
    /// The value stored under `key`, if any (no side effects: an oracle's
    /// look, not a client's request).
    fn peek(&self, key: &Key) -> Result<Option<Vec<u8>>, String>;
    /// Every stored key that starts with `prefix`, sorted.
    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<Key>, String>;
}

/// The key a loss of `target` in the deque `deque_name` destroys, if that
/// entry exists (`Ok(None)`: nothing to lose, such as a position past the
/// end). Draws from `rng` only for a random node, and only when there is
/// one.
pub fn loss_target(
    target: LossTarget,
    deque_name: &str,
    holdings: &impl Holdings,
    rng: &mut ChaCha8Rng,
) -> Result<Option<Key>, String> {
    let anchor_key = Key::new(deque_name).expect("deque names are valid keys");
    let node_key = |id: NodeId| format::node_key(deque_name, id).expect("node keys of a valid name are valid");
    match target {
        LossTarget::Anchor => Ok(Some(anchor_key)),
        LossTarget::RandomNode => {
            let mut nodes = holdings.keys_with_prefix(&format::node_key_prefix(deque_name))?;
            if nodes.is_empty() {
                return Ok(None);
            }
            let pick = rng.random_range(0..nodes.len());
            Ok(Some(nodes.swap_remove(pick)))
        }
        LossTarget::NodeAt { position } => {
            // A missing or garbled entry on the way ends the walk: the
            // position is past what the deque holds.
            let Some(bytes) = holdings.peek(&anchor_key)? else {
                return Ok(None);
            };
            let Some(mut id) = format::decode_anchor(&bytes).ok().and_then(|a| a.left) else {
                return Ok(None);
            };
            for _ in 0..position {
                let Some(bytes) = holdings.peek(&node_key(id))? else {
                    return Ok(None);
                };
                match format::decode_node(&bytes).ok().and_then(|n| n.next) {
                    Some(next) => id = next,
                    None => return Ok(None),
                }
            }
            Ok(Some(node_key(id)))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use memcache_collections::format::{Anchor, Node, Status};
    use rand_core::SeedableRng;

    use super::*;

    struct Map(BTreeMap<Key, Vec<u8>>);

    impl Holdings for Map {
        fn peek(&self, key: &Key) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.get(key).cloned())
        }
        fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<Key>, String> {
            Ok(self
                .0
                .keys()
                .filter(|k| k.as_bytes().starts_with(prefix.as_bytes()))
                .cloned()
                .collect())
        }
    }

    /// A deque `q` holding nodes 1 <-> 2 <-> 3, plus an unlinked node 9.
    fn three_nodes() -> Map {
        let mut map = BTreeMap::new();
        let anchor = Anchor {
            status: Status::Stable,
            left: Some(NodeId(1)),
            right: Some(NodeId(3)),
            lifetime: None,
        };
        map.insert(Key::new("q").unwrap(), format::encode_anchor(&anchor));
        for (id, prev, next) in [
            (1, None, Some(2)),
            (2, Some(1), Some(3)),
            (3, Some(2), None),
            (9, None, None),
        ] {
            let node = Node {
                prev: prev.map(NodeId),
                next: next.map(NodeId),
                value: vec![b'v'],
            };
            map.insert(format::node_key("q", NodeId(id)).unwrap(), format::encode_node(&node));
        }
        Map(map)
    }

    #[test]
    fn positions_follow_the_links_from_the_left_end() {
        let map = three_nodes();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let at = |position| loss_target(LossTarget::NodeAt { position }, "q", &map, &mut rng.clone()).unwrap();
        assert_eq!(at(0), Some(format::node_key("q", NodeId(1)).unwrap()));
        assert_eq!(at(2), Some(format::node_key("q", NodeId(3)).unwrap()));
        assert_eq!(at(3), None, "past the right end");
        assert_eq!(
            loss_target(LossTarget::Anchor, "q", &map, &mut rng),
            Ok(Some(Key::new("q").unwrap()))
        );
    }

    #[test]
    fn a_random_node_may_be_any_node_item_even_unlinked() {
        let map = three_nodes();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let picks: std::collections::BTreeSet<Key> = (0..200)
            .filter_map(|_| loss_target(LossTarget::RandomNode, "q", &map, &mut rng).unwrap())
            .collect();
        assert_eq!(picks.len(), 4, "{picks:?}");
        assert!(!picks.contains(&Key::new("q").unwrap()), "never the anchor");
    }

    #[test]
    fn nothing_to_lose_draws_nothing() {
        let map = Map(BTreeMap::new());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let before = rng.clone();
        assert_eq!(loss_target(LossTarget::RandomNode, "q", &map, &mut rng), Ok(None));
        assert_eq!(rng, before);
    }
}
