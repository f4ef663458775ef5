//! MCAS runs in the simulator: the bank workload's clients
//! (`crate::mcas::workload`) run the library's `McasClient` over the same
//! `SimStore`s, network and faults as the deque's clients, in virtual time.
//! Setup opens the accounts straight on the servers; after the workload a
//! fresh client takes snapshots on healed links until one is confirmed
//! (the deque's drain, for the bank). The deque's oracles watch deque
//! items only and do not run here.

use std::collections::BTreeMap;
use std::rc::Rc;

use memcache_collections::mcas::McasVariant;
use memcache_collections::mcas::format::DESCRIPTOR_KEY_PREFIX;
use memcache_collections::store::LIFE_MARK_KEY;
use memcache_collections::store::block_on;
use memcache_collections::{Key, McasClient};

use super::client::{SimStore, VirtualClock};
use super::direct::DirectStore;
use super::world::World;
use crate::mcas::bank_run::BankRun;
use crate::mcas::history::McasLoss;
use crate::mcas::workload::{
    BankClient, BankLog, Registers, audits, audits_until_confirmed, mcas_options, open_accounts, transfers,
};
use crate::outcome::{Outcome, RunEnd};
use crate::plan::RunPlan;
use crate::rng::{self, Stream};
use crate::workload::TickClock;

/// The bank's state in a running world.
pub(crate) struct Bank {
    variant: McasVariant,
    registers: Registers,
    initial: BTreeMap<String, String>,
    pub(crate) log: Rc<BankLog<VirtualClock>>,
    /// What a client could not do that the workload never asks for (a
    /// request the library refused): a harness failure.
    errors: Rc<std::cell::RefCell<Vec<String>>>,
    /// Registers the servers lost, as the history records them.
    losses: Vec<McasLoss>,
}

/// Runs one MCAS plan in the simulator.
pub(crate) fn run(plan: &RunPlan, variant: McasVariant) -> Outcome {
    let mut world = World::new(plan);
    if let Err(reason) = world.open_bank(variant) {
        return Outcome::could_not_start(format!("opening the bank's accounts failed: {reason}"));
    }
    world.spawn_bank();
    world.start();
    world.run_events();
    world.finish_bank()
}

impl World {
    /// Inserts the accounts and counters straight on the servers.
    fn open_bank(&mut self, variant: McasVariant) -> Result<(), String> {
        let clients = self.config.clients.count as usize;
        let transferring = if clients >= 2 { clients - 1 } else { clients };
        let registers = Registers::new("bank-", self.config.bank.accounts as usize, transferring);
        let options = mcas_options(self.seed, self.config.clients.count, McasVariant::default());
        let direct = DirectStore::new(&mut self.servers, &self.ring);
        let mut setup = McasClient::new(&direct, options);
        let initial = block_on(open_accounts(&mut setup, &registers, self.config.bank.balance))?;
        let lost = direct.take_lost();
        self.bank = Some(Bank {
            variant,
            registers,
            initial,
            log: Rc::new(BankLog::new(self.shared.now_us.clone())),
            errors: Rc::default(),
            losses: Vec::new(),
        });
        // What a small memory lost while the accounts were opened is lost
        // at 0, before every operation.
        for (server, item) in lost {
            self.record_loss(server, item);
        }
        self.now_us = 1;
        self.shared.now_us.0.set(self.now_us);
        Ok(())
    }

    /// Every client but the last transfers; the last audits (when there
    /// are two or more).
    fn spawn_bank(&mut self) {
        let ring = Rc::new(self.ring.clone());
        let bank = self.bank.as_ref().expect("the bank is open");
        let count = self.clients.len();
        for client in 0..count {
            let batches = rng::stream(self.seed, Stream::Batches, client as u32);
            let store = SimStore::new(client, self.shared.clone(), ring.clone(), batches);
            let mut options = mcas_options(self.seed, client as u32, bank.variant);
            options.item_size_max = self.config.servers.item_size_max_bytes;
            options.retries_max = self.config.clients.retries_max;
            let mcas = McasClient::new(store, options);
            let handle = BankClient::new(mcas, client as u32, bank.log.clone());
            let registers = bank.registers.clone();
            let errors = bank.errors.clone();
            let (bank_config, transfers_each) = (self.config.bank.clone(), self.config.clients.ops_per_client);
            let auditor = count >= 2 && client == count - 1;
            self.clients[client].future = Some(Box::pin(async move {
                let result = if auditor {
                    audits(handle, bank_config.audits as usize, registers).await
                } else {
                    transfers(handle, transfers_each as usize, registers).await
                };
                if let Err(error) = result {
                    errors.borrow_mut().push(format!("client {client}: {error}"));
                }
            }));
        }
    }

    /// Notes, in an MCAS run, that the servers are about to lose `keys`:
    /// the registers among them, and whether protocol items are among them
    /// (descriptors, whose claims every reader then reports; the server's
    /// life mark, after which its registers read as another life's).
    pub(crate) fn note_bank_loss(&mut self, keys: &[Key]) {
        let now_us = self.now_us;
        let Some(bank) = self.bank.as_mut() else {
            return;
        };
        let lost: Vec<String> = keys
            .iter()
            .map(|key| key.to_string())
            .filter(|key| bank.initial.contains_key(key))
            .collect();
        let protocol_items = keys.iter().any(|key| {
            key.as_bytes().starts_with(DESCRIPTOR_KEY_PREFIX.as_bytes()) || key.as_bytes() == LIFE_MARK_KEY.as_bytes()
        });
        if !lost.is_empty() || protocol_items {
            bank.losses.push(McasLoss {
                at_us: now_us,
                until_us: None,
                keys: lost,
                protocol_items,
            });
        }
    }

    /// The closing audits (unless the run got stuck) and the outcome.
    fn finish_bank(mut self) -> Outcome {
        let mut closing_ops = Vec::new();
        if !self.stuck() {
            let registers = self.bank.as_ref().expect("the bank is open").registers.clone();
            let closing = self.config.clients.count + 1;
            let options = mcas_options(self.seed, closing, McasVariant::default());
            // The closing audits run alone, on healed links, after every
            // late message has landed: each reading its own instant.
            let start_us = self.now_us + 1;
            let log = Rc::new(BankLog::new(TickClock::starting_at(start_us)));
            let direct = DirectStore::new(&mut self.servers, &self.ring);
            let auditor = BankClient::new(McasClient::new(&direct, options), closing, log.clone());
            // A run whose closing audits confirm nothing (a lost account, a
            // memory too full for a descriptor) is judged by what it
            // confirmed: none and no loss is `vacuous` (`crate::judge`).
            let _ = block_on(audits_until_confirmed(auditor, registers));
            let lost = direct.take_lost();
            closing_ops = log.take_history(BTreeMap::new()).ops;
            // An item evicted during the closing audits went at one of
            // their instants: a loss over their whole window.
            let end_us = closing_ops
                .iter()
                .filter_map(|op| op.return_us)
                .max()
                .unwrap_or(start_us);
            let (now_us, first) = (self.now_us, self.bank.as_ref().map_or(0, |bank| bank.losses.len()));
            self.now_us = start_us;
            for (server, item) in lost {
                self.record_loss(server, item);
            }
            self.now_us = now_us;
            if let Some(bank) = self.bank.as_mut() {
                bank.losses[first..]
                    .iter_mut()
                    .for_each(|loss| loss.until_us = Some(end_us));
            }
        }
        let bank = self.bank.take().expect("the bank is open");
        let errors = bank.errors.borrow().clone();
        let mut history = bank.log.take_history(bank.initial);
        history.ops.extend(closing_ops);
        history.losses = bank.losses;
        let (accounts, balance) = (self.config.bank.accounts, self.config.bank.balance);
        let mut outcome = self.into_outcome(Vec::new(), None, Vec::new());
        if let Some(error) = errors.first() {
            outcome.end = RunEnd::CouldNotStart {
                reason: format!("the bank workload failed: {error}"),
            };
        }
        outcome.mcas = Some(BankRun {
            total: (balance * u64::from(accounts)) as i64,
            accounts: bank.registers.accounts,
            history,
        });
        outcome
    }
}
