//! MCAS at its edges, each body on every world: a lost first claim, the item
//! size limit, a claim by a descriptor that does not list the register, and
//! a one-entry MCAS left claimed. Each was a mutant of `src/mcas/` that no
//! other test caught (docs/mutation-testing.md, "MCAS").

mod common;

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};

use memcache_collections::format::NodeId;
use memcache_collections::mcas::format::{self, Descriptor, DescriptorEntry, Register, Status};
use memcache_collections::mcas::{McasCorruptionKind, McasOp};
use memcache_collections::store::{CasToken, Command, CountingStore, Reply, StoreError, block_on};
use memcache_collections::{Key, McasClient, McasError, McasOptions, Store};

fn key(name: &str) -> Key {
    Key::new(name).unwrap()
}

fn client<S: Store>(store: S, seed: u64) -> McasClient<S> {
    let options = McasOptions {
        id_seed: Some(seed),
        ..McasOptions::default()
    };
    McasClient::new(store, options)
}

/// Loses every request after the first `kept` (the server never sees
/// them): the client finds out at once, and nothing took effect.
struct LoseAfter<'a, S> {
    inner: &'a S,
    kept: AtomicUsize,
}

impl<S: Store> Store for LoseAfter<'_, S> {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        let kept = self
            .kept
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if kept.is_err() {
            return Err(StoreError::NotApplied {
                command: command.name(),
                key: command.key().clone(),
                detail: "request lost (test)".into(),
            });
        }
        self.inner.call(command).await
    }

    fn server_name(&self, key: &Key) -> String {
        self.inner.server_name(key)
    }

    fn colocated(&self, a: &Key, b: &Key) -> bool {
        self.inner.colocated(a, b)
    }
}

/// The descriptor's `add` lands and the first claim never reaches the
/// server: no register was touched, so the answer is a failure without
/// effect (`Backend`), not an unknown outcome.
fn a_lost_first_claim_had_no_effect<S: Store + Debug>(store: &S) {
    let mut setup = client(store, 1);
    assert!(block_on(setup.insert(&key("edge-first"), b"0".to_vec())).unwrap());
    let entry = block_on(setup.get(&key("edge-first"))).unwrap().unwrap();
    let losing = LoseAfter {
        inner: store,
        kept: AtomicUsize::new(1),
    };
    let mut originator = client(&losing, 2);
    let error = block_on(originator.mcas(vec![(entry, b"new".to_vec())])).unwrap_err();
    assert!(matches!(error, McasError::Backend { .. }), "{error}");
    let after = block_on(setup.get(&key("edge-first"))).unwrap().unwrap();
    assert_eq!(after.value(), b"0");
}

/// A client told of a small `-I` limit refuses a value over it before
/// sending anything.
fn a_small_item_limit_is_enforced_before_sending<S: Store + Debug>(store: &S) {
    let counting = CountingStore::new(store);
    let options = McasOptions {
        item_size_max: 1024,
        ..McasOptions::default()
    };
    let mut small = McasClient::new(&counting, options);
    let len_max_bytes = small.value_len_max(&key("edge-small"));
    assert!(len_max_bytes < 1024, "{len_max_bytes}");
    let error = block_on(small.insert(&key("edge-small"), vec![b'v'; len_max_bytes + 1])).unwrap_err();
    assert!(matches!(error, McasError::TooLarge { .. }), "{error}");
    assert_eq!(counting.counts().total(), 0, "nothing sent");
}

/// A register claimed by a descriptor that does not list it (garbage from
/// elsewhere, or a bug) is corruption, never helped.
fn a_claim_by_a_descriptor_not_listing_the_register_is_stray<S: Store + Debug>(store: &S) {
    let id = NodeId(0x5eed);
    let elsewhere = DescriptorEntry {
        key: key("edge-other"),
        token: CasToken(1),
        life: 0,
        old: b"0".to_vec(),
        new: b"1".to_vec(),
    };
    let descriptor = Descriptor {
        status: Status::Undecided,
        entries: vec![elsewhere],
    };
    block_on(store.set(&format::descriptor_key(id), format::encode_descriptor(&descriptor))).unwrap();
    block_on(store.set(&key("edge-stray"), format::encode_register(&Register::Claim(id)))).unwrap();
    let error = block_on(client(store, 3).get(&key("edge-stray"))).unwrap_err();
    assert_eq!(
        error,
        McasError::Corruption {
            op: McasOp::Get,
            key: key("edge-stray"),
            kind: McasCorruptionKind::StrayClaim {
                descriptor: format::descriptor_key(id),
            },
        }
    );
}

/// A one-entry MCAS whose originator lost its life check after the claim
/// landed: the claim stands, and the next reader finishes the MCAS (its
/// descriptor lists the register, so the claim is not stray).
fn a_one_entry_mcas_left_claimed_is_finished_by_a_reader<S: Store + Debug>(store: &S) {
    let mut reader = client(store, 4);
    assert!(block_on(reader.insert(&key("edge-solo"), b"0".to_vec())).unwrap());
    let entry = block_on(reader.get(&key("edge-solo"))).unwrap().unwrap();
    // The descriptor's add and the claim land; the life check is lost.
    let losing = LoseAfter {
        inner: store,
        kept: AtomicUsize::new(2),
    };
    let mut originator = client(&losing, 5);
    let error = block_on(originator.mcas(vec![(entry, b"new".to_vec())])).unwrap_err();
    assert!(error.outcome_unknown(), "{error}");
    let finished = block_on(reader.get(&key("edge-solo"))).unwrap().unwrap();
    assert!(
        [&b"0"[..], &b"new"[..]].contains(&finished.value()),
        "{:?}",
        finished.value()
    );
}

on_every_world!(
    a_lost_first_claim_had_no_effect,
    a_small_item_limit_is_enforced_before_sending,
    a_claim_by_a_descriptor_not_listing_the_register_is_stray,
    a_one_entry_mcas_left_claimed_is_finished_by_a_reader,
);
