//! The bank workload's clients, the same in every world that runs MCAS:
//! transfer clients each move up to 7 between two accounts and count the
//! transfer in their own register, in one MCAS (retried until it succeeds or
//! its outcome is unknown); an auditor takes snapshots (an MCAS writing every
//! account back unchanged), and more at the end until one succeeds, so every
//! run checks the invariant at least once. Only the log's clock differs
//! between worlds: virtual time in the simulator, a logical clock under the
//! stepping scheduler of [`super::bank_run`].
//!
//! Every operation is logged when it is invoked and completed when it
//! returns, so a client that crashes mid-MCAS leaves an operation that never
//! returned (its outcome unknown: a helper may still finish it).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use memcache_collections::mcas::McasVariant;
use memcache_collections::store::Store;
use memcache_collections::{Entry, Key, McasClient, McasError, McasOptions};

use super::bank::balance;
use super::history::{McasHistory, McasHistoryOp, McasOpKind, McasResult, Update};
use crate::rng::{Stream, derived_seed};
use crate::workload::Clock;

/// The bank's registers: the accounts, and each transfer client's counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers {
    pub accounts: Vec<String>,
    pub counters: Vec<String>,
}

impl Registers {
    /// `accounts` accounts and `clients` counters, named under `prefix` (so
    /// runs can share a store).
    pub fn new(prefix: &str, accounts: usize, clients: usize) -> Registers {
        Registers {
            accounts: (0..accounts).map(|i| format!("{prefix}{i}")).collect(),
            counters: (0..clients).map(|t| format!("{prefix}done-{t}")).collect(),
        }
    }
}

/// The options of client `client` in a run from `seed`: descriptor ids
/// from the seed's stream, so a run's keys are reproducible.
pub fn mcas_options(seed: u64, client: u32, variant: McasVariant) -> McasOptions {
    McasOptions {
        id_seed: Some(derived_seed(seed, Stream::NodeIds, client)),
        variant,
        ..McasOptions::default()
    }
}

/// Inserts every account with `balance` and every counter with 0; returns
/// the registers' initial values (the history's `initial`).
pub async fn open_accounts<S: Store>(
    client: &mut McasClient<S>,
    registers: &Registers,
    balance: u64,
) -> Result<BTreeMap<String, String>, String> {
    let mut initial = BTreeMap::new();
    let (opening, zero) = (balance.to_string(), "0".to_owned());
    let all = registers.accounts.iter().map(|a| (a, &opening));
    for (name, value) in all.chain(registers.counters.iter().map(|c| (c, &zero))) {
        let key = Key::new(name.as_str()).map_err(|e| e.to_string())?;
        match client.insert(&key, value.clone().into_bytes()).await {
            Ok(true) => {}
            Ok(false) => return Err(format!("{name} exists already")),
            Err(error) => return Err(format!("insert {name}: {error}")),
        }
        initial.insert(name.clone(), value.clone());
    }
    Ok(initial)
}

/// A run's operations, stamped by `C`. Shared by every client of a run:
/// behind an `Rc` in one thread (the simulator, the stepping scheduler),
/// an `Arc` across the real backend's client threads.
pub struct BankLog<C> {
    clock: C,
    ops: Mutex<Vec<McasHistoryOp>>,
    completed: AtomicU64,
}

/// A handle on a [`BankLog`] (an `Rc` or an `Arc` of one).
pub trait OpLog {
    /// An operation starts now; returns its index.
    fn invoke(&self, client: u32, kind: McasOpKind) -> usize;
    /// The operation at `index` returned `result` now.
    fn complete(&self, index: usize, result: McasResult);
}

impl<C: Clock, P: Deref<Target = BankLog<C>>> OpLog for P {
    fn invoke(&self, client: u32, kind: McasOpKind) -> usize {
        let log: &BankLog<C> = self;
        let invoke_us = log.clock.now_us();
        let mut ops = log.lock();
        ops.push(McasHistoryOp {
            client,
            kind,
            invoke_us,
            return_us: None,
            result: McasResult::Unknown,
        });
        ops.len() - 1
    }

    fn complete(&self, index: usize, result: McasResult) {
        let log: &BankLog<C> = self;
        let now = log.clock.now_us();
        let mut ops = log.lock();
        ops[index].return_us = Some(now);
        ops[index].result = result;
        log.completed.fetch_add(1, Ordering::Relaxed);
    }
}

impl<C: Clock> BankLog<C> {
    pub fn new(clock: C) -> Self {
        BankLog {
            clock,
            ops: Mutex::new(Vec::new()),
            completed: AtomicU64::new(0),
        }
    }

    /// The operations; a client that panicked holding the lock cannot
    /// leave them half-written (each change is one assignment).
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<McasHistoryOp>> {
        self.ops.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Operations that returned so far (the worlds' op-count triggers read
    /// it).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Moves the operations out, in invocation order, as a history of
    /// registers that started at `initial`.
    pub fn take_history(&self, initial: BTreeMap<String, String>) -> McasHistory {
        McasHistory {
            subject: "mcas".into(),
            initial,
            ops: std::mem::take(&mut *self.lock()),
            losses: Vec::new(),
        }
    }
}

/// A client whose every operation is logged.
pub struct BankClient<S, L> {
    mcas: McasClient<S>,
    id: u32,
    log: L,
}

impl<S: Store, L: OpLog> BankClient<S, L> {
    pub fn new(mcas: McasClient<S>, id: u32, log: L) -> Self {
        BankClient { mcas, id, log }
    }

    /// Reads `name`; `None` when the read had no usable answer (logged).
    async fn read(&mut self, name: &str) -> Result<Option<Entry>, String> {
        let key = Key::new(name).map_err(|e| e.to_string())?;
        let index = self.log.invoke(self.id, McasOpKind::Read { key: name.to_owned() });
        let (result, entry) = match self.mcas.get(&key).await {
            Ok(Some(entry)) => {
                let value = String::from_utf8_lossy(entry.value()).into_owned();
                (McasResult::Value { value }, Some(entry))
            }
            Ok(None) => (McasResult::Missing, None),
            Err(error) => (failure(&error)?, None),
        };
        self.log.complete(index, result);
        Ok(entry)
    }

    /// Runs one MCAS; `Some(applied)` when its outcome is known. (An MCAS
    /// whose outcome is unknown may still be finished by others after this
    /// return: the checker knows that, `crate::mcas::check`.)
    async fn mcas(&mut self, updates: Vec<(Entry, String)>) -> Result<Option<bool>, String> {
        let recorded = updates
            .iter()
            .map(|(entry, new)| Update {
                key: String::from_utf8_lossy(entry.key().as_bytes()).into_owned(),
                expected: String::from_utf8_lossy(entry.value()).into_owned(),
                new: new.clone(),
            })
            .collect();
        let index = self.log.invoke(self.id, McasOpKind::Mcas { updates: recorded });
        let outcome = self
            .mcas
            .mcas(updates.into_iter().map(|(e, new)| (e, new.into_bytes())).collect())
            .await;
        let (result, applied) = match outcome {
            Ok(true) => (McasResult::Ok, Some(true)),
            Ok(false) => (McasResult::NotApplied, Some(false)),
            Err(error) => (failure(&error)?, None),
        };
        self.log.complete(index, result);
        Ok(applied)
    }
}

/// The logged result of a failed operation, or `Err` for an error the
/// workload never provokes (its requests are well-formed).
fn failure(error: &McasError) -> Result<McasResult, String> {
    Ok(match error {
        McasError::Corruption { key, kind, .. } => McasResult::Corruption {
            key: String::from_utf8_lossy(key.as_bytes()).into_owned(),
            detail: kind.to_string(),
        },
        McasError::RetriesExhausted { .. } => McasResult::Failed {
            error: "retries_exhausted".into(),
        },
        error if error.outcome_unknown() => McasResult::Unknown,
        McasError::Backend { .. } => McasResult::Failed {
            error: "backend".into(),
        },
        McasError::CasDisabled { .. } => McasResult::Failed {
            error: "cas_disabled".into(),
        },
        other => return Err(format!("the workload's request was refused: {other}")),
    })
}

fn number(entry: &Entry) -> Option<u64> {
    let value = String::from_utf8_lossy(entry.value());
    balance(&value).ok().and_then(|n| u64::try_from(n).ok())
}

/// `count` transfers by transfer client `client.id`, between accounts its
/// id and the transfer's number choose.
pub async fn transfers<S: Store, L: OpLog>(
    mut client: BankClient<S, L>,
    count: usize,
    registers: Registers,
) -> Result<(), String> {
    let t = client.id as usize;
    let (accounts, counter) = (&registers.accounts, &registers.counters[t]);
    for i in 0..count {
        let (from, to) = ((t + i) % accounts.len(), (t + 2 * i + 1) % accounts.len());
        if from == to {
            continue;
        }
        for attempt in 0.. {
            let (Some(a), Some(b), Some(done)) = (
                client.read(&accounts[from]).await?,
                client.read(&accounts[to]).await?,
                client.read(counter).await?,
            ) else {
                // A read without an answer was logged; this transfer stops.
                break;
            };
            // A value that is no balance was never written by a client: it
            // is in the history for the checker, and this transfer stops.
            let (Some(from_balance), Some(to_balance), Some(count)) = (number(&a), number(&b), number(&done)) else {
                break;
            };
            let amount = from_balance.min(7);
            let tag = format!("#c{t}.{i}.{attempt}");
            let updates = vec![
                (a.clone(), format!("{}{tag}", from_balance - amount)),
                (b.clone(), format!("{}{tag}", to_balance + amount)),
                (done.clone(), format!("{}{tag}", count + 1)),
            ];
            if client.mcas(updates).await? != Some(false) {
                break;
            }
        }
    }
    Ok(())
}

/// One snapshot: whether the auditor confirmed a cut.
async fn audit<S: Store, L: OpLog>(client: &mut BankClient<S, L>, accounts: &[String]) -> Result<bool, String> {
    let mut cut = Vec::new();
    for account in accounts {
        match client.read(account).await? {
            Some(entry) => cut.push(entry),
            None => return Ok(false),
        }
    }
    let unchanged = cut
        .into_iter()
        .map(|e| {
            let value = String::from_utf8_lossy(e.value()).into_owned();
            (e, value)
        })
        .collect();
    Ok(client.mcas(unchanged).await? == Some(true))
}

/// `rounds` snapshots, confirmed or not.
pub async fn audits<S: Store, L: OpLog>(
    mut client: BankClient<S, L>,
    rounds: usize,
    registers: Registers,
) -> Result<(), String> {
    for _ in 0..rounds {
        audit(&mut client, &registers.accounts).await?;
    }
    Ok(())
}

/// Snapshots until one is confirmed (at most 100): a run that checked
/// none is vacuous.
pub async fn audits_until_confirmed<S: Store, L: OpLog>(
    mut client: BankClient<S, L>,
    registers: Registers,
) -> Result<(), String> {
    for _ in 0..100 {
        if audit(&mut client, &registers.accounts).await? {
            return Ok(());
        }
    }
    Err("no snapshot confirmed in 100 tries after the transfers ended".into())
}
