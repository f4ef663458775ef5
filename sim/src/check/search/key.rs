//! The search's memo key: which entries are linearized (unknown pops that
//! may act at any time counted, not named) and the deque's contents (values
//! nobody saw leave alike), both hashed incrementally by `apply` and
//! `undo`.

use super::Search;
use crate::check::hash::{MODULUS, mul_mod, value_hash};
use crate::check::prepare::NEVER;
use crate::check::spec::DequeOp;

impl Search<'_> {
    /// The end (front: 1) of an unknown pop that may take effect at any
    /// time (the complete phase's: its deadline is `NEVER`), else `None`.
    ///
    /// Such pops at one end are interchangeable once linearized: the
    /// search only linearizes a pop invoked by the earliest pending
    /// deadline, which never decreases, so every such pop left unused
    /// that could have been used is a candidate at every later step, with
    /// the same effect, and nothing has to come after it. Which ones were
    /// used does not change what can follow; how many does. So the memo
    /// key counts them instead of naming them (the k-th one used at an
    /// end adds the k-th count term): a history with u unknown pops and k
    /// values they may take costs one configuration per count, not one
    /// per choice of pops (`mcsim bench checker --clients 64 --ops 10000
    /// --seed 125`).
    pub(super) fn interchangeable(&self, entry: usize) -> Option<usize> {
        let e = &self.entries[entry];
        (!e.required && self.deadline[entry] == NEVER).then(|| usize::from(matches!(e.op, DequeOp::PopFront)))
    }

    /// A value's term in the contents hash. Values no definite pop returns
    /// all hash alike: the future never tells them apart (only unknown
    /// pops, which take whatever is at their end, can remove them; at an
    /// end they block the same pops), so orders that differ only in where
    /// such values sit are one configuration: 2^k configurations for k
    /// concurrent unobserved pushes instead of k!.
    fn term(&self, position: i64, value: u32) -> u64 {
        let power = self.powers[(position + self.offset) as usize];
        let blank = u32::MAX;
        mul_mod(
            value_hash(if self.observed[value as usize] { value } else { blank }),
            power,
        )
    }

    pub(super) fn add_at(&mut self, position: i64, value: u32) {
        self.contents_hash = (self.contents_hash + self.term(position, value)) % MODULUS;
    }

    pub(super) fn remove_at(&mut self, position: i64, value: u32) {
        self.contents_hash = (self.contents_hash + MODULUS - self.term(position, value)) % MODULUS;
    }

    pub(super) fn key(&self) -> u128 {
        (u128::from(self.set_hash) << 64) | u128::from(self.contents_hash)
    }
}
