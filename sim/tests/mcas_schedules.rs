//! MCAS under many interleavings: the bank workload stepped by a seeded
//! scheduler (`memcache_sim::mcas::bank_run`), every history judged by the
//! register checker and the money invariant, in memory and on real
//! memcached; and a store whose CAS ignores tokens, to show the pair fails
//! when atomicity is gone.

use memcache_collections::mcas::McasVariant;
use memcache_collections::memcached::{LocalServer, LocalServerConfig};
use memcache_collections::store::{Command, FaultRates, Reply, StoreError};
use memcache_collections::{Key, MemcachedOptions, MemcachedStore, MemoryStore, Store};
use memcache_sim::mcas::bank::money_conserved;
use memcache_sim::mcas::bank_run::{BankConfig, run_bank};
use memcache_sim::mcas::{McasResult, check_mcas};
use memcache_sim::verdict::Verdict;

/// The bank's verdict and how many snapshots its invariant checked; `Err`
/// when the run itself could not finish.
fn judge<S: Store>(store: &S, seed: u64) -> Result<(Verdict, String, Result<usize, String>), String> {
    judge_with(store, &BankConfig::default(), seed)
}

fn judge_with<S: Store>(
    store: &S,
    config: &BankConfig,
    seed: u64,
) -> Result<(Verdict, String, Result<usize, String>), String> {
    let run = run_bank(store, config, seed)?;
    let report = check_mcas(&run.history, 5_000_000)?;
    Ok((
        report.verdict,
        report.reason,
        money_conserved(&run.history, &run.accounts, run.total),
    ))
}

fn every_schedule_is_linearizable<S: Store>(store: &S, seeds: std::ops::Range<u64>, test: &str) {
    every_schedule_is_linearizable_with(store, &BankConfig::default(), seeds, test);
}

fn every_schedule_is_linearizable_with<S: Store>(
    store: &S,
    config: &BankConfig,
    seeds: std::ops::Range<u64>,
    test: &str,
) {
    for seed in seeds {
        let replay =
            format!("replay (seeds run in order): cargo test -p memcache-sim --test mcas_schedules {test} -- --exact");
        let (verdict, reason, money) =
            judge_with(store, config, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{replay}"));
        assert_eq!(verdict, Verdict::Linearizable, "seed {seed}: {reason}\n{replay}");
        match money {
            Ok(checked) => assert!(checked > 0, "seed {seed}: no snapshot checked\n{replay}"),
            Err(broken) => panic!("seed {seed}: {broken}\n{replay}"),
        }
    }
}

#[test]
fn the_bank_is_linearizable_in_every_schedule_in_memory() {
    every_schedule_is_linearizable(
        &MemoryStore::default(),
        0..300,
        "the_bank_is_linearizable_in_every_schedule_in_memory",
    );
}

/// Three private memcached servers and a store over them.
fn real_cluster() -> (Vec<LocalServer>, MemcachedStore) {
    let servers: Vec<LocalServer> = (0..3)
        .map(|_| {
            LocalServer::start(LocalServerConfig::default()).expect("memcached (bash scripts/test.sh installs it)")
        })
        .collect();
    let addresses: Vec<String> = servers.iter().map(LocalServer::address).collect();
    let store = MemcachedStore::connect(&addresses, &MemcachedOptions::default()).unwrap();
    (servers, store)
}

#[test]
fn the_bank_is_linearizable_in_every_schedule_on_real_memcached() {
    let (_servers, store) = real_cluster();
    every_schedule_is_linearizable(
        &store,
        0..15,
        "the_bank_is_linearizable_in_every_schedule_on_real_memcached",
    );
}

/// The same with 5 % of requests and 5 % of replies lost on the way to and
/// from real servers (three).
#[test]
fn the_bank_is_linearizable_with_lost_messages_on_real_memcached() {
    let (_servers, store) = real_cluster();
    every_schedule_is_linearizable_with(
        &store,
        &lossy(),
        0..15,
        "the_bank_is_linearizable_with_lost_messages_on_real_memcached",
    );
}

fn lossy() -> BankConfig {
    BankConfig {
        faults: FaultRates {
            lose_request: 0.05,
            lose_reply: 0.05,
        },
        ..BankConfig::default()
    }
}

/// Lost requests and lost replies (5 % each, per client): every failure
/// without effect is one, every lost reply an unknown outcome the checker
/// may place or drop, and no schedule loses or creates money.
#[test]
fn the_bank_is_linearizable_with_lost_messages_in_memory() {
    let config = lossy();
    every_schedule_is_linearizable_with(
        &MemoryStore::default(),
        &config,
        0..300,
        "the_bank_is_linearizable_with_lost_messages_in_memory",
    );
    // The faults fired and left unknown outcomes for the checker to decide.
    let run = run_bank(&MemoryStore::default(), &config, 7).unwrap();
    let unknown = run
        .history
        .ops
        .iter()
        .filter(|op| op.result == McasResult::Unknown)
        .count();
    assert!(unknown > 0, "seed 7: no unknown outcome");
}

/// Every broken MCAS of the catalogue is caught by the bank's schedules
/// (a history no order explains, money created or destroyed, or a false
/// alarm); how often, and first at which seed, is printed (run with
/// `--nocapture` to read it).
#[test]
fn every_broken_mcas_is_caught() {
    const SEEDS: u64 = 200;
    for &variant in McasVariant::ALL.iter().filter(|v| v.is_broken()) {
        let config = BankConfig {
            variant,
            ..BankConfig::default()
        };
        let store = MemoryStore::default();
        let caught: Vec<u64> = (0..SEEDS)
            .filter(|&seed| match judge_with(&store, &config, seed) {
                Ok((verdict, _, money)) => verdict != Verdict::Linearizable || money.is_err(),
                Err(_) => false,
            })
            .collect();
        println!(
            "{}: caught in {} of {SEEDS} schedules, first at seed {:?}",
            variant.name(),
            caught.len(),
            caught.first()
        );
        assert!(
            !caught.is_empty(),
            "{} survived {SEEDS} schedules; replay: cargo test -p memcache-sim --test mcas_schedules \
             every_broken_mcas_is_caught -- --nocapture",
            variant.name()
        );
    }
}

/// A store whose `cas` is a `set`: memcached without its one guarantee.
struct TokensIgnored<'a, S> {
    inner: &'a S,
}

impl<S: Store> Store for TokensIgnored<'_, S> {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        let command = match command {
            Command::Cas { key, value, .. } => Command::Set { key, value },
            other => other,
        };
        self.inner.call(command).await
    }

    fn server_name(&self, key: &Key) -> String {
        self.inner.server_name(key)
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.inner.colocated(a, b)
    }
}

/// Without token checks, transfers overwrite each other: the checker or
/// the money invariant (or the library's own corruption checks) must fail
/// most schedules, never pass them all.
#[test]
fn a_cas_that_ignores_tokens_is_caught() {
    let store = MemoryStore::default();
    let broken = TokensIgnored { inner: &store };
    let caught = (0..20)
        .filter(|&seed| match judge(&broken, seed) {
            Ok((verdict, _, money)) => verdict != Verdict::Linearizable || money.is_err(),
            Err(_) => false,
        })
        .count();
    assert!(
        caught >= 10,
        "caught in {caught} of 20 schedules; replay: cargo test -p memcache-sim --test mcas_schedules \
         a_cas_that_ignores_tokens_is_caught"
    );
}
