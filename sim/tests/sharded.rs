//! The sharded deque's guarantees, checked: several threads push and pop on
//! one sharded deque, each operation is recorded in the history of the shard
//! it touched (an empty pop, which looked at every shard, in every shard's
//! history), and every shard's history must be linearizable on its own. A
//! shared counter is the clock, so real-time order is exact.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use memcache_collections::store::block_on;
use memcache_collections::{DequeOptions, MemoryStore, ShardedDeque, Side};
use memcache_sim::check::{CheckOptions, Verdict, check};
use memcache_sim::history::{History, HistoryOp, OpName, OpResult};

const SHARDS: usize = 3;
const THREADS: u32 = 4;
const OPS_PER_THREAD: u32 = 200;

fn record(histories: &Mutex<Vec<History>>, shards: &[usize], op: HistoryOp) {
    let mut histories = histories.lock().unwrap();
    for &shard in shards {
        histories[shard].ops.push(op.clone());
    }
}

#[test]
fn every_shard_is_linearizable_on_its_own() {
    let store = MemoryStore::default();
    block_on(ShardedDeque::create(&store, "jobs", SHARDS, DequeOptions::default())).unwrap();
    let clock = AtomicU64::new(0);
    let histories = Mutex::new(vec![History::default(); SHARDS]);
    let all_shards: Vec<usize> = (0..SHARDS).collect();
    thread::scope(|scope| {
        for client in 0..THREADS {
            let (store, clock, histories, all_shards) = (&store, &clock, &histories, &all_shards);
            scope.spawn(move || {
                let options = DequeOptions {
                    id_seed: Some(u64::from(client) + 1),
                    ..DequeOptions::default()
                };
                let mut deque = block_on(ShardedDeque::bind(store, "jobs", SHARDS, options)).unwrap();
                for i in 0..OPS_PER_THREAD {
                    let value = format!("{client}.{i}");
                    let (op, side) = match (client + i) % 4 {
                        0 => (OpName::PushBack, Side::Right),
                        1 => (OpName::PushFront, Side::Left),
                        2 => (OpName::PopBack, Side::Right),
                        _ => (OpName::PopFront, Side::Left),
                    };
                    let invoke_us = clock.fetch_add(1, Ordering::SeqCst);
                    let (shards, value, result) = if op.is_push() {
                        let shard = block_on(deque.push(side, value.clone().into_bytes())).unwrap();
                        (vec![shard], Some(value), OpResult::Ok)
                    } else {
                        match block_on(deque.pop(side)).unwrap() {
                            Some((shard, bytes)) => (
                                vec![shard],
                                None,
                                OpResult::Value {
                                    value: String::from_utf8(bytes).unwrap(),
                                },
                            ),
                            None => (all_shards.clone(), None, OpResult::Empty),
                        }
                    };
                    let return_us = clock.fetch_add(1, Ordering::SeqCst);
                    record(
                        histories,
                        &shards,
                        HistoryOp {
                            client,
                            op,
                            value,
                            invoke_us,
                            return_us: Some(return_us),
                            result,
                        },
                    );
                }
            });
        }
    });
    // Drain every shard, so each history's final contents are checked too.
    let drain_client = THREADS;
    let mut drain = block_on(ShardedDeque::bind(&store, "jobs", SHARDS, DequeOptions::default())).unwrap();
    let mut histories = histories.into_inner().unwrap();
    loop {
        let invoke_us = clock.fetch_add(1, Ordering::SeqCst);
        let popped = block_on(drain.pop(Side::Left)).unwrap();
        let return_us = clock.fetch_add(1, Ordering::SeqCst);
        let (shards, result) = match popped {
            Some((shard, bytes)) => (
                vec![shard],
                OpResult::Value {
                    value: String::from_utf8(bytes).unwrap(),
                },
            ),
            None => (all_shards.clone(), OpResult::Empty),
        };
        for shard in shards {
            histories[shard].ops.push(HistoryOp {
                client: drain_client,
                op: OpName::PopFront,
                value: None,
                invoke_us,
                return_us: Some(return_us),
                result: result.clone(),
            });
        }
        if result == OpResult::Empty {
            break;
        }
    }
    let mut pushes_per_shard = Vec::new();
    for (shard, mut history) in histories.into_iter().enumerate() {
        history.ops.sort_by_key(|op| op.invoke_us);
        history.drain_client = Some(drain_client);
        pushes_per_shard.push(history.ops.iter().filter(|op| op.op.is_push()).count());
        let report = check(&history, CheckOptions::default());
        assert_eq!(
            report.verdict,
            Verdict::Linearizable,
            "shard {shard}: {}",
            report.reason
        );
    }
    // Round-robin pushes spread the values over every shard.
    assert!(pushes_per_shard.iter().all(|&n| n > 0), "{pushes_per_shard:?}");
}

#[test]
fn a_wrong_shard_count_or_name_is_refused() {
    let store = MemoryStore::default();
    for shards in [0, memcache_collections::sharded::SHARDS_MAX + 1] {
        let error = block_on(ShardedDeque::create(&store, "q", shards, DequeOptions::default())).unwrap_err();
        assert!(error.to_string().contains("shards"), "{error}");
    }
    let long = "n".repeat(memcache_collections::deque::NAME_LEN_MAX - 1);
    assert!(block_on(ShardedDeque::create(&store, &long, 10, DequeOptions::default())).is_err());
}
