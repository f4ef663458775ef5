//! The real backend: memcached servers over the meta protocol.
//!
//! Built on `memcache::exp::MetaClient` rather than the crate's classic
//! `Client`, because the classic one hides exactly what the deque must see
//! (docs/memcached.md): its `cas` answers `Ok(false)` for both a token mismatch and a
//! missing key, its ASCII `add` reports success on an existing key, its pool
//! spends a `version` round trip on every check-out, and it routes keys with
//! `DefaultHasher`. The meta client tells `EX` from `NF` from `NS`, returns the
//! new CAS token with every store, reports a request written but unanswered
//! as *ambiguous* (our [`StoreError::OutcomeUnknown`]), puts one deadline on
//! every exchange, and takes a pluggable router, which is our ketama ring.
//! One more trap, found by the differential test: the meta client reports
//! *any* error after a fully written request as ambiguous, including a
//! `SERVER_ERROR` line (say, a value too large), which is a definite refusal;
//! our error classification unwraps it back into a reply.
//! Only base meta flags are used (`mg v c`, `ms c`, `ms ME`, `ms C`, `md`), plus
//! `stats`, `gets` and `add` for the server lifetime (see
//! `MemcachedStore::lifetime`, `admin.rs`), so
//! it works with memcached 1.6.18 (Debian 12).

mod admin;
mod local;

use std::future::Future;
use std::time::Duration;

use memcache::exp::{self as meta, Delete, Get, Meta, MetaClient, MutationStatus, Op, OpResult, Router, Set};

pub use local::{LocalServer, LocalServerConfig, LocalServerError};

use crate::key::Key;
use crate::routing::{KetamaRing, ServerSpec};
use crate::store::{CasToken, Command, Item, Reply, ServerError, Store, StoreError};

/// Connection settings for [`MemcachedStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemcachedOptions {
    /// Deadline of one request/reply exchange; past it the request's outcome
    /// is unknown.
    pub io_timeout: Duration,
    /// Deadline for opening a connection.
    pub connect_timeout: Duration,
}

impl Default for MemcachedOptions {
    fn default() -> Self {
        MemcachedOptions {
            io_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// Why a [`MemcachedStore`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No servers were given.
    #[error("at least one memcached server is needed")]
    NoServers,
    /// A server address is not `host:port`.
    #[error("server address {0:?} is not host:port")]
    BadAddress(String),
    /// `connect_via` got a different number of dial addresses than servers.
    #[error("{servers} servers but {dial} dial addresses")]
    DialCount {
        /// Servers in the ring.
        servers: usize,
        /// Addresses to dial.
        dial: usize,
    },
    /// The client could not be set up.
    #[error("cannot connect to memcached: {0}")]
    Client(#[from] meta::Error),
    /// A server did not answer `version` within the connect timeout.
    #[error("memcached at {address} does not answer: {source}")]
    Unreachable {
        /// The server's `host:port`.
        address: String,
        /// What the connection saw.
        source: std::io::Error,
    },
}

/// One or more real memcached servers, keys spread by ketama.
///
/// Safe to share between threads (connections are pooled per server); each
/// call blocks the calling thread for at most `io_timeout`.
pub struct MemcachedStore {
    client: MetaClient,
    servers: Vec<ServerSpec>,
    /// Where each server is reached (the same as `servers` unless a proxy
    /// sits in between).
    dial: Vec<ServerSpec>,
    ring: KetamaRing,
    options: MemcachedOptions,
}

impl std::fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("servers", &self.servers)
            .finish()
    }
}

/// Adapts our ketama ring to the meta client's router interface.
struct KetamaRouter(KetamaRing);

impl Router for KetamaRouter {
    fn route(&self, key: &[u8], servers: &[String]) -> usize {
        debug_assert_eq!(servers.len(), self.0.server_count());
        self.0.server_for(key)
    }
}

impl MemcachedStore {
    /// Connects to `addresses` (`host:port` each), in ring order, and checks
    /// that every server answers (one `version` exchange each, within
    /// `connect_timeout`), so a wrong address or a server that is down is
    /// reported here, naming it, rather than at the first operation.
    pub fn connect<A: AsRef<str>>(addresses: &[A], options: &MemcachedOptions) -> Result<Self, ConnectError> {
        let store = Self::connect_via(addresses, addresses, options)?;
        for server in &store.dial {
            let address = server.address();
            admin::version_exchange(&address, options)
                .map_err(|source| ConnectError::Unreachable { address, source })?;
        }
        Ok(store)
    }

    /// Routes keys as if talking to `servers` (the ring's names, which every
    /// client of one cluster must share), but dials `dial[i]` for server
    /// `i`: a proxy in front of each server, such as the harness's
    /// fault-injecting one, then changes nothing about where keys live.
    ///
    /// Unlike [`connect`](MemcachedStore::connect), this does not check that
    /// the servers answer: a connection through a fault-injecting proxy must
    /// not spend a message on it.
    pub fn connect_via<A: AsRef<str>, D: AsRef<str>>(
        servers: &[A],
        dial: &[D],
        options: &MemcachedOptions,
    ) -> Result<Self, ConnectError> {
        if servers.is_empty() {
            return Err(ConnectError::NoServers);
        }
        let parse = |a: &str| ServerSpec::parse(a).ok_or_else(|| ConnectError::BadAddress(a.to_owned()));
        let servers = servers
            .iter()
            .map(|a| parse(a.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let dial = dial.iter().map(|a| parse(a.as_ref())).collect::<Result<Vec<_>, _>>()?;
        if dial.len() != servers.len() {
            return Err(ConnectError::DialCount {
                servers: servers.len(),
                dial: dial.len(),
            });
        }
        let client = MetaClient::builder()
            .router(KetamaRouter(KetamaRing::new(&servers)))
            .io_timeout(Some(options.io_timeout))
            .connect_timeout(Some(options.connect_timeout))
            .connect_multiple(dial.iter().map(ServerSpec::address).collect::<Vec<_>>())?;
        Ok(MemcachedStore {
            client,
            ring: KetamaRing::new(&servers),
            servers,
            dial,
            options: options.clone(),
        })
    }

    /// The servers, in ring order.
    pub fn servers(&self) -> &[ServerSpec] {
        &self.servers
    }

    /// The `host:port` of the server `command`'s key lives on, for errors.
    fn server_of(&self, command: &Command) -> String {
        self.server_of_key(command.key())
    }

    /// The `host:port` of the server `key` lives on.
    fn server_of_key(&self, key: &Key) -> String {
        self.servers[self.ring.server_for(key.as_bytes())].address()
    }

    fn execute(&self, command: &Command) -> Result<Reply, StoreError> {
        match command {
            Command::Lifetime { key, mark } => self.lifetime(key, *mark),
            _ => self
                .execute_batch(std::slice::from_ref(command))
                .pop()
                .expect("one result per command"),
        }
    }

    /// Sends `commands` with one round trip per server (`run_batch`
    /// pipelines each server's group on one connection, in order).
    fn execute_batch(&self, commands: &[Command]) -> Vec<Result<Reply, StoreError>> {
        if commands.iter().any(|c| matches!(c, Command::Lifetime { .. })) {
            return commands.iter().map(|c| self.execute(c)).collect();
        }
        let operations: Vec<Op> = commands.iter().map(operation).collect();
        match self.client.run_batch(operations) {
            // Validation failed before anything was written.
            Err(error) => commands
                .iter()
                .map(|command| {
                    Err(StoreError::NotApplied {
                        command: command.name(),
                        key: command.key().clone(),
                        detail: error.to_string(),
                    })
                })
                .collect(),
            Ok(results) => commands
                .iter()
                .zip(results)
                .map(|(command, result)| match result {
                    Ok(wire) => reply_of(command, wire).map_err(|detail| StoreError::Protocol {
                        command: command.name(),
                        key: command.key().clone(),
                        detail,
                    }),
                    Err(error) => classify(command, error, &self.server_of(command)),
                })
                .collect(),
        }
    }

    /// The life of the server owning `key`: its process id and start time
    /// from `stats` (`time - uptime`, both from one clock read, so exact),
    /// and its life mark (`gets` of [`LIFE_MARK_KEY`](crate::store::LIFE_MARK_KEY),
    /// or `mark` written with `add` if there is none), on one connection.
    ///
    /// Neither client of the `memcache` crate can do this: the meta client
    /// has no `stats`, and the classic client's ASCII `stats` (0.21.0) stops
    /// at the first line that is not `END`, so it returns no statistics at
    /// all. So this is one plain exchange on its own short-lived connection;
    /// the deque asks only when it creates, at a handle's first read, or on
    /// seeing an anchor from another life, so the extra connection is rare.
    fn lifetime(&self, key: &Key, mark: u64) -> Result<Reply, StoreError> {
        let server = &self.dial[self.ring.server_for(key.as_bytes())];
        let failed = |detail: String| StoreError::NotApplied {
            command: "stats",
            key: key.clone(),
            detail: format!("{detail} (memcached at {})", self.server_of_key(key)),
        };
        let (stats, stored_mark) =
            admin::life_exchange(&server.address(), &self.options, crate::store::LIFE_MARK_KEY, mark)
                .map_err(|e| failed(e.to_string()))?;
        let field = |name: &str| -> Result<u64, StoreError> {
            stats
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse().ok())
                .ok_or_else(|| StoreError::Protocol {
                    command: "stats",
                    key: key.clone(),
                    detail: format!("stats has no numeric {name}"),
                })
        };
        let started = field("time")?.saturating_sub(field("uptime")?);
        let identity = field("pid")? << 40 ^ started;
        Ok(Reply::Lifetime(crate::store::Life::new(identity, &stored_mark)))
    }
}

/// The meta operation that carries `command` (not `Lifetime`, which is a
/// plain `stats`).
fn operation(command: &Command) -> Op {
    match command {
        Command::Gets { key } => Get::new(key.as_bytes()).meta(Meta::NONE.cas()).into(),
        Command::Version { key } => Get::new(key.as_bytes()).meta(Meta::NONE.cas()).without_value().into(),
        Command::Set { key, value } => Set::new(key.as_bytes(), value).return_cas().into(),
        Command::Add { key, value } => Set::new(key.as_bytes(), value).add().return_cas().into(),
        Command::Cas { key, value, token } => Set::new(key.as_bytes(), value).compare_cas(token.0).return_cas().into(),
        Command::Delete { key } => Delete::new(key.as_bytes()).into(),
        Command::DeleteCas { key, token } => Delete::new(key.as_bytes()).compare_cas(token.0).into(),
        Command::Lifetime { .. } => unreachable!("lifetime checks are sent as stats, never batched"),
    }
}

/// The reply a meta result stands for, or why it does not fit the command.
fn reply_of(command: &Command, wire: OpResult) -> Result<Reply, String> {
    match (command, wire) {
        (Command::Version { .. }, OpResult::Get(got)) => match (got.hit(), got.item.cas) {
            (true, Some(cas)) => Ok(Reply::Value(Item {
                value: Vec::new(),
                cas: CasToken(cas),
            })),
            (false, _) => Ok(Reply::Miss),
            (true, None) => Err("hit without the requested token".to_owned()),
        },
        (Command::Gets { .. }, OpResult::Get(got)) => match (got.hit(), got.value, got.item.cas) {
            (true, Some(value), Some(cas)) => Ok(Reply::Value(Item {
                value,
                cas: CasToken(cas),
            })),
            (false, _, _) => Ok(Reply::Miss),
            (true, value, cas) => Err(format!(
                "hit without value or token (value {}, cas {cas:?})",
                value.is_some()
            )),
        },
        (Command::Delete { .. } | Command::DeleteCas { .. }, OpResult::Mutation(result)) => match result.status {
            MutationStatus::Applied => Ok(Reply::Deleted),
            MutationStatus::NotFound => Ok(Reply::NotFound),
            MutationStatus::CasMismatch if matches!(command, Command::DeleteCas { .. }) => Ok(Reply::Exists),
            other => Err(format!("delete answered {other:?}")),
        },
        (Command::Set { .. } | Command::Add { .. } | Command::Cas { .. }, OpResult::Mutation(result)) => {
            match result.status {
                MutationStatus::Applied => match result.cas {
                    Some(cas) => Ok(Reply::Stored { cas: CasToken(cas) }),
                    None => Err("store applied without the requested token".to_owned()),
                },
                MutationStatus::NotFound => Ok(Reply::NotFound),
                MutationStatus::AlreadyExists => Ok(Reply::NotStored),
                MutationStatus::CasMismatch => Ok(Reply::Exists),
                other => Err(format!("store answered {other:?}")),
            }
        }
        (command, other) => Err(format!("{} answered {other:?}", command.name())),
    }
}

/// Sorts a client error into what the deque must know: a server refusal is a
/// reply; a request written but unanswered has an unknown outcome; anything
/// that failed before the request was whole had no effect.
fn classify(command: &Command, error: meta::Error, server: &str) -> Result<Reply, StoreError> {
    let key: Key = command.key().clone();
    let name = command.name();
    let at = |what: String| format!("{what} (memcached at {server})");
    match error {
        meta::Error::Server(text) => Ok(Reply::ServerError(server_error(&text))),
        // The client wraps every failure after a full write as ambiguous,
        // even a `SERVER_ERROR` line, which is the server's definite answer
        // (found by the differential test: a too-large `ms`). Unwrap it.
        meta::Error::Ambiguous { source, .. } => match *source {
            meta::Error::Server(text) => Ok(Reply::ServerError(server_error(&text))),
            other => Err(StoreError::OutcomeUnknown {
                command: name,
                key,
                detail: at(other.to_string()),
            }),
        },
        // The client wraps a written-but-unanswered write in `Ambiguous`; a
        // bare transport error is a write that never went out whole, or a
        // read, whose loss changes nothing.
        meta::Error::Io(_) | meta::Error::Timeout { .. } => Err(StoreError::NotApplied {
            command: name,
            key,
            detail: at(error.to_string()),
        }),
        other => Err(StoreError::Protocol {
            command: name,
            key,
            detail: at(other.to_string()),
        }),
    }
}

fn server_error(text: &str) -> ServerError {
    if text.contains("too large") {
        ServerError::TooLarge
    } else if text.contains("out of memory") {
        ServerError::OutOfMemory
    } else {
        ServerError::Other(text.trim().to_owned())
    }
}

impl Store for MemcachedStore {
    fn call(&self, command: Command) -> impl Future<Output = Result<Reply, StoreError>> {
        std::future::ready(self.execute(&command))
    }

    fn call_batch(&self, commands: Vec<Command>) -> impl Future<Output = Vec<Result<Reply, StoreError>>> {
        std::future::ready(self.execute_batch(&commands))
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.ring.server_for(a.as_bytes()) == self.ring.server_for(b.as_bytes())
    }

    fn server_name(&self, key: &Key) -> String {
        format!("memcached at {}", self.server_of_key(key))
    }

    /// Blocks the calling thread (each client has its own).
    fn pause(&self, duration: Duration) -> impl Future<Output = ()> {
        std::thread::sleep(duration);
        std::future::ready(())
    }
}
