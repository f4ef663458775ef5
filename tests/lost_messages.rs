//! The library's promises under lost messages and restarts, on every world:
//! a push or pop answered `Ok` took effect, a failure without effect had
//! none, an unknown outcome is reported as such, and nothing the deque
//! acknowledged goes missing or comes back wrong without a corruption
//! report. One client, so the expected contents follow from its own
//! answers: a sequential model in which entries whose push had an unknown
//! outcome are "maybe there" until a pop or the drain decides.

mod common;

use std::collections::VecDeque;
use std::fmt::Debug;

use memcache_collections::store::{FaultRates, FaultyStore};
use memcache_collections::{BlockingDeque, DequeError, DequeOptions, MemoryStore, Store, Variant};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// An entry the client may have in the deque.
#[derive(Debug)]
struct Entry {
    value: String,
    /// Whether the deque acknowledged it (else its push, or a pop that may
    /// have taken it, had an unknown outcome).
    certain: bool,
}

/// The deque as one client's answers describe it, front first.
#[derive(Debug, Default)]
struct Model {
    entries: VecDeque<Entry>,
}

impl Model {
    fn push(&mut self, front: bool, value: String, certain: bool) {
        let entry = Entry { value, certain };
        if front {
            self.entries.push_front(entry);
        } else {
            self.entries.push_back(entry);
        }
    }

    fn end(&mut self, front: bool) -> Option<Entry> {
        if front {
            self.entries.pop_front()
        } else {
            self.entries.pop_back()
        }
    }

    /// A pop at that end returned `value`: entries before it may only be
    /// ones that were never there.
    fn popped(&mut self, front: bool, value: &str) -> Result<(), String> {
        loop {
            match self.end(front) {
                Some(entry) if entry.value == value => return Ok(()),
                Some(entry) if !entry.certain => continue,
                Some(entry) => {
                    return Err(format!(
                        "a pop returned {value:?} where the acknowledged {:?} had to come first",
                        entry.value
                    ));
                }
                None => return Err(format!("a pop returned {value:?}, which no push could have put there")),
            }
        }
    }

    /// A pop found the deque empty: nothing acknowledged may be there.
    fn empty(&mut self) -> Result<(), String> {
        if let Some(entry) = self.entries.iter().find(|e| e.certain) {
            return Err(format!(
                "a pop found the deque empty, but {:?} was acknowledged",
                entry.value
            ));
        }
        self.entries.clear();
        Ok(())
    }

    /// A pop at that end had an unknown outcome: the entries up to and
    /// including the first acknowledged one may be gone.
    fn maybe_popped(&mut self, front: bool) {
        let order: Vec<usize> = if front {
            (0..self.entries.len()).collect()
        } else {
            (0..self.entries.len()).rev().collect()
        };
        for i in order {
            let was_certain = self.entries[i].certain;
            self.entries[i].certain = false;
            if was_certain {
                break;
            }
        }
    }
}

/// Binds through lost messages: a failed read has no effect, so retry.
fn bind<S: Store + Debug + Clone>(store: S, name: &str, variant: Variant) -> Result<BlockingDeque<S>, String> {
    let options = DequeOptions {
        variant,
        ..DequeOptions::default()
    };
    loop {
        match BlockingDeque::bind(store.clone(), name, options.clone()) {
            Ok(deque) => return Ok(deque),
            Err(DequeError::Backend { .. } | DequeError::OutcomeUnknown { .. }) => continue,
            Err(error) => return Err(format!("bind: {error}")),
        }
    }
}

/// Runs `ops` random operations of one client over `faulty`, checking each
/// answer against the model; the deque is drained afterwards through the
/// fault-free inner store. A corruption report ends the run early (`true`):
/// it is the library's promise for a loss, and this test causes losses only
/// through restarts.
fn run_checked<S: Store + Debug>(faulty: &FaultyStore<S>, name: &str, ops: usize, seed: u64) -> Result<bool, String> {
    run_variant(faulty, name, ops, seed, Variant::default())
}

fn run_variant<S: Store + Debug>(
    faulty: &FaultyStore<S>,
    name: &str,
    ops: usize,
    seed: u64,
    variant: Variant,
) -> Result<bool, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut deque = bind(faulty, name, variant)?;
    let mut model = Model::default();
    for i in 0..ops {
        let front = rng.next_u64() % 2 == 0;
        if rng.next_u64() % 2 == 0 {
            let value = format!("{seed}.{i}");
            let result = if front {
                deque.push_front(value.clone())
            } else {
                deque.push_back(value.clone())
            };
            match result {
                Ok(()) => model.push(front, value, true),
                Err(DequeError::OutcomeUnknown { .. }) => model.push(front, value, false),
                Err(DequeError::Backend { .. }) => {}
                Err(DequeError::Corruption { .. }) => return Ok(true),
                Err(error) => return Err(format!("push {value}: {error}")),
            }
        } else {
            let result = if front { deque.pop_front() } else { deque.pop_back() };
            match result {
                Ok(Some(value)) => model.popped(front, &String::from_utf8_lossy(&value))?,
                Ok(None) => model.empty()?,
                Err(DequeError::OutcomeUnknown { .. }) => model.maybe_popped(front),
                Err(DequeError::Backend { .. }) => {}
                Err(DequeError::Corruption { .. }) => return Ok(true),
                Err(error) => return Err(format!("pop: {error}")),
            }
        }
    }
    let mut drain = BlockingDeque::bind(faulty.inner(), name, DequeOptions::default()).map_err(|e| e.to_string())?;
    loop {
        match drain.pop_front() {
            Ok(Some(value)) => model.popped(true, &String::from_utf8_lossy(&value))?,
            Ok(None) => return model.empty().map(|()| false),
            Err(DequeError::Corruption { .. }) => return Ok(true),
            Err(error) => return Err(format!("drain: {error}")),
        }
    }
}

/// Lost requests and lost replies, 5% each: every answer is consistent with
/// what the client was told, and the faults did fire.
fn promises_hold_under_lost_messages<S: Store + Debug>(store: &S) {
    let rates = FaultRates {
        lose_request: 0.05,
        lose_reply: 0.05,
    };
    for seed in 0..4 {
        let name = format!("lossy-{seed}");
        BlockingDeque::create(store, Some(&name), DequeOptions::default()).unwrap();
        let faulty = FaultyStore::new(store, rates, seed);
        let corrupted = run_checked(&faulty, &name, 200, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            !corrupted,
            "seed {seed}: a corruption report without any loss (a false alarm)"
        );
        let counts = faulty.counts();
        assert!(
            counts.requests_lost > 0 && counts.replies_lost > 0,
            "seed {seed}: the faults never fired: {counts:?}"
        );
    }
}

/// A request lost on its way had no effect, so the operation it belonged to
/// answers `Backend` (safe to retry), never "outcome unknown", whichever
/// request it was: with only requests lost, no answer may be unknown. (A
/// library that called every failed anchor CAS unknown would be safe but
/// would send its callers checking for effects that cannot have happened;
/// found by mutation testing.)
fn lost_requests_are_never_unknown<S: Store + Debug>(store: &S) {
    let rates = FaultRates {
        lose_request: 0.1,
        lose_reply: 0.0,
    };
    let name = "lost-requests";
    BlockingDeque::create(store, Some(name), DequeOptions::default()).unwrap();
    let faulty = FaultyStore::new(store, rates, 11);
    let mut deque = bind(&faulty, name, Variant::default()).unwrap();
    let mut no_effect = 0;
    for i in 0..300 {
        let result = match i % 4 {
            0 => deque.push_back(format!("b{i}")),
            1 => deque.push_front(format!("f{i}")),
            2 => deque.pop_back().map(|_| ()),
            _ => deque.pop_front().map(|_| ()),
        };
        match result {
            Ok(()) => {}
            Err(DequeError::Backend { .. }) => no_effect += 1,
            Err(error) => panic!("operation {i}: {error}"),
        }
    }
    assert!(no_effect > 0, "no request was lost: {:?}", faulty.counts());
}

on_every_world!(promises_hold_under_lost_messages, lost_requests_are_never_unknown);

/// A restart between operations (the in-process server loses everything,
/// its tokens start again at 1), with lost messages around it: the client
/// is told of the loss as corruption, never answered `empty` or a wrong
/// value for what it was acknowledged.
#[test]
fn a_restart_is_reported_never_answered_wrongly() {
    let rates = FaultRates {
        lose_request: 0.05,
        lose_reply: 0.05,
    };
    let mut reported = 0;
    for seed in 0..20 {
        let store = MemoryStore::default();
        BlockingDeque::create(&store, Some("restarted"), DequeOptions::default()).unwrap();
        let faulty = FaultyStore::new(&store, rates, seed);
        let before = run_checked(&faulty, "restarted", 30, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(!before, "seed {seed}: corruption reported before the restart");
        // Leave something acknowledged in the deque, then restart.
        BlockingDeque::bind(&store, "restarted", DequeOptions::default())
            .unwrap()
            .push_back("kept")
            .unwrap();
        let mut deque = bind(&faulty, "restarted", Variant::default()).unwrap();
        store.core().restart();
        // The first pop that gets through must report the loss.
        let answer = loop {
            match deque.pop_front() {
                Err(DequeError::Backend { .. } | DequeError::OutcomeUnknown { .. }) => continue,
                other => break other,
            }
        };
        match answer {
            Err(DequeError::Corruption { .. }) => reported += 1,
            other => panic!("seed {seed}: after a restart the deque answered {other:?}"),
        }
    }
    assert_eq!(reported, 20);
}

/// The model is strong enough to fail: the 2013 flaw that retries a push
/// whose CAS reply was lost with a new node (`retry-unknown-cas`) puts a
/// value in twice, and some seed shows it.
#[test]
fn a_push_retried_after_a_lost_reply_is_caught() {
    let rates = FaultRates {
        lose_request: 0.0,
        lose_reply: 0.1,
    };
    let caught = (0..20).find_map(|seed| {
        let store = MemoryStore::default();
        BlockingDeque::create(&store, Some("retried"), DequeOptions::default()).unwrap();
        let faulty = FaultyStore::new(&store, rates, seed);
        run_variant(&faulty, "retried", 200, seed, Variant::RetryUnknownCas).err()
    });
    let caught = caught.expect("retry-unknown-cas passed 20 seeds of lost replies");
    assert!(
        caught.contains("which no push could have put there") || caught.contains("had to come first"),
        "{caught}"
    );
}

/// `create` tells a lost reply to its anchor's `add` (the deque may exist)
/// from a lost request (it does not). `michael2003` sends only that `add`,
/// so every fault lands on it.
#[test]
fn create_tells_an_unknown_outcome_from_no_effect() {
    let michael = DequeOptions {
        variant: Variant::Michael2003,
        ..DequeOptions::default()
    };
    let lose = |lose_request, lose_reply| FaultRates {
        lose_request,
        lose_reply,
    };
    let store = MemoryStore::default();
    let replies_lost = FaultyStore::new(&store, lose(0.0, 1.0), 1);
    let error = BlockingDeque::create(&replies_lost, Some("maybe"), michael.clone()).unwrap_err();
    assert!(matches!(error, DequeError::OutcomeUnknown { .. }), "{error}");
    assert!(
        BlockingDeque::bind(&store, "maybe", michael.clone()).is_ok(),
        "the add was applied"
    );
    let requests_lost = FaultyStore::new(&store, lose(1.0, 0.0), 1);
    let error = BlockingDeque::create(&requests_lost, Some("never"), michael.clone()).unwrap_err();
    assert!(matches!(error, DequeError::Backend { .. }), "{error}");
    assert!(matches!(
        BlockingDeque::bind(&store, "never", michael),
        Err(DequeError::NotFound { .. })
    ));
}

/// A handle says which algorithm it runs and counts its attempts: one per
/// uncontended operation, more when a lost request makes it try again.
#[test]
fn a_handle_reports_its_variant_and_its_attempts() {
    let store = MemoryStore::default();
    for variant in [Variant::Hardened, Variant::Michael2003] {
        let options = DequeOptions {
            variant,
            ..DequeOptions::default()
        };
        let name = format!("counted-{}", variant.name());
        let mut deque = BlockingDeque::create(&store, Some(&name), options).unwrap();
        assert_eq!(deque.as_async().variant(), variant);
        for value in ["a", "b", "c"] {
            deque.push_back(value).unwrap();
        }
        assert_eq!(deque.as_async().attempts(), 3, "{}", variant.name());
    }
}
