//! The history of a run, recorded at the client boundary: which operation,
//! by which client, invoked and returned when, with what result. It is the
//! checkers' only input, and its JSON form is the interchange format that
//! `mcsim check` reads, so histories from real memcached, loom or shuttle go
//! through the same checks.
//!
//! # JSON format
//! (`docs/history-format.md` is the same for readers without the source.)
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
//!   that server (restart, flush). `cause` is `restart`, `flush`,
//!   `eviction`, `injected`, `refused_store` or `stale_cas`. Optional
//!   `held`: what the lost entries held, `{"anchor": true, "values":
//!   ["v3.1"], "anchor_recreated_us": 1200}` (the deque's anchor was among
//!   them, and was created afresh at 1200; the nodes of these values
//!   were). Without `held`, a loss may account for any value pushed
//!   before the last corruption report after it. Optional (default: none).
//! - `drain_client`: the client whose pops drained the deque after the
//!   workload. Optional.
//!
//! A client runs one operation at a time, and an operation returns after it
//! is invoked: [`History::validate`] refuses a history that breaks any rule
//! above (unknown fields included), naming the operation by its index in
//! `ops`, since the checker's answer on such input would mean nothing.

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
#[serde(deny_unknown_fields)]
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
    /// A compare-and-set carrying a token an earlier life of the server
    /// issued was accepted (memcached's tokens restart at 1 after a restart),
    /// replacing what the entry held. Only the simulator sees this happen.
    StaleCas,
}

/// What the lost entries held, when the world that destroyed them looked:
/// the checker forgives a value nobody popped only by a loss that held it
/// (its own node, or the anchor while the value was in the deque), never by
/// a corruption report alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Held {
    /// Whether the deque's anchor was among them: every value in the deque
    /// at that moment became unreachable.
    #[serde(default)]
    pub anchor: bool,
    /// The values (ids) of the deque nodes among them.
    #[serde(default)]
    pub values: Vec<String>,
    /// When the anchor was lost: when a client created it afresh afterwards,
    /// if one did. Pushes from then on went into a new deque, which this
    /// loss did not touch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_recreated_us: Option<u64>,
}

/// Entries destroyed during the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loss {
    /// When.
    pub at_us: u64,
    /// On which server.
    pub server: u32,
    /// Which key; `None` for every key on the server.
    pub key: Option<String>,
    /// Why.
    pub cause: LossCause,
    /// What the lost entries held; `None` when the world could not look
    /// (real memcached, or a history from elsewhere): such a loss is taken
    /// to have held any value pushed before the last corruption report
    /// after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// A whole run's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Why a history is not one a set of clients could have produced (see the
/// module's rules); `index` is the operation's position in `ops`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// An operation returned before it was invoked.
    #[error("ops[{index}]: return_us {return_us} is before invoke_us {invoke_us}")]
    ReturnBeforeInvoke {
        index: usize,
        invoke_us: u64,
        return_us: u64,
    },
    /// An operation that never returned has a result other than `unknown`.
    #[error("ops[{index}]: return_us is null (it never returned) but its result is {result}, not unknown")]
    ResultWithoutReturn { index: usize, result: &'static str },
    /// A push without a value, or a pop with one.
    #[error("ops[{index}]: {} {}", op.as_str(), if op.is_push() { "has no value" } else { "has a value (pops carry none)" })]
    ValueMismatch { index: usize, op: OpName },
    /// A result the operation cannot have (a pop answering `ok`, a push
    /// answering `value` or `empty`).
    #[error("ops[{index}]: {} cannot answer {result}", op.as_str())]
    ResultMismatch {
        index: usize,
        op: OpName,
        result: &'static str,
    },
    /// Two pushes of one value: the checker tells values apart by value.
    #[error("ops[{index}]: pushes {value:?}, already pushed by ops[{first}]; pushed values must be distinct")]
    RepeatedValue { index: usize, first: usize, value: String },
    /// A client invoked an operation before its previous one returned.
    #[error(
        "ops[{index}]: client {client} invokes at {invoke_us} us, but its ops[{previous}] {}",
        match previous_return_us {
            Some(us) => format!("returns only at {us} us"),
            None => "never returned".to_string(),
        }
    )]
    Overlap {
        index: usize,
        client: u32,
        invoke_us: u64,
        previous: usize,
        previous_return_us: Option<u64>,
    },
}

impl History {
    /// The values some pop returned.
    pub fn popped_values(&self) -> std::collections::BTreeSet<&str> {
        self.ops
            .iter()
            .filter_map(|op| match &op.result {
                OpResult::Value { value } => Some(value.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Checks the history against the format's rules; the first broken
    /// one is the error.
    pub fn validate(&self) -> Result<(), HistoryError> {
        // Looked up only, never iterated: a hash map's order cannot show.
        let mut pushed: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
        for (index, op) in self.ops.iter().enumerate() {
            if let Some(return_us) = op.return_us
                && return_us < op.invoke_us
            {
                return Err(HistoryError::ReturnBeforeInvoke {
                    index,
                    invoke_us: op.invoke_us,
                    return_us,
                });
            }
            if op.return_us.is_none() && op.result != OpResult::Unknown {
                return Err(HistoryError::ResultWithoutReturn {
                    index,
                    result: op.result.kind(),
                });
            }
            if op.op.is_push() != op.value.is_some() {
                return Err(HistoryError::ValueMismatch { index, op: op.op });
            }
            let fits = match op.result {
                OpResult::Ok => op.op.is_push(),
                OpResult::Value { .. } | OpResult::Empty => !op.op.is_push(),
                OpResult::Unknown | OpResult::Failed { .. } | OpResult::Corruption { .. } => true,
            };
            if !fits {
                return Err(HistoryError::ResultMismatch {
                    index,
                    op: op.op,
                    result: op.result.kind(),
                });
            }
            if let Some(value) = &op.value
                && let Some(&first) = pushed.get(value.as_str())
            {
                return Err(HistoryError::RepeatedValue {
                    index,
                    first,
                    value: value.clone(),
                });
            }
            if let Some(value) = &op.value {
                pushed.insert(value, index);
            }
        }
        // Ties on the invocation time go to the op that returned first (a
        // zero-length op at t, then one invoked at t), not to file order.
        let mut by_client: Vec<(u32, u64, u64, usize)> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| (op.client, op.invoke_us, op.return_us.unwrap_or(u64::MAX), i))
            .collect();
        by_client.sort_unstable();
        for pair in by_client.windows(2) {
            let (previous, index) = (pair[0].3, pair[1].3);
            let (before, op) = (&self.ops[previous], &self.ops[index]);
            if before.client == op.client && before.return_us.is_none_or(|r| r > op.invoke_us) {
                return Err(HistoryError::Overlap {
                    index,
                    client: op.client,
                    invoke_us: op.invoke_us,
                    previous,
                    previous_return_us: before.return_us,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An operation for tests (other modules' too).
    pub(crate) fn op(
        client: u32,
        name: OpName,
        value: Option<&str>,
        span: (u64, Option<u64>),
        result: OpResult,
    ) -> HistoryOp {
        HistoryOp {
            client,
            op: name,
            value: value.map(str::to_owned),
            invoke_us: span.0,
            return_us: span.1,
            result,
        }
    }

    fn history(ops: Vec<HistoryOp>) -> History {
        History {
            ops,
            ..History::default()
        }
    }

    #[test]
    fn a_well_formed_history_passes() {
        let ok = history(vec![
            op(0, OpName::PushBack, Some("a"), (0, Some(10)), OpResult::Ok),
            op(0, OpName::PopFront, None, (10, None), OpResult::Unknown),
            op(1, OpName::PopBack, None, (5, Some(8)), OpResult::Empty),
            // An instant op, listed after the one it precedes.
            op(2, OpName::PushBack, Some("b"), (20, Some(30)), OpResult::Ok),
            op(2, OpName::PopBack, None, (20, Some(20)), OpResult::Empty),
        ]);
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn each_broken_rule_names_the_operation() {
        let push = |value, span, result| op(0, OpName::PushBack, Some(value), span, result);
        let pop = |span, result| op(1, OpName::PopFront, None, span, result);
        let cases = [
            (
                vec![push("a", (10, Some(5)), OpResult::Ok)],
                "ops[0]: return_us 5 is before",
            ),
            (vec![push("a", (0, None), OpResult::Ok)], "ops[0]: return_us is null"),
            (
                vec![op(0, OpName::PushBack, None, (0, Some(1)), OpResult::Ok)],
                "has no value",
            ),
            (
                vec![op(0, OpName::PopBack, Some("a"), (0, Some(1)), OpResult::Empty)],
                "has a value",
            ),
            (vec![pop((0, Some(1)), OpResult::Ok)], "pop_front cannot answer ok"),
            (
                vec![push("a", (0, Some(1)), OpResult::Empty)],
                "push_back cannot answer empty",
            ),
            (
                vec![
                    push("a", (0, Some(1)), OpResult::Ok),
                    push("a", (2, Some(3)), OpResult::Ok),
                ],
                "ops[1]: pushes \"a\", already pushed by ops[0]",
            ),
            (
                vec![
                    push("a", (0, Some(10)), OpResult::Ok),
                    push("b", (5, Some(12)), OpResult::Ok),
                ],
                "ops[1]: client 0 invokes at 5 us, but its ops[0] returns only at 10 us",
            ),
            (
                vec![
                    push("a", (0, None), OpResult::Unknown),
                    push("b", (5, Some(12)), OpResult::Ok),
                ],
                "its ops[0] never returned",
            ),
        ];
        for (ops, expected) in cases {
            let error = history(ops).validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{error} lacks {expected}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = r#"{"ops": [{"client": 0, "op": "pop_back", "value": null, "invoke_us": 0,
            "return_us": 1, "result": {"type": "empty"}, "extra": 1}]}"#;
        let error = serde_json::from_str::<History>(text).unwrap_err().to_string();
        assert!(error.contains("unknown field `extra`"), "{error}");
    }
}
