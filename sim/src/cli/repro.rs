//! `mcsim repro FILE --seed S`: replays one run exactly (one simulation),
//! prints its effective configuration, verdict, explanation and trace, and
//! writes its HTML report from that same run.

use std::path::PathBuf;

use memcache_sim::algorithm::Algorithm;
use memcache_sim::check::{CheckOptions, render_op};
use memcache_sim::output::{files, requests};
use memcache_sim::pipeline;
use memcache_sim::plan::{Overrides, RunPlan};

/// Trace lines shown before the failure, unless asked for more.
pub const TRACE_LINES_DEFAULT: usize = 60;

/// `mcsim repro`'s arguments.
#[derive(clap::Args)]
pub struct ReproArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed to replay.
    #[arg(long)]
    pub seed: u64,
    /// Run this algorithm variant instead of the scenario's own (as the
    /// `run --variant` that found the failure did).
    #[arg(long, value_parser = super::parse_variant)]
    pub variant: Option<Algorithm>,
    /// Where to write the HTML report.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// How many trace events to print before the failure.
    #[arg(long, default_value_t = TRACE_LINES_DEFAULT)]
    pub trace_lines: usize,
}

/// Replays, explains, writes the report; returns the exit status.
pub fn run(args: &ReproArgs) -> u8 {
    let loaded = match super::load_for(&args.scenario, args.variant) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let overrides = Overrides {
        variant: args.variant,
        ..Overrides::default()
    };
    let mut plan = RunPlan::for_scenario(&loaded, args.seed, overrides);
    plan.keep_trace = true;
    out!("{}", plan.describe());
    let ran = pipeline::run(plan, CheckOptions::default());
    let (record, outcome) = (&ran.record, &ran.outcome);
    outln!(
        "{} seed {}: {} ({}expected): {}",
        record.scenario,
        record.seed,
        record.verdict,
        if record.expected { "" } else { "not " },
        record.reason
    );
    let counters = &outcome.counters;
    outln!(
        "trace {}; {} ops ({} succeeded, {} failed, {} unknown, {} reported corruption), {} requests ({} without \
         reply), {} messages lost, {} delayed by a spike, {} faults, {} losses",
        record.trace_hash.as_deref().unwrap_or("-"),
        record.ops.total,
        record.ops.succeeded,
        record.ops.failed,
        record.ops.unknown,
        record.ops.corruption,
        counters.requests,
        counters.requests_failed,
        counters.messages_dropped,
        counters.messages_spiked,
        counters.faults,
        outcome.history.losses.len()
    );
    let explanation = ran.judgement.explanation(outcome);
    if let Some(explanation) = &explanation {
        outln!("{}", explanation.text);
        let behind = requests::render(outcome, &explanation.minimal);
        if !behind.is_empty() {
            outln!("requests behind the failing operations (! met a fault):\n{behind}");
        }
    }
    // The trace up to the end of the failing sub-history (or of the run).
    let run_end_us = outcome.trace.last().map_or(0, |r| r.at_us);
    let until_us = explanation
        .as_ref()
        .and_then(|e| {
            e.minimal
                .iter()
                .filter_map(|&i| outcome.history.ops.get(i))
                .filter_map(|op| op.return_us)
                .max()
        })
        .unwrap_or(run_end_us)
        .min(run_end_us);
    let window: Vec<_> = outcome.trace.iter().filter(|r| r.at_us <= until_us).collect();
    outln!(
        "trace, last {} events up to {until_us} us:",
        args.trace_lines.min(window.len())
    );
    for event in window.iter().rev().take(args.trace_lines).rev() {
        let who = match (event.client, event.server) {
            (Some(c), Some(s)) => format!("c{c}->s{s}"),
            (Some(c), None) => format!("c{c}"),
            (None, Some(s)) => format!("s{s}"),
            (None, None) => "world".to_owned(),
        };
        outln!("  {:>9} {:<10} {:<11?} {}", event.at_us, who, event.kind, event.detail);
    }
    if explanation.is_none() && !record.expected {
        for (i, op) in outcome.history.ops.iter().enumerate().rev().take(10) {
            outln!("  {}", render_op(i, op));
        }
    }
    let mut status = ran.judgement.exit_class();
    match files::write_page(&args.report_dir, &ran) {
        Ok(page) => outln!("report: {}", page.display()),
        Err(error) => {
            let why = if args.report_dir.is_file() {
                "it is a file; --report-dir names a directory".to_string()
            } else {
                error.to_string()
            };
            eprintln!(
                "mcsim: cannot write the report under {}: {why}",
                args.report_dir.display()
            );
            status = memcache_sim::exit::worst(status, memcache_sim::exit::HARNESS);
        }
    }
    if !record.expected {
        eprintln!(
            "FAIL: {} not expected by {}: {}; replay: {}",
            record.verdict, record.path, record.reason, record.replay
        );
    }
    status
}
