//! One error type for an application that uses the library end to end
//! (connect, then operate), so `?` works on both in one function. Each
//! variant keeps the precise error underneath.

use crate::deque::DequeError;
use crate::memcached::ConnectError;

/// A connection or a deque operation failed.
///
/// ```
/// use memcache_collections::{BlockingDeque, DequeOptions, MemoryStore};
///
/// fn first_job(store: &MemoryStore) -> Result<Option<Vec<u8>>, memcache_collections::Error> {
///     let mut jobs = BlockingDeque::create_or_bind(store, "jobs", DequeOptions::default())?;
///     Ok(jobs.pop_front()?)
/// }
/// assert_eq!(first_job(&MemoryStore::default()).unwrap(), None);
/// ```
#[derive(thiserror::Error)]
pub enum Error {
    /// The servers could not be reached or the addresses are wrong
    /// ([`ConnectError`]).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A deque operation failed; [`DequeError`] says what happened to it.
    #[error(transparent)]
    Deque(#[from] DequeError),
}

/// The message, not the structure: `fn main() -> Result<(), Error>` prints an
/// error with `Debug`, and a person reads it.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
