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
//!       "result": { "type": "ok" } } ],
//!   "losses": [ { "at_us": 40, "keys": ["acct-1"] } ] }
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
//! - `return_us` (required): `null` when it never returned; the result is
//!   then `unknown`. An MCAS with an `unknown` result may take effect after
//!   its return too: a client that meets one of its claims finishes it.
//! - `losses` (optional): registers the servers lost (a restart, a flush,
//!   an eviction), each at an instant `at_us` (or one instant from `at_us`
//!   to `until_us`); a lost register holds nothing from then on;
//!   `protocol_items: true` when descriptors or the server's life mark
//!   went too. A `corruption` result at a register is a detection only
//!   after a loss of that register, or of protocol items, began.
//! - Unknown fields, fields a result's type does not have, a key named
//!   twice in `initial`, keys memcached refuses and MCAS of no register are
//!   refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// One register's replacement in an MCAS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub key: String,
    pub expected: String,
    pub new: String,
}

/// What an operation asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McasOpKind {
    Read { key: String },
    Mcas { updates: Vec<Update> },
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McasResult {
    /// A read's value.
    Value { value: String },
    /// A read of a register that holds nothing.
    Missing,
    /// The MCAS replaced every register.
    Ok,
    /// The MCAS replaced none.
    NotApplied,
    /// May or may not have taken effect (an MCAS: possibly later, finished
    /// by another client).
    Unknown,
    /// Certainly had no effect.
    Failed { error: String },
    /// The library reported lost or garbled data.
    Corruption { key: String, detail: String },
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WireOp", into = "WireOp")]
pub struct McasHistoryOp {
    pub client: u32,
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
    #[serde(default, deserialize_with = "distinct_keys")]
    pub initial: BTreeMap<String, String>,
    pub ops: Vec<McasHistoryOp>,
    /// Registers the servers lost, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<McasLoss>,
}

/// Registers that vanished at one instant: the servers lost their items
/// (a restart, a flush, an eviction), or a stale-token compare-and-set
/// replaced them. The world that ran the history knows; a client does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McasLoss {
    pub at_us: u64,
    /// When the world cannot say the instant (a real restart takes a
    /// while): the loss happened at one instant from `at_us` to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_us: Option<u64>,
    /// The registers lost, by key (possibly none).
    pub keys: Vec<String>,
    /// Whether the protocol's other items went too: descriptors (their
    /// claims every reader then reports) or the server's life mark (every
    /// register of the server then reads as another life's). The
    /// simulator knows; a real restart or flush takes both on its server,
    /// so the real backend says yes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protocol_items: bool,
}

/// An operation as the JSON spells it: every field named, none unknown,
/// `return_us` required (`null` when it never returned), and the fields
/// each `op` and result `type` need checked by [`McasHistoryOp::try_from`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOp {
    client: u32,
    op: WireOpName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updates: Option<Vec<Update>>,
    invoke_us: u64,
    #[serde(deserialize_with = "Option::deserialize")]
    return_us: Option<u64>,
    result: WireResult,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireOpName {
    Read,
    Mcas,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireResult {
    #[serde(rename = "type")]
    kind: WireResultType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireResultType {
    Value,
    Missing,
    Ok,
    NotApplied,
    Unknown,
    Failed,
    Corruption,
}

impl TryFrom<WireOp> for McasHistoryOp {
    type Error = String;

    fn try_from(wire: WireOp) -> Result<Self, String> {
        let kind = match (wire.op, wire.key, wire.updates) {
            (WireOpName::Read, Some(key), None) => McasOpKind::Read { key },
            (WireOpName::Mcas, None, Some(updates)) => McasOpKind::Mcas { updates },
            (WireOpName::Read, _, _) => return Err("a read has a `key` and no `updates`".into()),
            (WireOpName::Mcas, _, _) => return Err("an mcas has `updates` and no `key`".into()),
        };
        let WireResult {
            kind: result_type,
            value,
            error,
            key,
            detail,
        } = wire.result;
        let result = match (result_type, value, error, key, detail) {
            (WireResultType::Value, Some(value), None, None, None) => McasResult::Value { value },
            (WireResultType::Missing, None, None, None, None) => McasResult::Missing,
            (WireResultType::Ok, None, None, None, None) => McasResult::Ok,
            (WireResultType::NotApplied, None, None, None, None) => McasResult::NotApplied,
            (WireResultType::Unknown, None, None, None, None) => McasResult::Unknown,
            (WireResultType::Failed, None, Some(error), None, None) => McasResult::Failed { error },
            (WireResultType::Corruption, None, None, Some(key), Some(detail)) => McasResult::Corruption { key, detail },
            _ => {
                return Err(
                    "a result has exactly its type's fields: `value` for value, `error` for failed, \
                     `key` and `detail` for corruption, none for the others"
                        .into(),
                );
            }
        };
        Ok(McasHistoryOp {
            client: wire.client,
            kind,
            invoke_us: wire.invoke_us,
            return_us: wire.return_us,
            result,
        })
    }
}

impl From<McasHistoryOp> for WireOp {
    fn from(op: McasHistoryOp) -> WireOp {
        let (name, key, updates) = match op.kind {
            McasOpKind::Read { key } => (WireOpName::Read, Some(key), None),
            McasOpKind::Mcas { updates } => (WireOpName::Mcas, None, Some(updates)),
        };
        let none = |kind| WireResult {
            kind,
            value: None,
            error: None,
            key: None,
            detail: None,
        };
        let result = match op.result {
            McasResult::Value { value } => WireResult {
                value: Some(value),
                ..none(WireResultType::Value)
            },
            McasResult::Missing => none(WireResultType::Missing),
            McasResult::Ok => none(WireResultType::Ok),
            McasResult::NotApplied => none(WireResultType::NotApplied),
            McasResult::Unknown => none(WireResultType::Unknown),
            McasResult::Failed { error } => WireResult {
                error: Some(error),
                ..none(WireResultType::Failed)
            },
            McasResult::Corruption { key, detail } => WireResult {
                key: Some(key),
                detail: Some(detail),
                ..none(WireResultType::Corruption)
            },
        };
        WireOp {
            client: op.client,
            op: name,
            key,
            updates,
            invoke_us: op.invoke_us,
            return_us: op.return_us,
            result,
        }
    }
}

/// `initial` as a map that refuses a key given twice (a JSON object may
/// repeat a name; which value won would be a guess).
fn distinct_keys<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of register names and values")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut initial = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                if initial.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!("initial names {key} twice")));
                }
                initial.insert(key, value);
            }
            Ok(initial)
        }
    }
    deserializer.deserialize_map(Visitor)
}

/// The `error` names of a `failed` result: the `McasError` kinds that
/// certainly had no effect (`retries_exhausted` is a liveness failure; an
/// MCAS that gave up leaves its claims, so the checker lets it take effect
/// as it would an unknown one).
pub const FAILED_ERRORS: &[&str] = &[
    "backend",
    "retries_exhausted",
    "cas_disabled",
    "invalid_entries",
    "too_large",
];

impl McasHistory {
    /// Refuses a history that breaks the format's rules, naming the
    /// operation by its index, since a verdict on it would mean nothing.
    pub fn validate(&self) -> Result<(), String> {
        if self.subject != "mcas" {
            return Err(format!("subject is {:?}, not \"mcas\"", self.subject));
        }
        // Names memcached would refuse, or the library keeps for its
        // descriptors: no client could have used them as registers.
        let key_error = |key: &str| {
            let shown = key.chars().take(64).collect::<String>();
            if key.starts_with(memcache_collections::mcas::format::DESCRIPTOR_KEY_PREFIX) {
                return Some(format!("key {shown:?} is in the library's descriptor space"));
            }
            memcache_collections::Key::new(key)
                .err()
                .map(|e| format!("key {shown:?}: {e}"))
        };
        if let Some(error) = self.initial.keys().find_map(|key| key_error(key)) {
            return Err(format!("initial: {error}"));
        }
        for (i, loss) in self.losses.iter().enumerate() {
            if loss.until_us.is_some_and(|until| until < loss.at_us) {
                return Err(format!("losses[{i}]: until_us is before at_us"));
            }
            if let Some(error) = loss.keys.iter().find_map(|key| key_error(key)) {
                return Err(format!("losses[{i}]: {error}"));
            }
        }
        let mut busy_until: BTreeMap<u32, (usize, u64)> = BTreeMap::new();
        let mut clients: Vec<(u32, u64, usize)> = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let at = |what: String| format!("op {i}: {what}");
            let keys: Vec<&str> = match &op.kind {
                McasOpKind::Read { key } => vec![key],
                McasOpKind::Mcas { updates } if updates.is_empty() => {
                    return Err(at("an mcas of no register".into()));
                }
                McasOpKind::Mcas { updates } => updates.iter().map(|u| u.key.as_str()).collect(),
            };
            if let Some(error) = keys.iter().find_map(|key| key_error(key)) {
                return Err(at(error));
            }
            match (&op.kind, &op.result) {
                (_, McasResult::Failed { error }) if !FAILED_ERRORS.contains(&error.as_str()) => {
                    return Err(at(format!(
                        "failed with error {error:?}; the errors are {}",
                        FAILED_ERRORS.join(", ")
                    )));
                }
                (_, McasResult::Unknown | McasResult::Failed { .. } | McasResult::Corruption { .. }) => {}
                (McasOpKind::Read { .. }, McasResult::Value { .. } | McasResult::Missing) => {}
                (McasOpKind::Mcas { .. }, McasResult::Ok | McasResult::NotApplied) => {}
                (McasOpKind::Read { .. }, _) => return Err(at("a read returns value or missing".into())),
                (McasOpKind::Mcas { .. }, _) => return Err(at("an mcas returns ok or not_applied".into())),
            }
            let mut sorted = keys;
            sorted.sort_unstable();
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(at(format!("key {} appears twice", pair[0])));
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
                && invoke_us < until
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
