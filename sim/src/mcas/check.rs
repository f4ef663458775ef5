//! The verdict on an MCAS history, first matching rule first:
//! 1. `false-alarm`: an operation reported corruption (MCAS histories
//!    record no losses yet, so nothing could explain it);
//! 2. `liveness`: an operation gave up (`retries_exhausted`);
//! 3. the search ([`crate::check::wgl`]) against [`RegisterSpec`]: a valid
//!    order is `linearizable`, none is `not-linearizable`, a spent budget
//!    `unknown` (never a pass).

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
/// with each one's index in the history.
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
    if let Some((i, key, detail)) = history.ops.iter().enumerate().find_map(|(i, op)| match &op.result {
        McasResult::Corruption { key, detail } => Some((i, key, detail)),
        _ => None,
    }) {
        return Ok(report(
            Verdict::FalseAlarm,
            format!("op {i} reported corruption at {key} ({detail}) though nothing was lost"),
            0,
        ));
    }
    if let Some(i) = history
        .ops
        .iter()
        .position(|op| matches!(&op.result, McasResult::Failed { error } if error == "retries_exhausted"))
    {
        return Ok(report(
            Verdict::Liveness,
            format!("op {i} gave up after its retries"),
            0,
        ));
    }
    let (initial, ops, origin) = prepare(history);
    let (outcome, steps) = linearizable(&initial, &ops, steps_max);
    let counted = |n: usize| {
        if n == 1 {
            "1 operation".to_owned()
        } else {
            format!("{n} operations")
        }
    };
    Ok(match outcome {
        WglOutcome::Linearizable => report(
            Verdict::Linearizable,
            format!(
                "a valid order of the {} that took effect or were seen exists",
                counted(ops.len())
            ),
            steps,
        ),
        WglOutcome::NotLinearizable { deepest, stuck } => {
            let at = match stuck {
                Some(i) => format!(
                    "; the longest valid order ({} placed) cannot go on with op {}: {}",
                    counted(deepest),
                    origin[i],
                    describe(&history.ops[origin[i]])
                ),
                None => String::new(),
            };
            report(
                Verdict::NotLinearizable,
                format!(
                    "no order of the {} that took effect or were seen fits a register's values{at}",
                    counted(ops.len())
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
