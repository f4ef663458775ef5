//! The memcached operations the deque needs, as one abstract [`Store`].
//!
//! The deque is written once against this trait and runs unchanged on four
//! worlds: the deterministic simulator, real memcached servers, loom and
//! shuttle. Each world implements a single method, [`Store::call`], which
//! takes a [`Command`] and answers a [`Reply`]; the typed helpers (`gets`,
//! `cas`, ...) are provided on top so that every world interprets replies the
//! same way.
//!
//! `call` returns a future. Why async, when the real backend blocks: the
//! simulator must run thousands of clients in one thread with no OS thread
//! switch per request, which needs the deque's control flow to be suspendable
//! at each store call; `async fn` is how Rust writes such coroutines without
//! hand-rolled state machines. Worlds that block (real memcached, loom,
//! shuttle) return futures that are ready on first poll and are driven by
//! [`block_on`]. ARCHITECTURE.md records the alternatives we rejected.

mod counting;
mod faulty;
mod memory;
mod outcome;

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

pub use counting::{CommandCounts, CountingStore};
pub use faulty::{FaultCounts, FaultRates, FaultyStore};
pub use memory::MemoryStore;
pub use outcome::{add_outcome, cas_outcome, gets_outcome, lifetime_outcome, replies_for, set_outcome};

use crate::key::Key;

/// A memcached CAS token: an opaque version of one item, unique only within
/// one server lifetime (a restarted server counts from 1 again, docs/memcached.md).
///
/// Tokens are explicit values passed from a read to the write that depends on
/// it, so no client keeps a per-key token cache that grows with use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CasToken(pub u64);

/// An item read with its CAS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The stored bytes.
    pub value: Vec<u8>,
    /// The token a later `cas` must present to replace exactly this version.
    pub cas: CasToken,
}

/// One keyed request to a memcached server.
///
/// The set is deliberately small: what the deque algorithms use, nothing
/// more, so that every world (and the differential test against the real
/// server) covers all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Read a value and its CAS token (`gets`; meta `mg <key> v c`).
    Gets {
        /// The key to read.
        key: Key,
    },
    /// Read an item's CAS token without its value (meta `mg <key> c`; the
    /// ASCII protocol has no such read): whether the item is there, and
    /// which version, for the price of a reply line. Answers `Value` with
    /// empty bytes, or `Miss`.
    Version {
        /// The key to look up.
        key: Key,
    },
    /// Store unconditionally (`set`; meta `ms <key> <len> c`).
    Set {
        /// The key to write.
        key: Key,
        /// The bytes to store.
        value: Vec<u8>,
    },
    /// Store only if the key is absent (`add`; meta `ms ... ME`).
    Add {
        /// The key to write.
        key: Key,
        /// The bytes to store.
        value: Vec<u8>,
    },
    /// Store only if the item still has `token` (`cas`; meta `ms ... C<token>`).
    Cas {
        /// The key to write.
        key: Key,
        /// The bytes to store.
        value: Vec<u8>,
        /// The version the write depends on.
        token: CasToken,
    },
    /// Remove an item (`delete`; meta `md <key>`).
    Delete {
        /// The key to remove.
        key: Key,
    },
    /// Remove an item only if it still has `token` (meta `md <key>
    /// C<token>`; the ASCII `delete` has no such form). Answers `Deleted`,
    /// `Exists` (another version is stored) or `NotFound`. For a delete sent
    /// long after its token was read: if the key was freed and written
    /// again meanwhile, the new item survives.
    DeleteCas {
        /// The key to remove.
        key: Key,
        /// The version the delete depends on.
        token: CasToken,
    },
    /// Which life of the server that owns `key` is running. A restart
    /// begins a new life, and CAS tokens are unique only within one, so the
    /// hardened deque stamps its anchor with it to recognise an anchor
    /// written from a token of an earlier life (FINDINGS.md, the restart
    /// ABA). The answer combines the process identity `stats` gives (process
    /// id and start second) with a random mark the first client to ask after
    /// a start writes into the server ([`LIFE_MARK_KEY`], with `add`, so one
    /// client's mark wins): a restarted server has lost the mark, so its
    /// life differs even when the process id and the start second repeat
    /// (memcached as process 1 of a container restarted within a second).
    /// Costs of the mark: if it is evicted or flushed while the server runs,
    /// the next check makes a new one, and anchors stamped before read as
    /// foreign: a false alarm, reported as corruption, never a silent loss;
    /// a server full under `-M` may refuse the mark, and the check fails
    /// without effect.
    Lifetime {
        /// A key on the server asked about; only routing reads it.
        key: Key,
        /// The mark to write if the server has none (random per check).
        mark: u64,
    },
}

impl Command {
    /// The key the command addresses (and that routing hashes).
    pub fn key(&self) -> &Key {
        match self {
            Command::Gets { key }
            | Command::Version { key }
            | Command::Set { key, .. }
            | Command::Add { key, .. }
            | Command::Cas { key, .. }
            | Command::Delete { key }
            | Command::DeleteCas { key, .. }
            | Command::Lifetime { key, .. } => key,
        }
    }

    /// The command's protocol name, for errors, traces and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Gets { .. } => "gets",
            Command::Version { .. } => "mg",
            Command::Set { .. } => "set",
            Command::Add { .. } => "add",
            Command::Cas { .. } => "cas",
            Command::Delete { .. } | Command::DeleteCas { .. } => "delete",
            Command::Lifetime { .. } => "stats",
        }
    }

    /// Whether a lost reply leaves the server state in doubt. Reads are safe
    /// to treat as "never happened"; writes are not.
    pub fn has_side_effect(&self) -> bool {
        !matches!(
            self,
            Command::Gets { .. } | Command::Version { .. } | Command::Lifetime { .. }
        )
    }
}

/// A server's answer, exactly as distinguishable on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `gets` hit (`VALUE ...` / `VA`).
    Value(Item),
    /// `gets` miss (`END` / `EN`).
    Miss,
    /// A store took effect (`STORED` / `HD c<cas>`), with the item's new token.
    Stored {
        /// The token of the version just written.
        cas: CasToken,
    },
    /// `add` found the key present (`NOT_STORED` / `NS`).
    NotStored,
    /// `cas` token mismatch (`EXISTS` / `EX`).
    Exists,
    /// `cas` or `delete` on a missing key (`NOT_FOUND` / `NF`).
    NotFound,
    /// `delete` removed the item (`DELETED` / `HD`).
    Deleted,
    /// `SERVER_ERROR ...`: the server refused the request.
    ServerError(ServerError),
    /// The server's life (see [`Command::Lifetime`]).
    Lifetime(Life),
}

/// What a server says about which life it is running (see
/// [`Command::Lifetime`]): the two facts, so that the deque decides what
/// makes a life, and one function ([`Life::new`]) for every world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Life {
    /// The process identity `stats` reports: the process id in the high
    /// bits, the start second (`time - uptime`) xored into the low ones.
    /// Repeats when memcached is process 1 of a container restarted within
    /// a second.
    pub identity: u64,
    /// The life mark under [`LIFE_MARK_KEY`], folded to 64 bits: random,
    /// written by the first client to ask after a start, lost by a restart.
    pub mark: u64,
}

impl Life {
    /// A life from a process identity and the stored mark (any bytes; the
    /// library writes 8).
    pub fn new(identity: u64, mark: &[u8]) -> Life {
        let mut folded = [0u8; 8];
        for (i, byte) in mark.iter().enumerate() {
            folded[i % 8] ^= *byte;
        }
        Life {
            identity,
            mark: u64::from_le_bytes(folded),
        }
    }

    /// The one number an anchor is stamped with: equal stamps, same life.
    /// The mark is spread over all 64 bits (splitmix64's finaliser) before
    /// it is combined with the identity, so neither can cancel the other
    /// by a nearby value.
    pub fn stamp(self) -> u64 {
        let mut z = self.mark.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.identity ^ z ^ (z >> 31)
    }
}

/// The server-side refusals the deque must tell apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// `SERVER_ERROR object too large for cache`. memcached also deletes any
    /// value already stored under the key (docs/memcached.md; true of meta `ms` in
    /// every mode, CAS-guarded or add).
    #[error("object too large for cache")]
    TooLarge,
    /// `SERVER_ERROR out of memory storing object` (`-M` and full).
    #[error("out of memory storing object")]
    OutOfMemory,
    /// Any other `SERVER_ERROR` text.
    #[error("{0}")]
    Other(String),
}

/// Why a request has no usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The request was (or may have been) delivered, but no reply came: a
    /// timeout, a reset, a lost reply. A write may or may not have been
    /// applied, and may still be applied later.
    #[error("no reply to {command} {key}: {detail}")]
    OutcomeUnknown {
        /// The command's protocol name.
        command: &'static str,
        /// Its key.
        key: Key,
        /// What the transport saw.
        detail: String,
    },
    /// The request certainly did not reach the server whole (no connection,
    /// a partial write): it had no effect.
    #[error("{command} {key} was not applied: {detail}")]
    NotApplied {
        /// The command's protocol name.
        command: &'static str,
        /// Its key.
        key: Key,
        /// What the transport saw.
        detail: String,
    },
    /// The server answered with an error.
    #[error("server refused {command} {key}: {error}")]
    Server {
        /// The command's protocol name.
        command: &'static str,
        /// Its key.
        key: Key,
        /// The refusal.
        error: ServerError,
    },
    /// The reply did not fit the request (a protocol desynchronisation or a
    /// store bug). The request's effect is unknown.
    #[error("unexpected reply to {command} {key}: {detail}")]
    Protocol {
        /// The command's protocol name.
        command: &'static str,
        /// Its key.
        key: Key,
        /// The reply that did not fit.
        detail: String,
    },
}

impl StoreError {
    /// Whether the failed request may have changed server state: callers
    /// must not assume a write with this error did not happen.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, StoreError::OutcomeUnknown { .. } | StoreError::Protocol { .. })
    }

    fn unexpected(command: &Command, reply: &Reply) -> StoreError {
        StoreError::Protocol {
            command: command.name(),
            key: command.key().clone(),
            detail: format!("{reply:?}"),
        }
    }

    fn refused(command: &Command, error: ServerError) -> StoreError {
        StoreError::Server {
            command: command.name(),
            key: command.key().clone(),
            error,
        }
    }
}

/// What a `cas` achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The write took effect; the item now has this token.
    Stored(CasToken),
    /// Someone changed the item since it was read.
    Exists,
    /// The item is gone (deleted, evicted, flushed, or the server restarted).
    NotFound,
}

/// What an `add` achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The key was absent and now holds the value.
    Stored(CasToken),
    /// The key was already present; nothing changed.
    NotStored,
}

/// What a `delete` achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The item was removed.
    Deleted,
    /// There was no such item.
    NotFound,
}

/// A memcached deployment as the deque sees it: keyed commands in, replies
/// out, with transport failures typed.
///
/// Implementors provide [`call`](Store::call); everything else is derived
/// from it so that all worlds share one interpretation of replies.
pub trait Store {
    /// Sends one command to the server owning its key and waits for the reply.
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>>;

    /// Sends `commands` as one pipeline where the world can (one round
    /// trip per server) and returns each command's own result, in order.
    ///
    /// Commands to one server travel on one connection and are applied in
    /// the given order; commands to different servers may be applied in
    /// any order (see [`colocated`](Store::colocated)). A command the
    /// server refuses (a CAS mismatch, a miss) does not stop the later
    /// ones, so a caller batches only commands whose later members are
    /// safe whatever the server answered to the earlier ones. A transport
    /// failure does: as on a broken connection, the commands after it are
    /// not applied.
    ///
    /// The default sends them one after another and stops at the first
    /// transport failure. That allows every interleaving a pipeline allows
    /// (other clients' requests may come between any two), so worlds
    /// without pipelining still check the same algorithm.
    fn call_batch(&self, commands: Vec<Command>) -> impl Future<Output = Vec<Result<Reply, StoreError>>> {
        call_one_by_one(self, commands)
    }

    /// Waits `duration` before the caller's next request: how a deque backs
    /// off after losing a race. Each world waits in its own time (the
    /// simulator in virtual time); worlds without time, such as the model
    /// checkers, do not wait at all, which is the default.
    fn pause(&self, duration: std::time::Duration) -> impl Future<Output = ()> {
        let _ = duration;
        std::future::ready(())
    }

    /// Whether `a` and `b` live on the same server, so that a batch applies
    /// them in order. `false` unless the world knows its routing.
    fn colocated(&self, a: &Key, b: &Key) -> bool {
        let _ = (a, b);
        false
    }

    /// The server `key` lives on, as errors name it (`host:port` for
    /// memcached); "the store" where a world has no servers to tell apart.
    fn server_name(&self, key: &Key) -> String {
        let _ = key;
        "the store".to_owned()
    }

    /// Reads `key` with its CAS token; `None` on a miss.
    fn gets(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> {
        async move {
            let command = Command::Gets { key: key.clone() };
            let reply = self.call(command.clone()).await;
            gets_outcome(&command, reply)
        }
    }

    /// Stores `value` under `key` unconditionally.
    fn set(&self, key: &Key, value: Vec<u8>) -> impl Future<Output = Result<CasToken, StoreError>> {
        async move {
            let command = Command::Set {
                key: key.clone(),
                value,
            };
            let reply = self.call(command.clone()).await;
            set_outcome(&command, reply)
        }
    }

    /// Stores `value` only if `key` is absent.
    fn add(&self, key: &Key, value: Vec<u8>) -> impl Future<Output = Result<AddOutcome, StoreError>> {
        async move {
            let command = Command::Add {
                key: key.clone(),
                value,
            };
            let reply = self.call(command.clone()).await;
            add_outcome(&command, reply)
        }
    }

    /// Replaces `key` with `value` only if it still carries `token`.
    fn cas(&self, key: &Key, value: Vec<u8>, token: CasToken) -> impl Future<Output = Result<CasOutcome, StoreError>> {
        async move {
            let command = Command::Cas {
                key: key.clone(),
                value,
                token,
            };
            let reply = self.call(command.clone()).await;
            cas_outcome(&command, reply)
        }
    }

    /// Removes `key`.
    fn delete(&self, key: &Key) -> impl Future<Output = Result<DeleteOutcome, StoreError>> {
        async move {
            let command = Command::Delete { key: key.clone() };
            match self.call(command.clone()).await? {
                Reply::Deleted => Ok(DeleteOutcome::Deleted),
                Reply::NotFound => Ok(DeleteOutcome::NotFound),
                Reply::ServerError(error) => Err(StoreError::refused(&command, error)),
                other => Err(StoreError::unexpected(&command, &other)),
            }
        }
    }
}

/// The key under which a server keeps the mark of its life (see
/// [`Command::Lifetime`]). No deque may be named so.
pub const LIFE_MARK_KEY: &str = "memcache-collections:life";

/// The life of the server owning `key` (see [`Command::Lifetime`]); `mark`
/// is written if the server has none yet.
pub async fn lifetime<S: Store + ?Sized>(store: &S, key: &Key, mark: u64) -> Result<Life, StoreError> {
    let command = Command::Lifetime { key: key.clone(), mark };
    let reply = store.call(command.clone()).await;
    lifetime_outcome(&command, reply)
}

/// A pointer to a store is the store: every method forwards.
macro_rules! forward_store {
    ($($pointer:ty),*) => {$(
        impl<S: Store> Store for $pointer {
            fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
                (**self).call(command)
            }

            fn pause(&self, duration: std::time::Duration) -> impl Future<Output = ()> {
                (**self).pause(duration)
            }

            fn call_batch(&self, commands: Vec<Command>) -> impl Future<Output = Vec<Result<Reply, StoreError>>> {
                (**self).call_batch(commands)
            }

            fn colocated(&self, a: &Key, b: &Key) -> bool {
                (**self).colocated(a, b)
            }

            fn server_name(&self, key: &Key) -> String {
                (**self).server_name(key)
            }
        }
    )*};
}

forward_store!(&S, Arc<S>, Rc<S>);

/// Sends a batch's commands one after another through `store.call`,
/// stopping at the first transport failure as a broken connection would:
/// the default [`Store::call_batch`], and what a store that must split a
/// batch (to act between two of its commands) falls back to.
pub async fn call_one_by_one<S: Store + ?Sized>(store: &S, commands: Vec<Command>) -> Vec<Result<Reply, StoreError>> {
    let mut results = Vec::with_capacity(commands.len());
    let mut broken = false;
    for command in commands {
        if broken {
            results.push(Err(StoreError::NotApplied {
                command: command.name(),
                key: command.key().clone(),
                detail: "not sent: an earlier command of its batch failed".to_owned(),
            }));
            continue;
        }
        let result = store.call(command).await;
        broken = result.is_err();
        results.push(result);
    }
    results
}

/// Drives a store future to completion on the current thread.
///
/// For worlds whose `call` blocks (real memcached, loom, shuttle) every future
/// is ready on first poll, so this costs nothing beyond the call itself.
pub fn block_on<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}
