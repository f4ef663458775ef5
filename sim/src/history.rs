//! The history of a run, recorded at the client boundary: which operation,
//! by which client, invoked and returned when, with what result. It is the
//! checkers' only input, and its JSON form is the interchange format that
//! `mcsim check` reads, so histories from real memcached, loom or shuttle go
//! through the same checks.
//!
//! # JSON format
//! ```json
//! { "ops": [ { "client": 0, "op": "push_back", "value": "v0.1",
//!              "invoke_us": 10, "return_us": 250, "result": {"type": "ok"} },
//!            { "client": 1, "op": "pop_front", "value": null,
//!              "invoke_us": 40, "return_us": null, "result": {"type": "unknown"} } ],
//!   "losses": [ { "at_us": 900, "server": 0, "key": null, "cause": "restart" } ],
//!   "drain_client": 9 }
//! ```
//! - `op`: `push_back`, `push_front`, `pop_back` or `pop_front`; `value` is the
//!   pushed value for pushes and `null` for pops. Pushed values are distinct.
//! - `return_us: null`: the operation never returned (its client crashed or
//!   the run ended); its result is then `unknown`.
//! - `result.type`: `ok` (push took effect), `value` with `value` (pop returned
//!   it), `empty` (pop found the deque empty), `unknown` (may or may not have
//!   taken effect), `failed` with `error` (certainly had no effect; `error`
//!   is one of `already_exists`, `not_found`, `invalid_name`,
//!   `value_too_large`, `backend`, `retries_exhausted` (a liveness
//!   failure), `cas_disabled` (the deque refused a server without CAS)),
//!   `corruption` with `key` and `detail` (the deque reported lost or garbled data).
//! - `losses`: entries the run destroyed; `key: null` means every entry on
//!   that server (restart, flush). Optional (default: none).
//! - `drain_client`: the client whose pops drained the deque after the
//!   workload. Optional.

use serde::{Deserialize, Serialize};

/// A deque operation as the history names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpName {
    /// Push at the back (right end).
    PushBack,
    /// Push at the front (left end).
    PushFront,
    /// Pop from the back.
    PopBack,
    /// Pop from the front.
    PopFront,
}

impl OpName {
    /// Whether the operation adds a value.
    pub fn is_push(self) -> bool {
        matches!(self, OpName::PushBack | OpName::PushFront)
    }

    /// The protocol-style name (`push_back`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OpName::PushBack => "push_back",
            OpName::PushFront => "push_front",
            OpName::PopBack => "pop_back",
            OpName::PopFront => "pop_front",
        }
    }
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpResult {
    /// A push took effect.
    Ok,
    /// A pop returned this value.
    Value {
        /// The value's id (values are distinct within a run).
        value: String,
    },
    /// A pop found the deque empty.
    Empty,
    /// The operation may or may not have taken effect (lost reply, or it never
    /// returned).
    Unknown,
    /// The operation certainly had no effect.
    Failed {
        /// Why.
        error: FailKind,
    },
    /// The deque reported corruption.
    Corruption {
        /// The key found missing or garbled.
        key: String,
        /// The library's description.
        detail: String,
    },
}

impl OpResult {
    /// The result's type as the JSON format spells it (`ok`, `value`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            OpResult::Ok => "ok",
            OpResult::Value { .. } => "value",
            OpResult::Empty => "empty",
            OpResult::Unknown => "unknown",
            OpResult::Failed { .. } => "failed",
            OpResult::Corruption { .. } => "corruption",
        }
    }
}

/// Why an operation failed without effect, as the deque's error says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailKind {
    /// `create` of a name that exists.
    AlreadyExists,
    /// `bind` to a name that does not.
    NotFound,
    /// A name that is not a valid deque name.
    InvalidName,
    /// A value larger than the item limit allows.
    ValueTooLarge,
    /// A request failed before the operation could take effect.
    Backend,
    /// Every attempt lost a race, up to the retry bound: a liveness
    /// failure, not a failure of the store.
    RetriesExhausted,
    /// The deque refused a server with CAS disabled.
    CasDisabled,
}

impl FailKind {
    /// The kind of a deque error that left the deque unchanged. Corruption
    /// and unknown outcomes are results of their own in a history, never
    /// failures, so they have no kind here.
    pub fn of(error: &memcache_collections::DequeError) -> FailKind {
        use memcache_collections::DequeError;
        match error {
            DequeError::AlreadyExists { .. } => FailKind::AlreadyExists,
            DequeError::NotFound { .. } => FailKind::NotFound,
            DequeError::InvalidName { .. } => FailKind::InvalidName,
            DequeError::ValueTooLarge { .. } => FailKind::ValueTooLarge,
            DequeError::RetriesExhausted { .. } => FailKind::RetriesExhausted,
            DequeError::CasDisabled { .. } => FailKind::CasDisabled,
            DequeError::Backend { .. } | DequeError::Corruption { .. } | DequeError::OutcomeUnknown { .. } => {
                FailKind::Backend
            }
        }
    }

    /// The kind's name as the JSON format spells it.
    pub fn name(self) -> &'static str {
        match self {
            FailKind::AlreadyExists => "already_exists",
            FailKind::NotFound => "not_found",
            FailKind::InvalidName => "invalid_name",
            FailKind::ValueTooLarge => "value_too_large",
            FailKind::Backend => "backend",
            FailKind::RetriesExhausted => "retries_exhausted",
            FailKind::CasDisabled => "cas_disabled",
        }
    }
}

impl std::fmt::Display for FailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation of one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryOp {
    /// The client that ran it.
    pub client: u32,
    /// Which operation.
    pub op: OpName,
    /// The pushed value's id, for pushes.
    pub value: Option<String>,
    /// Virtual (or monotonic) time of the call.
    pub invoke_us: u64,
    /// Time of the return; `None` if it never returned.
    pub return_us: Option<u64>,
    /// The result.
    pub result: OpResult,
}

/// Why entries were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossCause {
    /// The server restarted: every entry on it is gone.
    Restart,
    /// `flush_all`: every entry on the server is gone.
    Flush,
    /// Memory pressure evicted the entry.
    Eviction,
    /// A targeted loss injected by the harness.
    Injected,
    /// The server refused a store (out of memory under `-M`, or too large)
    /// and unlinked the value the key held, as memcached does.
    RefusedStore,
}

/// Entries destroyed during the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loss {
    /// When.
    pub at_us: u64,
    /// On which server.
    pub server: u32,
    /// Which key; `None` for every key on the server.
    pub key: Option<String>,
    /// Why.
    pub cause: LossCause,
}

/// A whole run's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Operations in invocation order.
    pub ops: Vec<HistoryOp>,
    /// Entries lost, in time order.
    #[serde(default)]
    pub losses: Vec<Loss>,
    /// The client that drained the deque after the workload, if any: its
    /// pops reveal the final contents.
    #[serde(default)]
    pub drain_client: Option<u32>,
}
