//! The per-failure HTML report renders in headless Chromium (Debian's
//! `chromium` package; `bash scripts/test.sh` installs it) and shows the
//! failing operation, the verdict and the replay command. Run alone with
//! `cargo test -p memcache-sim --test html_report`.

use std::path::Path;
use std::process::Command;

use memcache_sim::check::{CheckOptions, check};
use memcache_sim::report;
use memcache_sim::scenario;

fn chromium() -> String {
    std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "chromium".to_owned())
}

#[test]
fn the_report_of_a_failing_run_shows_the_failing_op_in_chromium() {
    let dir = std::env::temp_dir().join(format!("mcsim-html-{}", std::process::id()));
    let canary =
        scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/canary-one-end-single-pop.toml"))
            .unwrap();
    let page = report::write_for_seed(&dir, &canary, 5).unwrap();
    // The failing op, as the checker names it.
    let outcome = memcache_sim::sim::run(&canary.config_for(5), 5).unwrap();
    let verdict = check(&outcome.history, CheckOptions::default());
    let failing = verdict.explanation.expect("a failure is explained").minimal[0];
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (bash scripts/test.sh installs Debian's chromium)",
                chromium()
            )
        });
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        dom.contains(&format!("id=\"op-{failing}\"")),
        "the failing op's bar is rendered"
    );
    assert!(
        dom.contains(&format!("id=\"minimal-{failing}\"")),
        "and listed in the failing sub-history"
    );
    assert!(dom.contains(verdict.verdict.name()));
    assert!(dom.contains("mcsim repro") && dom.contains("--seed 5"));
    std::fs::remove_dir_all(dir).unwrap();
}
