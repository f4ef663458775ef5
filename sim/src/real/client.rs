//! A real client: the workload on its own thread, over memcached through
//! its proxies, behind a gate that lets faults pause or crash it between
//! two requests.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use memcache_collections::key::Key;
use memcache_collections::memcached::MemcachedStore;
use memcache_collections::store::{Command, Reply, Store, StoreError, call_one_by_one};

use super::control::Control;

/// The store one real client sees: memcached through its own proxies,
/// every request first passing the client's gate.
#[derive(Clone)]
pub struct GatedStore<'run> {
    client: usize,
    inner: Arc<MemcachedStore>,
    control: &'run Control,
}

impl<'run> GatedStore<'run> {
    /// Client `client`'s store.
    pub fn new(client: usize, inner: MemcachedStore, control: &'run Control) -> Self {
        GatedStore {
            client,
            inner: Arc::new(inner),
            control,
        }
    }

    /// Waits at the gate; a crashed client never gets past it: its future
    /// stays pending and [`drive`] abandons it, as a dead process would.
    async fn pass(&self, data: bool) {
        if !self.control.before_request(self.client, data) {
            std::future::pending::<()>().await;
        }
    }
}

impl GatedStore<'_> {
    /// Counts a request and whether it got no reply.
    fn counted<T>(&self, result: &Result<T, StoreError>) {
        self.control.requests.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            self.control.requests_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Store for GatedStore<'_> {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        self.pass(!matches!(command, Command::Lifetime { .. })).await;
        let result = self.inner.call(command).await;
        self.counted(&result);
        result
    }

    /// One pipeline, unless a fault is pinned between two of its requests:
    /// then one request at a time, so the fault lands exactly there.
    async fn call_batch(&self, commands: Vec<Command>) -> Vec<Result<Reply, StoreError>> {
        // An empty batch sends nothing (MCAS releases nothing when every
        // register was released already): no gate, no request counted.
        if commands.is_empty() {
            return Vec::new();
        }
        let count = commands.len() as u64;
        if !self.control.trigger_within(self.client, count) {
            self.pass(true).await;
            self.control.count_requests(self.client, count - 1);
            let results = self.inner.call_batch(commands).await;
            results.iter().for_each(|result| self.counted(result));
            return results;
        }
        call_one_by_one(self, commands).await
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.inner.colocated(a, b)
    }

    fn server_name(&self, key: &Key) -> String {
        self.inner.server_name(key)
    }

    async fn pause(&self, duration: Duration) {
        self.inner.pause(duration).await;
    }
}

/// Runs a client's future on the current thread. Every store future here
/// is ready when polled, except a crashed client's gate: then the future is
/// dropped mid-operation (`None`), its op left without a return.
pub fn drive<F: Future>(future: F, control: &Control, client: usize) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => {
            assert!(
                control.gates[client].crashed(),
                "only a crashed client's gate leaves a real client pending"
            );
            None
        }
    }
}
