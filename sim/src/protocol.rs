//! The client process protocol (`docs/client-protocol.md`): how the harness
//! drives a deque client written in any language. The harness starts the
//! client as a process and writes one JSON object per line on its standard
//! input; the client answers each with one JSON line on its standard
//! output. First an [`Init`] (answered `init_ok`, or `init_failed` with a
//! reason), then one [`ToClient::Op`] at a time, each answered by a
//! [`FromClient::Result`] with the same `id`. The end of standard input
//! asks the client to exit.
//!
//! Results are the history format's own (`crate::history::OpResult`:
//! `ok`, `value`, `empty`, `unknown`, `failed` with a kind, `corruption`),
//! so a client reports exactly what the Rust library would. Values travel
//! as JSON strings with one character per byte (U+0000 to U+00FF, Latin-1):
//! any bytes survive the trip, and bytes nobody pushed reach the checker
//! as what they are.
//!
//! Both sides live here: the harness's (`crate::real::external`) and the
//! Rust reference client (`mcsim client`, `crate::cli::client`).

use serde::{Deserialize, Serialize};

use crate::history::OpResult;

/// What the harness sends a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToClient {
    /// The first message: where the servers are and how to behave.
    Init(Init),
    /// One operation; the client answers before it gets the next.
    Op {
        /// Echoed in the result.
        id: u64,
        /// What to do.
        op: ProtocolOp,
        /// A push's value (Latin-1 text, one character per byte).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
}

/// Everything a client needs before its first operation: the deque exists
/// already (the harness created it), so a client binds to `deque` without
/// a request, as the Rust library's `Deque::attach` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Init {
    /// The client's number in the run (0-based), as the history names it.
    pub client: u32,
    /// The servers in ring order: route keys by `name` (libmemcached's
    /// ketama over the names, `src/routing/ketama.rs`), connect to `dial`
    /// (the run's fault-injecting proxy for this client and server).
    pub servers: Vec<ServerLink>,
    /// The deque's name (its anchor's key).
    pub deque: String,
    /// The algorithm to run, as `mcsim list` names it (`hardened`, ...); a
    /// client that does not implement it answers `init_failed`.
    pub variant: String,
    /// The server's item size limit (`-I`): the largest value a push may
    /// carry is this less the item's overhead (`src/format.rs`).
    pub item_size_max_bytes: usize,
    /// Attempts before an operation gives up (`failed`, `retries_exhausted`).
    pub retries_max: u32,
    /// Backoff after a lost race: the first wait, doubled per loss up to
    /// `backoff_max_us`, each drawn uniformly below the bound.
    pub backoff_first_us: u32,
    /// The backoff's ceiling.
    pub backoff_max_us: u32,
    /// How long to wait for a server's reply before the request's outcome
    /// is unknown.
    pub timeout_us: u64,
    /// Seeds the client's node ids, so a run's keys are reproducible.
    pub id_seed: u64,
    /// Whether a pusher may leave its neighbour link to its next request
    /// (`DequeOptions::deferred_link`); a client may ignore it, since
    /// linking at once is always correct. Absent means `false` (linking
    /// at once), what a harness from before the field asked; the harness
    /// sends the library's default, `true`.
    #[serde(default)]
    pub deferred_link: bool,
}

impl Init {
    /// The `init` of client `client` of the deque `deque`, with the deque
    /// options a Rust client of the run would use: the one place the
    /// harness and the benchmark build it.
    pub fn new(
        client: u32,
        servers: Vec<ServerLink>,
        deque: &str,
        options: &memcache_collections::DequeOptions,
        timeout_us: u64,
    ) -> Init {
        Init {
            client,
            servers,
            deque: deque.to_owned(),
            variant: options.variant.name().to_owned(),
            item_size_max_bytes: options.item_size_max,
            retries_max: options.retries_max,
            backoff_first_us: options.backoff.first_us,
            backoff_max_us: options.backoff.max_us,
            timeout_us,
            id_seed: options.id_seed.unwrap_or_default(),
            deferred_link: options.deferred_link,
        }
    }
}

/// One server as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerLink {
    /// The server's name, `host:port`: what keys are routed by.
    pub name: String,
    /// Where to connect for it, `host:port`.
    pub dial: String,
}

/// The operations a client performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolOp {
    /// Push `value` at the back (right end).
    PushBack,
    /// Push `value` at the front (left end).
    PushFront,
    /// Pop from the back.
    PopBack,
    /// Pop from the front.
    PopFront,
    /// Create the deque under `Init::deque` (after its anchor was lost);
    /// `failed` with `already_exists` when another client was first.
    Create,
    /// Bind to the deque under `Init::deque`; `failed` with `not_found`
    /// when there is none.
    Bind,
}

impl From<crate::history::OpName> for ProtocolOp {
    fn from(op: crate::history::OpName) -> Self {
        use crate::history::OpName;
        match op {
            OpName::PushBack => ProtocolOp::PushBack,
            OpName::PushFront => ProtocolOp::PushFront,
            OpName::PopBack => ProtocolOp::PopBack,
            OpName::PopFront => ProtocolOp::PopFront,
        }
    }
}

/// What a client sends the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromClient {
    /// Ready for operations.
    InitOk,
    /// The client cannot run as asked (an algorithm it does not
    /// implement, servers it cannot reach); the run could not start.
    InitFailed {
        /// Why, for the reader.
        reason: String,
    },
    /// An operation's result.
    Result {
        /// The operation's `id`.
        id: u64,
        /// What it returned, in the history's format (a popped value as
        /// Latin-1 text).
        result: OpResult,
    },
}

/// Bytes as protocol text: one character per byte.
pub fn bytes_to_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Protocol text as bytes; `Err` with the first character above U+00FF.
pub fn text_to_bytes(text: &str) -> Result<Vec<u8>, char> {
    text.chars().map(|c| u8::try_from(c).map_err(|_| c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_the_spec_writes_them() {
        let op: ToClient = serde_json::from_str(r#"{"type":"op","id":3,"op":"push_back","value":"0.1~~"}"#).unwrap();
        assert_eq!(
            op,
            ToClient::Op {
                id: 3,
                op: ProtocolOp::PushBack,
                value: Some("0.1~~".to_owned())
            }
        );
        let pop = serde_json::to_string(&ToClient::Op {
            id: 4,
            op: ProtocolOp::PopFront,
            value: None,
        })
        .unwrap();
        assert_eq!(pop, r#"{"type":"op","id":4,"op":"pop_front"}"#);
        let answers = [
            (r#"{"type":"init_ok"}"#, FromClient::InitOk),
            (
                r#"{"type":"result","id":4,"result":{"type":"empty"}}"#,
                FromClient::Result {
                    id: 4,
                    result: OpResult::Empty,
                },
            ),
            (
                r#"{"type":"result","id":5,"result":{"type":"failed","error":"retries_exhausted"}}"#,
                FromClient::Result {
                    id: 5,
                    result: OpResult::Failed {
                        error: crate::history::FailKind::RetriesExhausted,
                    },
                },
            ),
        ];
        for (line, expected) in answers {
            assert_eq!(serde_json::from_str::<FromClient>(line).unwrap(), expected, "{line}");
        }
        // A misspelt field is garbage, not a default.
        assert!(serde_json::from_str::<FromClient>(r#"{"type":"result","id":4,"reslt":{"type":"ok"}}"#).is_err());
        assert!(serde_json::from_str::<FromClient>(r#"{"type":"result","id":4}"#).is_err());
    }

    #[test]
    fn every_byte_survives_the_text_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = bytes_to_text(&bytes);
        assert_eq!(text.chars().count(), 256);
        assert_eq!(text_to_bytes(&text), Ok(bytes));
        assert_eq!(text_to_bytes("a\u{100}"), Err('\u{100}'));
    }
}
