//! What a lost entry held, read by a world that can look inside what it
//! destroys (the simulator, the model checkers), so that the checker forgives
//! an unpopped value only by a loss that could have taken it
//! (`crate::check::forgive`).

use memcache_collections::format;
use memcache_collections::store::LIFE_MARK_KEY;

use crate::history::Held;
use crate::workload::value_id;

/// Where the lost entries were: which deque's keys to look for, and whether
/// the server is the one holding its anchor.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The deque's name: its anchor's key, its nodes' key prefix.
    pub deque: &'a str,
    /// Whether the server holds the deque's anchor.
    pub anchor_server: bool,
}

/// Adds one lost entry (`key` held `bytes`) to `held`: the deque's anchor;
/// the anchor's server's life mark, whose loss makes every reader report
/// the anchor as written in another life (the deque is as good as lost);
/// a node (its value's id); or anything else, which held no value.
pub fn add(held: &mut Held, place: Place<'_>, key: &[u8], bytes: &[u8]) {
    if key == place.deque.as_bytes() || (place.anchor_server && key == LIFE_MARK_KEY.as_bytes()) {
        held.anchor = true;
    } else if key.starts_with(format::node_key_prefix(place.deque).as_bytes())
        && let Ok(node) = format::decode_node(bytes)
    {
        held.values.push(value_id(&node.value));
    }
}

/// What the entries `lost` (key and bytes) held.
pub fn of<'a>(place: Place<'_>, lost: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Held {
    let mut held = Held::default();
    for (key, bytes) in lost {
        add(&mut held, place, key, bytes);
    }
    held
}

#[cfg(test)]
mod tests {
    use memcache_collections::format::{Anchor, Node, NodeId, encode_anchor, encode_node, node_key};

    use super::*;
    use crate::config::DEQUE_NAME;
    use crate::workload::value_bytes;

    #[test]
    fn the_anchor_and_node_values_are_what_a_loss_held() {
        let node = encode_node(&Node {
            prev: None,
            next: None,
            value: value_bytes("v3.7", 40),
        });
        let key = node_key(DEQUE_NAME, NodeId(9)).unwrap();
        let anchor = encode_anchor(&Anchor::EMPTY);
        let elsewhere = Place {
            deque: DEQUE_NAME,
            anchor_server: false,
        };
        let held = of(
            elsewhere,
            [
                (key.as_bytes(), node.as_slice()),
                (DEQUE_NAME.as_bytes(), anchor.as_slice()),
                (key.as_bytes(), b"garbage".as_slice()),
            ],
        );
        assert!(held.anchor);
        assert_eq!(held.values, vec!["v3.7".to_owned()]);
        let mark = [(LIFE_MARK_KEY.as_bytes(), b"12345678".as_slice())];
        assert!(!of(elsewhere, mark).anchor, "another server's life mark");
        let home = Place {
            anchor_server: true,
            ..elsewhere
        };
        assert!(
            of(home, mark).anchor,
            "the anchor's server's life mark: every reader refuses the anchor"
        );
        let other_deque = Place { deque: "other", ..home };
        assert!(of(other_deque, [(key.as_bytes(), node.as_slice())]).values.is_empty());
    }
}
