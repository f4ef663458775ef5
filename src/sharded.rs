//! A sharded deque: N independent deques behind one handle, for throughput
//! where exact item order is not needed (the 2013 README: "application-level
//! sharding ... where exact item ordering is not important").
//!
//! One deque's anchor is a single memcached item that every operation CASes,
//! so contention on it caps throughput however many servers there are.
//! Sharding splits that: shard `i` of deque `name` is the ordinary deque
//! `name.i` (its own anchor, hashed to its own server).
//!
//! # Guarantees
//! - **Each shard is a linearizable deque** (it is a [`Deque`]), with the
//!   algorithm and every error of the handle's [`DequeOptions`].
//! - **A push goes to exactly one shard**, chosen round-robin by the
//!   handle (from a per-handle starting point); the shard is returned.
//! - **A pop takes from exactly one shard**: it visits the shards
//!   round-robin from where this handle's previous pop stopped and returns
//!   the first value found with its shard.
//! - **Order holds per shard only**: values in one shard come out in that
//!   deque's order; across shards there is no order at all.
//! - **`None` is not an atomic "empty"**: it means every shard was empty
//!   when this pop looked at it, one after the other. Another client may
//!   have pushed to a shard already visited.
//!
//! `sim/tests/sharded.rs` checks the first and the last: each shard's
//! history, empty pops included, is linearizable on its own.

use rand_core::{Rng, SeedableRng};

use crate::deque::{Deque, DequeError, DequeOptions, NAME_LEN_MAX, NameError, Side};
use crate::store::Store;

/// The most shards a sharded deque may have (`name.` plus up to 3 digits).
pub const SHARDS_MAX: usize = 1000;

/// One client's handle on a sharded deque: one [`Deque`] handle per shard.
#[derive(Debug)]
pub struct ShardedDeque<S> {
    shards: Vec<Deque<S>>,
    next_push: usize,
    next_pop: usize,
}

impl<S: Store + Clone> ShardedDeque<S> {
    /// Creates `shards` empty deques named `name.0`, `name.1`, ... Fails
    /// with [`DequeError::AlreadyExists`] if any shard exists (the shards
    /// created before it stay: create again under another name, or bind).
    pub async fn create(store: S, name: &str, shards: usize, options: DequeOptions) -> Result<Self, DequeError> {
        check_shape(name, shards)?;
        let mut handles = Vec::with_capacity(shards);
        for shard in 0..shards {
            let options = shard_options(&options, shard);
            handles.push(Deque::create(store.clone(), Some(&shard_name(name, shard)), options).await?);
        }
        Ok(ShardedDeque::new(handles, &options))
    }

    /// Binds to the `shards` deques of an existing sharded deque (one read
    /// per shard).
    pub async fn bind(store: S, name: &str, shards: usize, options: DequeOptions) -> Result<Self, DequeError> {
        check_shape(name, shards)?;
        let mut handles = Vec::with_capacity(shards);
        for shard in 0..shards {
            let options = shard_options(&options, shard);
            handles.push(Deque::bind(store.clone(), &shard_name(name, shard), options).await?);
        }
        Ok(ShardedDeque::new(handles, &options))
    }

    fn new(shards: Vec<Deque<S>>, options: &DequeOptions) -> Self {
        // Handles start at different shards, so clients spread out.
        let start = match options.id_seed {
            Some(seed) => seed as usize,
            None => {
                let mut seed = [0u8; 8];
                getrandom::fill(&mut seed).expect("the operating system provides random bytes");
                u64::from_le_bytes(seed) as usize
            }
        } % shards.len();
        ShardedDeque {
            shards,
            next_push: start,
            next_pop: start,
        }
    }

    /// How many shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The handles of the shards, in order (for their names, attempts...).
    pub fn shards(&self) -> &[Deque<S>] {
        &self.shards
    }

    /// [`Deque::settle`] on every shard.
    pub async fn settle(&mut self) {
        for shard in &mut self.shards {
            shard.settle().await;
        }
    }

    /// Pushes `value` at `side` of the next shard in turn; returns the shard.
    pub async fn push(&mut self, side: Side, value: Vec<u8>) -> Result<usize, DequeError> {
        let shard = self.next_push;
        self.next_push = (shard + 1) % self.shards.len();
        self.shards[shard].push(side, value).await?;
        Ok(shard)
    }

    /// Pops from `side` of the first non-empty shard, visiting each shard
    /// once from where the last pop stopped; `None` if every shard was
    /// empty when visited.
    pub async fn pop(&mut self, side: Side) -> Result<Option<(usize, Vec<u8>)>, DequeError> {
        for step in 0..self.shards.len() {
            let shard = (self.next_pop + step) % self.shards.len();
            if let Some(value) = self.shards[shard].pop(side).await? {
                self.next_pop = (shard + 1) % self.shards.len();
                return Ok(Some((shard, value)));
            }
        }
        Ok(None)
    }
}

/// The name of shard `shard` of `name`.
pub fn shard_name(name: &str, shard: usize) -> String {
    format!("{name}.{shard}")
}

fn check_shape(name: &str, shards: usize) -> Result<(), DequeError> {
    let invalid = |reason| DequeError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if shards == 0 || shards > SHARDS_MAX {
        return Err(invalid(NameError::ShardCount {
            shards,
            shards_max: SHARDS_MAX,
        }));
    }
    let longest = shard_name(name, shards - 1);
    if longest.len() > NAME_LEN_MAX {
        return Err(invalid(NameError::TooLong {
            len_bytes: longest.len(),
            len_max_bytes: NAME_LEN_MAX,
        }));
    }
    Ok(())
}

/// Each shard's handle gets its own node-id seed (the same seed in two
/// handles would repeat ids).
fn shard_options(options: &DequeOptions, shard: usize) -> DequeOptions {
    let mut options = options.clone();
    if let Some(seed) = options.id_seed {
        let mut rng =
            rand_chacha::ChaCha12Rng::seed_from_u64(seed ^ (shard as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        options.id_seed = Some(rng.next_u64());
    }
    options
}
