//! Several threads, each with its own handle, on one deque: with healthy
//! servers no operation may fail and every pushed value must come out exactly
//! once. (Linearizability is the harness's job; this is the conservation
//! smoke test that runs with every `cargo test`.)

mod common;

use std::collections::BTreeMap;
use std::thread;

use memcache_collections::{BlockingDeque, DequeOptions, MemoryStore, Store};

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 150;

/// Each thread's values, one list per thread.
type PerThread = Vec<Vec<Vec<u8>>>;

fn every_value_comes_out_once<S: Store + Sync>(store: &S) {
    BlockingDeque::create(store, Some("shared"), DequeOptions::default()).unwrap();
    let (pushed, mut popped): (PerThread, PerThread) = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut deque = BlockingDeque::bind(store, "shared", DequeOptions::default()).unwrap();
                    let (mut pushed, mut popped) = (Vec::new(), Vec::new());
                    for i in 0..OPS_PER_THREAD {
                        let value = format!("t{t}-{i}").into_bytes();
                        match (i + t) % 4 {
                            0 => deque.push_back(value.clone()).map(|_| pushed.push(value)).unwrap(),
                            1 => deque.push_front(value.clone()).map(|_| pushed.push(value)).unwrap(),
                            2 => popped.extend(deque.pop_back().unwrap()),
                            _ => popped.extend(deque.pop_front().unwrap()),
                        }
                    }
                    (pushed, popped)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).unzip()
    });
    let mut drain = BlockingDeque::bind(store, "shared", DequeOptions::default()).unwrap();
    let mut rest = Vec::new();
    while let Some(value) = drain.pop_front().unwrap() {
        rest.push(value);
    }
    popped.push(rest);
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for value in popped.into_iter().flatten() {
        *seen.entry(value).or_default() += 1;
    }
    let pushed: Vec<Vec<u8>> = pushed.into_iter().flatten().collect();
    assert_eq!(seen.len(), pushed.len(), "values lost or invented");
    for value in pushed {
        assert_eq!(
            seen.get(&value),
            Some(&1),
            "{} popped a wrong number of times",
            value.escape_ascii()
        );
    }
}

#[test]
fn in_memory() {
    every_value_comes_out_once(&MemoryStore::default());
}

#[test]
fn real_memcached_3_servers() {
    let cluster = common::RealCluster::start(3);
    every_value_comes_out_once(&cluster.store);
}
