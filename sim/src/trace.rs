//! A run's trace: every request, reply, drop, fault and op boundary with its
//! time. The simulator always hashes it (the trace hash summarises a run:
//! equal hashes, equal runs) and keeps the records only when the plan asks,
//! for reports; any world may hand records back in its `Outcome`.

use std::hash::Hasher;

use memcache_collections::store::Reply;
use rustc_hash::FxHasher;
use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    /// A client sent a request.
    Send,
    /// A message was lost (flaky link, cut link, or a restart reset its
    /// connection).
    Drop,
    /// A message is held by a partition.
    Hold,
    /// A server applied a request.
    Apply,
    /// A reply reached its client.
    Reply,
    /// A reply reached a client that had stopped waiting for it.
    StaleReply,
    /// A client gave up on a request.
    Timeout,
    /// A fault fired.
    Fault,
    /// A client crashed.
    Crash,
    /// An operation was invoked.
    Invoke,
    /// An operation returned.
    Return,
}

/// One trace line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceRecord {
    /// Virtual time.
    pub at_us: u64,
    /// What happened.
    pub kind: TraceKind,
    /// The client involved, if any.
    pub client: Option<u32>,
    /// The server involved, if any.
    pub server: Option<u32>,
    /// The request this event belongs to, if any (requests are numbered in
    /// the order clients sent them).
    pub request: Option<u64>,
    /// Human-readable details.
    pub detail: String,
}

/// Who an event concerns, and which request it belongs to (kept in the
/// records, never hashed: the hash covers what happened, and a request's
/// number is among the hashed fields where it matters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parties {
    pub client: Option<u32>,
    pub server: Option<u32>,
    pub request: Option<u64>,
}

impl Parties {
    /// An event of one client.
    pub fn client(client: u32) -> Self {
        Parties {
            client: Some(client),
            ..Parties::default()
        }
    }

    /// An event on the link between a client and a server.
    pub fn link(client: usize, server: usize) -> Self {
        Parties {
            client: Some(client as u32),
            server: Some(server as u32),
            request: None,
        }
    }

    /// The same parties, about request `request`.
    pub fn about(self, request: u64) -> Self {
        Parties {
            request: Some(request),
            ..self
        }
    }
}

/// The hash, and the records if kept.
pub struct Trace {
    hasher: FxHasher,
    records: Option<Vec<TraceRecord>>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("hash", &self.hash())
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// A trace that keeps its records if `keep`.
    pub fn new(keep: bool) -> Self {
        Trace {
            hasher: FxHasher::default(),
            records: keep.then(Vec::new),
        }
    }

    /// Records an event. `fields` are what the hash covers (cheap to feed);
    /// `detail` is only rendered when records are kept.
    #[inline]
    pub fn note(
        &mut self,
        at_us: u64,
        kind: TraceKind,
        parties: Parties,
        fields: &[u64],
        bytes: &[u8],
        detail: impl FnOnce() -> String,
    ) {
        self.hasher.write_u64(at_us);
        let Parties { client, server, .. } = parties;
        self.hasher.write_u8(kind as u8);
        self.hasher.write_u32(client.map_or(u32::MAX, |c| c));
        self.hasher.write_u32(server.map_or(u32::MAX, |s| s));
        for field in fields {
            self.hasher.write_u64(*field);
        }
        self.hasher.write(bytes);
        if let Some(records) = &mut self.records {
            records.push(TraceRecord {
                at_us,
                kind,
                client,
                server,
                request: parties.request,
                detail: detail(),
            });
        }
    }

    /// The hash of everything noted so far.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// The kept records (empty if not kept).
    pub fn into_records(self) -> Vec<TraceRecord> {
        self.records.unwrap_or_default()
    }
}

/// The parts of a reply the trace hash covers: its kind and token.
pub fn reply_fields(reply: &Reply) -> (u64, u64) {
    match reply {
        Reply::Value(item) => (1, item.cas.0 ^ (item.value.len() as u64) << 40),
        Reply::Miss => (2, 0),
        Reply::Stored { cas } => (3, cas.0),
        Reply::NotStored => (4, 0),
        Reply::Exists => (5, 0),
        Reply::NotFound => (6, 0),
        Reply::Deleted => (7, 0),
        Reply::ServerError(_) => (8, 0),
        Reply::Lifetime(life) => (9, life.stamp()),
    }
}

/// A reply as a trace line shows it.
pub fn describe_reply(reply: &Reply) -> String {
    match reply {
        Reply::Value(item) => format!("VALUE {} bytes cas {}", item.value.len(), item.cas.0),
        Reply::Miss => "MISS".to_owned(),
        Reply::Stored { cas } => format!("STORED cas {}", cas.0),
        Reply::NotStored => "NOT_STORED".to_owned(),
        Reply::Exists => "EXISTS".to_owned(),
        Reply::NotFound => "NOT_FOUND".to_owned(),
        Reply::Deleted => "DELETED".to_owned(),
        Reply::ServerError(error) => format!("SERVER_ERROR {error}"),
        Reply::Lifetime(life) => format!("LIFETIME identity {:x} mark {:x}", life.identity, life.mark),
    }
}
