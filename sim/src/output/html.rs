//! One self-contained HTML page per run (one file, no network): a timeline
//! with a time axis, one row per client and per server, every operation as
//! a bar from invocation to return (results and unknown outcomes visible),
//! network events (lost messages, timeouts, late replies, held messages) and
//! faults on the rows they hit, losses on the same axis, the operations of
//! the smallest failing sub-history outlined and the requests behind them
//! drawn as arrows; zoomed to the anomaly, with wheel zoom and drag pan (the
//! inline script `timeline.js`). Below it: the checker's explanation, the
//! requests behind the failing operations, the replay command, and the
//! run's effective configuration (seed, variant, swarm draws). Rendered only
//! from what it is given (the record, the outcome, the explanation): it
//! never runs anything.

use serde::Serialize;

use super::{escape, requests};
use crate::check::Explanation;
use crate::history::OpResult;
use crate::outcome::Outcome;
use crate::record::RunRecord;
use crate::trace::{TraceKind, TraceRecord};

/// The timeline's script, inlined into every page.
const TIMELINE_JS: &str = include_str!("timeline.js");

/// What the timeline script draws.
#[derive(Serialize)]
struct Model {
    start: u64,
    end: u64,
    /// The window first shown: the failing sub-history, with a margin.
    focus: Option<[u64; 2]>,
    rows: Vec<String>,
    ops: Vec<OpBar>,
    lines: Vec<Line>,
    events: Vec<Mark>,
    arrows: Vec<Arrow>,
}

#[derive(Serialize)]
struct OpBar {
    id: usize,
    row: usize,
    invoke: u64,
    ret: Option<u64>,
    fill: &'static str,
    class: &'static str,
    title: String,
    minimal: bool,
}

/// A fault or a loss: a line across every row.
#[derive(Serialize)]
struct Line {
    at: u64,
    kind: &'static str,
    title: String,
}

/// A network event or a fault, on the row it hit.
#[derive(Serialize)]
struct Mark {
    at: u64,
    row: usize,
    kind: &'static str,
    glyph: &'static str,
    colour: &'static str,
    title: String,
}

/// One step of a request behind a failing operation.
#[derive(Serialize)]
struct Arrow {
    from_row: usize,
    from_at: u64,
    to_row: usize,
    to_at: u64,
    lost: bool,
    title: String,
}

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

/// One operation as the timeline draws it, from either subject's history.
struct Span {
    client: u32,
    invoke_us: u64,
    return_us: Option<u64>,
    fill: &'static str,
    class: &'static str,
    title: String,
}

/// The run's operations as spans: the deque's history, or an MCAS run's.
fn spans(outcome: &crate::outcome::Outcome) -> Vec<Span> {
    use crate::mcas::McasResult;
    match &outcome.mcas {
        Some(bank) => bank
            .history
            .ops
            .iter()
            .enumerate()
            .map(|(index, op)| {
                // The deque's palette: an applied MCAS as an ok, one not
                // applied as an empty pop, a read as a value.
                let (fill, class) = match &op.result {
                    McasResult::Ok => ("#4caf50", "ok"),
                    McasResult::NotApplied | McasResult::Missing => ("#9e9e9e", "empty"),
                    McasResult::Value { .. } => ("#2196f3", "value"),
                    McasResult::Unknown => ("url(#unknown)", "unknown"),
                    McasResult::Failed { .. } => ("#e0e0e0", "failed"),
                    McasResult::Corruption { .. } => ("#e53935", "corruption"),
                };
                Span {
                    client: op.client,
                    invoke_us: op.invoke_us,
                    return_us: op.return_us,
                    fill,
                    class,
                    title: format!("#{index} {}", crate::mcas::check::describe(op)),
                }
            })
            .collect(),
        None => outcome
            .history
            .ops
            .iter()
            .enumerate()
            .map(|(index, op)| {
                let (fill, class) = color(&op.result);
                Span {
                    client: op.client,
                    invoke_us: op.invoke_us,
                    return_us: op.return_us,
                    fill,
                    class,
                    title: crate::check::render_op(index, op),
                }
            })
            .collect(),
    }
}

/// The rows: every client of the history, then every server the trace or
/// the losses name.
struct Rows {
    clients: Vec<u32>,
    servers: u32,
}

impl Rows {
    fn of(input: &ReportInput<'_>, spans: &[Span]) -> Rows {
        let history = &input.outcome.history;
        let mut clients: Vec<u32> = spans.iter().map(|op| op.client).collect();
        clients.sort_unstable();
        clients.dedup();
        let servers = input
            .outcome
            .trace
            .iter()
            .filter_map(|r| r.server)
            .chain(history.losses.iter().map(|l| l.server))
            .max()
            .map_or(0, |s| s + 1);
        Rows { clients, servers }
    }

    fn labels(&self, input: &ReportInput<'_>) -> Vec<String> {
        let (prefill, drain) = (input.outcome.workload_clients, input.outcome.history.drain_client);
        let mut labels: Vec<String> = self
            .clients
            .iter()
            .map(|&c| match c {
                _ if Some(c) == drain => format!("client {c} (drain)"),
                _ if c == prefill => format!("client {c} (prefill)"),
                _ => format!("client {c}"),
            })
            .collect();
        labels.extend((0..self.servers).map(|s| format!("server {s}")));
        labels
    }

    fn client(&self, client: u32) -> Option<usize> {
        self.clients.iter().position(|&c| c == client)
    }

    fn server(&self, server: u32) -> usize {
        self.clients.len() + server as usize
    }
}

/// The number after `field: ` in a fault's description (`Restart { server:
/// 0 }`), if any.
fn numbered(detail: &str, field: &str) -> Option<u32> {
    let rest = &detail[detail.find(field)? + field.len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Marks for the network events and faults of the trace, on their rows.
fn marks(trace: &[TraceRecord], rows: &Rows) -> Vec<Mark> {
    let mut marks = Vec::new();
    for event in trace {
        let (kind, glyph, colour) = match event.kind {
            TraceKind::Drop => ("lost", "\u{2715}", "#d32f2f"),
            TraceKind::Timeout => ("timeout", "\u{25CB}", "#ef6c00"),
            TraceKind::StaleReply => ("late", "\u{25C6}", "#6a1b9a"),
            TraceKind::Hold => ("held", "\u{25A1}", "#546e7a"),
            TraceKind::Crash => ("crash", "\u{2620}", "#000"),
            TraceKind::Fault => ("fault", "\u{26A1}", "#8e24aa"),
            _ => continue,
        };
        let title = format!("{} us: {}", event.at_us, event.detail);
        let mut rows_hit = Vec::new();
        if let Some(row) = event.client.and_then(|c| rows.client(c)) {
            rows_hit.push(row);
        }
        if let Some(server) = event.server {
            rows_hit.push(rows.server(server));
        }
        if event.kind == TraceKind::Fault {
            if let Some(server) = numbered(&event.detail, "server: ") {
                rows_hit.push(rows.server(server));
            }
            if let Some(row) = numbered(&event.detail, "client: ").and_then(|c| rows.client(c)) {
                rows_hit.push(row);
            }
        }
        for row in rows_hit {
            marks.push(Mark {
                at: event.at_us,
                row,
                kind,
                glyph,
                colour,
                title: title.clone(),
            });
        }
    }
    marks
}

/// Arrows for the requests behind `ops`: send to apply (or to where it was
/// lost), apply to reply (or to where the reply was lost or came late).
fn arrows(outcome: &Outcome, ops: &[usize], rows: &Rows) -> Vec<Arrow> {
    let by_request = requests::index(outcome);
    let mut arrows = Vec::new();
    for &op in ops {
        for story in requests::requests_of(outcome, op, &by_request) {
            let events = &by_request[&story.request];
            let send = events.iter().find(|e| e.kind == TraceKind::Send);
            let apply = events.iter().find(|e| e.kind == TraceKind::Apply);
            let back = events
                .iter()
                .find(|e| matches!(e.kind, TraceKind::Reply | TraceKind::StaleReply))
                .or_else(|| events.iter().rev().find(|e| e.kind == TraceKind::Drop));
            let (Some(send), Some(client_row)) = (send, send.and_then(|s| s.client).and_then(|c| rows.client(c)))
            else {
                continue;
            };
            let server_row = rows.server(send.server.unwrap_or(0));
            let title = format!("#{} {}", story.request, story.text);
            match apply {
                Some(apply) => {
                    arrows.push(Arrow {
                        from_row: client_row,
                        from_at: send.at_us,
                        to_row: server_row,
                        to_at: apply.at_us,
                        lost: false,
                        title: title.clone(),
                    });
                    if let Some(back) = back.filter(|b| b.at_us >= apply.at_us) {
                        arrows.push(Arrow {
                            from_row: server_row,
                            from_at: apply.at_us,
                            to_row: client_row,
                            to_at: back.at_us,
                            lost: back.kind != TraceKind::Reply,
                            title,
                        });
                    }
                }
                None => {
                    if let Some(lost) = events.iter().find(|e| e.kind == TraceKind::Drop) {
                        arrows.push(Arrow {
                            from_row: client_row,
                            from_at: send.at_us,
                            to_row: server_row,
                            to_at: lost.at_us,
                            lost: true,
                            title,
                        });
                    }
                }
            }
        }
    }
    arrows
}

/// Renders the page.
pub fn html(input: &ReportInput<'_>) -> String {
    let history = &input.outcome.history;
    let spans = spans(input.outcome);
    let record = input.record;
    let start = spans
        .iter()
        .map(|op| op.invoke_us)
        .chain(input.outcome.trace.iter().map(|r| r.at_us))
        .min()
        .unwrap_or(0);
    let end_us = spans
        .iter()
        .map(|op| op.return_us.unwrap_or(op.invoke_us))
        .chain(input.outcome.trace.iter().map(|r| r.at_us))
        .max()
        .unwrap_or(1)
        .max(start + 1);
    let rows = Rows::of(input, &spans);
    let highlighted: Vec<usize> = input.explanation.map(|e| e.minimal.clone()).unwrap_or_default();
    let focus = highlighted
        .iter()
        .filter_map(|&i| history.ops.get(i))
        .map(|op| (op.invoke_us, op.return_us.unwrap_or(end_us)))
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .map(|(from, to)| {
            let margin = ((to - from) / 10).max(50);
            [from.saturating_sub(margin).max(start), (to + margin).min(end_us)]
        });
    let ops = spans
        .into_iter()
        .enumerate()
        .map(|(index, op)| OpBar {
            id: index,
            row: rows.client(op.client).unwrap_or(0),
            invoke: op.invoke_us,
            ret: op.return_us,
            fill: op.fill,
            class: op.class,
            title: op.title,
            minimal: highlighted.contains(&index),
        })
        .collect();
    let mut lines: Vec<Line> = input
        .outcome
        .trace
        .iter()
        .filter(|r| r.kind == TraceKind::Fault)
        .map(|r| Line {
            at: r.at_us,
            kind: "fault",
            title: format!("{} us: {}", r.at_us, r.detail),
        })
        .collect();
    lines.extend(history.losses.iter().map(|loss| Line {
        at: loss.at_us,
        kind: "loss",
        title: format!(
            "{} us: loss ({:?}) of {} on server {}",
            loss.at_us,
            loss.cause,
            loss.key.as_deref().unwrap_or("every item"),
            loss.server
        ),
    }));
    let model = Model {
        start,
        end: end_us,
        focus,
        rows: rows.labels(input),
        ops,
        lines,
        events: marks(&input.outcome.trace, &rows),
        arrows: arrows(input.outcome, &highlighted, &rows),
    };
    let model_json = serde_json::to_string(&model)
        .expect("the model serialises")
        .replace("</", "<\\/");
    let behind = escape(&requests::render(input.outcome, &highlighted));
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
         .timeline{{overflow-x:auto;border:1px solid #ccc;cursor:grab;user-select:none}} .legend span{{margin-right:1.2em}} \
         .verdict{{font-size:1.4em}}</style></head>\
         <body><h1>{scenario}, seed {seed}</h1>\
         <p class=\"verdict\" id=\"verdict\">{verdict}: {reason}</p>{expected}\
         <p>Variant: <code id=\"variant\">{variant}</code>; backend {backend}; trace <code id=\"trace-hash\">{trace_hash}</code></p>\
         <p>Replay: <code id=\"replay\">{replay}</code></p>\
         <p id=\"counts\">{total} workload operations: {succeeded} succeeded, {failed} failed, {unknown} unknown, {corruption} reported corruption; \
         {requests} requests, {requests_failed} without reply, {dropped} messages lost, {spiked} delayed by a spike, {faults} faults, \
         {losses} losses</p>\
         <p class=\"legend\"><span style=\"color:#4caf50\">&#9632; push ok</span><span style=\"color:#2196f3\">&#9632; pop value</span>\
         <span style=\"color:#9e9e9e\">&#9632; pop empty</span><span style=\"color:#ef6c00\">&#9632; unknown outcome (dashed: never returned)</span>\
         <span style=\"color:#bdbdbd\">&#9632; failed, no effect</span><span style=\"color:#e53935\">&#9632; corruption reported</span>\
         <span style=\"color:#8e24aa\">&#9474; fault</span><span style=\"color:#d32f2f\">&#9474; loss</span> \
         <span style=\"color:#d32f2f\">&#x2715; message lost</span><span style=\"color:#ef6c00\">&#x25CB; client gave up</span>\
         <span style=\"color:#6a1b9a\">&#x25C6; late reply</span><span style=\"color:#546e7a\">&#x25A1; held by a partition</span>\
         <span>&#x2620; crash</span><span style=\"color:#8e24aa\">&#x26A1; fault</span><span>&#x2192; a request behind a failing operation</span> \
         outlined: the smallest failing sub-history. Hover a bar, mark or arrow for details.</p>\
         <p><button id=\"zoom-anomaly\">zoom to the anomaly</button> <button id=\"zoom-all\">whole run</button> \
         showing <span id=\"window\"></span>; wheel to zoom, drag to pan.</p>\
         <div class=\"timeline\" id=\"timeline\"><noscript>The timeline needs JavaScript.</noscript></div>\
         <script type=\"application/json\" id=\"timeline-model\">{model_json}</script><script>{script}</script>\
         <h2>Smallest failing sub-history</h2><table>{minimal_rows}</table>\
         <h2>Explanation</h2><pre id=\"explanation\">{explanation}</pre>\
         <h2>Requests behind the failing operations</h2><pre id=\"requests\">{behind}</pre>\
         <h2>Configuration</h2><pre id=\"configuration\">{configuration}</pre></body></html>\n",
        scenario = escape(&record.scenario),
        seed = record.seed,
        verdict = record.verdict,
        reason = escape(&record.reason),
        expected = if record.expected {
            String::new()
        } else {
            format!(
                "<p id=\"expected\"><strong>Not what the scenario expects</strong>: {}.</p>",
                escape(&record.expected_text())
            )
        },
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
        spiked = counters.messages_spiked,
        faults = counters.faults,
        losses = history.losses.len(),
        configuration = escape(input.configuration),
        script = TIMELINE_JS,
    )
}
