//! A deliberately broken design, not a flaw of `michael2003`: the
//! increment-allocated deque the 2013 README warns "suffer[s] from unhandled
//! race conditions". Each end is a counter; an operation claims a slot by
//! moving its counter with one anchor CAS (memcached's `incr`, emulated with
//! gets/cas because `Store` has no `incr`), then reads or writes the slot's
//! item.
//!
//! The race: a push claims slot `t` and only then writes it. A pop that
//! claims `t` in between finds no item and takes the deque for empty (what
//! else could it do?); the value written a moment later sits in a slot no
//! counter will reach again. The harness must see values vanish (silent
//! corruption) or pops that report empty beside a non-empty deque
//! (not linearizable).
//!
//! The counters live in the anchor's two end fields, read as numbers, so
//! the variant shares the anchor format and `Deque::create`.

use crate::deque::context::{Context, Effect};
use crate::deque::error::{DequeError, OpKind};
use crate::deque::side::Side;
use crate::format::{Anchor, Node, NodeId, Status};
use crate::store::Store;

/// Both counters start here, so the front can grow downwards.
const ORIGIN: u128 = 1 << 64;

/// The two counters: the front's first slot and the back's next free slot.
fn counters(anchor: &Anchor) -> (u128, u128) {
    (
        anchor.left.map_or(ORIGIN, |id| id.0),
        anchor.right.map_or(ORIGIN, |id| id.0),
    )
}

fn with_counters(front: u128, back: u128) -> Anchor {
    Anchor {
        status: Status::Stable,
        left: Some(NodeId(front)),
        right: Some(NodeId(back)),
        lifetime: None,
    }
}

/// Claims a slot by moving one counter; returns it.
async fn claim<S: Store>(
    ctx: &mut Context<S>,
    op: OpKind,
    moved: impl Fn(u128, u128) -> Option<(u128, u128, u128)>,
) -> Result<Option<u128>, DequeError> {
    for attempt in 0..ctx.retries_max {
        ctx.back_off(attempt).await;
        let (anchor, token) = ctx.read_anchor(op).await?;
        let (front, back) = counters(&anchor);
        let Some((front, back, slot)) = moved(front, back) else {
            return Ok(None);
        };
        if ctx
            .cas_anchor(op, Effect::Linearizing, &with_counters(front, back), token)
            .await?
            .is_some()
        {
            return Ok(Some(slot));
        }
    }
    Err(ctx.retries_exhausted(op))
}

/// Pushes `value` at `side`: claim a slot, then write it.
pub(crate) async fn push<S: Store>(
    ctx: &mut Context<S>,
    op: OpKind,
    side: Side,
    value: Vec<u8>,
) -> Result<(), DequeError> {
    let slot = claim(ctx, op, |front, back| match side {
        Side::Left => Some((front - 1, back, front - 1)),
        Side::Right => Some((front, back + 1, back)),
    })
    .await?
    .expect("a push always claims a slot");
    let node = Node {
        prev: None,
        next: None,
        value,
    };
    let key = ctx.node_key(NodeId(slot));
    ctx.write_node(op, &key, &node).await
}

/// Pops from `side`: claim the end slot, then read and delete it. A slot
/// whose item is not there (yet) reads as empty: the unhandled race.
pub(crate) async fn pop<S: Store>(ctx: &mut Context<S>, op: OpKind, side: Side) -> Result<Option<Vec<u8>>, DequeError> {
    let slot = claim(ctx, op, |front, back| {
        (front < back).then(|| match side {
            Side::Left => (front + 1, back, front),
            Side::Right => (front, back - 1, back - 1),
        })
    })
    .await?;
    let Some(slot) = slot else {
        return Ok(None);
    };
    let key = ctx.node_key(NodeId(slot));
    let Some(item) = ctx
        .store
        .gets(&key)
        .await
        .map_err(|source| DequeError::Backend { op, source })?
    else {
        return Ok(None);
    };
    let _ = ctx.delete_popped(op, NodeId(slot)).await;
    match crate::format::decode_node(&item.value) {
        Ok(node) => Ok(Some(node.value)),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::ORIGIN;
    use crate::deque::{Deque, DequeOptions, Variant};
    use crate::format::{self, NodeId};
    use crate::key::Key;
    use crate::store::{MemoryStore, Store, block_on};

    /// Alone, the increment-allocated deque works: its race needs a second
    /// client. Its ends are counters (slot numbers, not node ids) and its
    /// items sit under the slots' keys, so a handle that ran `michael2003`
    /// for either half of it would fail here, not only under a race.
    #[test]
    fn alone_it_is_a_deque_whose_ends_are_counters() {
        let store = MemoryStore::default();
        let options = DequeOptions {
            variant: Variant::IncrementAllocatedQueue,
            ..DequeOptions::default()
        };
        let mut deque = block_on(Deque::create(&store, Some("slots"), options)).unwrap();
        block_on(deque.push_back("a")).unwrap();
        block_on(deque.push_front("b")).unwrap();
        block_on(deque.push_back("c")).unwrap();
        let anchor = block_on(store.gets(&Key::new("slots").unwrap())).unwrap().unwrap();
        let anchor = format::decode_anchor(&anchor.value).unwrap();
        assert_eq!(
            (anchor.left, anchor.right),
            (Some(NodeId(ORIGIN - 1)), Some(NodeId(ORIGIN + 2)))
        );
        let first = format::node_key("slots", NodeId(ORIGIN - 1)).unwrap();
        assert!(
            block_on(store.gets(&first)).unwrap().is_some(),
            "b is in the front slot"
        );
        assert_eq!(block_on(deque.pop_front()).unwrap(), Some(b"b".to_vec()));
        assert_eq!(block_on(deque.pop_back()).unwrap(), Some(b"c".to_vec()));
        // `a` is the back end now: the back counter came down with `c`.
        assert_eq!(block_on(deque.pop_back()).unwrap(), Some(b"a".to_vec()));
        assert_eq!(block_on(deque.pop_back()).unwrap(), None);
        assert_eq!(block_on(deque.pop_front()).unwrap(), None);
        assert!(
            block_on(store.gets(&first)).unwrap().is_none(),
            "a popped slot is deleted"
        );
        // Empty pops claim nothing: the next value comes out as it went in.
        block_on(deque.push_back("d")).unwrap();
        assert_eq!(block_on(deque.pop_front()).unwrap(), Some(b"d".to_vec()));
        assert_eq!(block_on(deque.pop_back()).unwrap(), None);
    }
}
