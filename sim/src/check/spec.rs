//! The sequential specification of a deque, the yardstick of every check
//! (the shape of stateright's `SequentialSpec`): apply an operation to a
//! state, and say whether an observed return is what a sequential deque
//! would have returned.

use std::collections::VecDeque;

/// A deque operation on interned values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DequeOp {
    /// Push a value at the front.
    PushFront(u32),
    /// Push a value at the back.
    PushBack(u32),
    /// Pop from the front.
    PopFront,
    /// Pop from the back.
    PopBack,
}

impl DequeOp {
    /// Whether it acts at the front: the end a value enters by or leaves
    /// by, which decides what it can block (the search's rules and
    /// `patterns` compare ends constantly).
    pub fn at_front(&self) -> bool {
        matches!(self, DequeOp::PushFront(_) | DequeOp::PopFront)
    }

    /// Whether it pushes (a pop otherwise).
    pub fn is_push(&self) -> bool {
        matches!(self, DequeOp::PushFront(_) | DequeOp::PushBack(_))
    }
}

/// What a deque operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DequeRet {
    /// A push's acknowledgement.
    Pushed,
    /// A pop's value.
    Value(u32),
    /// A pop on an empty deque.
    Empty,
}

/// A sequential object: the reference behaviour a linearization must match.
pub trait SequentialSpec {
    /// Operations.
    type Op;
    /// Returns.
    type Ret: PartialEq;
    /// Applies `op` and returns what it returns.
    fn invoke(&mut self, op: &Self::Op) -> Self::Ret;
    /// Applies `op` if it would return `ret`; leaves the state alone and
    /// answers false otherwise.
    fn is_valid_step(&mut self, op: &Self::Op, ret: &Self::Ret) -> bool;
}

/// A sequential deque of interned values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DequeSpec {
    /// Front first.
    pub items: VecDeque<u32>,
}

impl DequeSpec {
    /// What a pop at this end would return, without popping.
    pub fn peek(&self, op: &DequeOp) -> DequeRet {
        let end = match op {
            DequeOp::PopFront => self.items.front(),
            DequeOp::PopBack => self.items.back(),
            _ => return DequeRet::Pushed,
        };
        end.map_or(DequeRet::Empty, |&v| DequeRet::Value(v))
    }
}

impl SequentialSpec for DequeSpec {
    type Op = DequeOp;
    type Ret = DequeRet;

    fn invoke(&mut self, op: &DequeOp) -> DequeRet {
        match *op {
            DequeOp::PushFront(v) => {
                self.items.push_front(v);
                DequeRet::Pushed
            }
            DequeOp::PushBack(v) => {
                self.items.push_back(v);
                DequeRet::Pushed
            }
            DequeOp::PopFront => self.items.pop_front().map_or(DequeRet::Empty, DequeRet::Value),
            DequeOp::PopBack => self.items.pop_back().map_or(DequeRet::Empty, DequeRet::Value),
        }
    }

    fn is_valid_step(&mut self, op: &DequeOp, ret: &DequeRet) -> bool {
        if self.peek(op) != *ret {
            return false;
        }
        self.invoke(op);
        true
    }
}
