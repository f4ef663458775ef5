//! Each fault the simulator injects shows its effect in the run: the network
//! faults produce unknown outcomes and late replies, server faults lose
//! entries and the deque reports corruption, client faults stop or stall a
//! client mid-operation. (Whether the deque handles them correctly is the
//! checkers' verdict; here we prove the faults really happen.)

use std::collections::BTreeMap;

use memcache_collections::Variant;
use memcache_sim::config::{Fault, FaultSpec, LossTarget, OpMix, PartitionMode, RunConfig, Trigger};
use memcache_sim::history::{LossCause, OpResult};
use memcache_sim::outcome::Outcome;
use memcache_sim::pipeline;
use memcache_sim::plan::RunPlan;

/// Simulates `config` from `seed`, keeping the trace.
fn run(config: &RunConfig, seed: u64) -> Outcome {
    let mut plan = RunPlan::for_config(config.clone(), None, seed, Variant::default());
    plan.keep_trace = true;
    pipeline::execute(&plan)
}

/// Requests that waited for their whole timeout.
fn timeouts(outcome: &Outcome) -> usize {
    outcome
        .trace
        .iter()
        .filter(|r| r.detail.contains("no reply within"))
        .count()
}

fn base() -> RunConfig {
    let mut config = RunConfig::default();
    config.clients.count = 4;
    config.clients.ops_per_client = 60;
    config
}

fn count(outcome: &Outcome, pred: impl Fn(&OpResult) -> bool) -> usize {
    outcome.history.ops.iter().filter(|op| pred(&op.result)).count()
}

fn corruption(outcome: &Outcome) -> usize {
    count(outcome, |r| matches!(r, OpResult::Corruption { .. }))
}

fn at_op(ops: u64, fault: Fault) -> FaultSpec {
    FaultSpec {
        trigger: Trigger::AfterOps { ops },
        fault,
    }
}

/// Every value pushed with a definite `ok` is popped exactly once (drain
/// included), and nothing else is popped.
fn assert_conserved(outcome: &Outcome) {
    let mut popped: BTreeMap<&str, usize> = BTreeMap::new();
    for op in &outcome.history.ops {
        if let OpResult::Value { value } = &op.result {
            *popped.entry(value).or_default() += 1;
        }
    }
    let pushed: Vec<&str> = outcome
        .history
        .ops
        .iter()
        .filter(|op| op.result == OpResult::Ok)
        .map(|op| op.value.as_deref().unwrap())
        .collect();
    for value in &pushed {
        assert_eq!(popped.get(value), Some(&1), "value {value}");
    }
    assert_eq!(popped.len(), pushed.len());
}

#[test]
fn without_faults_every_op_succeeds_and_every_value_is_conserved() {
    for seed in 0..10 {
        let outcome = run(&base(), seed);
        let definite = count(&outcome, |r| {
            matches!(r, OpResult::Ok | OpResult::Value { .. } | OpResult::Empty)
        });
        assert_eq!(definite, outcome.history.ops.len(), "seed {seed}");
        assert_conserved(&outcome);
        assert!(outcome.history.losses.is_empty());
    }
}

#[test]
fn lost_replies_make_outcomes_unknown() {
    let mut config = base();
    config.network.drop_reply_rate = 0.05;
    let outcome = run(&config, 1);
    assert!(timeouts(&outcome) > 0);
    assert!(count(&outcome, |r| *r == OpResult::Unknown) > 0);
}

#[test]
fn lost_requests_time_out() {
    let mut config = base();
    config.network.drop_request_rate = 0.05;
    let outcome = run(&config, 1);
    assert!(outcome.counters.messages_dropped > 0 && timeouts(&outcome) > 0);
}

#[test]
fn resets_fail_requests_at_once_without_a_timeout() {
    let mut config = base();
    config.network.reset_rate = 0.05;
    let outcome = run(&config, 1);
    let counters = &outcome.counters;
    // Every reset is heard of after one latency: no request waits for its
    // timeout.
    assert!(counters.resets > 0 && timeouts(&outcome) == 0, "{counters:?}");
    assert!(counters.requests_failed > 0);
    assert!(count(&outcome, |r| *r == OpResult::Unknown) > 0);
}

#[test]
fn delay_spikes_apply_requests_after_their_client_gave_up() {
    let mut config = base();
    config.network.delay_spike_rate = 0.05;
    let outcome = run(&config, 1);
    let sim = outcome.counters.sim.as_ref().expect("a simulated run");
    assert!(sim.stale_replies > 0, "{sim:?}");
}

#[test]
fn a_restart_loses_everything_and_is_reported_as_corruption() {
    let mut config = base();
    config.faults.push(at_op(60, Fault::Restart { server: 0 }));
    let outcome = run(&config, 1);
    assert_eq!(outcome.history.losses[0].cause, LossCause::Restart);
    assert!(corruption(&outcome) > 0);
}

#[test]
fn a_flush_loses_everything_and_is_reported_as_corruption() {
    let mut config = base();
    config.faults.push(at_op(60, Fault::FlushAll { server: 0 }));
    let outcome = run(&config, 1);
    assert_eq!(outcome.history.losses[0].cause, LossCause::Flush);
    assert!(corruption(&outcome) > 0);
}

#[test]
fn losing_the_anchor_is_reported_as_corruption() {
    let mut config = base();
    config.faults.push(at_op(
        30,
        Fault::Lose {
            target: LossTarget::Anchor,
        },
    ));
    let outcome = run(&config, 1);
    assert_eq!(outcome.history.losses.len(), 1);
    assert!(outcome.history.ops.iter().any(|op| matches!(&op.result,
        OpResult::Corruption { detail, .. } if detail.contains("anchor"))));
}

#[test]
fn losing_a_node_at_a_position_is_reported_as_corruption() {
    let mut config = base();
    config.clients.prefill_items = 10;
    config.faults.push(at_op(
        5,
        Fault::Lose {
            target: LossTarget::NodeAt { position: 2 },
        },
    ));
    let outcome = run(&config, 1);
    assert_eq!(outcome.history.losses.len(), 1, "{:?}", outcome.history.losses);
    assert!(corruption(&outcome) > 0);
}

#[test]
fn memory_pressure_evicts_and_no_eviction_mode_refuses() {
    let mut config = base();
    config.clients.mix = OpMix {
        push_back: 3,
        push_front: 0,
        pop_back: 0,
        pop_front: 1,
    };
    config.clients.value_size_bytes_min = 200;
    config.clients.value_size_bytes_max = 200;
    config.servers.memory_limit_bytes = Some(8_000);
    let evicting = run(&config, 1);
    assert!(evicting.counters.items_dropped > 0);
    assert!(evicting.history.losses.iter().all(|l| l.cause == LossCause::Eviction));
    config.servers.evictions = false;
    let refusing = run(&config, 1);
    assert!(
        refusing
            .history
            .losses
            .iter()
            .all(|l| l.cause == LossCause::RefusedStore)
    );
    assert!(count(&refusing, |r| matches!(r, OpResult::Failed { .. })) > 0);
}

#[test]
fn a_held_partition_delays_and_a_dropping_one_loses_messages() {
    for (mode, check) in [(PartitionMode::Hold, "held"), (PartitionMode::Drop, "dropped")] {
        let mut config = base();
        config.faults.push(at_op(
            20,
            Fault::Partition {
                server: 0,
                clients: vec![0, 1],
                duration_us: 30_000,
                mode,
            },
        ));
        let outcome = run(&config, 1);
        assert!(timeouts(&outcome) > 0, "{check}");
        let noted = outcome
            .trace
            .iter()
            .filter(|r| r.detail.contains(check) || r.detail.contains("lost"))
            .count();
        assert!(noted > 0, "{check}");
    }
}

#[test]
fn a_paused_client_stalls_its_operation() {
    let mut config = base();
    config.faults.push(FaultSpec {
        trigger: Trigger::AfterClientRequests {
            client: 2,
            requests: 10,
        },
        fault: Fault::Pause {
            client: 2,
            duration_us: 50_000,
        },
    });
    let outcome = run(&config, 1);
    let longest = outcome
        .history
        .ops
        .iter()
        .filter(|op| op.client == 2)
        .filter_map(|op| Some(op.return_us? - op.invoke_us))
        .max()
        .unwrap();
    assert!(longest >= 50_000, "{longest}");
}

/// A client that crashes right after swinging the anchor to a half-done
/// push leaves it for others to stabilize; its push took effect.
#[test]
fn a_client_crashing_mid_push_leaves_an_unreturned_op_that_others_finish() {
    let mut config = base();
    config.clients.count = 2;
    config.clients.prefill_items = 1;
    config.clients.think_time_us_max = 0;
    config.clients.mix = OpMix {
        push_back: 1,
        push_front: 0,
        pop_back: 0,
        pop_front: 0,
    };
    // Push onto a non-empty deque: gets anchor, set node, cas anchor (now
    // RPUSH); the crash comes before the stabilizing requests.
    config.faults.push(FaultSpec {
        trigger: Trigger::AfterClientRequests { client: 0, requests: 3 },
        fault: Fault::Crash { client: 0 },
    });
    let outcome = run(&config, 1);
    let crashed: Vec<_> = outcome.history.ops.iter().filter(|op| op.client == 0).collect();
    assert_eq!(crashed.len(), 1);
    assert_eq!((crashed[0].return_us, &crashed[0].result), (None, &OpResult::Unknown));
    let value = crashed[0].value.clone().unwrap();
    assert!(
        outcome
            .history
            .ops
            .iter()
            .any(|op| op.result == OpResult::Value { value: value.clone() }),
        "the crashed client's push took effect and is drained"
    );
}
