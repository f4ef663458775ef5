//! The bank workload ([`super::workload`]) on MCAS clients in one thread,
//! stepped by a seeded scheduler that switches clients before every
//! request, on any `Store`: each seed is one reproducible interleaving,
//! recorded as an [`McasHistory`] on a logical clock for
//! [`check_mcas`](super::check_mcas) and
//! [`money_conserved`](super::bank::money_conserved). The simulator runs the
//! same clients in virtual time with its faults (`crate::sim`). Threads on real
//! memcached met a race of the first MCAS version (a helper reporting a
//! descriptor missing that its originator had rightly collected) about once
//! in ten runs; this scheduler meets it at seed 110 in memory and replays
//! it exactly.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use memcache_collections::mcas::McasVariant;
use memcache_collections::store::{Command, FaultRates, FaultyStore, Reply, StoreError, block_on};
use memcache_collections::{Key, McasClient, Store};
use rand_core::Rng;

use super::history::McasHistory;
use super::workload::{
    BankClient, BankLog, Registers, audits, audits_until_confirmed, mcas_options, open_accounts, transfers,
};
use crate::rng::{Stream, derived_seed, stream};
use crate::workload::TickClock;

/// The workload's size.
#[derive(Debug, Clone)]
pub struct BankConfig {
    /// Transfer clients (plus one auditor).
    pub clients: usize,
    pub accounts: usize,
    pub transfers_per_client: usize,
    /// Snapshots the auditor takes while the transfers run.
    pub audits: usize,
    /// Each account's opening balance.
    pub balance: u64,
    /// Requests and replies each running client loses (a `FaultyStore`
    /// per client, seeded from the run's seed): lost requests must end as
    /// failures without effect, lost replies as unknown outcomes, and
    /// neither may cost money. Setup and the closing audits run without.
    pub faults: FaultRates,
    /// The algorithm the running clients use (setup and the closing audits
    /// use the library's).
    pub variant: McasVariant,
}

impl Default for BankConfig {
    fn default() -> Self {
        BankConfig {
            clients: 3,
            accounts: 4,
            transfers_per_client: 6,
            audits: 3,
            balance: 100,
            faults: FaultRates::default(),
            variant: McasVariant::default(),
        }
    }
}

/// What a run left for the checkers.
#[derive(Debug, Clone)]
pub struct BankRun {
    pub history: McasHistory,
    pub accounts: Vec<String>,
    pub total: i64,
}

/// Runs the bank once. Keys are prefixed with `s<seed>-`, so runs can
/// share a store. `Err` only when the harness could not set up or a client
/// failed in a way the workload does not expect (a refused request shape).
pub fn run_bank<S: Store>(store: &S, config: &BankConfig, seed: u64) -> Result<BankRun, String> {
    let registers = Registers::new(&format!("s{seed}-"), config.accounts, config.clients);
    let mut setup = McasClient::new(store, mcas_options(seed, u32::MAX, McasVariant::default()));
    let initial = block_on(open_accounts(&mut setup, &registers, config.balance))?;
    let log = Rc::new(BankLog::new(TickClock::starting_at(1)));
    let stepping = Stepping { inner: store };
    let faulty: Vec<FaultyStore<&Stepping<'_, S>>> = (0..=config.clients as u32)
        .map(|client| FaultyStore::new(&stepping, config.faults, derived_seed(seed, Stream::Faults, client)))
        .collect();
    let client = |t: usize| {
        let mcas = McasClient::new(&faulty[t], mcas_options(seed, t as u32, config.variant));
        BankClient::new(mcas, t as u32, log.clone())
    };
    let mut tasks: Vec<Task<'_>> = (0..config.clients)
        .map(|t| Box::pin(transfers(client(t), config.transfers_per_client, registers.clone())) as Task<'_>)
        .collect();
    tasks.push(Box::pin(audits(
        client(config.clients),
        config.audits,
        registers.clone(),
    )));
    let mut order = stream(seed, Stream::Schedule, 0);
    let mut context = Context::from_waker(Waker::noop());
    while !tasks.is_empty() {
        let i = (order.next_u64() % tasks.len() as u64) as usize;
        if let Poll::Ready(result) = tasks[i].as_mut().poll(&mut context) {
            result?;
            drop(tasks.swap_remove(i));
        }
    }
    drop(tasks);
    let closing = McasClient::new(store, mcas_options(seed, u32::MAX - 1, McasVariant::default()));
    block_on(audits_until_confirmed(
        BankClient::new(closing, config.clients as u32 + 1, log.clone()),
        registers.clone(),
    ))?;
    Ok(BankRun {
        history: log.take_history(initial),
        accounts: registers.accounts,
        total: (config.balance * config.accounts as u64) as i64,
    })
}

type Task<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// Yields to the scheduler once before every request.
struct Stepping<'a, S> {
    inner: &'a S,
}

impl<S: Store> Store for Stepping<'_, S> {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        let mut yielded = false;
        std::future::poll_fn(|_| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        self.inner.call(command).await
    }

    fn server_name(&self, key: &Key) -> String {
        self.inner.server_name(key)
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.inner.colocated(a, b)
    }
}
