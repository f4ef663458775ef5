//! A synchronous face on the deque, for callers on a blocking store (real
//! memcached) who have no async runtime and want none.

use crate::deque::{Deque, DequeError, DequeOptions};
use crate::store::{Store, block_on};

/// [`Deque`] with blocking methods. Each call runs the async operation to
/// completion on the calling thread; with [`MemcachedStore`](crate::MemcachedStore)
/// every store call inside is already blocking, so nothing is spawned.
#[derive(Debug)]
pub struct BlockingDeque<S> {
    inner: Deque<S>,
}

impl<S: Store> BlockingDeque<S> {
    /// See [`Deque::create`].
    pub fn create(store: S, name: Option<&str>, options: DequeOptions) -> Result<Self, DequeError> {
        block_on(Deque::create(store, name, options)).map(|inner| BlockingDeque { inner })
    }

    /// See [`Deque::bind`].
    pub fn bind(store: S, name: &str, options: DequeOptions) -> Result<Self, DequeError> {
        block_on(Deque::bind(store, name, options)).map(|inner| BlockingDeque { inner })
    }

    /// See [`Deque::create_or_bind`].
    pub fn create_or_bind(store: S, name: &str, options: DequeOptions) -> Result<Self, DequeError>
    where
        S: Clone,
    {
        block_on(Deque::create_or_bind(store, name, options)).map(|inner| BlockingDeque { inner })
    }

    /// The deque's name (its anchor key): the one to `bind` from another
    /// process, and the only way to learn a name `create` drew at random.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The largest value, in bytes, this deque accepts: the servers' item
    /// limit (`DequeOptions::item_size_max`, memcached's `-I`) less the
    /// node's key and header. A larger value is refused with
    /// [`DequeError::ValueTooLarge`] before anything is sent.
    pub fn value_len_max(&self) -> usize {
        self.inner.value_len_max()
    }

    /// See [`Deque::push_back`].
    pub fn push_back(&mut self, value: impl Into<Vec<u8>>) -> Result<(), DequeError> {
        block_on(self.inner.push_back(value))
    }

    /// See [`Deque::push_front`].
    pub fn push_front(&mut self, value: impl Into<Vec<u8>>) -> Result<(), DequeError> {
        block_on(self.inner.push_front(value))
    }

    /// See [`Deque::pop_back`].
    pub fn pop_back(&mut self) -> Result<Option<Vec<u8>>, DequeError> {
        block_on(self.inner.pop_back())
    }

    /// See [`Deque::pop_front`].
    pub fn pop_front(&mut self) -> Result<Option<Vec<u8>>, DequeError> {
        block_on(self.inner.pop_front())
    }

    /// See [`Deque::settle`].
    pub fn settle(&mut self) {
        block_on(self.inner.settle())
    }

    /// The async handle underneath.
    pub fn as_async(&mut self) -> &mut Deque<S> {
        &mut self.inner
    }
}
