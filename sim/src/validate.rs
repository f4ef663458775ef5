//! `mcsim validate`: does the suite catch every catalogued broken variant,
//! and does the default algorithm pass it?
//!
//! For each broken variant and master seed, a *hunt* runs the suite's
//! scenarios with that variant, seed-major (seed 0 of every scenario, then
//! seed 1, ...; the seeds are derived from the master seed), until the first
//! run whose verdict is a failure (correctness or liveness). Scenarios that
//! pin a failure of the variant's base algorithm (`fails_on` names it) are
//! left out of its hunt: a catch there would be the base's finding, not the
//! variant's flaw (every copy of `michael2003` fails the restart ABA). And a
//! failing run counts as a catch only if the variant's ancestor (its base,
//! or `michael2003` for an algorithm of its own) does not fail the same run:
//! a catch must be the flaw's. The first catch
//! is shrunk to its smallest failing scenario. Runs are sequential on one
//! thread, so "runs to the first failure" is exact and the wall time is one
//! core's.

use std::time::Instant;

use serde::Serialize;

use crate::algorithm::Algorithm;
use crate::pipeline;
use crate::plan::{Overrides, RunPlan};
use crate::record::RunRecord;
use crate::scenario::LoadedScenario;
use crate::shrink;
use crate::verdict::Verdict;

/// Seeds of one master seed: `master * SEEDS_PER_MASTER + k`.
pub const SEEDS_PER_MASTER: u64 = 1_000_000;

/// The run that caught a variant.
#[derive(Debug, Clone, Serialize)]
pub struct Catch {
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    /// The failing verdict.
    pub verdict: Verdict,
    /// The command that replays it.
    pub replay: String,
}

/// One hunt: one variant, one master seed.
#[derive(Debug, Clone, Serialize)]
pub struct Hunt {
    pub master_seed: u64,
    /// The first catch, if any.
    pub caught: Option<Catch>,
    /// Runs up to and including the catch (or all runs, if none).
    pub runs: u64,
    /// Wall time of those runs.
    pub wall_s: f64,
}

/// One variant's line of the mutation table.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRow {
    pub variant: String,
    /// One hunt per master seed.
    pub hunts: Vec<Hunt>,
    /// Median runs to the first failure over the hunts.
    pub runs_median: u64,
    /// Median wall seconds to the first failure over the hunts.
    pub wall_s_median: f64,
    /// Workload operations of the shrunk reproducer of the first hunt's
    /// catch (prefill excluded), if shrinking was asked.
    pub shrunk_ops: Option<u64>,
    /// The first failure of a regression that names the variant in its
    /// `fails_on`, over that regression's own seeds: the race it pins may
    /// be too narrow for a hunt to meet by chance (see [`pinned_catch`]).
    pub pinned: Option<Catch>,
}

impl VariantRow {
    /// Whether every hunt caught the variant, or a regression pinned for it
    /// still does.
    pub fn caught(&self) -> bool {
        self.hunts.iter().all(|h| h.caught.is_some()) || self.pinned.is_some()
    }
}

/// The first failing run of a regression naming `variant` in its
/// `fails_on`, each over its own seeds and its pinned ones (a failure its
/// ancestor shares is not a catch). A regression pins a race found
/// once (a stale CAS whose token must equal the new anchor's exactly, for
/// `lifetime-without-mark`: about 1 seed in 1,000): a hunt of a few thousand
/// runs across the whole suite meets it by chance only, and the regression
/// is what guards it.
pub fn pinned_catch(scenarios: &[LoadedScenario], variant: Algorithm) -> Option<Catch> {
    let overrides = Overrides {
        variant: Some(variant),
        ..Overrides::default()
    };
    scenarios
        .iter()
        .filter(|s| s.scenario.meta.fails_on.contains(&variant))
        .find_map(|scenario| {
            let meta = &scenario.scenario.meta;
            let seeds = meta.seeds.list().into_iter().chain(meta.pinned.iter().copied());
            seeds.into_iter().find_map(|seed| {
                let ran = pipeline::run(RunPlan::for_scenario(scenario, seed, overrides), pipeline::quiet());
                (is_catch(&ran.record) && !ancestor_fails(scenario, seed, variant)).then(|| catch_of(&ran.record))
            })
        })
}

/// Whether a run caught its variant: a correctness or liveness failure.
/// Not "any unexpected verdict", as `mcsim run --variant` counts: a
/// canary's expectations describe its own broken variant, so under another
/// variant a pass there is unexpected without catching anything; and a
/// harness failure (could not start, undecided, vacuous) says nothing
/// about the variant.
pub fn is_catch(record: &RunRecord) -> bool {
    record.verdict.is_correctness_failure() || record.verdict == Verdict::Liveness
}

/// Hunts `variant` over `scenarios` from `master_seed`, for at most
/// `runs_max` runs.
pub fn hunt(scenarios: &[LoadedScenario], variant: Algorithm, master_seed: u64, runs_max: u64) -> Hunt {
    let started = Instant::now();
    let overrides = Overrides {
        variant: Some(variant),
        ..Overrides::default()
    };
    let hunted: Vec<&LoadedScenario> = scenarios
        .iter()
        .filter(|s| s.scenario.meta.subject == variant.subject())
        .filter(|s| !s.scenario.meta.fails_on.contains(&variant.base()) || variant.base() == variant)
        .collect();
    let mut runs = 0;
    let mut caught = None;
    'search: for k in 0.. {
        let seed = master_seed.saturating_mul(SEEDS_PER_MASTER).saturating_add(k);
        for &scenario in &hunted {
            if runs == runs_max {
                break 'search;
            }
            let ran = pipeline::run(RunPlan::for_scenario(scenario, seed, overrides), pipeline::quiet());
            runs += 1;
            if is_catch(&ran.record) && !ancestor_fails(scenario, seed, variant) {
                caught = Some(catch_of(&ran.record));
                break 'search;
            }
        }
    }
    Hunt {
        master_seed,
        caught,
        runs,
        wall_s: started.elapsed().as_secs_f64(),
    }
}

/// The real algorithm a broken variant's catch is compared with: its base,
/// or for a deque variant that is an algorithm of its own, `michael2003`
/// (the deque catalogue's common ancestor). MCAS has one real algorithm,
/// every broken copy's base.
pub fn ancestor(variant: Algorithm) -> Algorithm {
    match variant.base() {
        base if base == variant && base.subject() == crate::algorithm::Subject::Deque => {
            memcache_collections::Variant::Michael2003.into()
        }
        base => base,
    }
}

/// Whether the variant's ancestor fails the same run too: then the failure
/// is the ancestor's, not the variant's flaw, and the hunt goes on. Without
/// this a variant whose flaw stopped being injected (a mutant of the
/// dispatch, say) would still be "caught" through its ancestor's findings.
fn ancestor_fails(scenario: &LoadedScenario, seed: u64, variant: Algorithm) -> bool {
    let overrides = Overrides {
        variant: Some(ancestor(variant)),
        ..Overrides::default()
    };
    is_catch(&pipeline::run(RunPlan::for_scenario(scenario, seed, overrides), pipeline::quiet()).record)
}

fn catch_of(record: &RunRecord) -> Catch {
    Catch {
        scenario: record.scenario.clone(),
        path: record.path.clone(),
        seed: record.seed,
        verdict: record.verdict,
        replay: record.replay.clone(),
    }
}

/// The mutation table for `variants`.
pub fn validate(
    scenarios: &[LoadedScenario],
    variants: &[Algorithm],
    master_seeds: &[u64],
    runs_max: u64,
    shrink_catches: bool,
) -> Vec<VariantRow> {
    variants
        .iter()
        .map(|&variant| {
            let hunts: Vec<Hunt> = master_seeds
                .iter()
                .map(|&master| hunt(scenarios, variant, master, runs_max))
                .collect();
            let shrunk_ops = shrink_catches
                .then(|| hunts.iter().find_map(|h| h.caught.as_ref()))
                .flatten()
                .and_then(|catch| {
                    let loaded = scenarios.iter().find(|s| s.name == catch.scenario)?;
                    let overrides = Overrides {
                        variant: Some(variant),
                        ..Overrides::default()
                    };
                    Some(shrink::shrink(loaded, catch.seed, overrides, catch.verdict).ops)
                });
            VariantRow {
                variant: variant.name().to_owned(),
                runs_median: median(hunts.iter().map(|h| h.runs as f64).collect()) as u64,
                wall_s_median: median(hunts.iter().map(|h| h.wall_s).collect()),
                pinned: pinned_catch(scenarios, variant),
                hunts,
                shrunk_ops,
            }
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// The mutation table as text.
pub fn render(rows: &[VariantRow]) -> String {
    let mut out = format!(
        "{:<28} {:<8} {:>6} {:>12} {:>10}  first catch (master seed {})\n",
        "variant",
        "caught",
        "runs",
        "median s",
        "shrunk ops",
        rows.first()
            .and_then(|r| r.hunts.first())
            .map_or("-".to_owned(), |h| h.master_seed.to_string()),
    );
    for row in rows {
        let caught = row.hunts.iter().filter(|h| h.caught.is_some()).count();
        let first = row.hunts.first().and_then(|h| h.caught.as_ref());
        let pinned = if row.pinned.is_some() { "+pin" } else { "" };
        let first = first.or(row.pinned.as_ref().filter(|_| caught < row.hunts.len()));
        out.push_str(&format!(
            "{:<28} {:<8} {:>6} {:>12.2} {:>10}  {}\n",
            row.variant,
            format!("{caught}/{}{pinned}", row.hunts.len()),
            row.runs_median,
            row.wall_s_median,
            row.shrunk_ops.map_or("-".to_owned(), |ops| ops.to_string()),
            first.map_or("escaped".to_owned(), |c| format!(
                "{} seed {}: {} ({})",
                c.scenario, c.seed, c.verdict, c.replay
            )),
        ));
    }
    if rows.iter().any(|r| r.pinned.is_some()) {
        out.push_str("+pin: a regression names the variant in its fails_on and still fails on it\n");
    }
    out
}
