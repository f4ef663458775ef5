//! A concurrent, distributed double-ended queue whose nodes live in
//! memcached and change only through `gets`/`cas`: a Rust port of Google's
//! memcache-collections (2013), built to be checked.
//!
//! The deque is written once, against the abstract [`Store`]; the same code
//! runs on real memcached ([`MemcachedStore`]), in this process
//! ([`MemoryStore`]), and in the `memcache-sim` harness's deterministic
//! simulator and model checkers.
//!
//! ```
//! use memcache_collections::{BlockingDeque, DequeOptions, MemoryStore};
//!
//! let store = MemoryStore::default();
//! let mut jobs = BlockingDeque::create(&store, Some("jobs"), DequeOptions::default())?;
//! jobs.push_back("first")?;
//! jobs.push_front("urgent")?;
//! assert_eq!(jobs.pop_front()?, Some(b"urgent".to_vec()));
//! assert_eq!(jobs.pop_front()?, Some(b"first".to_vec()));
//! assert_eq!(jobs.pop_front()?, None);
//! # Ok::<(), memcache_collections::DequeError>(())
//! ```
//!
//! Every lost entry (eviction, restart, flush) is reported as
//! [`DequeError::Corruption`], never as a silently wrong answer; a request
//! whose reply never came surfaces as [`DequeError::OutcomeUnknown`].

pub mod blocking;
pub mod deque;
mod error;
pub mod format;
pub mod key;
pub mod mcas;
pub mod memcached;
pub mod memcore;
pub mod routing;
pub mod sharded;
pub mod store;

pub use blocking::BlockingDeque;
pub use deque::{Backoff, Deque, DequeError, DequeOptions, Side, Variant};
pub use error::Error;
pub use key::Key;
pub use mcas::{Entry, McasClient, McasError, McasOptions};
pub use memcached::{ConnectError, MemcachedOptions, MemcachedStore};
pub use sharded::ShardedDeque;
pub use store::{MemoryStore, Store};
