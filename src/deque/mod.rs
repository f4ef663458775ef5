//! The deque handle: create or bind a deque by name, then push and pop at
//! both ends.
//!
//! A [`Deque`] is one client's handle. Handles are cheap and independent;
//! give each thread or task its own (bound to the same name) rather than
//! sharing one. The algorithm behind the handle is chosen by [`Variant`], so
//! the harness can run broken or experimental algorithms through the very
//! same interface.

mod context;
mod error;
mod guess;
mod increment_queue;
mod michael2003;
mod side;

use rand_chacha::ChaCha12Rng;
use rand_core::SeedableRng;

pub use error::{CorruptionKind, DequeError, NameError, OpKind};
pub use side::Side;

use crate::format::{self, Anchor, NODE_KEY_SUFFIX_LEN, NODE_OVERHEAD_BYTES_MAX};
use crate::key::{KEY_LEN_MAX, Key};
use crate::memcore::{CoreConfig, ITEM_SIZE_MAX_DEFAULT};
use crate::store::{AddOutcome, Store};
use context::Context;

/// The longest deque name: node keys append `:` and 32 hex digits.
pub const NAME_LEN_MAX: usize = KEY_LEN_MAX - NODE_KEY_SUFFIX_LEN;

/// Attempts an operation makes before giving up under contention.
pub const RETRIES_MAX_DEFAULT: u32 = 10_000;

/// The deque algorithm a handle runs.
///
/// Broken variants exist to prove the harness catches wrong algorithms: each
/// is `michael2003` with one realistic flaw injected at a marked point (see
/// `Flaw`), so the catalogue shares one algorithm instead of near-copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Variant {
    /// The library's default: `michael2003` plus the anchor server's
    /// lifetime in the anchor. `create` stamps it, every anchor written
    /// copies it, and every anchor read compares it with the running one,
    /// so an anchor written over a re-created deque by a client that read
    /// the old one (a CAS token from before a restart is accepted again,
    /// docs/memcached.md) is reported as corruption by every reader instead of
    /// silently dropping the new deque's values. Costs 8 bytes in the
    /// anchor and one `stats` per handle (at create or first read), none
    /// per operation. FINDINGS.md has the finding and the fixes this
    /// variant keeps from the port (unknown outcomes surfaced, published
    /// nodes never rewritten).
    #[default]
    Hardened,
    /// The 2013 library's algorithm, as `docs/algorithm.md` describes it.
    Michael2003,
    /// Broken: popping the only item swings just the popped end to "none"
    /// and leaves the other end naming the deleted node, an easy slip when
    /// the general case updates one end only. The next operation finds a
    /// half-empty anchor or a vanished node and reports corruption although
    /// nothing was lost: the harness must see false alarms (or worse).
    OneEndSinglePop,
    /// Broken: a node that cannot be loaded is always taken for a race (a
    /// concurrent pop), never for a loss. After an eviction the client
    /// retries forever: the harness must see liveness failures where the
    /// baseline reports corruption.
    NoCorruptionDetection,
    /// Broken: the first failed node load is declared corruption, without
    /// the second look that tells a race from a loss. Under contention a
    /// concurrent pop makes a healthy deque "corrupt": false alarms.
    CorruptionOnFirstMiss,
    /// Broken: stabilize links the penultimate node with `set` instead of
    /// `cas`, so a stale stabilizer can overwrite a newer link (or resurrect
    /// a popped node): the harness must see wrong or lost values.
    SetLinkInsteadOfCas,
    /// Broken: stabilize links the penultimate node without re-reading the
    /// anchor first, so it can link a node into a deque that has moved on.
    StabilizeWithoutRecheck,
    /// Broken: a pop deletes its node before its anchor CAS; when the CAS
    /// loses, the node is gone but still in the deque: others find a hole
    /// where nothing was lost (false alarms, lost values).
    DeleteBeforeCas,
    /// Broken: a timed-out anchor CAS is taken as failed and the push is
    /// retried with a new node; if the first CAS had landed, the value is in
    /// the deque twice: duplicates.
    RetryUnknownCas,
    /// Broken: a push whose anchor CAS lost its reply retries with the same
    /// node, rewriting it with `set`. If the first CAS had landed, the node
    /// is already published (linked, perhaps popped): the rewrite resets its
    /// links and the retry pushes it a second time. The harness must see
    /// duplicates, lost values or broken links.
    RewritePublishedNode,
    /// Broken: stabilize mirrors the wrong side, linking the far end's nodes
    /// after a push. A healthy deque reports broken links (false alarms), or
    /// values come out in the wrong order.
    StabilizeWrongSide,
    /// Broken by design: the increment-allocated deque of the 2013 README's
    /// warning (see the `increment_queue` module): a pop can claim a slot
    /// before its push writes it, and reports empty while the value is lost.
    IncrementAllocatedQueue,
}

/// The one flaw a broken variant injects into `michael2003`, applied at
/// the point marked `FLAW (<variant name>)`: one algorithm for the whole
/// catalogue instead of near-copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
    /// See [`Variant::OneEndSinglePop`].
    SinglePopClearsOneEnd,
    /// See [`Variant::NoCorruptionDetection`].
    MissingNodeIsAlwaysARace,
    /// See [`Variant::CorruptionOnFirstMiss`].
    CorruptionOnFirstMiss,
    /// See [`Variant::SetLinkInsteadOfCas`].
    SetLinkInsteadOfCas,
    /// See [`Variant::StabilizeWithoutRecheck`].
    StabilizeWithoutRecheck,
    /// See [`Variant::DeleteBeforeCas`].
    DeleteBeforeCas,
    /// See [`Variant::RetryUnknownCas`].
    RetryUnknownCas,
    /// See [`Variant::RewritePublishedNode`].
    RewritePublishedNode,
    /// See [`Variant::StabilizeWrongSide`].
    StabilizeWrongSide,
}

impl Variant {
    /// Every variant, for listings and for running a suite against each.
    pub const ALL: &'static [Variant] = &[
        Variant::Hardened,
        Variant::Michael2003,
        Variant::OneEndSinglePop,
        Variant::NoCorruptionDetection,
        Variant::CorruptionOnFirstMiss,
        Variant::SetLinkInsteadOfCas,
        Variant::StabilizeWithoutRecheck,
        Variant::DeleteBeforeCas,
        Variant::RetryUnknownCas,
        Variant::RewritePublishedNode,
        Variant::StabilizeWrongSide,
        Variant::IncrementAllocatedQueue,
    ];

    /// The variant's stable name, as scenario files and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Hardened => "hardened",
            Variant::Michael2003 => "michael2003",
            Variant::OneEndSinglePop => "one-end-single-pop",
            Variant::NoCorruptionDetection => "no-corruption-detection",
            Variant::CorruptionOnFirstMiss => "corruption-on-first-miss",
            Variant::SetLinkInsteadOfCas => "set-link-instead-of-cas",
            Variant::StabilizeWithoutRecheck => "stabilize-without-recheck",
            Variant::DeleteBeforeCas => "delete-before-cas",
            Variant::RetryUnknownCas => "retry-unknown-cas",
            Variant::RewritePublishedNode => "rewrite-published-node",
            Variant::StabilizeWrongSide => "stabilize-wrong-side",
            Variant::IncrementAllocatedQueue => "increment-allocated-queue",
        }
    }

    /// One line on what the variant is, for listings (the variant's doc says
    /// more).
    pub fn description(self) -> &'static str {
        match self {
            Variant::Hardened => {
                "the default: michael2003 plus the server-lifetime stamp, checked deletes, fewer round trips"
            }
            Variant::Michael2003 => "the 2013 library's algorithm (docs/algorithm.md), the baseline",
            Variant::OneEndSinglePop => "broken: popping the only item clears one end of the anchor",
            Variant::NoCorruptionDetection => "broken: a node that cannot be loaded is always taken for a race",
            Variant::CorruptionOnFirstMiss => "broken: the first failed node load is declared corruption",
            Variant::SetLinkInsteadOfCas => "broken: stabilize links the neighbour with set, not cas",
            Variant::StabilizeWithoutRecheck => "broken: stabilize links without re-reading the anchor",
            Variant::DeleteBeforeCas => "broken: a pop deletes its node before its anchor CAS",
            Variant::RetryUnknownCas => "broken: a push whose CAS reply was lost retries with a new node",
            Variant::RewritePublishedNode => "broken: a push whose CAS reply was lost rewrites its published node",
            Variant::StabilizeWrongSide => "broken: stabilize mirrors the wrong side",
            Variant::IncrementAllocatedQueue => {
                "broken by design: the increment-allocated queue the 2013 README warns against"
            }
        }
    }

    /// Whether the variant is deliberately broken (a mutation to catch).
    pub fn is_broken(self) -> bool {
        !matches!(self, Variant::Hardened | Variant::Michael2003)
    }

    /// Whether anchors carry and check the server lifetime.
    pub(crate) fn tracks_lifetime(self) -> bool {
        self == Variant::Hardened
    }

    /// Whether operations start from the client's last anchor and a pusher
    /// pipelines its own stabilize (`michael2003` and its flawed copies keep
    /// docs/algorithm.md's request sequence, where the flaws live).
    pub(crate) fn engineers_round_trips(self) -> bool {
        self == Variant::Hardened
    }

    /// The flaw this variant injects into `michael2003`, if any.
    pub(crate) fn flaw(self) -> Option<Flaw> {
        match self {
            // The real algorithms, and a different algorithm dispatched in
            // `Deque`.
            Variant::Hardened | Variant::Michael2003 | Variant::IncrementAllocatedQueue => None,
            Variant::OneEndSinglePop => Some(Flaw::SinglePopClearsOneEnd),
            Variant::NoCorruptionDetection => Some(Flaw::MissingNodeIsAlwaysARace),
            Variant::CorruptionOnFirstMiss => Some(Flaw::CorruptionOnFirstMiss),
            Variant::SetLinkInsteadOfCas => Some(Flaw::SetLinkInsteadOfCas),
            Variant::StabilizeWithoutRecheck => Some(Flaw::StabilizeWithoutRecheck),
            Variant::DeleteBeforeCas => Some(Flaw::DeleteBeforeCas),
            Variant::RetryUnknownCas => Some(Flaw::RetryUnknownCas),
            Variant::RewritePublishedNode => Some(Flaw::RewritePublishedNode),
            Variant::StabilizeWrongSide => Some(Flaw::StabilizeWrongSide),
        }
    }

    /// Looks a variant up by [`name`](Variant::name).
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.iter().copied().find(|v| v.name() == name)
    }
}

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
    /// Seed for node ids. `None` draws one from the operating system; the
    /// simulator passes one derived from its master seed so runs replay.
    pub id_seed: Option<u64>,
    /// Waiting between attempts after a lost race.
    pub backoff: Backoff,
}

impl Default for DequeOptions {
    fn default() -> Self {
        DequeOptions {
            variant: Variant::default(),
            item_size_max: ITEM_SIZE_MAX_DEFAULT,
            retries_max: RETRIES_MAX_DEFAULT,
            id_seed: None,
            backoff: Backoff::default(),
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
    /// `stats`), which it stamps into the anchor.
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

fn id_rng(seed: Option<u64>) -> ChaCha12Rng {
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
