//! The event queue: events ordered by (virtual time, scheduling order), so
//! ties break the same way in every process. The heap holds small entries
//! (24 bytes) and the events wait in a slab whose slots are reused, so a
//! run of millions of events moves little memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A queue entry: when, in which order, and where the event waits.
struct Scheduled {
    at_us: u64,
    seq: u64,
    slot: usize,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.seq) == (other.at_us, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Earliest first in a max-heap; ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_us, other.seq).cmp(&(self.at_us, self.seq))
    }
}

/// Events of type `E` waiting for their virtual time.
pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Scheduled>,
    slots: Vec<Option<E>>,
    free: Vec<usize>,
    seq: u64,
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }

    /// Schedules `event` at `at_us`, after everything already scheduled
    /// for that instant.
    #[inline]
    pub(crate) fn push(&mut self, at_us: u64, event: E) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        self.heap.push(Scheduled {
            at_us,
            seq: self.seq,
            slot,
        });
    }

    /// The earliest event and its time.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(u64, E)> {
        let Scheduled { at_us, slot, .. } = self.heap.pop()?;
        let event = self.slots[slot].take().expect("a queued slot holds its event");
        self.free.push(slot);
        Some((at_us, event))
    }

    #[cfg(test)]
    fn slots_allocated(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_scheduling_order() {
        let mut queue = EventQueue::new();
        queue.push(30, "c");
        queue.push(10, "a1");
        queue.push(20, "b");
        queue.push(10, "a2");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, [(10, "a1"), (10, "a2"), (20, "b"), (30, "c")]);
    }

    #[test]
    fn slots_are_reused() {
        let mut queue = EventQueue::new();
        for round in 0..100u64 {
            queue.push(round, round);
            queue.push(round, round + 1);
            assert!(queue.pop().is_some() && queue.pop().is_some());
        }
        assert_eq!(queue.slots_allocated(), 2);
        assert!(queue.pop().is_none());
    }
}
