//! The requests behind operations: for each operation of a failing
//! sub-history, every request its client sent while the operation ran and
//! what became of each (applied by which server with which reply, the reply
//! delivered, lost, reset, or late after the client gave up). An anomaly's
//! cause is usually one of these steps (a CAS whose reply was lost, then a
//! retry), not the operations themselves. Read from a kept trace only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::outcome::Outcome;
use crate::trace::{TraceKind, TraceRecord};

/// One request's story, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStory {
    pub request: u64,
    /// The request as sent (`cas simdeque`), then what happened, step by
    /// step, with times.
    pub text: String,
    /// Whether something went wrong on the way (lost, reset, timed out, a
    /// late reply): the steps a reader looks at first.
    pub faulty: bool,
}

/// The requests of `op` (a history index), in the order they were sent.
pub fn requests_of(outcome: &Outcome, op: usize, by_request: &BTreeMap<u64, Vec<&TraceRecord>>) -> Vec<RequestStory> {
    let Some(operation) = outcome.history.ops.get(op) else {
        return Vec::new();
    };
    let until_us = operation.return_us.unwrap_or(u64::MAX);
    let sent: Vec<u64> = outcome
        .trace
        .iter()
        .filter(|r| r.kind == TraceKind::Send && r.client == Some(operation.client))
        .filter(|r| (operation.invoke_us..=until_us).contains(&r.at_us))
        .filter_map(|r| r.request)
        .collect();
    sent.into_iter()
        .map(|request| story(request, by_request.get(&request).map_or(&[][..], Vec::as_slice)))
        .collect()
}

/// Every kept trace record with a request, by request.
pub fn index(outcome: &Outcome) -> BTreeMap<u64, Vec<&TraceRecord>> {
    let mut by_request: BTreeMap<u64, Vec<&TraceRecord>> = BTreeMap::new();
    for record in &outcome.trace {
        if let Some(request) = record.request {
            by_request.entry(request).or_default().push(record);
        }
    }
    by_request
}

fn story(request: u64, events: &[&TraceRecord]) -> RequestStory {
    let mut text = String::new();
    let mut faulty = false;
    // Trace details start with `#<request> `; the story says it once.
    let tag = format!("#{request} ");
    let detail = |event: &TraceRecord| event.detail.strip_prefix(&tag).unwrap_or(&event.detail).to_owned();
    for event in events {
        let at = event.at_us;
        let step = match event.kind {
            TraceKind::Send => format!("{} sent at {at} us", detail(event)),
            TraceKind::Apply => {
                let server = event.server.map_or_else(String::new, |s| format!(" by server {s}"));
                let reply = detail(event);
                let reply = reply.split(" -> ").nth(1).unwrap_or(&reply).to_owned();
                format!("applied{server} at {at} us -> {reply}")
            }
            TraceKind::Reply => format!("reply delivered at {at} us"),
            TraceKind::Drop => {
                faulty = true;
                format!("lost at {at} us ({})", detail(event))
            }
            TraceKind::Hold => {
                faulty = true;
                format!("held by a partition at {at} us")
            }
            TraceKind::Timeout => {
                faulty = true;
                format!("the client gave up at {at} us ({})", detail(event))
            }
            TraceKind::StaleReply => {
                faulty = true;
                format!("its reply arrived at {at} us, after the client gave up")
            }
            _ => continue,
        };
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&step);
    }
    RequestStory { request, text, faulty }
}

/// The requests behind `ops` (history indices) as text: one block per
/// operation, one line per request, a `!` before each request that met a
/// fault. Empty if the trace was not kept.
pub fn render(outcome: &Outcome, ops: &[usize]) -> String {
    if outcome.trace.is_empty() {
        return String::new();
    }
    let by_request = index(outcome);
    let mut out = String::new();
    let faulty: Vec<String> = ops
        .iter()
        .flat_map(|&op| requests_of(outcome, op, &by_request))
        .filter(|story| story.faulty)
        .map(|story| format!("#{} {}", story.request, story.text))
        .collect();
    if !faulty.is_empty() {
        let _ = writeln!(out, "Requests of these operations that met a fault (the likely cause):");
        for line in &faulty {
            let _ = writeln!(out, "  ! {line}");
        }
        let _ = writeln!(out, "Every request, operation by operation:");
    }
    for &op in ops {
        let Some(operation) = outcome.history.ops.get(op) else {
            continue;
        };
        let stories = requests_of(outcome, op, &by_request);
        let _ = writeln!(out, "{}", crate::check::render_op(op, operation));
        if operation.client >= outcome.workload_clients {
            let _ = writeln!(out, "    (setup or drain: straight on the servers, not traced)");
        } else if stories.is_empty() {
            let _ = writeln!(out, "    (no request: answered without asking a server)");
        }
        for story in stories {
            let mark = if story.faulty { "!" } else { " " };
            let _ = writeln!(out, "  {mark} #{} {}", story.request, story.text);
        }
    }
    out
}
