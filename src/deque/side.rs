//! The two ends of the deque, so each algorithm is written once for the
//! right end and mirrored by swapping left/right and prev/next.

use crate::deque::error::OpKind;
use crate::format::{Anchor, Node, NodeId, Status};

/// An end of the deque. `Left` is the front, `Right` the back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The front: `push_front` / `pop_front`.
    Left,
    /// The back: `push_back` / `pop_back`.
    Right,
}

impl Side {
    /// The other end.
    pub fn opposite(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// The push operation at this end.
    pub fn push_op(self) -> OpKind {
        match self {
            Side::Left => OpKind::PushFront,
            Side::Right => OpKind::PushBack,
        }
    }

    /// The pop operation at this end.
    pub fn pop_op(self) -> OpKind {
        match self {
            Side::Left => OpKind::PopFront,
            Side::Right => OpKind::PopBack,
        }
    }

    /// The node at this end of the anchor.
    pub fn end(self, anchor: &Anchor) -> Option<NodeId> {
        match self {
            Side::Left => anchor.left,
            Side::Right => anchor.right,
        }
    }

    /// The anchor with this end replaced.
    pub fn with_end(self, anchor: &Anchor, end: Option<NodeId>, status: Status) -> Anchor {
        match self {
            Side::Left => Anchor {
                status,
                left: end,
                ..*anchor
            },
            Side::Right => Anchor {
                status,
                right: end,
                ..*anchor
            },
        }
    }

    /// The status that records a half-done push at this end.
    pub fn push_status(self) -> Status {
        match self {
            Side::Left => Status::LeftPush,
            Side::Right => Status::RightPush,
        }
    }

    /// Which end a half-done push status belongs to.
    pub fn of_push(status: Status) -> Option<Side> {
        match status {
            Status::Stable => None,
            Status::LeftPush => Some(Side::Left),
            Status::RightPush => Some(Side::Right),
        }
    }

    /// The link from an end node towards the middle (a right end's `prev`).
    pub fn inward(self, node: &Node) -> Option<NodeId> {
        match self {
            Side::Left => node.next,
            Side::Right => node.prev,
        }
    }

    /// The link from a node towards this end (a node's `next` for the right).
    pub fn outward(self, node: &Node) -> Option<NodeId> {
        match self {
            Side::Left => node.prev,
            Side::Right => node.next,
        }
    }

    /// A new end node: linked inward to the current end, not yet outward.
    pub fn new_end_node(self, current_end: Option<NodeId>, value: Vec<u8>) -> Node {
        let mut node = Node {
            prev: None,
            next: None,
            value,
        };
        self.set_inward(&mut node, current_end);
        node
    }

    /// Sets the link from `node` towards the middle.
    pub fn set_inward(self, node: &mut Node, id: Option<NodeId>) {
        match self {
            Side::Left => node.next = id,
            Side::Right => node.prev = id,
        }
    }

    /// Sets the link from `node` towards this end.
    pub fn set_outward(self, node: &mut Node, id: Option<NodeId>) {
        match self {
            Side::Left => node.prev = id,
            Side::Right => node.next = id,
        }
    }
}
