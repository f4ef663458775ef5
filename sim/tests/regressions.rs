//! The pinned findings under `scenarios/regressions/`: each must pass on
//! the algorithm it names (the hardened default) and still fail on every
//! variant in its `fails_on` (the algorithm the finding was made on), so a
//! regression that stops reproducing is noticed, not silently kept.

use std::path::Path;

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
        let records = runner::run_all(std::slice::from_ref(&loaded), SeedSelection::default(), 2, false);
        let failures: Vec<String> = records
            .iter()
            .filter(|r| !r.expected)
            .map(|r| format!("seed {}: {} ({}); replay: {}", r.seed, r.verdict, r.reason, r.replay()))
            .collect();
        assert!(failures.is_empty(), "{}: {failures:#?}", loaded.name);
    }
}

#[test]
fn every_regression_still_fails_on_the_algorithm_it_pins() {
    for loaded in regressions() {
        assert!(
            !loaded.scenario.scenario.fails_on.is_empty(),
            "{}: a regression names the variants it fails on (scenario.fails_on)",
            loaded.name
        );
        for variant in &loaded.scenario.scenario.fails_on {
            let mut on_variant = loaded.clone();
            on_variant.scenario.scenario.variant = variant.clone();
            let records = runner::run_all(&[on_variant], SeedSelection::default(), 2, false);
            assert!(
                records.iter().any(|r| !r.expected),
                "{} no longer fails on {variant}: every one of its {} seeds earned an expected verdict; \
                 replay: mcsim run {} --variant {variant}",
                loaded.name,
                records.len(),
                loaded.path.display()
            );
        }
    }
}
