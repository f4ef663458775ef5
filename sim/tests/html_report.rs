//! The per-failure HTML report renders in headless Chromium (Debian's
//! `chromium` package; `bash scripts/test.sh` installs it): its script draws
//! the timeline (a time axis, a row per client and per server, the failing
//! operation, the network events, the requests behind the failure as
//! arrows), and the page names the verdict, the variant, the requests that
//! met a fault and the replay command. The run is a lost CAS reply retried
//! as a failure (`retry-unknown-cas`), which pops a value twice (the first such
//! failing seed of the scenario). Run alone
//! with `cargo test -p memcache-sim --test html_report`.

use std::path::Path;
use std::process::Command;

use memcache_collections::Variant;
use memcache_sim::check::CheckOptions;
use memcache_sim::output::files;
use memcache_sim::pipeline;
use memcache_sim::plan::{Overrides, RunPlan};
use memcache_sim::scenario;

fn chromium() -> String {
    std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "chromium".to_owned())
}

#[test]
fn the_report_of_a_failing_run_shows_the_failing_op_in_chromium() {
    let dir = std::env::temp_dir().join(format!("mcsim-html-{}", std::process::id()));
    let scenario =
        scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions/lost-cas-reply.toml"))
            .unwrap();
    let overrides = Overrides {
        variant: Some(Variant::RetryUnknownCas.into()),
        ..Overrides::default()
    };
    // The first of the scenario's seeds on which the variant pops a value
    // twice (which seed that is moves whenever the clients' timing does;
    // other seeds fail in the drain, whose page has no timeout to mark).
    let ran = (scenario.scenario.meta.seeds.list().into_iter())
        .map(|seed| {
            let mut plan = RunPlan::for_scenario(&scenario, seed, overrides);
            plan.keep_trace = true;
            pipeline::run(plan, CheckOptions::default())
        })
        .find(|ran| ran.judgement.explanation(&ran.outcome).is_some() && ran.record.reason.contains("popped twice"))
        .expect(
            "retry-unknown-cas fails on some seed of lost-cas-reply.toml (its fails_on); rerun: mcsim run \
             scenarios/regressions/lost-cas-reply.toml --variant retry-unknown-cas",
        );
    let page = files::write_page(&dir, &ran).unwrap();
    // The failing op, as the checker names it.
    let failing = ran
        .judgement
        .explanation(&ran.outcome)
        .expect("a failure is explained")
        .minimal[0];
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
    assert!(dom.contains(ran.record.verdict.name()));
    assert!(dom.contains(&ran.record.replay), "the replay command");
    assert!(
        dom.contains("retry-unknown-cas (chosen on the command line)"),
        "the variant"
    );
    // What the script drew: the axis, the rows, the marks, the arrows.
    assert!(dom.contains("id=\"timeline-svg\""), "the script drew the timeline");
    assert!(dom.matches("class=\"tick\"").count() >= 3, "a time axis with ticks");
    assert!(
        dom.contains(">server 0<") && dom.contains("(drain)<"),
        "server and drain rows"
    );
    assert!(dom.contains("class=\"event late\""), "late replies marked");
    assert!(dom.contains("class=\"event timeout\""), "timeouts marked");
    assert!(dom.contains("class=\"request\""), "the requests behind the failure");
    assert!(
        dom.contains("(the likely cause)") && dom.contains("cas simdeque sent at"),
        "the faulty requests named"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
