//! Which server owns a key: libmemcached-compatible ketama consistent hashing.
//!
//! We route keys ourselves rather than let the `memcache` crate do it: its
//! default hashes with std's `DefaultHasher` modulo the server count, which is
//! neither consistent nor stable across Rust releases (docs/memcached.md), so two
//! clients built differently could disagree on where a deque node lives. The
//! simulator uses this same ring, so a simulated cluster places every key
//! where a real one would.

mod ketama;

pub use ketama::{KetamaRing, ServerSpec};
