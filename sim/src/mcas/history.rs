//! The history of MCAS clients, recorded at the client boundary, and its
//! JSON form (read by `mcsim check`, which tells it from a deque history by
//! `"subject": "mcas"`).
//!
//! ```json
//! { "subject": "mcas",
//!   "initial": { "acct-0": "100", "acct-1": "100" },
//!   "ops": [
//!     { "client": 0, "op": "read", "key": "acct-0", "invoke_us": 1, "return_us": 4,
//!       "result": { "type": "value", "value": "100" } },
//!     { "client": 0, "op": "mcas", "invoke_us": 5, "return_us": 30,
//!       "updates": [ { "key": "acct-0", "expected": "100", "new": "93#c0.1" },
//!                    { "key": "acct-1", "expected": "100", "new": "107#c0.1" } ],
//!       "result": { "type": "ok" } } ] }
//! ```
//! - `initial`: every register's value before the first operation; a key
//!   not listed holds nothing.
//! - `op`: `read` with `key`, or `mcas` with `updates` (keys distinct,
//!   `expected` as an earlier read returned it). Values written should be
//!   unique, so that a read names the write it saw.
//! - `result.type`: for a read `value` (with `value`) or `missing`; for an
//!   MCAS `ok` (every register replaced) or `not_applied` (none); for both
//!   `unknown` (may or may not have taken effect), `failed` with `error`
//!   (certainly no effect; `retries_exhausted` is a liveness failure), or
//!   `corruption` with `key` and `detail`.
//! - `return_us: null`: never returned; the result is then `unknown`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One register's replacement in an MCAS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub key: String,
    pub expected: String,
    pub new: String,
}

/// What an operation asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum McasOpKind {
    Read { key: String },
    Mcas { updates: Vec<Update> },
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum McasResult {
    /// A read's value.
    Value { value: String },
    /// A read of a register that holds nothing.
    Missing,
    /// The MCAS replaced every register.
    Ok,
    /// The MCAS replaced none.
    NotApplied,
    /// May or may not have taken effect.
    Unknown,
    /// Certainly had no effect.
    Failed { error: String },
    /// The library reported lost or garbled data.
    Corruption { key: String, detail: String },
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McasHistoryOp {
    pub client: u32,
    #[serde(flatten)]
    pub kind: McasOpKind,
    pub invoke_us: u64,
    pub return_us: Option<u64>,
    pub result: McasResult,
}

/// A whole MCAS history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McasHistory {
    /// Always `"mcas"`: how a reader tells it from a deque history.
    pub subject: String,
    #[serde(default)]
    pub initial: BTreeMap<String, String>,
    pub ops: Vec<McasHistoryOp>,
}

impl McasHistory {
    /// Refuses a history that breaks the format's rules, naming the
    /// operation by its index, since a verdict on it would mean nothing.
    pub fn validate(&self) -> Result<(), String> {
        if self.subject != "mcas" {
            return Err(format!("subject is {:?}, not \"mcas\"", self.subject));
        }
        let mut busy_until: BTreeMap<u32, (usize, u64)> = BTreeMap::new();
        let mut clients: Vec<(u32, u64, usize)> = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let at = |what: String| format!("op {i}: {what}");
            match (&op.kind, &op.result) {
                (_, McasResult::Unknown | McasResult::Failed { .. } | McasResult::Corruption { .. }) => {}
                (McasOpKind::Read { .. }, McasResult::Value { .. } | McasResult::Missing) => {}
                (McasOpKind::Mcas { .. }, McasResult::Ok | McasResult::NotApplied) => {}
                (kind, result) => return Err(at(format!("{kind:?} cannot return {result:?}"))),
            }
            if let McasOpKind::Mcas { updates } = &op.kind {
                let mut keys: Vec<&str> = updates.iter().map(|u| u.key.as_str()).collect();
                keys.sort_unstable();
                if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
                    return Err(at(format!("key {} appears twice", pair[0])));
                }
            }
            match op.return_us {
                Some(r) if r < op.invoke_us => return Err(at(format!("returned at {r} before its invoke"))),
                None if op.result != McasResult::Unknown => {
                    return Err(at("never returned, so its result must be unknown".into()));
                }
                _ => {}
            }
            clients.push((op.client, op.invoke_us, i));
        }
        // A client runs one operation at a time.
        clients.sort_unstable();
        for &(client, invoke_us, i) in &clients {
            if let Some(&(previous, until)) = busy_until.get(&client)
                && invoke_us <= until
            {
                return Err(format!(
                    "op {i}: client {client} invoked it while op {previous} was running"
                ));
            }
            let until = self.ops[i].return_us.unwrap_or(u64::MAX);
            busy_until.insert(client, (i, until));
        }
        Ok(())
    }
}
