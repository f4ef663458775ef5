//! The MCAS checker against brute force on every small history, the bank
//! invariant, and refusals of malformed histories.

use memcache_sim::check::spec::SequentialSpec;
use memcache_sim::mcas::bank::money_conserved;
use memcache_sim::mcas::brute::brute_force_mcas;
use memcache_sim::mcas::history::McasLoss;
use memcache_sim::mcas::spec::{RegisterOp, RegisterSpec};
use memcache_sim::mcas::{McasHistory, McasHistoryOp, McasOpKind, McasResult, Update, check_mcas};
use memcache_sim::verdict::Verdict;
use proptest::prelude::*;

const KEYS: [&str; 2] = ["k0", "k1"];

/// One generated operation: interval, where in it it takes effect, what it
/// is, and how its result is recorded.
type Spec = (u64, u64, u64, u8, usize, usize, u8, u8);

/// Small histories made by running a register sequentially at random
/// points inside random intervals (so most are linearizable), some with one
/// result changed (so many are not), some results unknown, some with a
/// register lost at a random instant (reads after it find nothing).
fn arbitrary_history() -> impl Strategy<Value = McasHistory> {
    let op = (
        0..30u64,
        0..15u64,
        0..100u64,
        0..3u8,
        0..2usize,
        0..2usize,
        0..10u8,
        0..8u8,
    );
    (
        proptest::collection::vec(op, 1..8),
        proptest::option::of((0..8usize, 0..4u8)),
        proptest::option::of((0..4500u64, 0..2usize)),
    )
        .prop_map(|(specs, mutation, loss)| build(&specs, mutation, loss))
}

fn build(specs: &[Spec], mutation: Option<(usize, u8)>, loss: Option<(u64, usize)>) -> McasHistory {
    let mut values: Vec<Vec<String>> = KEYS.iter().map(|k| vec![format!("{k}.0")]).collect();
    let mut current: Vec<Option<String>> = values.iter().map(|v| Some(v[0].clone())).collect();
    let mut pending_loss = loss;
    let mut by_point: Vec<usize> = (0..specs.len()).collect();
    let point = |s: &Spec| s.0 * 100 + s.1 * s.2;
    by_point.sort_by_key(|&i| (point(&specs[i]), i));
    let mut ops: Vec<Option<McasHistoryOp>> = vec![None; specs.len()];
    for (n, &i) in by_point.iter().enumerate() {
        let (start, len, _, kind, a, b, pick, unknown) = specs[i];
        if let Some((_, k)) = pending_loss.filter(|&(at, _)| at <= point(&specs[i])) {
            current[k] = None;
            pending_loss = None;
        }
        let (kind, result) = if kind == 0 {
            let result = match &current[a] {
                Some(value) => McasResult::Value { value: value.clone() },
                None => McasResult::Missing,
            };
            (McasOpKind::Read { key: KEYS[a].into() }, result)
        } else {
            let keys: Vec<usize> = if a == b || kind == 1 { vec![a] } else { vec![a, b] };
            let updates: Vec<Update> = keys
                .iter()
                .map(|&k| {
                    let expected = if let (true, Some(value)) = (pick < 7, &current[k]) {
                        value.clone()
                    } else {
                        values[k][pick as usize % values[k].len()].clone()
                    };
                    Update {
                        key: KEYS[k].into(),
                        expected,
                        new: format!("{}.{}", KEYS[k], n + 1),
                    }
                })
                .collect();
            let applies = updates
                .iter()
                .zip(&keys)
                .all(|(u, &k)| current[k].as_ref() == Some(&u.expected));
            if applies {
                for (u, &k) in updates.iter().zip(&keys) {
                    current[k] = Some(u.new.clone());
                    values[k].push(u.new.clone());
                }
            }
            let result = if applies {
                McasResult::Ok
            } else {
                McasResult::NotApplied
            };
            (McasOpKind::Mcas { updates }, result)
        };
        let (return_us, result) = match unknown {
            0 => (None, McasResult::Unknown),
            1 => (Some(start * 100 + len * 100), McasResult::Unknown),
            _ => (Some(start * 100 + len * 100), result),
        };
        ops[i] = Some(McasHistoryOp {
            client: i as u32,
            kind,
            invoke_us: start * 100,
            return_us,
            result,
        });
    }
    let mut ops: Vec<McasHistoryOp> = ops.into_iter().map(Option::unwrap).collect();
    if let Some((which, how)) = mutation {
        let target = &mut ops[which % specs.len()];
        target.result = match (&target.kind, &target.result, how) {
            (_, McasResult::Unknown, _) => McasResult::Unknown,
            (McasOpKind::Read { key }, _, _) => {
                let k = KEYS.iter().position(|n| n == key).unwrap();
                McasResult::Value {
                    value: values[k][how as usize % values[k].len()].clone(),
                }
            }
            (McasOpKind::Mcas { .. }, McasResult::Ok, _) => McasResult::NotApplied,
            (McasOpKind::Mcas { .. }, _, _) => McasResult::Ok,
        };
    }
    McasHistory {
        subject: "mcas".into(),
        initial: KEYS.iter().map(|k| (k.to_string(), format!("{k}.0"))).collect(),
        ops,
        losses: loss
            .map(|(at_us, k)| McasLoss {
                at_us,
                until_us: None,
                keys: vec![KEYS[k].to_owned()],
                protocol_items: false,
            })
            .into_iter()
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("CHECKER_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000),
        ..ProptestConfig::default()
    })]

    /// The search (with its greedy placements and memo) and brute force
    /// from the definition agree on every small history.
    #[test]
    fn the_mcas_search_agrees_with_brute_force(h in arbitrary_history()) {
        let brute = brute_force_mcas(&h).unwrap();
        let report = check_mcas(&h, 1_000_000).unwrap();
        prop_assert!(report.verdict != Verdict::Unknown);
        prop_assert_eq!(report.verdict == Verdict::Linearizable, brute, "{:#?}", h);
    }
}

/// The cross-validation above sees both verdicts, often.
#[test]
fn the_cross_validation_reaches_both_verdicts() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = arbitrary_history();
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..2_000 {
        let h = strategy.new_tree(&mut runner).unwrap().current();
        if brute_force_mcas(&h).unwrap() {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(valid >= 200 && invalid >= 200, "linearizable {valid}, not {invalid}");
}

fn read(client: u32, key: &str, at: u64, value: &str) -> McasHistoryOp {
    McasHistoryOp {
        client,
        kind: McasOpKind::Read { key: key.into() },
        invoke_us: at,
        return_us: Some(at + 1),
        result: McasResult::Value { value: value.into() },
    }
}

fn mcas(client: u32, at: u64, updates: &[(&str, &str, &str)], result: McasResult) -> McasHistoryOp {
    McasHistoryOp {
        client,
        kind: McasOpKind::Mcas {
            updates: updates
                .iter()
                .map(|(key, expected, new)| Update {
                    key: key.to_string(),
                    expected: expected.to_string(),
                    new: new.to_string(),
                })
                .collect(),
        },
        invoke_us: at,
        return_us: Some(at + 1),
        result,
    }
}

fn bank(ops: Vec<McasHistoryOp>) -> McasHistory {
    McasHistory {
        subject: "mcas".into(),
        initial: [("a".to_string(), "50".to_string()), ("b".to_string(), "50".to_string())].into(),
        ops,
        losses: Vec::new(),
    }
}

/// A transfer applied to one account only: the snapshot after it shows
/// money destroyed, and the search finds no order either.
#[test]
fn a_half_applied_transfer_destroys_money_and_is_not_linearizable() {
    let accounts = ["a".to_string(), "b".to_string()];
    let good = bank(vec![
        mcas(0, 10, &[("a", "50", "40#t1"), ("b", "50", "60#t1")], McasResult::Ok),
        mcas(
            1,
            20,
            &[("a", "40#t1", "40#t1"), ("b", "60#t1", "60#t1")],
            McasResult::Ok,
        ),
    ]);
    assert_eq!(money_conserved(&good, &accounts, 100), Ok(1));
    assert_eq!(check_mcas(&good, 1000).unwrap().verdict, Verdict::Linearizable);
    let half = bank(vec![
        mcas(0, 10, &[("a", "50", "40#t1"), ("b", "50", "60#t1")], McasResult::Ok),
        mcas(1, 20, &[("a", "40#t1", "40#t1"), ("b", "50", "50")], McasResult::Ok),
    ]);
    let error = money_conserved(&half, &accounts, 100).unwrap_err();
    assert!(error.contains("money destroyed"), "{error}");
    assert_eq!(check_mcas(&half, 1000).unwrap().verdict, Verdict::NotLinearizable);
    assert_eq!(
        money_conserved(&bank(Vec::new()), &accounts, 100),
        Ok(0),
        "no snapshot: nothing checked"
    );
}

/// An MCAS reported as failed whose writes show up anyway.
#[test]
fn a_failure_that_took_effect_is_not_linearizable() {
    let history = bank(vec![
        mcas(
            0,
            10,
            &[("a", "50", "40#t1"), ("b", "50", "60#t1")],
            McasResult::NotApplied,
        ),
        read(1, "a", 20, "40#t1"),
    ]);
    assert_eq!(check_mcas(&history, 1000).unwrap().verdict, Verdict::NotLinearizable);
    let mut unknown = history.clone();
    unknown.ops[0].result = McasResult::Unknown;
    assert_eq!(check_mcas(&unknown, 1000).unwrap().verdict, Verdict::Linearizable);
}

/// An MCAS whose outcome is unknown may take effect after it returned: a
/// lost claim left it undecided, and a reader that met its other claim
/// finished it later (the review's interleaving). A reported success may
/// not: it took effect before its return.
#[test]
fn an_unknown_mcas_may_take_effect_after_its_return() {
    let history = bank(vec![
        mcas(
            0,
            10,
            &[("a", "50", "40#t1"), ("b", "50", "60#t1")],
            McasResult::Unknown,
        ),
        read(1, "b", 20, "50"),
        read(1, "a", 30, "40#t1"),
        read(1, "b", 40, "60#t1"),
    ]);
    assert_eq!(brute_force_mcas(&history), Some(true));
    assert_eq!(check_mcas(&history, 1000).unwrap().verdict, Verdict::Linearizable);
    let mut succeeded = history.clone();
    succeeded.ops[0].result = McasResult::Ok;
    assert_eq!(brute_force_mcas(&succeeded), Some(false));
    assert_eq!(check_mcas(&succeeded, 1000).unwrap().verdict, Verdict::NotLinearizable);
}

/// Equal times are concurrent, as for the deque: an operation that
/// returns when it is invoked fits, and so do two at the same instant.
#[test]
fn equal_times_are_concurrent() {
    let mut history = bank(vec![
        read(0, "a", 5, "40#t1"),
        mcas(1, 5, &[("a", "50", "40#t1")], McasResult::Ok),
    ]);
    history.ops[0].return_us = Some(5);
    history.ops[1].return_us = Some(5);
    assert_eq!(brute_force_mcas(&history), Some(true));
    assert_eq!(check_mcas(&history, 1000).unwrap().verdict, Verdict::Linearizable);
}

#[test]
fn corruption_and_giving_up_are_judged_before_the_search() {
    let mut history = bank(vec![read(0, "a", 10, "50")]);
    history.ops[0].result = McasResult::Corruption {
        key: "a".into(),
        detail: "missing descriptor".into(),
    };
    assert_eq!(check_mcas(&history, 1000).unwrap().verdict, Verdict::FalseAlarm);
    history.ops[0].result = McasResult::Failed {
        error: "retries_exhausted".into(),
    };
    assert_eq!(check_mcas(&history, 1000).unwrap().verdict, Verdict::Liveness);
    // An MCAS that gave up left its claims: a helper may decide it, so a
    // later read of its new value is no violation (still a liveness
    // failure), and the library calls its outcome unknown.
    let gave_up = McasResult::Failed {
        error: "retries_exhausted".into(),
    };
    let helped = bank(vec![mcas(0, 10, &[("a", "50", "7")], gave_up), read(1, "a", 20, "7")]);
    let report = check_mcas(&helped, 1000).unwrap();
    assert_eq!(report.verdict, Verdict::Liveness, "{}", report.reason);
    let error = memcache_collections::McasError::RetriesExhausted {
        op: memcache_collections::mcas::McasOp::Mcas,
        attempts: 64,
    };
    assert!(error.outcome_unknown());
}

/// A loss explains the corruption reported after it, not before; a lost
/// register holds nothing, so a read of its old value or an MCAS that
/// succeeds on it is a silent answer no order explains.
#[test]
fn losses_explain_later_corruption_and_empty_the_register() {
    let lost = |history: &mut McasHistory, at_us| {
        history.losses.push(McasLoss {
            at_us,
            until_us: None,
            keys: vec!["a".into()],
            protocol_items: false,
        })
    };
    let reported = McasResult::Corruption {
        key: "a".into(),
        detail: "missing register".into(),
    };
    let mut late = bank(vec![
        read(0, "b", 1, "50"),
        mcas(0, 30, &[("a", "50", "1")], reported.clone()),
    ]);
    lost(&mut late, 20);
    let report = check_mcas(&late, 1000).unwrap();
    assert_eq!(report.verdict, Verdict::DetectedCorruption, "{}", report.reason);
    let mut early = bank(vec![mcas(0, 10, &[("a", "50", "1")], reported)]);
    lost(&mut early, 20);
    let report = check_mcas(&early, 1000).unwrap();
    assert_eq!(report.verdict, Verdict::FalseAlarm, "{}", report.reason);
    assert!(
        report.reason.contains("no loss of it, or of protocol items"),
        "{}",
        report.reason
    );
    let mut missing = bank(vec![read(0, "a", 30, "50")]);
    missing.ops[0].result = McasResult::Missing;
    lost(&mut missing, 20);
    assert_eq!(check_mcas(&missing, 1000).unwrap().verdict, Verdict::Linearizable);
    let mut stale = bank(vec![read(0, "a", 30, "50")]);
    lost(&mut stale, 20);
    let report = check_mcas(&stale, 1000).unwrap();
    assert_eq!(report.verdict, Verdict::NotLinearizable, "{}", report.reason);
    let mut applied = bank(vec![mcas(0, 30, &[("a", "50", "1")], McasResult::Ok)]);
    lost(&mut applied, 20);
    assert_eq!(check_mcas(&applied, 1000).unwrap().verdict, Verdict::NotLinearizable);
    // A loss concurrent with nothing still orders: before it, the value.
    let mut before = bank(vec![read(0, "a", 10, "50")]);
    lost(&mut before, 20);
    assert_eq!(check_mcas(&before, 1000).unwrap().verdict, Verdict::Linearizable);
    lost(&mut before, 5);
    before.losses.swap(0, 1);
    assert_eq!(check_mcas(&before, 1000).unwrap().verdict, Verdict::NotLinearizable);
    // A loss over a window may fall before the read: it explains nothing
    // earlier than its start, and orders anywhere inside.
    before.losses[0].until_us = Some(15);
    assert_eq!(check_mcas(&before, 1000).unwrap().verdict, Verdict::Linearizable);
    before.losses[0].until_us = Some(4);
    assert!(
        check_mcas(&before, 1000)
            .unwrap_err()
            .contains("losses[0]: until_us is before at_us")
    );
    // A loss of protocol items only (descriptors) explains corruption at any register and empties nothing.
    let reported = McasResult::Corruption {
        key: "a".into(),
        detail: "missing descriptor".into(),
    };
    let mut descriptors = bank(vec![read(0, "a", 10, "50"), mcas(1, 30, &[("a", "50", "1")], reported)]);
    lost(&mut descriptors, 20);
    descriptors.losses[0].keys = vec!["b".into()];
    let report = check_mcas(&descriptors, 1000).unwrap();
    assert_eq!(
        report.verdict,
        Verdict::FalseAlarm,
        "a loss of b explains nothing at a: {}",
        report.reason
    );
    descriptors.losses[0].protocol_items = true;
    let report = check_mcas(&descriptors, 1000).unwrap();
    assert_eq!(report.verdict, Verdict::DetectedCorruption, "{}", report.reason);
}

#[test]
fn malformed_histories_are_refused_naming_the_operation() {
    let mut history = bank(vec![read(0, "a", 10, "50"), read(0, "b", 10, "50")]);
    let error = check_mcas(&history, 1000).unwrap_err();
    assert!(error.contains("op 1: client 0"), "{error}");
    history.ops[1].client = 1;
    history.ops[1].result = McasResult::Ok;
    assert!(check_mcas(&history, 1000).unwrap_err().starts_with("op 1:"));
    let twice = bank(vec![mcas(0, 10, &[("a", "50", "1"), ("a", "50", "2")], McasResult::Ok)]);
    assert!(check_mcas(&twice, 1000).unwrap_err().contains("appears twice"));
    let json = r#"{"subject": "mcas", "ops": [], "extra": 1}"#;
    assert!(
        serde_json::from_str::<McasHistory>(json).is_err(),
        "unknown fields are refused"
    );
    // Each of these is refused by the parser, saying why.
    let fields = r#""client": 0, "op": "read", "key": "a", "invoke_us": 1"#;
    for (op, why) in [
        (
            format!(r#"{fields}, "return_us": 2, "result": {{"type": "missing"}}, "bogus": 7"#),
            "unknown field `bogus`",
        ),
        (
            format!(r#"{fields}, "updates": [], "return_us": 2, "result": {{"type": "missing"}}"#),
            "a read has a `key` and no `updates`",
        ),
        (
            format!(r#"{fields}, "result": {{"type": "missing"}}"#),
            "missing field `return_us`",
        ),
        (
            format!(r#"{fields}, "return_us": 2, "result": {{"type": "missing", "value": "3"}}"#),
            "exactly its type's fields",
        ),
    ] {
        let json = format!(r#"{{"subject": "mcas", "ops": [{{{op}}}]}}"#);
        let error = serde_json::from_str::<McasHistory>(&json).unwrap_err().to_string();
        assert!(error.contains(why), "{json}: {error}");
    }
    let twice = r#"{"subject": "mcas", "initial": {"a": "1", "a": "2"}, "ops": []}"#;
    let error = serde_json::from_str::<McasHistory>(twice).unwrap_err().to_string();
    assert!(error.contains("initial names a twice"), "{error}");
    // Names memcached refuses, and an MCAS of nothing, are refused by validate.
    for key in [String::new(), "with space".to_owned(), "k".repeat(251)] {
        let history = bank(vec![read(0, &key, 10, "50")]);
        let error = check_mcas(&history, 1000).unwrap_err();
        assert!(error.starts_with("op 0: key"), "{key:?}: {error}");
    }
    let nothing = bank(vec![mcas(0, 10, &[], McasResult::Ok)]);
    assert_eq!(check_mcas(&nothing, 1000).unwrap_err(), "op 0: an mcas of no register");
    let descriptor = bank(vec![read(0, "memcache-collections:mcas:00", 10, "50")]);
    assert!(check_mcas(&descriptor, 1000).unwrap_err().contains("descriptor space"));
    // A misspelt error would hide a liveness failure: refused, with the list.
    let mut typo = bank(vec![read(0, "a", 10, "50")]);
    typo.ops[0].result = McasResult::Failed {
        error: "retries_exhaused".into(),
    };
    let error = check_mcas(&typo, 1000).unwrap_err();
    assert!(
        error.starts_with("op 0: failed with error") && error.contains("retries_exhausted"),
        "{error}"
    );
    // As for the deque, a client may invoke when its previous op returned.
    let back_to_back = bank(vec![read(0, "a", 10, "50"), read(0, "b", 11, "50")]);
    assert_eq!(check_mcas(&back_to_back, 1000).unwrap().verdict, Verdict::Linearizable);
}

/// A violation names the operation the longest valid order could not place.
#[test]
fn a_violation_names_where_to_look() {
    let history = bank(vec![
        mcas(0, 10, &[("a", "50", "40#t1"), ("b", "50", "60#t1")], McasResult::Ok),
        read(1, "b", 20, "50"),
    ]);
    let report = check_mcas(&history, 1000).unwrap();
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert!(
        report
            .reason
            .contains("cannot go on with op 1: client 1 read b returned 50 (20-21 us)"),
        "{}",
        report.reason
    );
}

#[test]
fn the_json_form_round_trips() {
    let history = bank(vec![
        read(0, "a", 10, "50"),
        mcas(1, 20, &[("a", "50", "40#t1"), ("b", "50", "60#t1")], McasResult::Ok),
    ]);
    let json = serde_json::to_string(&history).unwrap();
    assert!(
        json.contains(r#""op":"mcas""#) && json.contains(r#""type":"ok""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<McasHistory>(&json).unwrap(), history);
}

/// The spec is a register: what the search and brute force both rely on.
#[test]
fn the_spec_reads_what_the_last_success_wrote() {
    let mut spec = RegisterSpec { values: vec![Some(0)] };
    spec.invoke(&RegisterOp::Mcas(vec![(0, 0, 5)]));
    assert_eq!(spec.values, [Some(5)]);
}

/// `mcsim check` tells an MCAS history by its subject, exits with the
/// verdict's class, and ends a failure with a replay command that works.
#[test]
fn mcsim_check_judges_an_mcas_history_and_prints_its_replay() {
    let dir = std::env::temp_dir().join(format!("mcas-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("half.json");
    let half = bank(vec![
        mcas(0, 10, &[("a", "50", "40#t1"), ("b", "50", "60#t1")], McasResult::Ok),
        read(1, "b", 20, "50"),
    ]);
    std::fs::write(&path, serde_json::to_string(&half).unwrap()).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mcsim"))
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("not-linearizable"), "{stdout}");
    let replay = stderr
        .lines()
        .last()
        .unwrap()
        .split("replay: mcsim ")
        .nth(1)
        .unwrap()
        .to_owned();
    let again = run(&replay.split(' ').collect::<Vec<_>>());
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
    std::fs::write(&path, r#"{"subject": "mcas", "ops": [{"client": 0, "op": "read", "key": "a", "invoke_us": 5, "return_us": 1, "result": {"type": "missing"}}]}"#).unwrap();
    let refused = run(&["check", path.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(3));
    // Not JSON, or a subject that is not one: said as such, exit 3.
    for (text, why) in [
        (r#"{"subject": "mcas", "ops": [],}"#, "is not JSON"),
        (r#"{"subject": 5, "ops": []}"#, "subject is 5"),
    ] {
        std::fs::write(&path, text).unwrap();
        let refused = run(&["check", path.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(3), "{text}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains(why), "{text}");
    }
    std::fs::write(&path, r#"{"subject": "mcas", "ops": [{"client": 0, "op": "read", "key": "a", "invoke_us": 5, "return_us": 1, "result": {"type": "missing"}}]}"#).unwrap();
    let refused = run(&["check", path.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("op 0: returned at 1 before its invoke"));
    std::fs::remove_dir_all(&dir).unwrap();
}
