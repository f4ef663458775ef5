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
