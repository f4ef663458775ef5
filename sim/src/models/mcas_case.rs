//! The MCAS bank as a model-checking case: a few transfer clients and an
//! auditor as the model checker's threads, each running the harness's bank
//! workload (`crate::mcas::workload`) over its own [`ModelStore`], one
//! scheduling point per request; a restart may strike between any two
//! requests. Each execution is judged as a simulated MCAS run is
//! (`crate::judge`): the register checker, then the money invariant.

use std::fmt;
use std::sync::Arc;

use memcache_collections::McasClient;
use memcache_collections::mcas::McasVariant;
use memcache_collections::mcas::format::DESCRIPTOR_KEY_PREFIX;
use memcache_collections::store::block_on;

use super::case::{Chaos, ModelClock};
use super::store::{FaultRates, ModelStore, Shared};
use super::world::World;
use crate::judge::Judgement;
use crate::mcas::bank_run::BankRun;
use crate::mcas::history::McasLoss;
use crate::mcas::workload::{
    BankClient, BankLog, Registers, audits, audits_until_confirmed, mcas_options, open_accounts, transfers,
};
use crate::outcome::{Counters, Outcome, RunEnd};

/// Each account's opening balance.
const BALANCE: u64 = 10;

/// What to run: `transfers[t]` transfers by client `t`, then an auditor
/// taking `audits` snapshots (none if 0), over `accounts` accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McasCase {
    pub variant: McasVariant,
    pub accounts: usize,
    pub transfers: Vec<usize>,
    pub audits: usize,
    /// Faults drawn per request (shuttle).
    pub faults: FaultRates,
    /// A thread that restarts the server once, at a point the model
    /// checker chooses.
    pub restart: bool,
}

impl fmt::Display for McasCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mcas {} over {} accounts: transfers {:?}, {} audit(s)",
            self.variant.name(),
            self.accounts,
            self.transfers,
            self.audits
        )?;
        if self.restart {
            write!(f, " +{:?}", Chaos::Restart)?;
        }
        if self.faults.any() {
            write!(f, " +faults {:?}", self.faults)?;
        }
        Ok(())
    }
}

impl McasCase {
    /// Runs the case once in world `W`.
    pub fn execute<W: World>(&self) -> BankRun {
        let shared = Arc::new(W::lock_new(Shared::new()));
        let quiet = FaultRates::default();
        let registers = Registers::new("acct-", self.accounts, self.transfers.len());
        let store = || ModelStore::<W>::new(shared.clone(), quiet, "acct-");
        let setup_client = (self.transfers.len() + 1) as u32;
        let mut setup = McasClient::new(store(), mcas_options(0, setup_client, McasVariant::default()));
        let initial =
            block_on(open_accounts(&mut setup, &registers, BALANCE)).expect("a quiet fresh server opens the bank");
        let log = Arc::new(BankLog::new(ModelClock::<W>(shared.clone())));
        let client = |id: usize| {
            let store = store();
            store.set_faults(self.faults);
            let mcas = McasClient::new(store, mcas_options(0, id as u32, self.variant));
            BankClient::new(mcas, id as u32, log.clone())
        };
        let restart = self.restart.then(|| {
            let shared = shared.clone();
            W::spawn(move || W::with(&shared, |shared| shared.restart()))
        });
        let mut threads: Vec<_> = self
            .transfers
            .iter()
            .enumerate()
            .map(|(t, &count)| {
                let (client, registers) = (client(t), registers.clone());
                W::spawn(move || block_on(transfers(client, count, registers)))
            })
            .collect();
        if self.audits > 0 {
            let (auditor, registers, rounds) = (client(self.transfers.len()), registers.clone(), self.audits);
            threads.push(W::spawn(move || block_on(audits(auditor, rounds, registers))));
        }
        for thread in threads {
            W::join(thread).expect("the bank's requests are well-formed");
        }
        if let Some(thread) = restart {
            W::join(thread);
        }
        let losses = W::with(&shared, |shared| shared.losses.clone());
        let closing = McasClient::new(store(), mcas_options(0, setup_client + 1, McasVariant::default()));
        let closed = block_on(audits_until_confirmed(
            BankClient::new(closing, setup_client + 1, log.clone()),
            registers.clone(),
        ));
        assert!(
            closed.is_ok() || !losses.is_empty(),
            "without a loss a snapshot is confirmed"
        );
        let mut history = log.take_history(initial);
        // One server: a restart takes every register and descriptor; a
        // lost item (an injected loss, an eviction) is its key.
        let registers_all = history_keys(&registers);
        history.losses = losses
            .iter()
            .map(|loss| match &loss.key {
                None => McasLoss {
                    at_us: loss.at_us,
                    until_us: None,
                    keys: registers_all.clone(),
                    protocol_items: true,
                },
                Some(key) => McasLoss {
                    at_us: loss.at_us,
                    until_us: None,
                    keys: registers_all.iter().filter(|k| *k == key).cloned().collect(),
                    protocol_items: key.starts_with(DESCRIPTOR_KEY_PREFIX)
                        || key == memcache_collections::store::LIFE_MARK_KEY,
                },
            })
            .collect();
        BankRun {
            history,
            total: (BALANCE * self.accounts as u64) as i64,
            accounts: registers.accounts,
        }
    }

    /// Judges one execution as every MCAS run is judged. No progress is
    /// required: a restart may leave no snapshot to confirm.
    pub fn judge(&self, run: &BankRun) -> Judgement {
        let outcome = Outcome {
            end: RunEnd::Finished,
            history: Default::default(),
            workload_clients: (self.transfers.len() + usize::from(self.audits > 0)) as u32,
            trace_hash: None,
            trace: Vec::new(),
            counters: Counters::default(),
            oracle_violations: Vec::new(),
            mcas: Some(run.clone()),
        };
        super::case::judge_model_outcome(&outcome)
    }
}

fn history_keys(registers: &Registers) -> Vec<String> {
    registers.accounts.iter().chain(&registers.counters).cloned().collect()
}
