//! The threads that run beside a real run's clients until the workload is
//! over: the fault clock (timed and random faults), the loss monitor
//! (memcached's own evictions, seen through `stats`), and the filler that
//! keeps a memory-limited server full.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use memcache_collections::key::Key;
use memcache_collections::memcached::MemcachedStore;
use memcache_collections::store::{Command, Store, block_on};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::control::Control;
use crate::config::{Fault, RandomFaults};
use crate::history::LossCause;
use crate::nemesis::RandomKind;
use crate::rng;

/// How often the loss monitor reads each server's counters.
const MONITOR_INTERVAL: Duration = Duration::from_millis(5);
/// Filler sets per pipelined batch.
const FILLER_BATCH: usize = 32;
/// Filler batches before the workload, at most, while waiting for the
/// first eviction or refusal.
const PREFILL_BATCHES_MAX: usize = 20_000;

/// What the fault clock fires next.
pub enum Due {
    /// A scenario fault at its time.
    Timed(Fault),
    /// The next event of a random fault kind.
    Random(RandomKind),
}

/// What the fault clock fires, and when (on the run's clock).
pub struct Schedule(Vec<(u64, Due)>);

/// The fault clock's schedule for a workload starting now: the timed faults
/// at their microsecond from the workload's start (as in the simulator),
/// and the first event of each random kind, drawn now from the fault
/// stream in the simulator's order (before faults armed on zero operations
/// fire, as there).
pub fn schedule(control: &Control, timed: Vec<(u64, Fault)>, rates: &RandomFaults) -> Schedule {
    let start_us = control.now_us();
    let mut due: Vec<(u64, Due)> = timed
        .into_iter()
        .map(|(at_us, fault)| (start_us.saturating_add(at_us), Due::Timed(fault)))
        .collect();
    for kind in RandomKind::ALL.into_iter().filter(|kind| kind.rate_per_s(rates) > 0.0) {
        due.push((start_us + next_interval_us(control, kind, rates), Due::Random(kind)));
    }
    Schedule(due)
}

fn next_interval_us(control: &Control, kind: RandomKind, rates: &RandomFaults) -> u64 {
    let mut rng = control.fault_rng.lock().expect("not poisoned");
    rng::sample_interval_us(&mut rng, kind.rate_per_s(rates))
}

/// Fires the scheduled faults at their time and the random ones as Poisson
/// processes, until the workload is over. The draws follow the simulator's
/// order on the fault stream.
pub fn fault_clock(control: &Control, schedule: Schedule, rates: &RandomFaults) {
    let (servers, clients) = (control.cluster.len() as u32, control.gates.len() as u32);
    let mut due = schedule.0;
    while !control.workload_over.load(Ordering::SeqCst) {
        let Some(next) = (0..due.len()).min_by_key(|&i| due[i].0) else {
            return;
        };
        if let Some(wait) = control.instant(due[next].0).checked_duration_since(Instant::now()) {
            // Sleep in short steps, so the end of the workload is noticed.
            std::thread::sleep(wait.min(Duration::from_millis(5)));
            continue;
        }
        match due.swap_remove(next).1 {
            Due::Timed(fault) => control.fire(fault),
            Due::Random(kind) => {
                let fault = kind.draw(
                    &mut control.fault_rng.lock().expect("not poisoned"),
                    servers,
                    clients,
                    rates,
                );
                control.fire(fault);
                due.push((
                    control.now_us() + next_interval_us(control, kind, rates),
                    Due::Random(kind),
                ));
            }
        }
    }
}

/// Every server's dropped-item counter now, with the time it was read: the
/// loss monitor's first reading, taken before the setup so that evictions
/// during the prefill and the filler's fill-up are recorded too.
pub fn readings(control: &Control) -> Vec<Option<(u64, u64)>> {
    (0..control.cluster.len())
        .map(|server| {
            let asked_us = control.now_us();
            control
                .cluster
                .dropped_items(server)
                .ok()
                .map(|count| (asked_us, count))
        })
        .collect()
}

/// Watches every server's eviction and out-of-memory counters, from the
/// `first` readings, until `stop` (and once more after). memcached does not
/// say which
/// item it dropped or when, so a rise is recorded as a loss of anything on
/// that server at the previous reading, the latest instant known to come
/// before it: the checker may then forgive too much, never accuse wrongly.
/// Returns how many items the servers reported dropped.
pub fn loss_monitor(control: &Control, first: Vec<Option<(u64, u64)>>, stop: &AtomicBool) -> u64 {
    let mut last = first;
    let mut dropped_total = 0;
    loop {
        let over = stop.load(Ordering::SeqCst);
        for (server, last) in last.iter_mut().enumerate() {
            let asked_us = control.now_us();
            let Ok(count) = control.cluster.dropped_items(server) else {
                continue;
            };
            if let Some((previous_us, previous)) = *last {
                // A restart resets the counters (and records its own loss).
                let dropped = if count >= previous { count - previous } else { count };
                if dropped > 0 {
                    dropped_total += dropped;
                    control.record_loss(previous_us, server, None, LossCause::Eviction);
                }
            }
            *last = Some((asked_us, count));
        }
        if over {
            return dropped_total;
        }
        std::thread::sleep(MONITOR_INTERVAL);
    }
}

/// Filler traffic for a memory-limited scenario: sets under `filler:<n>`
/// whose items are the size of the deque's nodes. memcached evicts per
/// slab class (items of similar size), so only filler of the nodes' sizes
/// pushes nodes out.
pub struct Filler {
    store: MemcachedStore,
    rng: ChaCha8Rng,
    sizes_bytes: std::ops::RangeInclusive<usize>,
    next: u64,
}

/// How much longer a node's key and header are than a filler's key: a
/// filler value this much longer than a node's value makes an item of the
/// node's size.
const NODE_ITEM_EXTRA_BYTES: usize = 66;

impl Filler {
    /// A filler writing through `store`, for deque values of
    /// `value_sizes_bytes`.
    pub fn new(store: MemcachedStore, rng: ChaCha8Rng, value_sizes_bytes: std::ops::RangeInclusive<usize>) -> Self {
        let (min, max) = value_sizes_bytes.into_inner();
        Filler {
            store,
            rng,
            sizes_bytes: min + NODE_ITEM_EXTRA_BYTES..=max.max(min) + NODE_ITEM_EXTRA_BYTES,
            next: 0,
        }
    }

    /// Sets written so far.
    pub fn sets(&self) -> u64 {
        self.next
    }

    /// Fills until every server has dropped or refused an item (memory is
    /// full), or the batch bound is reached; returns whether it got there.
    pub fn fill_up(&mut self, control: &Control) -> bool {
        let full = |control: &Control| {
            (0..control.cluster.len()).all(|s| control.cluster.dropped_items(s).is_ok_and(|count| count > 0))
        };
        for round in 0..PREFILL_BATCHES_MAX {
            self.batch();
            if round % 16 == 15 && full(control) {
                return true;
            }
        }
        full(control)
    }

    /// Keeps writing until the workload is over.
    pub fn run(&mut self, control: &Control) {
        while !control.workload_over.load(Ordering::SeqCst) {
            self.batch();
            // Leave the cores to the clients between batches.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn batch(&mut self) {
        let commands: Vec<Command> = (0..FILLER_BATCH)
            .map(|_| {
                let key = Key::new(format!("filler:{}", self.next)).expect("filler keys are valid");
                self.next += 1;
                let size = self.rng.random_range(self.sizes_bytes.clone());
                Command::Set {
                    key,
                    value: vec![b'f'; size],
                }
            })
            .collect();
        // Refusals (out of memory under -M) are the point; errors too.
        let _ = block_on(self.store.call_batch(commands));
    }
}
