//! The world's stateful parts, each driven by a hand-written client over a
//! constant-latency network, so every instant is known in advance: timer
//! re-arming, restart epochs, held messages released on heal, and faults
//! armed on counts firing at their edges.

use std::cell::RefCell;
use std::rc::Rc;

use memcache_collections::Variant;
use memcache_collections::key::Key;
use memcache_collections::store::{Command, Reply, Store, StoreError};

use super::client::SimStore;
use super::world::World;
use crate::config::{Fault, FaultSpec, Latency, PartitionMode, RunConfig, Trigger};
use crate::plan::RunPlan;
use crate::trace::{TraceKind, TraceRecord};

const LATENCY_US: u64 = 20;
const TIMEOUT_US: u64 = 1_000;

fn config(faults: Vec<FaultSpec>) -> RunConfig {
    let mut config = RunConfig::default();
    config.clients.count = 1;
    config.network.latency = Latency::Constant { us: LATENCY_US };
    config.network.client_timeout_us = TIMEOUT_US;
    config.faults = faults;
    config
}

fn at(at_us: u64, fault: Fault) -> FaultSpec {
    FaultSpec {
        trigger: Trigger::AtUs { at_us },
        fault,
    }
}

fn set(key: &str) -> Command {
    Command::Set {
        key: Key::new(key).unwrap(),
        value: b"v".to_vec(),
    }
}

/// A call's result and the virtual time it came back.
type Answer = (u64, Result<Reply, StoreError>);

/// Runs one client that sends `steps` (a pause in microseconds, then a
/// command) and returns each call's result with the virtual time it came
/// back, and the trace. The workload starts at 1 us.
fn drive(config: RunConfig, steps: Vec<(u64, Command)>) -> (Vec<Answer>, Vec<TraceRecord>) {
    let mut plan = RunPlan::for_config(config, None, 0, Variant::default());
    plan.keep_trace = true;
    let mut world = World::new(&plan);
    let results: Rc<RefCell<Vec<Answer>>> = Rc::default();
    let batches = crate::rng::stream(0, crate::rng::Stream::Batches, 0);
    let store = SimStore::new(0, world.shared.clone(), Rc::new(world.ring.clone()), batches);
    let clock = world.shared.now_us.clone();
    let sink = results.clone();
    world.now_us = 1;
    world.shared.now_us.0.set(1);
    world.clients[0].future = Some(Box::pin(async move {
        for (pause_us, command) in steps {
            store.pause(std::time::Duration::from_micros(pause_us)).await;
            let result = store.call(command).await;
            sink.borrow_mut().push((clock.0.get(), result));
        }
    }));
    world.start();
    world.run_events();
    let trace = world.finish().trace;
    let results = results.borrow().clone();
    (results, trace)
}

fn times(trace: &[TraceRecord], kind: TraceKind) -> Vec<u64> {
    trace.iter().filter(|r| r.kind == kind).map(|r| r.at_us).collect()
}

/// The one timer of a client, queued for its first request's deadline,
/// re-arms for the second request's when it fires early: the second times
/// out exactly one timeout after it was sent.
#[test]
fn the_timer_re_arms_for_the_request_in_flight() {
    // Request 1 at 1 us is answered at 41; request 2 goes at 51 and its link
    // is cut (drop mode) from 46 on.
    let partition = Fault::Partition {
        server: 0,
        clients: vec![],
        duration_us: 10 * TIMEOUT_US,
        mode: PartitionMode::Drop,
    };
    let (results, trace) = drive(config(vec![at(45, partition)]), vec![(0, set("a")), (10, set("b"))]);
    assert!(matches!(results[0], (41, Ok(Reply::Stored { .. }))), "{results:?}");
    assert_eq!(results[1].0, 51 + TIMEOUT_US, "{results:?}");
    assert!(matches!(results[1].1, Err(StoreError::OutcomeUnknown { .. })));
    assert_eq!(times(&trace, TraceKind::Timeout), [51 + TIMEOUT_US]);
}

/// A request on a connection from before a restart dies with it: it is
/// never applied, and its client learns only at its timeout. A request sent
/// after the restart is applied.
#[test]
fn a_restart_resets_messages_of_the_earlier_epoch() {
    let restart = Fault::Restart { server: 0 };
    let (results, trace) = drive(config(vec![at(10, restart)]), vec![(0, set("a")), (0, set("b"))]);
    assert!(
        matches!(results[0].1, Err(StoreError::OutcomeUnknown { .. })),
        "{results:?}"
    );
    assert!(matches!(results[1].1, Ok(Reply::Stored { .. })), "{results:?}");
    let drops: Vec<&TraceRecord> = trace.iter().filter(|r| r.kind == TraceKind::Drop).collect();
    assert_eq!(drops.len(), 1);
    assert!(drops[0].detail.contains("the server restarted"), "{}", drops[0].detail);
    assert_eq!(drops[0].at_us, 21, "the request dies where it arrives");
    assert_eq!(times(&trace, TraceKind::Apply).len(), 1);
}

/// A partition in hold mode keeps the request until it heals, then lets it
/// go on with a fresh latency; the client, still waiting, gets its reply.
#[test]
fn a_healed_partition_releases_what_it_held() {
    let partition = Fault::Partition {
        server: 0,
        clients: vec![0],
        duration_us: 300,
        mode: PartitionMode::Hold,
    };
    let (results, trace) = drive(config(vec![at(0, partition)]), vec![(5, set("a"))]);
    // Cut at 1 us, the request sent at 6 is held; healed at 301, the
    // request arrives at 321, the reply at 341.
    assert_eq!(times(&trace, TraceKind::Hold), [6]);
    assert_eq!(times(&trace, TraceKind::Apply), [321]);
    assert!(matches!(results[0], (341, Ok(Reply::Stored { .. }))), "{results:?}");
}

/// Runs the real workload with faults armed on counts and returns the
/// trace.
fn workload_trace(faults: Vec<FaultSpec>) -> Vec<TraceRecord> {
    let mut config = config(faults);
    config.clients.ops_per_client = 4;
    let mut plan = RunPlan::for_config(config, None, 3, Variant::default());
    plan.keep_trace = true;
    super::run(&plan).trace
}

fn position(trace: &[TraceRecord], kind: TraceKind, nth: usize) -> usize {
    trace
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == kind)
        .nth(nth)
        .unwrap_or_else(|| panic!("no {kind:?} number {nth}"))
        .0
}

/// `after_ops = 0` fires before the first operation; `after_ops = N` right
/// after the N-th return, before the client's next request.
#[test]
fn op_count_triggers_fire_at_zero_and_at_exactly_n() {
    let flush = |ops| FaultSpec {
        trigger: Trigger::AfterOps { ops },
        fault: Fault::FlushAll { server: 0 },
    };
    let trace = workload_trace(vec![flush(0), flush(2)]);
    let first_fault = position(&trace, TraceKind::Fault, 0);
    assert!(
        first_fault < position(&trace, TraceKind::Invoke, 0),
        "ops = 0: before any op"
    );
    let second_fault = position(&trace, TraceKind::Fault, 1);
    let second_return = position(&trace, TraceKind::Return, 1);
    assert!(second_return < second_fault, "ops = 2: after the second return");
    let next_send = (second_return..trace.len())
        .find(|&i| trace[i].kind == TraceKind::Send)
        .expect("the client goes on");
    assert!(second_fault < next_send, "and before the next request");
}

/// `after_client_requests = N` fires right before the client's data
/// request N + 1 (lifetime checks, `stats`, are not counted).
#[test]
fn request_triggers_fire_before_exactly_the_next_data_request() {
    let trace = workload_trace(vec![FaultSpec {
        trigger: Trigger::AfterClientRequests { client: 0, requests: 2 },
        fault: Fault::FlushAll { server: 0 },
    }]);
    let data_sends: Vec<usize> = trace
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == TraceKind::Send && !r.detail.contains(" stats "))
        .map(|(i, _)| i)
        .collect();
    let fault = position(&trace, TraceKind::Fault, 0);
    assert!(data_sends[1] < fault && fault < data_sends[2], "{trace:#?}");
}

/// A run that exhausts its event budget is stuck, says which budget, and
/// is not drained (`crate::judge` makes it a liveness failure).
#[test]
fn a_stuck_run_is_a_liveness_failure() {
    let mut config = config(Vec::new());
    config.clients.ops_per_client = 50;
    let plan = RunPlan::for_config(config, None, 1, Variant::default());
    let mut world = World::new(&plan);
    world.events_max = 100;
    world.setup().expect("a plain setup");
    world.spawn_workload();
    world.start();
    world.run_events();
    let outcome = world.finish();
    assert!(
        matches!(outcome.end, crate::outcome::RunEnd::Stuck { .. }),
        "{:?}",
        outcome.end
    );
    assert!(
        outcome.history.ops.iter().all(|op| op.client != 2),
        "no drain after a stuck run"
    );
    let crate::outcome::RunEnd::Stuck { reason } = outcome.end else {
        unreachable!()
    };
    assert!(reason.contains("100 events"), "{reason}");
}

/// Overlapping pauses end with the last of them: a client paused 0..300
/// and 100..600 us sends nothing before 600.
#[test]
fn overlapping_pauses_end_with_the_last() {
    let pause = |duration_us| Fault::Pause { client: 0, duration_us };
    let (results, trace) = drive(
        config(vec![at(0, pause(300)), at(100, pause(500))]),
        vec![(5, set("a"))],
    );
    // Woken at 6, the client is paused (from 1 to 301, and 101 to 601).
    assert_eq!(times(&trace, TraceKind::Send), [601]);
    assert!(matches!(results[0], (641, Ok(Reply::Stored { .. }))), "{results:?}");
}

/// A pause pinned before a request holds that very request, as the real
/// backend's gate does: the client's second data request goes out when
/// the pause ends, not before it.
#[test]
fn a_pause_pinned_before_a_request_holds_that_request() {
    let (results, trace) = drive(
        config(vec![FaultSpec {
            trigger: Trigger::AfterClientRequests { client: 0, requests: 1 },
            fault: Fault::Pause {
                client: 0,
                duration_us: 500,
            },
        }]),
        vec![(0, set("a")), (0, set("b"))],
    );
    let fault = times(&trace, TraceKind::Fault)[0];
    assert_eq!(times(&trace, TraceKind::Send), [1, fault + 500]);
    assert_eq!(results.len(), 2);
}

/// Runs `config` with `variant` and seed 0, keeping the trace.
fn run_kept(config: RunConfig, variant: Variant) -> crate::outcome::Outcome {
    let mut plan = RunPlan::for_config(config, None, 0, variant);
    plan.keep_trace = true;
    super::run(&plan)
}

/// Colliding id streams make pushes meet each other's keys: the hardened
/// deque's `add` finds them taken (and draws again), and every value
/// comes out of the drain.
#[test]
fn colliding_node_ids_collide_and_hardened_keeps_every_value() {
    let mut config = RunConfig::default();
    config.clients.count = 3;
    config.clients.ops_per_client = 10;
    config.clients.colliding_node_ids = true;
    let outcome = run_kept(config, Variant::Hardened);
    let refused_adds = outcome
        .trace
        .iter()
        .filter(|r| {
            r.kind == TraceKind::Apply && r.detail.contains(" add simdeque:") && r.detail.ends_with("NOT_STORED")
        })
        .count();
    assert!(refused_adds > 0, "no node id collided");
    let judged = crate::judge::judge(&outcome, &crate::judge::Expectation::passing(), Default::default());
    assert_eq!(
        judged.verdict,
        crate::verdict::Verdict::Linearizable,
        "{}",
        judged.reason
    );
}

/// `-C` in the simulator: the hardened deque refuses at setup, naming the
/// server; nothing runs.
#[test]
fn a_server_without_cas_is_refused_at_setup() {
    let mut config = RunConfig::default();
    config.servers.cas = false;
    let outcome = run_kept(config, Variant::Hardened);
    let crate::outcome::RunEnd::Refused { reason } = &outcome.end else {
        panic!("{:?}", outcome.end);
    };
    assert!(reason.contains("simulated server 0 has CAS disabled"), "{reason}");
    assert!(outcome.history.ops.is_empty());
}

/// A restart that keeps the process identity still begins a new life: the
/// lifetime answers before and after it differ.
#[test]
fn a_restart_keeping_the_identity_still_changes_the_life() {
    let mut config = config(vec![at(100, Fault::Restart { server: 0 })]);
    config.servers.restart_keeps_identity = true;
    let life = |mark| Command::Lifetime {
        key: Key::new("q").unwrap(),
        mark,
    };
    let (answers, _) = drive(config, vec![(0, life(1)), (200, life(2))]);
    let lives: Vec<_> = answers
        .iter()
        .map(|(_, reply)| match reply {
            Ok(Reply::Lifetime(life)) => *life,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lives[0].identity, lives[1].identity, "the identity is kept");
    assert_ne!(lives[0].stamp(), lives[1].stamp(), "the mark is not");
}

/// Runs one client that sends `commands` as one batch, its parts ordered by
/// the `Stream::Batches` sub-stream `batch_stream`: the results and the
/// trace.
fn drive_batch(
    config: RunConfig,
    commands: Vec<Command>,
    batch_stream: u32,
) -> (Vec<Result<Reply, StoreError>>, Vec<TraceRecord>) {
    let mut plan = RunPlan::for_config(config, None, 0, Variant::default());
    plan.keep_trace = true;
    let mut world = World::new(&plan);
    let results: Rc<RefCell<Vec<Result<Reply, StoreError>>>> = Rc::default();
    let batches = crate::rng::stream(0, crate::rng::Stream::Batches, batch_stream);
    let store = SimStore::new(0, world.shared.clone(), Rc::new(world.ring.clone()), batches);
    let sink = results.clone();
    world.now_us = 1;
    world.shared.now_us.0.set(1);
    world.clients[0].future = Some(Box::pin(async move {
        *sink.borrow_mut() = store.call_batch(commands).await;
    }));
    world.start();
    world.run_events();
    let trace = world.finish().trace;
    let results = results.borrow().clone();
    (results, trace)
}

/// Two keys the two-server ring puts on different servers: (on 0, on 1).
fn keys_on_two_servers(config: &RunConfig) -> (String, String) {
    let plan = RunPlan::for_config(config.clone(), None, 0, Variant::default());
    let world = World::new(&plan);
    let on = |server: usize| {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| world.ring.server_for(k.as_bytes()) == server)
            .unwrap()
    };
    (on(0), on(1))
}

/// A batch over two servers travels as one pipeline per server, as the
/// real client sends it: the parts reach their servers in either order, and
/// a part whose link is cut fails alone while the other is applied.
#[test]
fn a_batch_over_two_servers_goes_as_independent_parts() {
    let mut two = config(Vec::new());
    two.servers.count = 2;
    let (k0, k1) = keys_on_two_servers(&two);
    let applied_first: Vec<String> = (0..16)
        .map(|stream| {
            let (results, trace) = drive_batch(two.clone(), vec![set(&k0), set(&k1)], stream);
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            let first = trace.iter().find(|r| r.kind == TraceKind::Apply).unwrap();
            format!("server {}", first.server.unwrap())
        })
        .collect();
    assert!(applied_first.contains(&"server 0".to_owned()) && applied_first.contains(&"server 1".to_owned()));
    // Server 0's link is cut for the whole run: its part fails, server 1's
    // part is applied whichever went first.
    let mut cut = two.clone();
    cut.faults = vec![at(
        0,
        Fault::Partition {
            server: 0,
            clients: vec![],
            duration_us: 100 * TIMEOUT_US,
            mode: PartitionMode::Drop,
        },
    )];
    for stream in 0..4 {
        let (results, _) = drive_batch(cut.clone(), vec![set(&k0), set(&k1)], stream);
        assert!(results[0].is_err(), "{results:?}");
        assert!(matches!(results[1], Ok(Reply::Stored { .. })), "{results:?}");
    }
}
