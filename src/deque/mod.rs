//! The deque handle: create or bind a deque by name, then push and pop at
//! both ends.
//!
//! A [`Deque`] is one client's handle. Handles are cheap and independent;
//! give each thread or task its own (bound to the same name) rather than
//! sharing one. The algorithm behind the handle is chosen by [`Variant`], so
//! the harness can run broken or experimental algorithms through the very
//! same interface.

mod context;
mod deferred_link;
mod error;
mod guess;
mod increment_queue;
mod michael2003;
mod own_node;
mod popped;
mod retries;
mod side;
mod variant;

use rand_chacha::ChaCha12Rng;
use rand_core::SeedableRng;

pub use error::{CorruptionKind, DequeError, NameError, OpKind};
pub use retries::Retries;
pub use side::Side;
pub(crate) use variant::Flaw;
pub use variant::Variant;

use crate::format::{self, Anchor, NODE_KEY_SUFFIX_LEN, NODE_OVERHEAD_BYTES_MAX};
use crate::key::{KEY_LEN_MAX, Key};
use crate::memcore::{CoreConfig, ITEM_SIZE_MAX_DEFAULT};
use crate::store::{AddOutcome, CasToken, Store};
use context::Context;

/// The longest deque name: node keys append `:` and 32 hex digits.
pub const NAME_LEN_MAX: usize = KEY_LEN_MAX - NODE_KEY_SUFFIX_LEN;

/// Attempts an operation makes before giving up under contention.
pub const RETRIES_MAX_DEFAULT: u32 = 10_000;

/// How a handle waits after an attempt lost a race (another client's CAS
/// won), before it tries again.
///
/// CAS over a network is unfair (the 2013 README's caveat): a client that
/// just lost tends to lose again, and every lost attempt costs round trips
/// that slow the winners too. Waiting a random time, up to a bound that
/// doubles with each consecutive loss ("full jitter"), spreads the retries
/// out. The wait happens in the store's time ([`Store::pause`]): real time
/// on memcached, virtual time in the simulator, none under the model
/// checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The bound of the first wait; 0 switches backoff off.
    pub first_us: u32,
    /// The largest bound, however many losses in a row.
    pub max_us: u32,
}

impl Backoff {
    /// No waiting: retry at once.
    pub const NONE: Backoff = Backoff { first_us: 0, max_us: 0 };

    /// The bound of the wait before retry number `retry` (1 for the first).
    pub fn bound_us(&self, retry: u32) -> u32 {
        let doubling = retry.saturating_sub(1).min(31);
        self.first_us.saturating_mul(1 << doubling).min(self.max_us)
    }
}

impl Default for Backoff {
    /// The bound that kept aggregate throughput and fairness up at 2 to 16
    /// clients in `mcsim bench real --backoff-us FIRST,MAX` runs (README,
    /// "Benchmarks").
    fn default() -> Self {
        Backoff {
            first_us: BACKOFF_FIRST_US_DEFAULT,
            max_us: BACKOFF_MAX_US_DEFAULT,
        }
    }
}

/// The first backoff bound by default.
pub const BACKOFF_FIRST_US_DEFAULT: u32 = 800;
/// The largest backoff bound by default.
pub const BACKOFF_MAX_US_DEFAULT: u32 = 25_600;

/// Settings of one handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DequeOptions {
    /// The algorithm.
    pub variant: Variant,
    /// The servers' `-I` item size limit; values are refused before anything
    /// is sent when a node holding them could not be stored.
    pub item_size_max: usize,
    /// Attempts per operation before [`DequeError::RetriesExhausted`].
    pub retries_max: u32,
    /// Seed for node ids, backoff waits and life marks. `None` (the
    /// default) draws one from the operating system, and ids never repeat
    /// in practice. A seed is for the simulator, which derives one per
    /// client from its master seed so runs replay. Two handles with the
    /// same seed (or a worker restarted with its seed) draw the same ids:
    /// `michael2003` then overwrites linked nodes and loses values silently;
    /// `hardened` mixes the anchor version into each id and writes nodes
    /// with `add`, drawing again when a key is taken, so such handles work
    /// and retry more while no node is lost; once a node is lost, a
    /// colliding push can refill its key, and its value is then served
    /// where the lost one was (FINDINGS.md, finding 6, still open). Do not
    /// share seeds.
    pub id_seed: Option<u64>,
    /// Waiting between attempts after a lost race.
    pub backoff: Backoff,
    /// Whether a `hardened` pusher that expects to start its next operation
    /// from its own anchor leaves linking its neighbour to that operation's
    /// first request (`deferred_link.rs`): an uncontended push takes 2 round
    /// trips instead of 3, and the anchor stays half done until the
    /// handle's next request (a client that meets it finishes the push, as
    /// any half-done push). On by default; `false` links at once, as
    /// before; other variants ignore it.
    pub deferred_link: bool,
}

impl Default for DequeOptions {
    fn default() -> Self {
        DequeOptions {
            variant: Variant::default(),
            item_size_max: ITEM_SIZE_MAX_DEFAULT,
            retries_max: RETRIES_MAX_DEFAULT,
            id_seed: None,
            backoff: Backoff::default(),
            deferred_link: true,
        }
    }
}

/// One client's handle on a deque stored in memcached.
///
/// All operations are O(1) memcached requests when uncontended. Methods are
/// `async` so the simulator can interleave thousands of handles in one
/// thread; on a blocking store (real memcached) drive them with
/// [`block_on`](crate::store::block_on) or use
/// [`BlockingDeque`](crate::BlockingDeque).
#[derive(Debug)]
pub struct Deque<S> {
    ctx: Context<S>,
    variant: Variant,
    value_len_max: usize,
}

impl<S: Store> Deque<S> {
    /// Creates a new, empty deque. With `name: None` a random name is drawn.
    /// Fails with [`DequeError::AlreadyExists`] if the name is taken: the
    /// anchor is written with `add`, so two racing creators cannot both win.
    /// A `hardened` handle first asks the anchor's server its lifetime (one
    /// `stats` and life-mark exchange), which it stamps into the anchor, and
    /// refuses a server with CAS disabled with [`DequeError::CasDisabled`]
    /// (the anchor's `add` answered token 0; the anchor is deleted again).
    pub async fn create(store: S, name: Option<&str>, options: DequeOptions) -> Result<Self, DequeError> {
        let mut rng = id_rng(options.id_seed);
        let name = match name {
            Some(name) => name.to_owned(),
            None => format!(
                "deque-{:016x}{:016x}",
                rand_core::Rng::next_u64(&mut rng),
                rand_core::Rng::next_u64(&mut rng)
            ),
        };
        let mut deque = Deque::new(store, name, options, rng)?;
        let mut empty = Anchor::EMPTY;
        if deque.ctx.tracks_lifetime {
            empty.lifetime = Some(deque.ctx.running_lifetime(OpKind::Create).await?);
        }
        let anchor = format::encode_anchor(&empty);
        match deque.ctx.store.add(&deque.ctx.anchor_key, anchor).await {
            Ok(AddOutcome::Stored(CasToken(0))) if deque.ctx.checks_cas => {
                // The anchor is useless on this server: take it back (best
                // effort; the error is the same either way).
                let _ = deque.ctx.store.delete(&deque.ctx.anchor_key).await;
                Err(deque.ctx.cas_disabled(OpKind::Create, &deque.ctx.anchor_key))
            }
            Ok(AddOutcome::Stored(_)) => Ok(deque),
            Ok(AddOutcome::NotStored) => Err(DequeError::AlreadyExists { name: deque.ctx.name }),
            Err(source) if source.outcome_unknown() => Err(DequeError::OutcomeUnknown {
                op: OpKind::Create,
                source,
            }),
            Err(source) => Err(DequeError::Backend {
                op: OpKind::Create,
                source,
            }),
        }
    }

    /// Binds to an existing deque. Checks that its anchor exists and
    /// decodes (one `gets`).
    pub async fn bind(store: S, name: &str, options: DequeOptions) -> Result<Self, DequeError> {
        let rng = id_rng(options.id_seed);
        let mut deque = Deque::new(store, name.to_owned(), options, rng)?;
        match deque.ctx.read_anchor(OpKind::Bind).await {
            Ok(_) => Ok(deque),
            Err(DequeError::Corruption {
                kind: CorruptionKind::MissingAnchor,
                ..
            }) => Err(DequeError::NotFound { name: name.to_owned() }),
            Err(error) => Err(error),
        }
    }

    /// Binds to the deque `name`, creating it first if it does not exist:
    /// what a process that may be the first to start wants. Two processes
    /// racing to create it end bound to the same deque (`create` is an
    /// `add`, so exactly one of them creates it).
    ///
    /// ```
    /// use memcache_collections::{Deque, DequeOptions, MemoryStore};
    /// use memcache_collections::store::block_on;
    ///
    /// let store = MemoryStore::default();
    /// let mut first = block_on(Deque::create_or_bind(&store, "jobs", DequeOptions::default()))?;
    /// block_on(first.push_back("a"))?;
    /// let mut again = block_on(Deque::create_or_bind(&store, "jobs", DequeOptions::default()))?;
    /// assert_eq!(block_on(again.pop_front())?, Some(b"a".to_vec()));
    /// # Ok::<(), memcache_collections::DequeError>(())
    /// ```
    pub async fn create_or_bind(store: S, name: &str, options: DequeOptions) -> Result<Self, DequeError>
    where
        S: Clone,
    {
        match Deque::create(store.clone(), Some(name), options.clone()).await {
            Err(DequeError::AlreadyExists { .. }) => Deque::bind(store, name, options).await,
            other => other,
        }
    }

    /// A handle on a deque known to exist, without the `bind` round trip:
    /// a missing anchor surfaces as corruption at the first operation.
    pub fn attach(store: S, name: &str, options: DequeOptions) -> Result<Self, DequeError> {
        let rng = id_rng(options.id_seed);
        Deque::new(store, name.to_owned(), options, rng)
    }

    fn new(store: S, name: String, options: DequeOptions, rng: ChaCha12Rng) -> Result<Self, DequeError> {
        let anchor_key = validate_name(&name).map_err(|reason| DequeError::InvalidName {
            name: name.clone(),
            reason,
        })?;
        let config = CoreConfig {
            item_size_max: options.item_size_max,
            ..CoreConfig::default()
        };
        let node_key_len = name.len() + NODE_KEY_SUFFIX_LEN;
        let value_len_max = config
            .value_len_max(node_key_len)
            .saturating_sub(NODE_OVERHEAD_BYTES_MAX);
        Ok(Deque {
            ctx: Context::new(store, name, anchor_key, rng, &options),
            variant: options.variant,
            value_len_max,
        })
    }

    /// The deque's name (its anchor key).
    pub fn name(&self) -> &str {
        &self.ctx.name
    }

    /// The algorithm this handle runs.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The largest value this deque accepts, given the item size limit and
    /// the name's length.
    pub fn value_len_max(&self) -> usize {
        self.value_len_max
    }

    /// Attempts this handle's operations have made: one per uncontended
    /// operation, one more per lost race. Benchmarks report retries per
    /// operation from it.
    pub fn attempts(&self) -> u64 {
        self.ctx.attempts
    }

    /// This handle's attempts that ended without finishing their operation,
    /// by cause: where its retries, and the latency they add, come from.
    pub fn retries(&self) -> Retries {
        self.ctx.retries
    }

    /// The store this handle talks to.
    pub fn store(&self) -> &S {
        &self.ctx.store
    }

    /// Appends `value` at the back (right end).
    pub async fn push_back(&mut self, value: impl Into<Vec<u8>>) -> Result<(), DequeError> {
        self.push(Side::Right, value.into()).await
    }

    /// Prepends `value` at the front (left end).
    pub async fn push_front(&mut self, value: impl Into<Vec<u8>>) -> Result<(), DequeError> {
        self.push(Side::Left, value.into()).await
    }

    /// Sends now what this handle keeps back for its next request: the
    /// neighbour link of its last push, if it deferred it
    /// ([`DequeOptions::deferred_link`]), and the delete of the node it last
    /// popped. A handle about to be dropped, or to fall idle, calls it so
    /// that other clients find the deque stable (otherwise the first to
    /// come finishes the push) and the popped node's memory is freed at
    /// once (otherwise memcached evicts it in time). Two round trips on
    /// one server (three when the neighbour lives away from the anchor),
    /// none if nothing is kept back. Failures are ignored: this is
    /// housekeeping, which any client may do.
    pub async fn settle(&mut self) {
        self.ctx.settle().await;
    }

    /// Removes the back value; `Ok(None)` if the deque is empty.
    pub async fn pop_back(&mut self) -> Result<Option<Vec<u8>>, DequeError> {
        self.pop(Side::Right).await
    }

    /// Removes the front value; `Ok(None)` if the deque is empty.
    pub async fn pop_front(&mut self) -> Result<Option<Vec<u8>>, DequeError> {
        self.pop(Side::Left).await
    }

    /// Pushes at either end; what `push_back` and `push_front` call.
    pub async fn push(&mut self, side: Side, value: Vec<u8>) -> Result<(), DequeError> {
        let op = side.push_op();
        if value.len() > self.value_len_max {
            return Err(DequeError::ValueTooLarge {
                op,
                len_bytes: value.len(),
                len_max_bytes: self.value_len_max,
            });
        }
        match self.variant {
            Variant::IncrementAllocatedQueue => increment_queue::push(&mut self.ctx, op, side, value).await,
            _ => michael2003::push(&mut self.ctx, op, side, value).await,
        }
    }

    /// Pops at either end; what `pop_back` and `pop_front` call.
    pub async fn pop(&mut self, side: Side) -> Result<Option<Vec<u8>>, DequeError> {
        let op = side.pop_op();
        match self.variant {
            Variant::IncrementAllocatedQueue => increment_queue::pop(&mut self.ctx, op, side).await,
            _ => michael2003::pop(&mut self.ctx, op, side).await,
        }
    }
}

/// Checks a deque name and returns its anchor key.
pub fn validate_name(name: &str) -> Result<Key, NameError> {
    // The deque's own limit first: it is below memcached's 250-byte key
    // limit, so a name too long for a key is told the limit that applies.
    if name.len() > NAME_LEN_MAX {
        return Err(NameError::TooLong {
            len_bytes: name.len(),
            len_max_bytes: NAME_LEN_MAX,
        });
    }
    let key = Key::new(name)?;
    if looks_like_node_key(name) {
        return Err(NameError::LooksLikeNodeKey);
    }
    if name == crate::store::LIFE_MARK_KEY {
        return Err(NameError::Reserved);
    }
    Ok(key)
}

fn looks_like_node_key(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= NODE_KEY_SUFFIX_LEN && {
        let suffix = &bytes[bytes.len() - NODE_KEY_SUFFIX_LEN..];
        suffix[0] == b':'
            && suffix[1..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    }
}

/// A handle's random stream: seeded for replays, else from the operating
/// system (ids from two processes must never collide).
pub(crate) fn id_rng(seed: Option<u64>) -> ChaCha12Rng {
    match seed {
        Some(seed) => ChaCha12Rng::seed_from_u64(seed),
        None => {
            let mut seed = [0u8; 32];
            // Without OS entropy, ids from two processes could collide and
            // corrupt each other's deques: refusing to run is the only safe
            // answer, and no supported platform lacks it.
            getrandom::fill(&mut seed).expect("the operating system provides random bytes");
            ChaCha12Rng::from_seed(seed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_collide_with_node_keys_are_refused() {
        let node_like = format!("q:{}", "0123456789abcdef".repeat(2));
        assert_eq!(validate_name(&node_like), Err(NameError::LooksLikeNodeKey));
        // The suffix is found from the end, whatever the prefix's length.
        let longer = format!("orders-queue:{}", "0123456789abcdef".repeat(2));
        assert_eq!(validate_name(&longer), Err(NameError::LooksLikeNodeKey));
        assert!(validate_name("app:queue").is_ok());
        assert!(validate_name(&"n".repeat(NAME_LEN_MAX)).is_ok());
        assert!(matches!(
            validate_name(&"n".repeat(NAME_LEN_MAX + 1)),
            Err(NameError::TooLong { .. })
        ));
        assert!(matches!(validate_name("has space"), Err(NameError::Key(_))));
        // Too long for a key too: the deque's own, lower limit is the one
        // that applies, so it is the one the message gives.
        assert_eq!(
            validate_name(&"n".repeat(300)),
            Err(NameError::TooLong {
                len_bytes: 300,
                len_max_bytes: 217
            })
        );
    }
}
