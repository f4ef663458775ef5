//! The verdict on an MCAS history, first matching rule first:
//! 1. `false-alarm`: an operation reported corruption that no loss begun
//!    before its return explains (a loss of its register, or of protocol
//!    items: a descriptor, whose claims every reader reports, or a
//!    server's life mark, after which its registers read as another
//!    life's);
//! 2. the search ([`crate::check::wgl`]) against [`RegisterSpec`], each
//!    loss placed at its instant: none is `not-linearizable`, a spent
//!    budget `unknown` (never a pass);
//! 3. `liveness`: an operation gave up (`retries_exhausted`; an MCAS that
//!    gave up may still be finished by a helper, so the search takes it as
//!    unknown);
//! 4. a valid order is `linearizable`, or `detected-corruption` when
//!    operations reported the losses.

use std::collections::BTreeMap;

use super::history::{McasHistory, McasHistoryOp, McasOpKind, McasResult};
use super::spec::{RegisterOp, RegisterRet, RegisterSpec};
use crate::check::wgl::{Timed, WglOutcome, linearizable};
use crate::verdict::Verdict;

/// The checker's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McasReport {
    pub verdict: Verdict,
    /// One sentence on why.
    pub reason: String,
    /// Search steps taken.
    pub steps: u64,
}

/// Interned keys and values: the search compares small integers.
#[derive(Debug, Default)]
pub struct Interned {
    keys: BTreeMap<String, usize>,
    values: BTreeMap<String, u32>,
}

impl Interned {
    pub fn key(&mut self, key: &str) -> usize {
        let next = self.keys.len();
        *self.keys.entry(key.to_owned()).or_insert(next)
    }

    pub fn value(&mut self, value: &str) -> u32 {
        let next = self.values.len() as u32;
        *self.values.entry(value.to_owned()).or_insert(next)
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// The history as the search sees it: the initial state and every
/// operation that may have had an effect or was observed (failed
/// operations and unknown reads are left out: neither changes anything),
/// with each one's index in the history, then the losses, each at its
/// instant (index `history.ops.len() + j` for loss `j`).
pub fn prepare(history: &McasHistory) -> (RegisterSpec, Vec<Timed<RegisterOp, RegisterRet>>, Vec<usize>) {
    let mut names = Interned::default();
    let initial: Vec<(usize, u32)> = history
        .initial
        .iter()
        .map(|(key, value)| (names.key(key), names.value(value)))
        .collect();
    let mut ops = Vec::new();
    let mut origin = Vec::new();
    for (index, op) in history.ops.iter().enumerate() {
        let spec_op = match &op.kind {
            McasOpKind::Read { key } => RegisterOp::Read(names.key(key)),
            McasOpKind::Mcas { updates } => RegisterOp::Mcas(
                updates
                    .iter()
                    .map(|u| (names.key(&u.key), names.value(&u.expected), names.value(&u.new)))
                    .collect(),
            ),
        };
        let ret = match (&op.result, &spec_op) {
            (McasResult::Value { value }, _) => Some(RegisterRet::Value(Some(names.value(value)))),
            (McasResult::Missing, _) => Some(RegisterRet::Value(None)),
            (McasResult::Ok, _) => Some(RegisterRet::Applied),
            (McasResult::NotApplied, _) => Some(RegisterRet::NotApplied),
            (McasResult::Unknown | McasResult::Corruption { .. }, RegisterOp::Mcas(_)) => None,
            // Gave up with its claims standing: a helper may finish it.
            (McasResult::Failed { error }, RegisterOp::Mcas(_)) if error == "retries_exhausted" => None,
            _ => continue,
        };
        // An MCAS whose outcome is unknown may still be finished by any
        // client that meets one of its claims, after its originator
        // returned: it may take effect at any time after its invoke.
        let return_us = match ret {
            None => u64::MAX,
            Some(_) => op.return_us.unwrap_or(u64::MAX),
        };
        ops.push(Timed {
            op: spec_op,
            ret,
            invoke_us: op.invoke_us,
            return_us,
        });
        origin.push(index);
    }
    for (j, loss) in history.losses.iter().enumerate() {
        ops.push(Timed {
            op: RegisterOp::Lose(loss.keys.iter().map(|key| names.key(key)).collect()),
            ret: Some(RegisterRet::Lost),
            invoke_us: loss.at_us,
            return_us: loss.until_us.unwrap_or(loss.at_us),
        });
        origin.push(history.ops.len() + j);
    }
    let mut values = vec![None; names.key_count()];
    for (key, value) in initial {
        values[key] = Some(value);
    }
    (RegisterSpec { values }, ops, origin)
}

/// Judges `history` (validated first: a malformed one is an `Err` naming
/// the operation). `steps_max` bounds the search.
pub fn check_mcas(history: &McasHistory, steps_max: u64) -> Result<McasReport, String> {
    history.validate()?;
    let report = |verdict, reason: String, steps| McasReport { verdict, reason, steps };
    let corrupt: Vec<(usize, &String, &String)> = history
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match &op.result {
            McasResult::Corruption { key, detail } => Some((i, key, detail)),
            _ => None,
        })
        .collect();
    // A report is a detection only of a loss begun before it returned: of
    // its own register, or of protocol items (a descriptor, a life mark).
    let explained = |i: usize, key: &String| {
        let returned = history.ops[i].return_us.unwrap_or(u64::MAX);
        history
            .losses
            .iter()
            .any(|loss| loss.at_us <= returned && (loss.protocol_items || loss.keys.contains(key)))
    };
    if let Some((i, key, detail)) = corrupt.iter().find(|&&(i, key, _)| !explained(i, key)) {
        let when = if history.losses.is_empty() {
            "though nothing was lost"
        } else {
            "that no loss of it, or of protocol items, begun before it returned explains"
        };
        return Ok(report(
            Verdict::FalseAlarm,
            format!("op {i} reported corruption at {key} ({detail}) {when}"),
            0,
        ));
    }
    let gave_up = history
        .ops
        .iter()
        .position(|op| matches!(&op.result, McasResult::Failed { error } if error == "retries_exhausted"));
    let (initial, ops, origin) = prepare(history);
    let (outcome, steps) = linearizable(&initial, &ops, steps_max);
    let counted = |n: usize| {
        if n == 1 {
            "1 operation".to_owned()
        } else {
            format!("{n} operations")
        }
    };
    let losses = match history.losses.len() {
        0 => String::new(),
        1 => " and the loss".to_owned(),
        n => format!(" and the {n} losses"),
    };
    Ok(match outcome {
        WglOutcome::Linearizable if gave_up.is_some() => report(
            Verdict::Liveness,
            format!("op {} gave up after its retries", gave_up.unwrap_or_default()),
            steps,
        ),
        WglOutcome::Linearizable if !corrupt.is_empty() => report(
            Verdict::DetectedCorruption,
            format!(
                "a valid order of the {}{losses} exists, and {} reported the loss as corruption",
                counted(ops.len() - history.losses.len()),
                counted(corrupt.len())
            ),
            steps,
        ),
        WglOutcome::Linearizable => report(
            Verdict::Linearizable,
            format!(
                "a valid order of the {} that took effect or were seen{losses} exists",
                counted(ops.len() - history.losses.len())
            ),
            steps,
        ),
        WglOutcome::NotLinearizable { deepest, stuck } => {
            let at = match stuck.map(|i| origin[i]) {
                Some(o) if o < history.ops.len() => format!(
                    "; the longest valid order ({} placed) cannot go on with op {o}: {}",
                    counted(deepest),
                    describe(&history.ops[o])
                ),
                Some(o) => {
                    let loss = &history.losses[o - history.ops.len()];
                    format!(
                        "; the longest valid order ({} placed) cannot go on with the loss of {} at {} us",
                        counted(deepest),
                        loss.keys.join(", "),
                        loss.at_us
                    )
                }
                None => String::new(),
            };
            report(
                Verdict::NotLinearizable,
                format!(
                    "no order of the {} that took effect or were seen fits a register's values{at}",
                    counted(ops.len() - history.losses.len())
                ),
                steps,
            )
        }
        WglOutcome::Unknown => report(
            Verdict::Unknown,
            format!("the search spent its {steps_max} steps without deciding"),
            steps,
        ),
    })
}

/// One operation in a sentence: who, what, and what it returned.
pub fn describe(op: &McasHistoryOp) -> String {
    let what = match &op.kind {
        McasOpKind::Read { key } => format!("read {key}"),
        McasOpKind::Mcas { updates } => {
            let parts: Vec<String> = updates
                .iter()
                .map(|u| format!("{} {} -> {}", u.key, u.expected, u.new))
                .collect();
            format!("mcas [{}]", parts.join(", "))
        }
    };
    let returned = match &op.result {
        McasResult::Value { value } => format!("returned {value}"),
        McasResult::Missing => "found nothing".to_owned(),
        McasResult::Ok => "succeeded".to_owned(),
        McasResult::NotApplied => "failed (not applied)".to_owned(),
        McasResult::Unknown => "outcome unknown".to_owned(),
        McasResult::Failed { error } => format!("failed without effect ({error})"),
        McasResult::Corruption { key, detail } => format!("reported corruption at {key} ({detail})"),
    };
    let span = match op.return_us {
        Some(r) => format!("{}-{r} us", op.invoke_us),
        None => format!("{}- us, never returned", op.invoke_us),
    };
    format!("client {} {what} {returned} ({span})", op.client)
}
