//! What can go wrong with an MCAS call, typed as the deque's errors are:
//! "did not happen", "may have happened", "the data is gone".

use crate::key::Key;
use crate::mcas::format::McasFormatError;
use crate::store::StoreError;

/// The MCAS call an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum McasOp {
    /// [`McasClient::insert`](super::McasClient::insert).
    Insert,
    /// [`McasClient::get`](super::McasClient::get).
    Get,
    /// [`McasClient::mcas`](super::McasClient::mcas).
    Mcas,
}

impl std::fmt::Display for McasOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            McasOp::Insert => "insert",
            McasOp::Get => "get",
            McasOp::Mcas => "mcas",
        })
    }
}

/// How stored MCAS state was found broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McasCorruptionKind {
    /// A register an MCAS read is gone (evicted, flushed, its server
    /// restarted): its value is lost.
    #[error("the register is missing")]
    MissingRegister,
    /// A register still claims a descriptor that is gone: whether its old or
    /// its new value holds cannot be known.
    #[error("its descriptor {descriptor} is missing")]
    MissingDescriptor {
        /// The descriptor's key.
        descriptor: Key,
    },
    /// The register is claimed by a descriptor that does not list it: no
    /// MCAS could have put that claim there.
    #[error("it is claimed by descriptor {descriptor}, which does not list it")]
    StrayClaim {
        /// The descriptor's key.
        descriptor: Key,
    },
    /// The bytes are not an MCAS entry.
    #[error("malformed: {0}")]
    Malformed(McasFormatError),
    /// A value stamped with another server life than the running one: it
    /// was written from a CAS token of an earlier life (tokens restart at
    /// 1 with the server), over whatever the register holds now.
    #[error("its value belongs to server life {found:x}, the server runs {running:x}")]
    ForeignLifetime {
        /// The life of the server running now.
        running: u64,
        /// The life the value carries.
        found: u64,
    },
}

/// Why an MCAS call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McasError {
    /// The same key twice in one MCAS, a key that names a descriptor, or
    /// more entries than a descriptor holds. Nothing was sent.
    #[error("{op}: invalid entries: {reason}")]
    InvalidEntries {
        /// The call.
        op: McasOp,
        /// What is wrong with them.
        reason: String,
    },
    /// The value, or the descriptor holding every old and new value, does
    /// not fit in one memcached item. Nothing was sent.
    #[error("{op}: {len_bytes} bytes do not fit in one item (at most {len_max_bytes})")]
    TooLarge {
        /// The call.
        op: McasOp,
        /// What it needed.
        len_bytes: usize,
        /// What fits.
        len_max_bytes: usize,
    },
    /// The stored state is broken at `key`; see the kind.
    #[error("{op}: corrupted at {key}: {kind}")]
    Corruption {
        /// The call that found it.
        op: McasOp,
        /// The register or descriptor key.
        key: Key,
        /// What was found.
        kind: McasCorruptionKind,
    },
    /// A request whose effect decides the outcome got no reply: the MCAS
    /// may have taken effect (other clients finish it) or not.
    #[error("{op}: outcome unknown: {source}")]
    OutcomeUnknown {
        /// The call.
        op: McasOp,
        /// The transport failure.
        source: StoreError,
    },
    /// A request failed before anything took effect; retrying is safe.
    #[error("{op} failed without effect: {source}")]
    Backend {
        /// The call.
        op: McasOp,
        /// The store failure.
        source: StoreError,
    },
    /// The server runs with CAS disabled (`memcached -C`: every token is 0,
    /// every compare-and-set fails), so no MCAS could ever succeed.
    #[error("{op}: {server} has CAS disabled (memcached -C); MCAS needs CAS")]
    CasDisabled {
        /// The call.
        op: McasOp,
        /// The server, as the store names it.
        server: String,
    },
    /// A register kept changing under a `get` (each time claimed by another
    /// MCAS it helped), or an `mcas` found its descriptor still undecided
    /// after every attempt to decide it. A `get` had no effect; an `mcas`
    /// leaves its claims standing, so another client that meets one may
    /// still decide it either way: its outcome is unknown
    /// ([`McasError::outcome_unknown`] is true for it; found by the
    /// harness's MCAS checker review, FINDINGS.md M5).
    #[error("{op} gave up after {attempts} attempts")]
    RetriesExhausted {
        /// The call.
        op: McasOp,
        /// Attempts made.
        attempts: u32,
    },
}

impl McasError {
    /// Whether the failed call may nevertheless have taken effect.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            McasError::OutcomeUnknown { .. } | McasError::RetriesExhausted { op: McasOp::Mcas, .. }
        )
    }

    /// Whether the error reports lost or garbled data.
    pub fn is_corruption(&self) -> bool {
        matches!(self, McasError::Corruption { .. })
    }
}
