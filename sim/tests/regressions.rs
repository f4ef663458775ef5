//! The pinned findings under `scenarios/regressions/`: each must pass on
//! the algorithm it names (the hardened default) and still fail on every
//! variant in its `fails_on` (the algorithm the finding was made on), so a
//! regression that stops reproducing is noticed, not silently kept; and
//! each must reach the event it is about on the default algorithm, on
//! every pinned seed and at its floor's rate (`memcache_sim::reach`), so a
//! green regression is one that ran its race.

use std::path::Path;

use memcache_sim::plan::Overrides;
use memcache_sim::runner::{self, SeedSelection};
use memcache_sim::scenario::{self, LoadedScenario};

fn regressions() -> Vec<LoadedScenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions");
    let files = scenario::discover(&[dir]).unwrap();
    assert!(!files.is_empty(), "no regression scenarios found");
    files
        .iter()
        .map(|f| scenario::load(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn every_regression_passes_on_its_own_variant() {
    for loaded in regressions() {
        let records = runner::run_scenarios(
            std::slice::from_ref(&loaded),
            SeedSelection::default(),
            Overrides::default(),
            2,
        );
        let failures: Vec<String> = records
            .iter()
            .filter(|r| !r.expected)
            .map(|r| r.failure_line())
            .collect();
        assert!(failures.is_empty(), "{}: {failures:#?}", loaded.name);
        let unreached = memcache_sim::record::reach_failures(&records, memcache_sim::record::Floors::Whole);
        assert!(unreached.is_empty(), "{unreached:#?}");
    }
}

/// A regression the default algorithm passes without ever reaching its
/// race proves nothing: each states its event (a refusal at setup is its
/// own proof), and its pinned seeds reach it on the default algorithm
/// under `--seeds` too.
#[test]
fn every_regression_reaches_its_race_on_the_default_algorithm() {
    for loaded in regressions() {
        let meta = &loaded.scenario.meta;
        if meta.expect == [memcache_sim::verdict::Verdict::Refused] {
            continue;
        }
        assert!(
            meta.reach.is_some(),
            "{}: a regression states the event it is about (scenario.reach)",
            loaded.name
        );
        let selection = SeedSelection {
            count: Some(3),
            ..SeedSelection::default()
        };
        let records = runner::run_scenarios(std::slice::from_ref(&loaded), selection, Overrides::default(), 2);
        for record in records.iter().filter(|r| r.pinned) {
            assert_eq!(
                record.reached,
                Some(true),
                "{} pinned seed {} does not reach {:?} on the default algorithm; replay: {}",
                loaded.name,
                record.seed,
                meta.reach,
                record.replay
            );
        }
        assert_eq!(
            records.iter().filter(|r| r.pinned).count(),
            meta.pinned.iter().filter(|&&seed| seed >= 3).count(),
            "{}: pinned seeds run under --seeds",
            loaded.name
        );
    }
}

#[test]
fn every_regression_still_fails_on_the_algorithm_it_pins() {
    for loaded in regressions() {
        assert!(
            !loaded.scenario.meta.fails_on.is_empty(),
            "{}: a regression names the variants it fails on (scenario.fails_on)",
            loaded.name
        );
        for &variant in &loaded.scenario.meta.fails_on {
            let overrides = Overrides {
                variant: Some(variant),
                ..Overrides::default()
            };
            let records = runner::run_scenarios(std::slice::from_ref(&loaded), SeedSelection::default(), overrides, 2);
            assert!(
                records.iter().any(|r| !r.expected),
                "{} no longer fails on {}: every one of its {} seeds earned an expected verdict; \
                 replay: mcsim run {} --variant {}",
                loaded.name,
                variant.name(),
                records.len(),
                loaded.path.display(),
                variant.name()
            );
        }
    }
}
