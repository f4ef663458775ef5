//! `mcsim repro FILE --seed S`: replays one run exactly, with its trace, and
//! explains the verdict.

use std::path::Path;

use memcache_sim::check::{CheckOptions, check, render_op};
use memcache_sim::exit;
use memcache_sim::scenario;
use memcache_sim::sim;

/// Trace lines shown before the failure, unless asked for more.
pub const TRACE_LINES_DEFAULT: usize = 60;

/// Replays, explains, writes the HTML report under `report_dir`, returns the
/// exit status.
pub fn run(path: &Path, seed: u64, report_dir: &Path, variant: Option<&str>, trace_lines: usize) -> u8 {
    let mut replay = format!("mcsim repro {} --seed {seed}", path.display());
    let mut loaded = match scenario::load(path) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    };
    if let Some(variant) = variant {
        if memcache_collections::Variant::from_name(variant).is_none() {
            eprintln!("mcsim: unknown variant {variant:?} (see `mcsim list`)");
            return exit::USAGE;
        }
        loaded.scenario.scenario.variant = variant.to_owned();
        replay.push_str(&format!(" --variant {variant}"));
    }
    let mut config = loaded.config_for(seed);
    config.keep_trace = true;
    let outcome = match sim::run(&config, seed) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    };
    let report = check(&outcome.history, CheckOptions::default());
    let expected = loaded.expect.contains(&report.verdict);
    outln!(
        "{} seed {seed}: {} ({}expected): {}",
        loaded.name,
        report.verdict,
        if expected { "" } else { "not " },
        report.reason
    );
    outln!(
        "trace {:016x}; {} ops, {} requests, {} faults, {} losses",
        outcome.trace_hash,
        outcome.history.ops.len(),
        outcome.stats.requests,
        outcome.stats.faults,
        outcome.history.losses.len()
    );
    let focus = report.explanation.as_ref().map(|e| {
        outln!("{}", e.text);
        e.minimal.clone()
    });
    // The trace up to the end of the failing sub-history (or of the run).
    let run_end_us = outcome.trace.last().map_or(0, |r| r.at_us);
    let until_us = focus
        .and_then(|ops| {
            ops.iter()
                .filter_map(|&i| outcome.history.ops.get(i))
                .filter_map(|op| op.return_us)
                .max()
        })
        .unwrap_or(run_end_us)
        .min(run_end_us);
    let window: Vec<_> = outcome.trace.iter().filter(|r| r.at_us <= until_us).collect();
    outln!(
        "trace, last {} events up to {until_us} us:",
        trace_lines.min(window.len())
    );
    for record in window.iter().rev().take(trace_lines).rev() {
        let who = match (record.client, record.server) {
            (Some(c), Some(s)) => format!("c{c}->s{s}"),
            (Some(c), None) => format!("c{c}"),
            (None, Some(s)) => format!("s{s}"),
            (None, None) => "world".to_owned(),
        };
        outln!(
            "  {:>9} {:<10} {:<11?} {}",
            record.at_us,
            who,
            record.kind,
            record.detail
        );
    }
    if report.explanation.is_none() && !expected {
        for (i, op) in outcome.history.ops.iter().enumerate().rev().take(10) {
            outln!("  {}", render_op(i, op));
        }
    }
    match memcache_sim::report::write_for_seed(report_dir, &loaded, seed) {
        Ok(page) => outln!("report: {}", page.display()),
        Err(error) => {
            eprintln!("mcsim: cannot write the report under {}: {error}", report_dir.display());
            return exit::HARNESS;
        }
    }
    if expected {
        exit::OK
    } else {
        eprintln!(
            "FAIL: {} not expected by {}; replay: {replay}",
            report.verdict,
            path.display()
        );
        match exit::for_verdict(report.verdict) {
            exit::OK => exit::CORRECTNESS,
            class => class,
        }
    }
}
