//! Random single-client op sequences against `VecDeque`, the executable
//! specification, on the in-process store and on real memcached.

mod common;

use std::collections::VecDeque;

use memcache_collections::{BlockingDeque, DequeOptions, MemoryStore, Store};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone, Copy)]
enum Op {
    PushBack,
    PushFront,
    PopBack,
    PopFront,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            Just(Op::PushBack),
            Just(Op::PushFront),
            Just(Op::PopBack),
            Just(Op::PopFront)
        ],
        0..48,
    )
}

/// Applies `ops` to a fresh deque and to a `VecDeque`; every result must match.
fn agrees_with_vecdeque<S: Store>(store: &S, name: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut deque = BlockingDeque::create(store, Some(name), DequeOptions::default()).unwrap();
    let mut model: VecDeque<Vec<u8>> = VecDeque::new();
    for (i, op) in ops.iter().enumerate() {
        let value = format!("v{i}").into_bytes();
        match op {
            Op::PushBack => {
                deque.push_back(value.clone()).unwrap();
                model.push_back(value);
            }
            Op::PushFront => {
                deque.push_front(value.clone()).unwrap();
                model.push_front(value);
            }
            Op::PopBack => prop_assert_eq!(deque.pop_back().unwrap(), model.pop_back(), "op {}", i),
            Op::PopFront => prop_assert_eq!(deque.pop_front().unwrap(), model.pop_front(), "op {}", i),
        }
    }
    // Drain from alternating ends: the stored links must agree with the model.
    let mut from_back = false;
    while !model.is_empty() {
        let (got, want) = if from_back {
            (deque.pop_back().unwrap(), model.pop_back())
        } else {
            (deque.pop_front().unwrap(), model.pop_front())
        };
        prop_assert_eq!(got, want);
        from_back = !from_back;
    }
    prop_assert_eq!(deque.pop_front().unwrap(), None);
    Ok(())
}

fn run_against<S: Store>(store: &S, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0u32);
    runner
        .run(&ops(), |ops| {
            case.set(case.get() + 1);
            agrees_with_vecdeque(store, &format!("model-{}", case.get()), &ops)
        })
        .unwrap();
}

#[test]
fn in_memory_store_behaves_like_vecdeque() {
    run_against(&MemoryStore::default(), 512);
}

#[test]
fn real_memcached_behaves_like_vecdeque() {
    let cluster = common::RealCluster::start(1);
    run_against(&cluster.store, 48);
}

#[test]
fn real_memcached_cluster_behaves_like_vecdeque() {
    let cluster = common::RealCluster::start(3);
    run_against(&cluster.store, 48);
}

proptest! {
    /// Whatever bytes sit under the anchor or a node, every operation
    /// returns (an error or a value); none panics.
    #[test]
    fn random_bytes_under_deque_keys_never_panic(
        anchor in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..48)),
        node in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        use memcache_collections::store::block_on;
        use memcache_collections::{Key, format};
        let store = MemoryStore::default();
        let mut deque = BlockingDeque::create(&store, Some("fuzzed"), DequeOptions::default()).unwrap();
        deque.push_back("a").unwrap();
        deque.push_back("b").unwrap();
        let anchor_key = Key::new("fuzzed").unwrap();
        let current = block_on(store.gets(&anchor_key)).unwrap().unwrap();
        let right = format::decode_anchor(&current.value).unwrap().right.unwrap();
        block_on(store.set(&Key::new(format!("fuzzed:{right}")).unwrap(), node)).unwrap();
        if let Some(bytes) = anchor {
            block_on(store.set(&anchor_key, bytes)).unwrap();
        }
        for _ in 0..3 {
            let _ = deque.pop_back();
            let _ = deque.push_front("c");
            let _ = deque.pop_front();
        }
    }
}
