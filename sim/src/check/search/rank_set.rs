//! An ordered set over a universe of keys fixed when a phase starts: the
//! search's sets of pending operations and present values.
//!
//! Every set the search keeps holds `(time, id)` keys whose time is fixed
//! for the phase (a deadline or an invocation) and whose id (an entry, a
//! value, a position) appears at most once. So the keys can be sorted once,
//! and the set is a bitmap over their ranks with a summary bit per nonzero
//! word: insert, remove and membership are O(1), and the first and last
//! member are found from hints (bounds on the nonzero words) that the
//! queries move up and down as they find the members there: the search
//! removes its members earliest first, so a scan from the low hint is
//! short. Members are visited in key order by scanning words. The search
//! does about five of these updates per step; as `BTreeSet`s they were
//! most of the walk on a 1M-operation history (`mcsim bench checker
//! --families stack,queue`: see the search module's figures). The price
//! is memory: 16 bytes per key of the universe and an id table of 4 bytes
//! per entry or value of the history, per set.
//!
//! Like a `BTreeSet`, inserting a member or removing a non-member changes
//! nothing: a history that pushes one value twice (outside the documented
//! format, which `mcsim check` refuses, but `check` may be given one) does
//! both.

use std::cell::Cell;

/// A set of `(time, id)` keys drawn from a universe given up front.
#[derive(Debug, Clone)]
pub(super) struct RankSet {
    /// The universe, sorted: rank to key.
    keys: Vec<(u64, u32)>,
    /// Per id: its key's rank (`u32::MAX`: not in the universe).
    rank_of: Vec<u32>,
    /// One bit per rank.
    words: Vec<u64>,
    /// One bit per nonzero word.
    summary: Vec<u64>,
    /// No nonzero word lies below this one (moved up by the queries).
    low: Cell<usize>,
    /// No nonzero word lies above this one (when the set is non-empty).
    high: Cell<usize>,
    len: usize,
}

impl RankSet {
    /// A set over `universe` (ids below `ids`, each at most once): empty,
    /// or with every key a member if `full`.
    pub(super) fn new(universe: impl IntoIterator<Item = (u64, usize)>, ids: usize, full: bool) -> Self {
        let mut keys: Vec<(u64, u32)> = universe
            .into_iter()
            .map(|(time, id)| (time, u32::try_from(id).expect("ids fit in 32 bits")))
            .collect();
        keys.sort_unstable();
        let mut rank_of = vec![u32::MAX; ids];
        for (rank, &(_, id)) in keys.iter().enumerate() {
            debug_assert_eq!(rank_of[id as usize], u32::MAX, "id {id} twice in a universe");
            rank_of[id as usize] = rank as u32;
        }
        let words = keys.len().div_ceil(64);
        let mut set = RankSet {
            keys,
            rank_of,
            words: vec![0; words],
            summary: vec![0; words.div_ceil(64)],
            low: Cell::new(0),
            high: Cell::new(0),
            len: 0,
        };
        if full {
            for rank in 0..set.keys.len() {
                set.set(rank);
            }
        }
        set
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn rank(&self, id: usize) -> usize {
        let rank = self.rank_of[id];
        debug_assert_ne!(rank, u32::MAX, "id {id} is not in the universe");
        rank as usize
    }

    /// Whether `id`'s key is a member (false for an id outside the
    /// universe).
    pub(super) fn contains(&self, id: usize) -> bool {
        let rank = self.rank_of[id];
        rank != u32::MAX && self.words[rank as usize / 64] & (1 << (rank % 64)) != 0
    }

    /// Adds `id`'s key (nothing if it is a member).
    pub(super) fn insert(&mut self, id: usize) {
        if !self.contains(id) {
            self.set(self.rank(id));
        }
    }

    fn set(&mut self, rank: usize) {
        let word = rank / 64;
        if self.words[word] == 0 {
            self.summary[word / 64] |= 1 << (word % 64);
        }
        self.words[word] |= 1 << (rank % 64);
        if self.len == 0 {
            self.low.set(word);
            self.high.set(word);
        } else {
            self.low.set(self.low.get().min(word));
            self.high.set(self.high.get().max(word));
        }
        self.len += 1;
    }

    /// Removes `id`'s key (nothing if it is not a member).
    pub(super) fn remove(&mut self, id: usize) {
        if !self.contains(id) {
            return;
        }
        let rank = self.rank(id);
        let word = rank / 64;
        self.words[word] &= !(1 << (rank % 64));
        if self.words[word] == 0 {
            self.summary[word / 64] &= !(1 << (word % 64));
        }
        self.len -= 1;
    }

    /// The first nonzero word at or after `word`, if any.
    fn next_word(&self, word: usize) -> Option<usize> {
        let mut block = word / 64;
        let mut bits = self.summary.get(block)? & (u64::MAX << (word % 64));
        loop {
            if bits != 0 {
                return Some(block * 64 + bits.trailing_zeros() as usize);
            }
            block += 1;
            bits = *self.summary.get(block)?;
        }
    }

    /// The last nonzero word at or before `word`, if any.
    fn previous_word(&self, word: usize) -> Option<usize> {
        let mut block = word / 64;
        let mut bits = self.summary[block] & (u64::MAX >> (63 - word % 64));
        loop {
            if bits != 0 {
                return Some(block * 64 + 63 - bits.leading_zeros() as usize);
            }
            block = block.checked_sub(1)?;
            bits = self.summary[block];
        }
    }

    /// The smallest member.
    pub(super) fn first(&self) -> Option<(u64, usize)> {
        if self.len == 0 {
            return None;
        }
        let low = self
            .next_word(self.low.get())
            .expect("a non-empty set has a nonzero word");
        self.low.set(low);
        Some(self.key(low * 64 + self.words[low].trailing_zeros() as usize))
    }

    /// The largest member.
    pub(super) fn last(&self) -> Option<(u64, usize)> {
        if self.len == 0 {
            return None;
        }
        let high = self
            .previous_word(self.high.get())
            .expect("a non-empty set has a nonzero word");
        self.high.set(high);
        Some(self.key(high * 64 + 63 - self.words[high].leading_zeros() as usize))
    }

    fn key(&self, rank: usize) -> (u64, usize) {
        let (time, id) = self.keys[rank];
        (time, id as usize)
    }

    /// The members in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        let (mut word, mut bits) = (0, 0);
        if self.len > 0 {
            word = self
                .next_word(self.low.get())
                .expect("a non-empty set has a nonzero word");
            self.low.set(word);
            bits = self.words[word];
        }
        std::iter::from_fn(move || {
            while bits == 0 {
                word = self.next_word(word + 1)?;
                bits = self.words[word];
            }
            let rank = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(self.key(rank))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::RngExt;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    use super::*;

    /// Where a failure here reruns.
    const RERUN: &str = "rerun: cargo test -p memcache-sim --lib check::search::rank_set";

    /// Random inserts and removals, every query compared with a `BTreeSet`
    /// of the same keys.
    #[test]
    fn it_answers_as_a_btree_set_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..200 {
            let ids = rng.random_range(1..20_000);
            let mut universe = Vec::new();
            for id in 0..ids {
                if rng.random_bool(0.8) {
                    universe.push((rng.random_range(0..500), id));
                }
            }
            let mut key_of = vec![None; ids];
            for &(time, id) in &universe {
                key_of[id] = Some((time, id));
            }
            let full = rng.random_bool(0.5);
            let mut set = RankSet::new(universe.clone(), ids, full);
            let mut model: BTreeSet<(u64, usize)> = if full {
                universe.iter().copied().collect()
            } else {
                BTreeSet::new()
            };
            for _ in 0..2_000 {
                if universe.is_empty() {
                    break;
                }
                // Mostly toggles; sometimes a repeated insert or removal,
                // which changes nothing.
                let key = universe[rng.random_range(0..universe.len())];
                let insert = match rng.random_range(0..10) {
                    0 => true,
                    1 => false,
                    _ => !model.contains(&key),
                };
                if insert {
                    model.insert(key);
                    set.insert(key.1);
                } else {
                    model.remove(&key);
                    set.remove(key.1);
                }
                assert_eq!(set.contains(key.1), model.contains(&key), "{RERUN}");
                let other = rng.random_range(0..ids);
                let other_key = key_of[other];
                assert_eq!(
                    set.contains(other),
                    other_key.is_some_and(|k| model.contains(&k)),
                    "{RERUN}"
                );
                assert_eq!(set.is_empty(), model.is_empty(), "{RERUN}");
                assert_eq!(set.first(), model.first().copied(), "{RERUN}");
                assert_eq!(set.last(), model.last().copied(), "{RERUN}");
                let cutoff = rng.random_range(0..520);
                let below: Vec<_> = set.iter().take_while(|&(t, _)| t < cutoff).take(40).collect();
                let expected: Vec<_> = model.range(..(cutoff, 0)).take(40).copied().collect();
                assert_eq!(below, expected, "{RERUN}");
            }
            assert_eq!(
                set.iter().collect::<Vec<_>>(),
                model.iter().copied().collect::<Vec<_>>(),
                "{RERUN}"
            );
        }
    }
}
