//! One self-contained HTML page per run (no scripts, no network): a timeline
//! per client with every operation as a bar from invocation to return,
//! results and unknown outcomes visible, faults and losses on the same time
//! axis, the operations of the smallest failing sub-history outlined, the
//! checker's explanation, the replay command, and the run's effective
//! configuration (seed, variant, swarm draws). Rendered only from what it is
//! given (the record, the outcome, the explanation): it never runs anything.

use std::fmt::Write as _;

use super::escape;
use crate::check::Explanation;
use crate::history::OpResult;
use crate::outcome::Outcome;
use crate::record::RunRecord;
use crate::trace::TraceKind;

/// Pixels per row of the timeline.
const ROW_PX: u64 = 22;
/// Width of the drawing area for the whole run.
const WIDTH_PX: f64 = 1800.0;
/// Left margin for row labels.
const LABEL_PX: f64 = 90.0;

/// Everything a report page shows.
pub struct ReportInput<'a> {
    /// The run's record (scenario, seed, variant, verdict, replay command).
    pub record: &'a RunRecord,
    /// What the run produced (history, trace, counters).
    pub outcome: &'a Outcome,
    /// The checker's explanation of a failure, if any.
    pub explanation: Option<&'a Explanation>,
    /// The effective configuration (`RunPlan::describe`).
    pub configuration: &'a str,
}

fn color(result: &OpResult) -> (&'static str, &'static str) {
    match result {
        OpResult::Ok => ("#4caf50", "ok"),
        OpResult::Value { .. } => ("#2196f3", "value"),
        OpResult::Empty => ("#9e9e9e", "empty"),
        OpResult::Unknown => ("url(#unknown)", "unknown"),
        OpResult::Failed { .. } => ("#e0e0e0", "failed"),
        OpResult::Corruption { .. } => ("#e53935", "corruption"),
    }
}

/// Renders the page.
pub fn html(input: &ReportInput<'_>) -> String {
    let history = &input.outcome.history;
    let record = input.record;
    let end_us = history
        .ops
        .iter()
        .map(|op| op.return_us.unwrap_or(op.invoke_us))
        .chain(input.outcome.trace.iter().map(|r| r.at_us))
        .max()
        .unwrap_or(1)
        .max(1);
    let x = |us: u64| LABEL_PX + us as f64 / end_us as f64 * WIDTH_PX;
    let mut clients: Vec<u32> = history.ops.iter().map(|op| op.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let row = |client: u32| clients.iter().position(|&c| c == client).unwrap_or(0) as u64;
    let highlighted: Vec<usize> = input.explanation.map(|e| e.minimal.clone()).unwrap_or_default();
    let height = (clients.len() as u64 + 2) * ROW_PX + 40;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">\
         <defs><pattern id=\"unknown\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"6\" height=\"6\" fill=\"#ffcc80\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ef6c00\" stroke-width=\"3\"/></pattern></defs>",
        LABEL_PX + WIDTH_PX + 20.0
    );
    for (i, client) in clients.iter().enumerate() {
        let label = match history.drain_client {
            Some(d) if d == *client => "drain".to_owned(),
            _ => format!("client {client}"),
        };
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{}\">{}</text>",
            (i as u64 + 1) * ROW_PX + 4,
            escape(&label)
        );
    }
    for event in input
        .outcome
        .trace
        .iter()
        .filter(|r| matches!(r.kind, TraceKind::Fault | TraceKind::Crash))
    {
        let _ = write!(
            svg,
            "<g class=\"fault\"><line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"8\" y2=\"{1}\" stroke=\"#8e24aa\" stroke-dasharray=\"4 3\"/>\
             <title>{2} us: {3}</title></g>",
            x(event.at_us),
            height - 20,
            event.at_us,
            escape(&event.detail)
        );
    }
    for loss in &history.losses {
        let _ = write!(
            svg,
            "<g class=\"loss\"><line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"8\" y2=\"{1}\" stroke=\"#d32f2f\"/>\
             <title>{2} us: loss ({3:?}) of {4} on server {5}</title></g>",
            x(loss.at_us),
            height - 20,
            loss.at_us,
            loss.cause,
            escape(loss.key.as_deref().unwrap_or("every item")),
            loss.server
        );
    }
    for (index, op) in history.ops.iter().enumerate() {
        let (fill, class) = color(&op.result);
        let start = x(op.invoke_us);
        let end = x(op.return_us.unwrap_or(end_us));
        let y = (row(op.client) + 1) * ROW_PX - 8;
        let outline = if highlighted.contains(&index) {
            "stroke=\"#000\" stroke-width=\"2.5\""
        } else {
            "stroke=\"#555\" stroke-width=\"0.5\""
        };
        let dashed = if op.return_us.is_none() {
            " stroke-dasharray=\"3 2\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<g id=\"op-{index}\" class=\"op {class}\"><rect x=\"{start:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"{fill}\" {outline}{dashed}/>\
             <title>{}</title></g>",
            (end - start).max(1.5),
            escape(&crate::check::render_op(index, op))
        );
    }
    svg.push_str("</svg>");
    let explanation = input.explanation.map_or(String::new(), |e| escape(&e.text));
    let minimal_rows: String = highlighted
        .iter()
        .filter_map(|&i| history.ops.get(i).map(|op| (i, op)))
        .map(|(i, op)| {
            format!(
                "<tr id=\"minimal-{i}\"><td>{}</td></tr>",
                escape(&crate::check::render_op(i, op))
            )
        })
        .collect();
    let variant = if record.variant_overridden {
        format!("{} (chosen on the command line)", record.variant)
    } else {
        record.variant.clone()
    };
    let counters = &input.outcome.counters;
    let ops = &record.ops;
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{scenario} seed {seed}: {verdict}</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}} pre,code,td{{font-family:monospace;font-size:12px}} \
         .timeline{{overflow-x:auto;border:1px solid #ccc}} .legend span{{margin-right:1.2em}} .verdict{{font-size:1.4em}}</style></head>\
         <body><h1>{scenario}, seed {seed}</h1>\
         <p class=\"verdict\" id=\"verdict\">{verdict}: {reason}</p>\
         <p>Variant: <code id=\"variant\">{variant}</code>; backend {backend}; trace <code id=\"trace-hash\">{trace_hash}</code></p>\
         <p>Replay: <code id=\"replay\">{replay}</code></p>\
         <p id=\"counts\">{total} workload operations: {succeeded} succeeded, {failed} failed, {unknown} unknown, {corruption} reported corruption; \
         {requests} requests, {requests_failed} without reply, {dropped} messages lost, {faults} faults, {losses} losses</p>\
         <p class=\"legend\"><span style=\"color:#4caf50\">&#9632; push ok</span><span style=\"color:#2196f3\">&#9632; pop value</span>\
         <span style=\"color:#9e9e9e\">&#9632; pop empty</span><span style=\"color:#ef6c00\">&#9632; unknown outcome (dashed: never returned)</span>\
         <span style=\"color:#bdbdbd\">&#9632; failed, no effect</span><span style=\"color:#e53935\">&#9632; corruption reported</span>\
         <span style=\"color:#8e24aa\">&#9474; fault</span><span style=\"color:#d32f2f\">&#9474; loss</span> \
         outlined: the smallest failing sub-history. Hover a bar for details.</p>\
         <div class=\"timeline\">{svg}</div>\
         <h2>Smallest failing sub-history</h2><table>{minimal_rows}</table>\
         <h2>Explanation</h2><pre id=\"explanation\">{explanation}</pre>\
         <h2>Configuration</h2><pre id=\"configuration\">{configuration}</pre></body></html>\n",
        scenario = escape(&record.scenario),
        seed = record.seed,
        verdict = record.verdict,
        reason = escape(&record.reason),
        variant = escape(&variant),
        backend = record.backend.name(),
        trace_hash = record.trace_hash.as_deref().unwrap_or("-"),
        replay = escape(&record.replay),
        total = ops.total,
        succeeded = ops.succeeded,
        failed = ops.failed,
        unknown = ops.unknown,
        corruption = ops.corruption,
        requests = counters.requests,
        requests_failed = counters.requests_failed,
        dropped = counters.messages_dropped,
        faults = counters.faults,
        losses = history.losses.len(),
        configuration = escape(input.configuration),
    )
}
