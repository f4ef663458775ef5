//! MCAS runs on real memcached: the bank's clients (`crate::mcas::workload`)
//! as the run's client threads, each over its gated store and proxies, so
//! every fault the real backend applies reaches them; the closing audits on
//! a direct store after the links are healed. The bank's log is the run's
//! clock, and a restart or flush becomes a loss of every register the ring
//! routes to that server, at one instant of the window the fault took
//! (`Control::loss_windows`): a real restart takes a while, and a read
//! served just before the kill may return after it began.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use memcache_collections::mcas::McasVariant;
use memcache_collections::memcached::MemcachedStore;
use memcache_collections::store::block_on;
use memcache_collections::{Key, McasClient};

use super::client::GatedStore;
use super::control::{Control, RealClock};
use crate::config::RunConfig;
use crate::mcas::bank_run::BankRun;
use crate::mcas::history::{McasLoss, McasOpKind, McasResult};
use crate::mcas::workload::{
    BankClient, BankLog, OpLog, Registers, audits, audits_until_confirmed, mcas_options, open_accounts, transfers,
};

/// The bank of one real run.
pub(super) struct RealBank {
    variant: McasVariant,
    registers: Registers,
    initial: BTreeMap<String, String>,
    log: Arc<BankLog<RealClock>>,
    /// What a client could not do that the workload never asks for.
    errors: Mutex<Vec<String>>,
}

/// A client's handle on the bank's log: a return also counts toward the
/// run's op-count triggers.
struct Counted<'run> {
    log: Arc<BankLog<RealClock>>,
    control: &'run Control,
}

impl OpLog for Counted<'_> {
    fn invoke(&self, client: u32, kind: McasOpKind) -> usize {
        self.log.invoke(client, kind)
    }

    fn complete(&self, index: usize, result: McasResult) {
        self.log.complete(index, result);
        self.control.op_returned();
    }
}

impl RealBank {
    /// Opens the accounts on the servers, straight (no proxy, no fault).
    pub(super) fn open(
        store: &MemcachedStore,
        control: &Control,
        config: &RunConfig,
        seed: u64,
        variant: McasVariant,
    ) -> Result<RealBank, String> {
        let clients = config.clients.count as usize;
        let transferring = if clients >= 2 { clients - 1 } else { clients };
        // Runs share nothing (each starts its own servers), so the names
        // are the simulator's.
        let registers = Registers::new("bank-", config.bank.accounts as usize, transferring);
        let mut setup = McasClient::new(store, mcas_options(seed, config.clients.count, McasVariant::default()));
        let initial = block_on(open_accounts(&mut setup, &registers, config.bank.balance))?;
        Ok(RealBank {
            variant,
            registers,
            initial,
            log: Arc::new(BankLog::new(control.clock())),
            errors: Mutex::new(Vec::new()),
        })
    }

    /// Client `client`'s life: transfers, or the audits for the last one
    /// (when there are two or more clients).
    pub(super) async fn client<'run>(
        &self,
        client: usize,
        store: GatedStore<'run>,
        control: &'run Control,
        config: &RunConfig,
        seed: u64,
    ) {
        let mut options = mcas_options(seed, client as u32, self.variant);
        options.item_size_max = config.servers.item_size_max_bytes;
        options.retries_max = config.clients.retries_max;
        let log = Counted {
            log: self.log.clone(),
            control,
        };
        let handle = BankClient::new(McasClient::new(store, options), client as u32, log);
        let count = config.clients.count as usize;
        let result = if count >= 2 && client == count - 1 {
            audits(handle, config.bank.audits as usize, self.registers.clone()).await
        } else {
            transfers(handle, config.clients.ops_per_client as usize, self.registers.clone()).await
        };
        if let Err(error) = result {
            lock(&self.errors).push(format!("client {client}: {error}"));
        }
    }

    /// Snapshots on healed links until one is confirmed or the tries run
    /// out (after a lost account): a run that confirmed none and lost
    /// nothing is judged `vacuous` (`crate::judge`).
    pub(super) fn close(&self, store: &MemcachedStore, closing: u32, seed: u64) {
        let options = mcas_options(seed, closing, McasVariant::default());
        let auditor = BankClient::new(McasClient::new(store, options), closing, self.log.clone());
        let _ = block_on(audits_until_confirmed(auditor, self.registers.clone()));
    }

    /// What each restart or flush took: the registers the ring routes to
    /// that server (and its descriptors, unnamed).
    pub(super) fn losses(&self, control: &Control) -> Vec<McasLoss> {
        control
            .loss_windows()
            .into_iter()
            .map(|(server, from_us, until_us)| McasLoss {
                at_us: from_us,
                until_us: Some(until_us),
                // Any descriptor on the server went too, unnamed: the loss
                // explains the claims readers then report.
                protocol_items: true,
                keys: self
                    .initial
                    .keys()
                    .filter(|name| Key::new(name.as_str()).is_ok_and(|key| control.cluster.server_for(&key) == server))
                    .cloned()
                    .collect(),
            })
            .collect()
    }

    /// The first error a client met, if any: a harness failure.
    pub(super) fn error(&self) -> Option<String> {
        lock(&self.errors).first().cloned()
    }

    /// The run's history and bank.
    pub(super) fn into_run(self, losses: Vec<McasLoss>, config: &RunConfig) -> BankRun {
        let mut history = self.log.take_history(self.initial);
        history.losses = losses;
        BankRun {
            history,
            accounts: self.registers.accounts,
            total: (config.bank.balance * u64::from(config.bank.accounts)) as i64,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
