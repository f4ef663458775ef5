//! What a world hands back after running a plan: one type for every world.
//! It says how the run ended (finished, stuck, or never started), carries
//! the history the checker reads, the trace (or its hash), and the counters
//! that show which faults happened, so that no later stage has to ask the
//! world again.

use serde::{Deserialize, Serialize};

use crate::history::{History, OpResult};
use crate::trace::TraceRecord;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum RunEnd {
    /// The clients finished (or crashed, as planned) and the run was
    /// drained: the history is whole.
    Finished,
    /// The clients did not finish: the simulator's event budget or the real
    /// backend's deadline ran out. A liveness failure, judged without the
    /// history.
    Stuck {
        /// Which budget ran out.
        reason: String,
    },
    /// The deque refused the servers at setup with a typed error (a server
    /// with CAS disabled): no workload ran, by the library's choice.
    Refused { reason: String },
    /// The run could not start, or could not apply one of its faults: a
    /// harness failure that says nothing about the algorithm.
    CouldNotStart { reason: String },
    /// A client process broke the protocol (`docs/client-protocol.md`):
    /// garbage for a result, an exit nobody asked for, no answer in time.
    /// A harness failure: its operation was recorded `unknown`, and the
    /// run proves nothing.
    ClientFailed { reason: String },
}

/// Counters of one run, the same fields in every world. A world counts
/// what it can see; a counter a world cannot see stays absent (the
/// world-specific parts) rather than reading 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Requests the clients sent (lifetime checks included).
    pub requests: u64,
    /// Requests whose client got no reply: timed out, or its connection
    /// was reset under it.
    pub requests_failed: u64,
    /// Messages lost on a link: drops, cut links, resets, restarts.
    pub messages_dropped: u64,
    /// Connections reset under a message (counted in `messages_dropped`).
    pub resets: u64,
    /// Messages delayed by a spike.
    pub messages_spiked: u64,
    /// Messages held by a partition until it healed.
    pub messages_held: u64,
    /// Faults that fired (scheduled and random).
    pub faults: u64,
    /// Items the servers dropped on their own: evictions and stores refused
    /// for lack of memory.
    pub items_dropped: u64,
    /// Deques clients created again after an anchor loss.
    pub recreations: u64,
    /// Clients that crashed.
    pub crashed_clients: u64,
    /// What only the simulator sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim: Option<SimCounters>,
    /// What only the real backend sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real: Option<RealCounters>,
}

/// The simulator's own counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCounters {
    /// Events processed.
    pub events: u64,
    /// Virtual time of the last event (late messages included), before the
    /// drain.
    pub virtual_time_us: u64,
    /// Replies that reached a client that had stopped waiting for them.
    pub stale_replies: u64,
    /// Compare-and-sets a server applied with a token an earlier life of
    /// that server had issued to the client (the restart ABA's window).
    #[serde(default)]
    pub stale_token_cas: u64,
    /// Of those, the ones the server accepted (the new token counter had
    /// reached the stale token).
    #[serde(default)]
    pub stale_token_cas_accepted: u64,
    /// Compare-and-sets of the anchor that stored, whose reply never reached
    /// a waiting client (the lost reply to the step that completes an
    /// operation).
    #[serde(default)]
    pub cas_replies_lost: u64,
    /// Deletes that found nothing to delete.
    #[serde(default)]
    pub deletes_not_found: u64,
    /// Writes (`set`, `add`) of a node key another client wrote first.
    #[serde(default)]
    pub node_key_collisions: u64,
    /// Replies carrying the CAS token 0 (a server run with `-C`).
    #[serde(default)]
    pub token_zero_replies: u64,
    /// Workload operations that compare-and-set an anchor written by an
    /// accepted stale-token compare-and-set and returned success, by a
    /// client that had not asked the server's life since the restart
    /// (FINDINGS.md, finding 7).
    #[serde(default)]
    pub stale_anchor_successes: u64,
}

/// The real backend's own counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealCounters {
    /// Wall-clock milliseconds of the workload.
    pub workload_ms: u64,
    /// Filler sets written (memory-limited scenarios).
    pub filler_sets: u64,
    /// Whether the filler reached full memory before the workload.
    pub memory_full: bool,
    /// Whether the clients were processes (`--client-cmd`): the harness
    /// saw their operations, not their requests, so `requests` and
    /// `requests_failed` were not counted and read as unseen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_processes: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub end: RunEnd,
    /// The client-boundary history, drain included (empty if the run never
    /// started).
    pub history: History,
    /// The workload's clients are `0..workload_clients`; the prefill's and
    /// the drain's ops come from the two clients after them.
    pub workload_clients: u32,
    /// The trace's hash, where the world keeps a deterministic trace (the
    /// simulator): equal hashes, equal runs.
    pub trace_hash: Option<u64>,
    /// The trace, when the plan asked to keep it.
    pub trace: Vec<TraceRecord>,
    /// What happened, counted.
    pub counters: Counters,
    /// What the world saw break that the history cannot show (the
    /// simulator's oracles); empty where the world has no oracles.
    pub oracle_violations: Vec<OracleViolation>,
    /// An MCAS run's history and bank, judged instead of `history` (which
    /// an MCAS run leaves empty); `None` in a deque run.
    pub mcas: Option<crate::mcas::bank_run::BankRun>,
}

/// A violation the world saw directly, with the trace event that proves it:
/// a correctness failure whatever the checker makes of the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OracleViolation {
    /// Virtual time of the event, microseconds.
    pub at_us: u64,
    /// The request (`#N` in the trace) whose application broke the rule.
    pub request: u64,
    /// What broke, in one sentence.
    pub what: String,
}

impl std::fmt::Display for OracleViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (request #{} at {} us in the trace)",
            self.what, self.request, self.at_us
        )
    }
}

impl Outcome {
    /// The outcome of a run that could not start.
    pub fn could_not_start(reason: impl Into<String>) -> Outcome {
        Outcome {
            end: RunEnd::CouldNotStart { reason: reason.into() },
            history: History::default(),
            workload_clients: 0,
            trace_hash: None,
            trace: Vec::new(),
            counters: Counters::default(),
            oracle_violations: Vec::new(),
            mcas: None,
        }
    }

    /// The outcome of a run whose deque setup (create and prefill) failed
    /// with `error`: refused if the deque refused the servers, else could
    /// not start. The same for every world.
    pub fn setup_failed(error: &memcache_collections::DequeError) -> Outcome {
        let mut outcome = Outcome::could_not_start(format!("setting up the deque failed: {error}"));
        if let memcache_collections::DequeError::CasDisabled { .. } = error {
            outcome.end = RunEnd::Refused {
                reason: format!("the deque refused at setup: {error}"),
            };
        }
        outcome
    }

    /// The workload's operations by result (prefill and drain excluded;
    /// for MCAS, the closing audits).
    pub fn op_counts(&self) -> OpCounts {
        let mut counts = OpCounts::default();
        let workload = self.workload_clients;
        if let Some(bank) = &self.mcas {
            use crate::mcas::McasResult;
            for op in bank.history.ops.iter().filter(|op| op.client < workload) {
                counts.total += 1;
                match op.result {
                    McasResult::Ok | McasResult::NotApplied | McasResult::Value { .. } | McasResult::Missing => {
                        counts.succeeded += 1
                    }
                    McasResult::Unknown => counts.unknown += 1,
                    McasResult::Failed { .. } => counts.failed += 1,
                    McasResult::Corruption { .. } => counts.corruption += 1,
                }
            }
            return counts;
        }
        for op in self.history.ops.iter().filter(|op| op.client < workload) {
            counts.total += 1;
            match op.result {
                OpResult::Ok | OpResult::Value { .. } | OpResult::Empty => counts.succeeded += 1,
                OpResult::Unknown => counts.unknown += 1,
                OpResult::Failed { .. } => counts.failed += 1,
                OpResult::Corruption { .. } => counts.corruption += 1,
            }
        }
        counts
    }
}

/// How the workload's operations ended: what a reader checks first to see
/// that a run tested something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts {
    /// The workload's operations (prefill and drain excluded).
    pub total: u64,
    /// Pushes that took effect and pops that returned a value or `empty`.
    pub succeeded: u64,
    /// Operations that certainly had no effect.
    pub failed: u64,
    /// Operations whose effect is unknown (lost reply, or never returned).
    pub unknown: u64,
    /// Operations that reported corruption.
    pub corruption: u64,
}
