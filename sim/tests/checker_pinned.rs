//! Histories that once cost the checker a long search (cut down from
//! generated ones, pinned under `tests/data/`), and the 64-client
//! histories they came from: each is decided at once now, and stays so.

use memcache_sim::check::prepare::{PrepareOptions, prepare};
use memcache_sim::check::search::{SearchOutcome, search_complete};
use memcache_sim::check::{CheckOptions, Verdict, check};
use memcache_sim::history::History;

/// Ten histories cut down (by removing whole values) from generated
/// 64-client histories that ended `unknown`, each now decided in a few
/// dozen steps (`mcsim check FILE --json` prints them), and by the complete
/// phase alone too (which the fast phase would otherwise hide):
/// - `checker-flash-pairs`: 15 values pushed and popped at one end. With
///   neither rule below, 164,994 steps; with either, at most 34.
/// - `checker-chained-deadlines`: 18 values at both ends, where one push's
///   deadline is implied only through two other values' pops. With neither
///   rule, `unknown` after 20M steps; with the flash pairs alone, 273,013;
///   with the tightened deadlines, 36.
/// - `checker-buried-by-unobserved`: 12 values pushed at one end (a stack),
///   one never popped and no unknown pop to take it out, so it must go in
///   while the deque is empty, which only a chain of deadlines shows. With
///   the two rules below but not the third, 57,449 steps; with it, 25.
/// - `checker-unobserved-fallback`: a value pushed at the back early and
///   never seen again must be taken out by an unknown pop at the front
///   before a push at the front covers it, then 17 values at both ends.
///   The fast phase never offered that push, so it failed at once and left
///   the cluster to the complete phase: 352,725 steps. With the push
///   offered as a fallback (`search/candidates.rs`), 40. The complete phase
///   alone still takes 352,719 steps: the fallback is the fast phase's.
/// - `checker-unknown-pop-due-first`: a lone value nobody saw leave, at
///   both ends at once, taken out by the unknown pop at the front when the
///   one at the back was about to expire; the front one was then missing
///   for the three values at the front nobody saw leave either. Before the
///   unknown pop due first was tried first (`optional_candidates`), 371,979
///   steps; now 40.
/// - `checker-leaves-after-a-chain` (seed 122 of `mcsim bench checker
///   --clients 64 --ops 10000`): 9 values pushed and popped at the front
///   and 7 at the back; the one popped last has to go in first, under a
///   value whose own pop is invoked early, because a third value pushed on
///   that one is popped only after the first one's push was due. Before
///   the earliest leave times (`search/leave.rs`), 508,311 steps; now 32.
/// - `checker-unknown-pops-too-few` (seed 125): four values nobody saw
///   leave and six unknown pops to take them; pushing a value that leaves
///   by the front first would leave two of them for one unknown pop at the
///   front. Before `starves_unknown_pops` (`search/prune.rs`), the complete
///   phase alone took 105,848 steps; now 51.
/// - `checker-pair-past-a-chain` (seed 128): two values pushed at the back
///   and popped at the front, where the first one's pop finished before
///   the second could leave (a value pushed on it at the front is popped
///   later). Before the pair rule read the earliest leave times, 1,876
///   steps; now 28 (the complete phase alone: 44,650 then, 29,185 now).
/// - `checker-unobserved-starves` (seed 180): 17 values nobody saw leave
///   and 25 unknown pops over 32 ms; a value nobody saw leave pushed at the
///   back, over a value that leaves by the back, leaves one unknown pop
///   there for two such values. Before `unobserved_starves`
///   (`search/prune.rs`), 222,233 steps; now 64.
/// - `checker-pop-before-blocker` (seed 186): a value pushed at the back
///   and popped at the front must leave before a value pushed at the
///   front that leaves late goes in, so its pop's deadline is that push's
///   (`leave::pops_before_blockers`), which puts it before a push the pair
///   rule could not order otherwise. Before, 156,664 steps; now 24 (the
///   complete phase alone: 126,277 then, 20,222 now).
///
/// The rules: a push whose pop can take its value straight back out goes
/// first as the only branch (`search/candidates.rs`, `flash_push`), and a
/// push that must precede another inherits its deadline
/// (`search/tighten.rs`), and so does a push of a value nobody takes out
/// that would otherwise bury another value for ever (`unobserved_first`).
#[test]
fn histories_that_once_cost_a_search_are_decided_at_once() {
    for (name, steps_max) in [
        ("checker-flash-pairs", 100),
        ("checker-chained-deadlines", 100),
        ("checker-buried-by-unobserved", 100),
        ("checker-unobserved-fallback", 100),
        ("checker-unknown-pop-due-first", 100),
        ("checker-leaves-after-a-chain", 100),
        ("checker-unknown-pops-too-few", 100),
        ("checker-pair-past-a-chain", 100),
        ("checker-unobserved-starves", 100),
        ("checker-pop-before-blocker", 100),
    ] {
        let (history, rerun) = pinned(name);
        let report = check(&history, CheckOptions::default());
        assert_eq!(
            report.verdict,
            Verdict::Linearizable,
            "{name}: {}; rerun: {rerun}",
            report.reason
        );
        let complete = search_complete(&prepare(&history, |_, _| true, &PrepareOptions::default()), 1_000_000);
        assert!(
            matches!(complete.outcome, SearchOutcome::Linearizable(_)),
            "{name}: the complete phase alone: {:?}; rerun: cargo test -p memcache-sim --test checker_pinned \
             histories_that_once_cost_a_search_are_decided_at_once",
            complete.outcome
        );
        assert!(
            report.steps <= steps_max,
            "{name}: {} steps, more than {steps_max}; rerun: {rerun}",
            report.steps
        );
    }
}

/// A history pinned under `tests/data/NAME.history.json`, and the command
/// that checks it again.
fn pinned(name: &str) -> (History, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.history.json"));
    let history = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (history, format!("mcsim check {} --json", path.display()))
}

/// A history without a drain, cut down from a generated one that was cut at
/// a prefix (so a value's pop fell outside it): a value pushed at the front
/// and never returned sits on one a later pop at the front returns, and no
/// unknown pop could have taken it. Refuted without searching (`patterns`'
/// rule 4); before that rule, the search took 372,067 steps.
#[test]
fn a_value_buried_for_ever_is_refuted_without_a_search() {
    let (history, rerun) = pinned("checker-buried-for-ever");
    let report = check(&history, CheckOptions::default());
    assert_eq!(
        report.verdict,
        Verdict::NotLinearizable,
        "{}; rerun: {rerun}",
        report.reason
    );
    assert_eq!(report.steps, 0, "{}; rerun: {rerun}", report.reason);
    let explanation = report.explanation.expect("a violation is explained");
    assert!(
        explanation.text.contains("\"9.9133\""),
        "{}; rerun: {rerun}",
        explanation.text
    );
    assert_eq!(
        explanation.minimal,
        vec![26, 27, 28],
        "{}; rerun: {rerun}",
        explanation.text
    );
}

/// 64 clients at both ends with 1% unknown outcomes: the search decides
/// them, 1,000 operations on seeds 1 to 10, 10,000 on seeds 1 to 30 and
/// 93, 122, 125, 128, 180, 186, and 100,000 on seeds 1 to 6 (every seed
/// of 1 to 400 at 10,000 operations: `mcsim bench checker --clients 64
/// --ops 10000 --seed S`; those six ended `unknown` after 20M steps before
/// the leave times, the counted unknown pops, the starved-pop pruning and
/// the pops before blockers, the histories pinned above show each rule's
/// part). Before the flash pairs, the
/// tightened deadlines, the fallback push and the unknown pop due first,
/// 10,000 decided on seeds 1 to 6, 8, 9 of 10, and 100,000 ended `unknown`
/// on seed 1 (`mcsim bench checker --families clients-64`).
/// Before the standoff rules of `search/prune.rs` (two values
/// each waiting for the other to leave) and the fast phase's budgeted runs,
/// seeds 1 and 2 ended `unknown` after 20M steps at 1,000 operations;
/// before the fast phase read the table of pushes that must wait
/// (`prune::must_wait_for`) and held unknown pops back until needed, seed 7
/// took 11M steps of complete search (11 s) at 1,000 operations, and
/// 10,000 operations decided on 4 seeds of 10.
#[test]
fn sixty_four_clients_at_both_ends_are_decided() {
    use memcache_sim::bench::checker::{Ends, generate_history};
    let cases = (1..=10).map(|seed| (1_000, seed));
    let cases = cases.chain((1..=30).chain([93, 122, 125, 128, 180, 186]).map(|seed| (10_000, seed)));
    let cases = cases.chain((1..=6).map(|seed| (100_000, seed)));
    for (ops, seed) in cases {
        let history = generate_history(64, ops, 0.01, seed, Ends::Both);
        let report = check(&history, CheckOptions::default());
        assert_eq!(
            report.verdict,
            Verdict::Linearizable,
            "{ops} ops, seed {seed}: {}; replay: mcsim bench checker --clients 64 --ops {ops} --seed {seed}",
            report.reason
        );
    }
}
