//! The CI's quick check as one test, so that mutation testing
//! (`cargo mutants`, README "Validating an algorithm change") runs exactly
//! it against every mutant: the suite on the default algorithm (20 seeds of
//! every scenario plus the regressions' pinned seeds, reach floors
//! included) and every broken variant of the catalogue hunted until caught.
//! A mutant survives only if all of that still passes.

use std::process::Command;

#[test]
fn the_quick_check_passes() {
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let output = Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args([
            "validate",
            scenarios,
            "--seeds",
            "20",
            "--master-seeds",
            "1",
            "--no-shrink",
            "--json",
        ])
        .output()
        .expect("mcsim runs");
    assert!(
        output.status.success(),
        "mcsim validate {scenarios} --seeds 20 --master-seeds 1 --no-shrink exited {:?}:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A catch must be the hunted variant's own flaw: the 2013 algorithm,
/// hunted as if it were a broken copy of itself, fails the restart
/// regressions but is never "caught", since its ancestor (itself) fails the
/// same runs. So a variant whose flaw a mutant removed escapes the hunt
/// instead of being caught through the ancestor's findings.
#[test]
fn a_failure_the_ancestor_shares_is_not_a_catch() {
    use memcache_collections::Variant;
    use memcache_collections::mcas::McasVariant;
    use memcache_sim::scenario;
    use memcache_sim::validate;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = scenario::discover(&[dir]).unwrap();
    let loaded: Vec<_> = files.iter().map(|f| scenario::load(f).unwrap()).collect();
    let flawed = validate::hunt(&loaded, Variant::RetryUnknownCas.into(), 0, 300);
    assert!(flawed.caught.is_some(), "a flaw of its own is caught: {flawed:?}");
    let itself = validate::hunt(&loaded, Variant::Michael2003.into(), 0, 300);
    assert!(itself.caught.is_none(), "{itself:?}");
    assert_eq!(
        validate::ancestor(Variant::IncrementAllocatedQueue.into()),
        Variant::Michael2003.into()
    );
    assert_eq!(
        validate::ancestor(Variant::AdoptForeignAnchor.into()),
        Variant::Hardened.into()
    );
    // MCAS has one real algorithm: every broken copy's ancestor, and its
    // own, so hunting it catches nothing.
    let decide = McasVariant::DecideWithoutCas.into();
    assert_eq!(validate::ancestor(decide), McasVariant::Fraser2004.into());
    let fraser = validate::hunt(&loaded, McasVariant::Fraser2004.into(), 0, 300);
    assert!(fraser.caught.is_none() && fraser.runs == 300, "{fraser:?}");
}
