//! Client processes under the harness (`docs/client-protocol.md`): the
//! Rust reference client (`mcsim client`) runs scenarios on real memcached
//! with real faults and earns their verdicts, a broken variant behind the
//! protocol is caught, a process fault (pause, crash) strikes the process,
//! and a client that breaks the protocol ends its run as `client-failed`
//! naming the client, the operation and the line, with its operation
//! recorded `unknown`.

use std::path::Path;
use std::process::Command;

use memcache_collections::Variant;
use memcache_sim::config::{Fault, FaultSpec, OpMix, RunConfig, Trigger};
use memcache_sim::history::OpResult;
use memcache_sim::pipeline::{self, Ran};
use memcache_sim::plan::{Backend, Overrides, RunPlan};
use memcache_sim::scenario;
use memcache_sim::verdict::Verdict;

const MCSIM: &str = env!("CARGO_BIN_EXE_mcsim");

fn reference_client() -> String {
    format!("{MCSIM} client")
}

/// Seed `seed` of scenario `name` on real memcached, its clients `command`.
fn scenario_run(name: &str, seed: u64, variant: Option<Variant>, command: &str) -> Ran {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"));
    let loaded = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let overrides = Overrides {
        variant: variant.map(Into::into),
        backend: Backend::Real,
    };
    let plan = RunPlan {
        client_command: Some(command.to_owned()),
        ..RunPlan::for_scenario(&loaded, seed, overrides)
    };
    pipeline::run(plan, pipeline::quiet())
}

/// A small clean configuration on real memcached, its clients `command`.
fn config_run(config: RunConfig, command: &str) -> Ran {
    let plan = RunPlan {
        backend: Backend::Real,
        client_command: Some(command.to_owned()),
        ..RunPlan::for_config(config, None, 1, Variant::default())
    };
    pipeline::run(plan, pipeline::quiet())
}

fn small() -> RunConfig {
    let mut config = RunConfig::default();
    config.clients.count = 2;
    config.clients.ops_per_client = 15;
    config
}

#[test]
fn the_reference_client_process_earns_each_fault_scenarios_verdict() {
    for name in ["clean", "lost-replies", "resets", "restart", "partition-hold", "pause"] {
        let ran = scenario_run(name, 0, None, &reference_client());
        assert!(ran.record.expected, "{}", ran.record.failure_line());
        let counters = &ran.record.counters;
        assert!(counters.real.as_ref().unwrap().client_processes);
        let fired = match name {
            "clean" => true,
            "lost-replies" => counters.messages_dropped > 0,
            "resets" => counters.resets > 0,
            "partition-hold" => counters.messages_held > 0,
            _ => counters.faults > 0,
        };
        assert!(fired, "{name}: the fault never happened: {counters:?}");
    }
}

#[test]
fn a_broken_variant_behind_the_protocol_is_caught() {
    // The client retries a CAS whose reply it never got: under resets, a
    // push lands twice or a pop loses a value.
    let caught = (0..3)
        .filter(|&seed| {
            let ran = scenario_run(
                "resets",
                seed,
                Variant::from_name("retry-unknown-cas"),
                &reference_client(),
            );
            !ran.record.verdict.is_pass()
        })
        .count();
    assert!(
        caught >= 2,
        "only {caught} of 3 runs caught retry-unknown-cas through the protocol"
    );
}

#[test]
fn a_crash_kills_the_process_and_leaves_its_operation_unreturned() {
    let mut config = small();
    config.clients.think_time_us_max = 2_000;
    config.faults.push(FaultSpec {
        trigger: Trigger::AfterOps { ops: 6 },
        fault: Fault::Crash { client: 0 },
    });
    config.faults.push(FaultSpec {
        trigger: Trigger::AfterOps { ops: 3 },
        fault: Fault::Pause {
            client: 1,
            duration_us: 50_000,
        },
    });
    let ran = config_run(config, &reference_client());
    assert!(ran.record.expected, "{}", ran.record.failure_line());
    assert_eq!(ran.record.counters.crashed_clients, 1);
    let client0: Vec<_> = ran.outcome.history.ops.iter().filter(|op| op.client == 0).collect();
    assert!(client0.len() < 15, "the crashed client stopped: {} ops", client0.len());
    let client1 = ran.outcome.history.ops.iter().filter(|op| op.client == 1).count();
    assert_eq!(client1, 15, "the paused client went on");
}

/// A client written as a shell script that answers `init_ok`, then
/// `answer` to its first operation.
fn scripted(answer: &str) -> String {
    format!(r#"read -r init; echo '{{"type":"init_ok"}}'; read -r op; {answer}"#)
}

#[test]
fn a_client_that_answers_garbage_fails_the_run_naming_client_op_and_line() {
    let ran = config_run(small(), &scripted("echo 'PUSHED!'; read -r next"));
    assert_eq!(
        ran.record.verdict,
        Verdict::ClientFailed,
        "{}",
        ran.record.failure_line()
    );
    let reason = &ran.record.reason;
    // Either client may fail first; the first is named in full.
    assert!(
        reason.starts_with("client ") && reason.contains(" (`read -r init"),
        "{reason}"
    );
    assert!(reason.ends_with("(1 more client process(es) failed too)"), "{reason}");
    assert!(reason.contains("op 0 (") && reason.contains("`PUSHED!`"), "{reason}");
    assert!(!ran.record.verdict.is_pass() && ran.record.verdict.is_harness_failure());
    // The operation is in the history as unknown, never as a result.
    let first = ran.outcome.history.ops.iter().find(|op| op.client == 0).unwrap();
    assert_eq!(first.result, OpResult::Unknown);
    // A result for another operation is garbage too.
    let ran = config_run(
        small(),
        &scripted(r#"echo '{"type":"result","id":7,"result":{"type":"empty"}}'; read -r next"#),
    );
    assert!(
        ran.record.reason.contains("with the result of op 7"),
        "{}",
        ran.record.reason
    );
}

/// A result must fit its operation: a pop that answers `ok` would lose its
/// value unseen, so it is a broken protocol, as is a value that is not
/// Latin-1 text or a line that is not UTF-8.
#[test]
fn a_result_that_does_not_fit_its_operation_fails_the_run() {
    let mut pops = small();
    pops.clients.mix = OpMix {
        push_back: 0,
        push_front: 0,
        pop_back: 0,
        pop_front: 1,
    };
    let answers = [
        (
            r#"{"type":"result","id":0,"result":{"type":"ok"}}"#,
            "a `ok` result, which this operation cannot give",
        ),
        (
            r#"{"type":"result","id":0,"result":{"type":"value","value":"\u20ac"}}"#,
            "which is not one byte",
        ),
    ];
    for (answer, why) in answers {
        let ran = config_run(pops.clone(), &scripted(&format!("echo '{answer}'; read -r next")));
        assert_eq!(ran.record.verdict, Verdict::ClientFailed, "{answer}");
        assert!(ran.record.reason.contains(why), "{}", ran.record.reason);
    }
    let ran = config_run(pops, &scripted(r"printf '\377\376\n'; read -r next"));
    assert_eq!(ran.record.verdict, Verdict::ClientFailed);
    assert!(
        ran.record.reason.contains("a line that is not UTF-8: `\\xff\\xfe"),
        "{}",
        ran.record.reason
    );
}

#[test]
fn a_client_that_exits_or_falls_silent_fails_the_run_with_its_last_words() {
    let ran = config_run(small(), &scripted("echo 'cannot reach memcached' >&2; exit 3"));
    assert_eq!(ran.record.verdict, Verdict::ClientFailed);
    let reason = &ran.record.reason;
    assert!(
        reason.contains("exited (exit status: 3) before answering op 0"),
        "{reason}"
    );
    assert!(reason.contains("cannot reach memcached"), "{reason}");
    let ran = config_run(small(), &scripted("sleep 60"));
    assert_eq!(ran.record.verdict, Verdict::ClientFailed);
    assert!(
        ran.record.reason.contains("did not answer op 0 ("),
        "{}",
        ran.record.reason
    );
    assert!(ran.record.reason.contains("within 10 s"), "{}", ran.record.reason);
}

#[test]
fn a_client_that_cannot_start_says_why_and_the_run_could_not_start() {
    let ran = config_run(
        small(),
        r#"read -r init; echo '{"type":"init_failed","reason":"no such variant"}'"#,
    );
    assert_eq!(ran.record.verdict, Verdict::CouldNotStart);
    assert!(
        ran.record.reason.contains("refused to start: no such variant"),
        "{}",
        ran.record.reason
    );
    // It reads init first: a client that answers before reading may exit
    // before init is written, which is a different failure (and a race).
    let ran = config_run(small(), "read -r init; echo hello");
    assert_eq!(ran.record.verdict, Verdict::CouldNotStart);
    assert!(
        ran.record.reason.contains("answered init with `hello`"),
        "{}",
        ran.record.reason
    );
}

/// The command line: a failure's last words are the command that reruns
/// it, client process included, and the MCAS scenarios a client process
/// cannot run are named as skipped, not passed.
#[test]
fn the_command_line_reruns_a_client_failure_as_printed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let garbage = scripted("echo nonsense");
    let output = Command::new(MCSIM)
        .current_dir(dir.parent().unwrap())
        .args([
            "run",
            "scenarios/clean.toml",
            "--seed",
            "0",
            "--backend",
            "real",
            "--client-cmd",
            &garbage,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .chain(stderr.lines())
        .find(|l| l.starts_with("FAIL clean seed 0: client-failed"))
        .expect("a failure line");
    let rerun = line.rsplit_once("rerun: ").map(|(_, r)| r).expect("a rerun command");
    assert!(
        rerun.starts_with("mcsim run scenarios/clean.toml --seed 0 --backend real --client-cmd '"),
        "{rerun}"
    );
    let output = Command::new(MCSIM)
        .current_dir(dir.parent().unwrap())
        .args([
            "run",
            "scenarios/mcas/mcas-clean.toml",
            "scenarios/clean.toml",
            "--seed",
            "0",
        ])
        .args(["--backend", "real", "--client-cmd", &reference_client()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipped scenarios/mcas/mcas-clean.toml (1 runs)"),
        "{stderr}"
    );
    let on_sim = Command::new(MCSIM)
        .args(["run", "scenarios/clean.toml", "--client-cmd", "true"])
        .current_dir(dir.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(on_sim.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&on_sim.stderr).contains("add --backend real"));
}

/// `bench real --client-cmd`: a client process is measured beside the
/// library's threads, its requests counted by the servers. The Rust client
/// behind the protocol sends what the Rust threads send, so the two counts
/// agree (each counted its own way), while its round trips and retries,
/// not seen from outside, read `-` (`null` in the JSON).
#[test]
fn bench_real_measures_a_client_process_beside_the_library() {
    let output = Command::new(MCSIM)
        .args([
            "bench",
            "real",
            "--clients",
            "1",
            "--duration-s",
            "0.5",
            "--rounds",
            "1",
            "--json",
        ])
        .args(["--client-cmd", &format!("rust={}", reference_client())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let points = report["points"].as_array().unwrap();
    let by_name = |name: &str| {
        points
            .iter()
            .find(|p| p["variant"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let (threads, process) = (by_name("hardened"), by_name("hardened/rust"));
    assert!(process["ops"].as_u64().unwrap() > 10, "{process}");
    let requests = |p: &serde_json::Value| p["requests_per_op"].as_f64().unwrap();
    assert!(
        (requests(threads) - requests(process)).abs() < 0.3,
        "{threads} vs {process}"
    );
    assert!(process["round_trips_per_op"].is_null() && process["retries_per_op"].is_null());
    let rerun = "rerun: mcsim bench real --clients 1 --duration-s 0.5 --rounds 1 --json";
    assert!(process["retries_op_max"].is_null(), "{process}; {rerun}");
    // One client races nobody: no operation lost a race.
    assert_eq!(threads["retries_op_max"].as_u64(), Some(0), "{threads}; {rerun}");
    let refused = Command::new(MCSIM)
        .args(["bench", "real", "--client-cmd", "no-equals-sign"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("expected NAME=COMMAND"));
}

/// `bench real --own-deques`: every client, thread or process, works on a
/// deque of its own, so nobody loses a race; on a shared deque the retries
/// by cause add up to the retries per op.
#[test]
fn bench_real_gives_each_client_its_own_deque_on_request() {
    let bench = |extra: &[&str]| {
        let output = Command::new(MCSIM)
            .args([
                "bench",
                "real",
                "--clients",
                "2",
                "--duration-s",
                "0.5",
                "--rounds",
                "1",
                "--json",
            ])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let causes_sum = |p: &serde_json::Value| {
        let causes = p["retry_causes_per_op"].as_object().expect("counted for threads");
        causes.values().map(|v| v.as_f64().unwrap()).sum::<f64>()
    };
    let process = format!("rust={}", reference_client());
    let own = bench(&["--own-deques", "--client-cmd", &process]);
    let rerun = format!(
        "rerun: mcsim bench real --clients 2 --duration-s 0.5 --rounds 1 --json --own-deques --client-cmd {process}"
    );
    assert_eq!(own["own_deques"], true, "{rerun}");
    let points = own["points"].as_array().unwrap();
    let threads = points.iter().find(|p| p["variant"] == "hardened").unwrap();
    let processes = points.iter().find(|p| p["variant"] == "hardened/rust").unwrap();
    assert!(
        threads["ops"].as_u64().unwrap() > 10 && processes["ops"].as_u64().unwrap() > 10,
        "{rerun}"
    );
    assert_eq!(threads["retries_per_op"].as_f64(), Some(0.0), "{threads}; {rerun}");
    assert_eq!(causes_sum(threads), 0.0, "{threads}; {rerun}");
    assert!(processes["retry_causes_per_op"].is_null(), "{processes}; {rerun}");

    let shared = bench(&[]);
    assert_eq!(shared["own_deques"], false);
    assert_eq!(shared["deferred_link"], true, "the library's default is measured");
    let threads = &shared["points"][0];
    let retries = threads["retries_per_op"].as_f64().unwrap();
    assert!(
        (causes_sum(threads) - retries).abs() < 1e-9,
        "{threads}; rerun: mcsim bench real --clients 2 --duration-s 0.5 --rounds 1 --json"
    );
}

/// A benchmark whose client process fails says so, and its last line
/// reruns it, `--client-cmd` quoted as one shell word, as printed.
#[test]
fn a_failed_benchmark_ends_with_the_command_that_reruns_it() {
    let args = [
        "bench",
        "real",
        "--clients",
        "1",
        "--duration-s",
        "0.2",
        "--rounds",
        "1",
        "--client-cmd",
        "quiet=echo not-json",
    ];
    let output = Command::new(MCSIM).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last, "rerun: mcsim bench real --clients 1 --duration-s 0.2 --rounds 1 --client-cmd 'quiet=echo not-json'",
        "{stderr}"
    );
    // As printed: the shell gives the same words back.
    let words = Command::new("sh")
        .args([
            "-c",
            &format!("printf '%s\\n' {}", last.trim_start_matches("rerun: mcsim ")),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&words.stdout).lines().collect::<Vec<_>>(), args);
}
