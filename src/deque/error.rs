//! What can go wrong with a deque operation, typed so callers (and the
//! harness's checkers) can tell "did not happen" from "may have happened"
//! from "the data is gone".

use std::fmt;

use crate::format::{FormatError, NodeId};
use crate::key::{Key, KeyError};
use crate::store::StoreError;

/// The deque operation an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `Deque::create`.
    Create,
    /// `Deque::bind`.
    Bind,
    /// `push_front`.
    PushFront,
    /// `push_back`.
    PushBack,
    /// `pop_front`.
    PopFront,
    /// `pop_back`.
    PopBack,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Create => "create",
            OpKind::Bind => "bind",
            OpKind::PushFront => "push_front",
            OpKind::PushBack => "push_back",
            OpKind::PopFront => "pop_front",
            OpKind::PopBack => "pop_back",
        })
    }
}

/// How the deque's stored structure was found broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorruptionKind {
    /// The anchor is gone: evicted, flushed, or its server restarted.
    MissingAnchor,
    /// A node the anchor still refers to could not be loaded twice in a row:
    /// it is gone for good, not merely popped by a concurrent client.
    MissingNode(NodeId),
    /// The bytes under a deque key are not a valid entry.
    Malformed(FormatError),
    /// The entries decode but contradict each other (an end without a
    /// neighbour link where the structure requires one).
    BrokenLink(&'static str),
    /// The anchor carries another server lifetime than the running one: a
    /// client that read the anchor before a restart wrote it back over the
    /// deque re-created since, with a CAS token the new server life handed
    /// out again (FINDINGS.md, the restart ABA). What the re-created deque
    /// held is gone.
    ForeignLifetime {
        /// The lifetime of the server running now.
        running: u64,
        /// The lifetime the anchor carries (`None`: an anchor without one).
        found: Option<u64>,
    },
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptionKind::MissingAnchor => f.write_str("the anchor is missing"),
            CorruptionKind::MissingNode(id) => write!(f, "node {id} is missing"),
            CorruptionKind::Malformed(error) => write!(f, "malformed entry: {error}"),
            CorruptionKind::BrokenLink(what) => write!(f, "broken link: {what}"),
            CorruptionKind::ForeignLifetime { running, found } => match found {
                Some(found) => write!(
                    f,
                    "the anchor was written in server lifetime {found:x}, not the running {running:x}: a stale CAS from before a restart"
                ),
                None => write!(f, "the anchor has no server lifetime stamp (running {running:x})"),
            },
        }
    }
}

/// Why a deque name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is not a valid memcached key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Node keys append 33 bytes to the name, and keys stop at 250 bytes.
    #[error("name is {len_bytes} bytes; at most {len_max_bytes} leave room for node keys")]
    TooLong {
        /// The name's length.
        len_bytes: usize,
        /// The longest name allowed.
        len_max_bytes: usize,
    },
    /// The name has the shape of another deque's node key, whose `set` could
    /// overwrite this anchor.
    #[error("name ends like a node key (`:` and 32 hex digits)")]
    LooksLikeNodeKey,
    /// The key where servers keep their life mark
    /// ([`LIFE_MARK_KEY`](crate::store::LIFE_MARK_KEY)): a deque there would
    /// be overwritten by, and would overwrite, the lifetime check.
    #[error("the name is reserved for the servers' life mark")]
    Reserved,
    /// A sharded deque needs 1 to `shards_max` shards.
    #[error("{shards} shards; a sharded deque has 1 to {shards_max}")]
    ShardCount {
        /// The count asked for.
        shards: usize,
        /// The largest count.
        shards_max: usize,
    },
}

/// A deque operation's failure. Each variant says what is known about the
/// operation's effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DequeError {
    /// `create` found the name taken. Nothing changed.
    #[error("a deque named {name:?} already exists")]
    AlreadyExists {
        /// The name asked for.
        name: String,
    },
    /// `bind` found no anchor under the name. Nothing changed.
    #[error("no deque named {name:?}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The name cannot be used. Nothing was sent.
    #[error("invalid deque name {name:?}: {reason}")]
    InvalidName {
        /// The name offered.
        name: String,
        /// Why it was refused.
        reason: NameError,
    },
    /// The value does not fit in one memcached item. Nothing changed.
    #[error("{op}: value is {len_bytes} bytes; at most {len_max_bytes} fit in one item")]
    ValueTooLarge {
        /// The operation.
        op: OpKind,
        /// The value's length.
        len_bytes: usize,
        /// The largest value this deque accepts.
        len_max_bytes: usize,
    },
    /// The stored structure lost an entry or holds garbage. Operations on
    /// this deque cannot be trusted until it is recreated.
    #[error("{op}: deque corrupted at {key}: {kind}")]
    Corruption {
        /// The operation that found it.
        op: OpKind,
        /// The key whose entry is missing or malformed.
        key: Key,
        /// What was found.
        kind: CorruptionKind,
    },
    /// The request that would have completed the operation got no reply: the
    /// operation may or may not have taken effect, and a pop's value may be
    /// lost to the caller.
    #[error("{op}: outcome unknown: {source}")]
    OutcomeUnknown {
        /// The operation.
        op: OpKind,
        /// The transport failure.
        source: StoreError,
    },
    /// A request failed before the operation could take effect: it had no
    /// effect and may be retried.
    #[error("{op} failed without effect: {source}")]
    Backend {
        /// The operation.
        op: OpKind,
        /// The store failure.
        source: StoreError,
    },
    /// The server holding the anchor runs with CAS disabled (`memcached
    /// -C`): it hands out the token 0, which a server with CAS enabled never
    /// does (its tokens start at 1), and fails every compare-and-set, so no
    /// operation could ever succeed; without this check the first push
    /// would retry until [`RetriesExhausted`](DequeError::RetriesExhausted),
    /// which reads as contention (docs/memcached.md, `-C`). Nothing was
    /// left behind: an anchor `create` had written is deleted again.
    #[error(
        "{op}: {server} has CAS disabled (memcached -C: every token is 0 and every compare-and-set fails); the deque needs CAS"
    )]
    CasDisabled {
        /// The operation.
        op: OpKind,
        /// The server, as the store names it (`memcached at host:port`).
        server: String,
    },
    /// Contention made every attempt fail. The operation had no effect.
    #[error("{op} gave up after {attempts} attempts; it had no effect")]
    RetriesExhausted {
        /// The operation.
        op: OpKind,
        /// Attempts made.
        attempts: u32,
    },
}

impl DequeError {
    /// Whether the failed operation may nevertheless have taken effect.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, DequeError::OutcomeUnknown { .. })
    }

    /// Whether the error reports lost or garbled data.
    pub fn is_corruption(&self) -> bool {
        matches!(self, DequeError::Corruption { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message names the operation, the key and what was found there:
    /// that is all an operator has to go on.
    #[test]
    fn a_corruption_message_names_the_operation_the_key_and_the_finding() {
        let key = Key::new("jobs:0000000000000000000000000000002a").unwrap();
        let cases = [
            (
                OpKind::PopBack,
                CorruptionKind::MissingNode(NodeId(42)),
                "pop_back",
                "node 0000000000000000000000000000002a is missing",
            ),
            (
                OpKind::PushFront,
                CorruptionKind::MissingAnchor,
                "push_front",
                "the anchor is missing",
            ),
            (
                OpKind::PopFront,
                CorruptionKind::BrokenLink("no inward link"),
                "pop_front",
                "broken link: no inward link",
            ),
            (
                OpKind::Bind,
                CorruptionKind::ForeignLifetime {
                    running: 0xab,
                    found: Some(0xcd),
                },
                "bind",
                "cd",
            ),
            (
                OpKind::Create,
                CorruptionKind::ForeignLifetime {
                    running: 0xab,
                    found: None,
                },
                "create",
                "no server lifetime stamp (running ab)",
            ),
            (
                OpKind::PushBack,
                CorruptionKind::MissingAnchor,
                "push_back",
                "the anchor is missing",
            ),
        ];
        for (op, kind, op_name, finding) in cases {
            let error = DequeError::Corruption {
                op,
                key: key.clone(),
                kind,
            };
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("{op_name}: deque corrupted at {key}: ")),
                "{message}"
            );
            assert!(message.contains(finding), "{message}");
            assert!(error.is_corruption() && !error.outcome_unknown());
        }
    }

    #[test]
    fn only_a_lost_reply_leaves_the_outcome_unknown() {
        let retries = DequeError::RetriesExhausted {
            op: OpKind::PushBack,
            attempts: 3,
        };
        assert!(!retries.outcome_unknown() && !retries.is_corruption());
        assert_eq!(
            retries.to_string(),
            "push_back gave up after 3 attempts; it had no effect"
        );
    }
}
