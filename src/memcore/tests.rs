//! The item semantics of `memcore.rs`, each pinned against what memcached
//! 1.6.18 does (docs/memcached.md; `sim/tests/fidelity.rs` compares whole
//! sequences with a real server).

use super::*;

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

fn set(core: &mut ServerCore, k: &str, v: &[u8]) -> Reply {
    core.apply(&Command::Set {
        key: key(k),
        value: v.to_vec(),
    })
}

#[test]
fn counter_starts_at_one_and_flush_moves_it() {
    let mut core = ServerCore::default();
    assert_eq!(set(&mut core, "a", b"x"), Reply::Stored { cas: CasToken(1) });
    core.flush_all();
    assert_eq!(set(&mut core, "d", b"x"), Reply::Stored { cas: CasToken(3) });
}

#[test]
fn failed_writes_do_not_move_the_counter() {
    let mut core = ServerCore::default();
    set(&mut core, "a", b"x");
    let mismatch = Command::Cas {
        key: key("a"),
        value: b"y".to_vec(),
        token: CasToken(99),
    };
    assert_eq!(core.apply(&mismatch), Reply::Exists);
    let add = Command::Add {
        key: key("a"),
        value: b"z".to_vec(),
    };
    assert_eq!(core.apply(&add), Reply::NotStored);
    assert_eq!(set(&mut core, "b", b"x"), Reply::Stored { cas: CasToken(2) });
}

fn life_of(core: &mut ServerCore, mark: u64) -> u64 {
    match core.apply(&Command::Lifetime { key: key("q"), mark }) {
        Reply::Lifetime(life) => life.stamp(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cas_disabled_hands_out_token_zero_and_refuses_every_cas() {
    let mut core = ServerCore::new(CoreConfig {
        cas: false,
        ..CoreConfig::default()
    });
    assert_eq!(set(&mut core, "a", b"x"), Reply::Stored { cas: CasToken(0) });
    let add = Command::Add {
        key: key("b"),
        value: b"y".to_vec(),
    };
    assert_eq!(core.apply(&add), Reply::Stored { cas: CasToken(0) });
    let cas = Command::Cas {
        key: key("a"),
        value: b"z".to_vec(),
        token: CasToken(0),
    };
    assert_eq!(core.apply(&cas), Reply::Exists);
    assert_eq!(core.peek(&key("a")), Some(&b"x"[..]));
}

#[test]
fn the_first_mark_wins_and_a_restart_loses_it_even_with_the_same_identity() {
    let mut core = ServerCore::new(CoreConfig {
        restart_keeps_identity: true,
        ..CoreConfig::default()
    });
    let first = life_of(&mut core, 1);
    assert_eq!(life_of(&mut core, 2), first, "the mark already there is kept");
    core.restart();
    // Marks are random 64-bit draws: the next life draws another.
    let second = life_of(&mut core, 4);
    assert_ne!(
        second, first,
        "the same identity, but the mark was lost with the restart"
    );
    assert_eq!(life_of(&mut core, 3), second);
}

#[test]
fn a_lost_mark_begins_a_new_life_and_a_restart_changes_the_identity() {
    let mut core = ServerCore::default();
    let first = life_of(&mut core, 1);
    core.lose(&key(crate::store::LIFE_MARK_KEY));
    assert_ne!(
        life_of(&mut core, 2),
        first,
        "the documented cost: a lost mark reads as a new life"
    );
    let mut plain = ServerCore::default();
    let before = life_of(&mut plain, 1);
    plain.restart();
    assert_ne!(life_of(&mut plain, 1), before, "a plain restart changes the identity");
}

#[test]
fn a_token_from_before_a_restart_can_succeed_after_it() {
    let mut core = ServerCore::default();
    set(&mut core, "anchor", b"old");
    let stale = CasToken(1);
    core.restart();
    set(&mut core, "anchor", b"new");
    let cas = Command::Cas {
        key: key("anchor"),
        value: b"stale write".to_vec(),
        token: stale,
    };
    assert_eq!(core.apply(&cas), Reply::Stored { cas: CasToken(2) });
}

fn store_len(core: &mut ServerCore, k: &str, len: usize) -> Reply {
    set(core, k, &vec![0; len])
}

#[test]
fn full_memory_evicts_the_least_recently_used_item() {
    let item = ITEM_OVERHEAD_BYTES + 1 + 100;
    let mut core = ServerCore::new(CoreConfig {
        memory_limit_bytes: Some(3 * item),
        ..CoreConfig::default()
    });
    for k in ["a", "b", "c"] {
        store_len(&mut core, k, 100);
    }
    core.apply(&Command::Gets { key: key("a") });
    store_len(&mut core, "d", 100);
    assert!(core.contains(&key("a")), "a read refreshes recency");
    assert!(!core.contains(&key("b")), "the least recently used goes first");
    assert_eq!((core.evictions(), core.bytes_used()), (1, 3 * item));
}

#[test]
fn no_evictions_mode_refuses_and_unlinks_like_memcached() {
    let item = ITEM_OVERHEAD_BYTES + 1 + 100;
    let mut core = ServerCore::new(CoreConfig {
        memory_limit_bytes: Some(2 * item),
        evictions: false,
        ..CoreConfig::default()
    });
    store_len(&mut core, "a", 100);
    store_len(&mut core, "b", 100);
    assert_eq!(
        store_len(&mut core, "c", 100),
        Reply::ServerError(ServerError::OutOfMemory)
    );
    assert!(
        matches!(store_len(&mut core, "a", 100), Reply::Stored { .. }),
        "replacing frees the old item first"
    );
    assert_eq!(
        store_len(&mut core, "b", 200),
        Reply::ServerError(ServerError::OutOfMemory)
    );
    assert!(!core.contains(&key("b")), "a refused store unlinks the old value");
    let lost = core.take_lost();
    assert_eq!(lost.len(), 1);
    assert_eq!((&lost[0].key, lost[0].reason), (&key("b"), LossReason::RefusedStore));
    assert_eq!(lost[0].value.len(), 100, "the bytes the refused store unlinked");
}

#[test]
fn too_large_refusal_deletes_the_old_value_even_behind_a_cas_guard() {
    let mut core = ServerCore::default();
    let max = CoreConfig::default().value_len_max(1);
    assert_eq!(max, 1_048_516);
    assert!(matches!(set(&mut core, "e", &vec![0; max]), Reply::Stored { .. }));
    let too_large = Command::Cas {
        key: key("e"),
        value: vec![0; max + 1],
        token: CasToken(12345),
    };
    assert_eq!(core.apply(&too_large), Reply::ServerError(ServerError::TooLarge));
    assert!(!core.contains(&key("e")));
}

/// `md <key> C<token>`: deletes only the version it names; with CAS
/// disabled every token reads 0, so `C0` deletes (measured on 1.6.18 with
/// `-C`).
#[test]
fn compare_and_delete_removes_only_the_version_it_names() {
    let delete = |k: &str, token: u64| Command::DeleteCas {
        key: key(k),
        token: CasToken(token),
    };
    let mut core = ServerCore::default();
    let Reply::Stored { cas } = set(&mut core, "a", b"x") else {
        panic!("set stores");
    };
    assert_eq!(core.apply(&delete("a", cas.0 + 1)), Reply::Exists);
    assert_eq!(core.apply(&delete("a", 0)), Reply::Exists);
    assert_eq!(core.peek(&key("a")), Some(&b"x"[..]));
    assert_eq!(core.apply(&delete("a", cas.0)), Reply::Deleted);
    assert_eq!(core.apply(&delete("a", cas.0)), Reply::NotFound);
    let mut no_cas = ServerCore::new(CoreConfig {
        cas: false,
        ..CoreConfig::default()
    });
    set(&mut no_cas, "a", b"x");
    assert_eq!(no_cas.apply(&delete("a", 5)), Reply::Exists);
    assert_eq!(no_cas.apply(&delete("a", 0)), Reply::Deleted);
}
