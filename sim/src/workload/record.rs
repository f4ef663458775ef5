//! Where a run's history is written, stamped by the world's clock: one log
//! type for every world (virtual time in the simulator, a monotonic clock on
//! real memcached, request numbers under the model checkers), wrapped in the
//! world's own cell (a `RefCell` on one thread, a `Mutex` across threads).

use std::cell::{Cell, RefCell};
use std::sync::{Mutex, PoisonError};

use crate::history::{HistoryOp, OpName, OpResult};

/// A world's clock, in microseconds (or the world's stand-in for them).
pub trait Clock {
    /// Now.
    fn now_us(&self) -> u64;
}

/// A clock that moves one tick per reading: for operations that run alone
/// (setup and drain), each invocation and return its own instant.
#[derive(Debug)]
pub struct TickClock(Cell<u64>);

impl TickClock {
    /// A clock whose first reading is `first_us`.
    pub fn starting_at(first_us: u64) -> Self {
        TickClock(Cell::new(first_us))
    }
}

impl Clock for TickClock {
    fn now_us(&self) -> u64 {
        let now = self.0.get();
        self.0.set(now + 1);
        now
    }
}

/// Where a client's operations are recorded.
pub trait Recorder {
    /// An operation starts; returns its index for [`complete`](Recorder::complete).
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize;
    /// The operation at `index` returned `result`.
    fn complete(&self, index: usize, result: OpResult);
    /// A client created the deque again after an anchor loss.
    fn recreated(&self) {}
}

/// The operations of a run, in invocation order, stamped by `C`.
#[derive(Debug)]
pub struct HistoryLog<C> {
    clock: C,
    ops: Vec<HistoryOp>,
}

impl<C: Clock> HistoryLog<C> {
    /// An empty log on `clock`.
    pub fn new(clock: C) -> Self {
        HistoryLog { clock, ops: Vec::new() }
    }

    /// Records an invocation now; returns its index.
    pub fn invoke(&mut self, client: u32, op: OpName, value: Option<String>) -> usize {
        self.ops.push(HistoryOp {
            client,
            op,
            value,
            invoke_us: self.clock.now_us(),
            return_us: None,
            result: OpResult::Unknown,
        });
        self.ops.len() - 1
    }

    /// Records the return of the operation at `index` now.
    pub fn complete(&mut self, index: usize, result: OpResult) {
        let now = self.clock.now_us();
        let op = &mut self.ops[index];
        op.return_us = Some(now);
        op.result = result;
    }

    /// The operations so far.
    pub fn ops(&self) -> &[HistoryOp] {
        &self.ops
    }

    /// Appends operations recorded elsewhere (a setup or drain log).
    pub fn extend(&mut self, ops: Vec<HistoryOp>) {
        self.ops.extend(ops);
    }

    /// The operations, in invocation order (ties keep recording order).
    pub fn into_ops(mut self) -> Vec<HistoryOp> {
        self.ops.sort_by_key(|op| op.invoke_us);
        self.ops
    }
}

impl<C: Clock> Recorder for RefCell<HistoryLog<C>> {
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize {
        self.borrow_mut().invoke(client, op, value)
    }

    fn complete(&self, index: usize, result: OpResult) {
        self.borrow_mut().complete(index, result);
    }
}

impl<C: Clock> Recorder for Mutex<HistoryLog<C>> {
    fn invoke(&self, client: u32, op: OpName, value: Option<String>) -> usize {
        self.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .invoke(client, op, value)
    }

    fn complete(&self, index: usize, result: OpResult) {
        self.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .complete(index, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_clock_gives_every_stamp_its_own_instant() {
        let log = RefCell::new(HistoryLog::new(TickClock::starting_at(10)));
        let a = log.invoke(0, OpName::PushBack, Some("a".into()));
        log.complete(a, OpResult::Ok);
        let b = log.invoke(0, OpName::PopFront, None);
        log.complete(b, OpResult::Empty);
        let ops = log.into_inner().into_ops();
        let stamps: Vec<(u64, Option<u64>)> = ops.iter().map(|op| (op.invoke_us, op.return_us)).collect();
        assert_eq!(stamps, [(10, Some(11)), (12, Some(13))]);
    }
}
