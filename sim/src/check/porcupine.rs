//! A deque history in Porcupine's operation format, so that the same
//! history can be checked by Porcupine (github.com/anishathalye/porcupine,
//! the most widely used general-purpose linearizability checker) and the
//! two tools' verdicts and costs compared (`mcsim check --export-porcupine`).
//!
//! The file is a JSON array of Porcupine `Operation`s:
//! `{"ClientId": 3, "Input": {"op": "push_back", "value": "3.17"},
//! "Call": 120, "Output": {"type": "ok"}, "Return": 410}`, with `Call` and
//! `Return` in microseconds and `Output` the history's result object
//! (`ok`, `value` with its value, `empty`, `unknown`). A Porcupine model of
//! the deque reads `Input` as the call and accepts any `Output` of type
//! `unknown`.
//!
//! What the translation does with what Porcupine has no word for:
//! - an operation of unknown outcome gets `Return` = 2^63 - 1: it may take
//!   effect at any time after its call, or, placed last, affect nothing
//!   (the convention Jepsen's histories use with Porcupine);
//! - an operation that failed without effect is left out (it did nothing);
//! - reported corruption and recorded losses cannot be expressed: such a
//!   history is refused, naming the first operation or loss.
//!
//! Porcupine reads intervals as closed (two operations that share a
//! microsecond may take effect in either order); this checker does the
//! same except for an operation of zero length followed by one invoked at
//! the same microsecond, so the two can differ on histories built to sit on
//! that edge, never on recorded ones.

use serde::Serialize;

use crate::history::{History, OpResult};

/// One Porcupine `Operation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PorcupineOp {
    pub client_id: u32,
    pub input: PorcupineInput,
    pub call: i64,
    pub output: OpResult,
    #[serde(rename = "Return")]
    pub return_time: i64,
}

/// An operation's call: which operation, and the value a push pushes.
#[derive(Debug, Clone, Serialize)]
pub struct PorcupineInput {
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The history as Porcupine operations.
///
/// # Errors
/// A history with a reported corruption or a recorded loss (Porcupine's
/// model has nothing to match them against), or a time past 2^63 - 1 us;
/// the message names the operation or loss.
pub fn to_porcupine(history: &History) -> Result<Vec<PorcupineOp>, String> {
    if let Some(loss) = history.losses.first() {
        return Err(format!(
            "the history records a loss (at {} us); Porcupine's operations cannot express one",
            loss.at_us
        ));
    }
    let time =
        |us: u64, index: usize| i64::try_from(us).map_err(|_| format!("ops[{index}]: time {us} us is past 2^63 - 1"));
    let mut ops = Vec::with_capacity(history.ops.len());
    for (index, op) in history.ops.iter().enumerate() {
        let return_time = match (&op.result, op.return_us) {
            (OpResult::Failed { .. }, _) => continue,
            (OpResult::Corruption { .. }, _) => {
                return Err(format!(
                    "ops[{index}] reported corruption; Porcupine's operations cannot express it"
                ));
            }
            (OpResult::Unknown, _) | (_, None) => i64::MAX,
            (_, Some(returned)) => time(returned, index)?,
        };
        ops.push(PorcupineOp {
            client_id: op.client,
            input: PorcupineInput {
                op: op.op.as_str(),
                value: op.value.clone(),
            },
            call: time(op.invoke_us, index)?,
            output: if op.return_us.is_none() {
                OpResult::Unknown
            } else {
                op.result.clone()
            },
            return_time,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::op;
    use crate::history::{FailKind, OpName};

    #[test]
    fn operations_keep_their_times_and_unknown_outcomes_never_return() {
        let history = History {
            ops: vec![
                op(0, OpName::PushBack, Some("a"), (1, Some(5)), OpResult::Ok),
                op(1, OpName::PushFront, Some("b"), (2, Some(9)), OpResult::Unknown),
                op(2, OpName::PopFront, None, (3, None), OpResult::Unknown),
                op(
                    3,
                    OpName::PopBack,
                    None,
                    (4, Some(8)),
                    OpResult::Failed {
                        error: FailKind::Backend,
                    },
                ),
                op(
                    0,
                    OpName::PopBack,
                    None,
                    (6, Some(7)),
                    OpResult::Value { value: "a".into() },
                ),
            ],
            ..History::default()
        };
        let ops = to_porcupine(&history).unwrap();
        let json = serde_json::to_value(&ops).unwrap();
        assert_eq!(ops.len(), 4, "the failed op did nothing and is left out");
        assert_eq!(json[0]["Input"], serde_json::json!({"op": "push_back", "value": "a"}));
        assert_eq!(
            (json[0]["Call"].as_i64(), json[0]["Return"].as_i64()),
            (Some(1), Some(5))
        );
        assert_eq!(json[1]["Return"].as_i64(), Some(i64::MAX));
        assert_eq!(json[2]["Output"]["type"], "unknown");
        assert_eq!(json[3]["Output"], serde_json::json!({"type": "value", "value": "a"}));
    }

    #[test]
    fn corruption_is_refused_by_name() {
        let history = History {
            ops: vec![op(
                0,
                OpName::PopBack,
                None,
                (1, Some(2)),
                OpResult::Corruption {
                    key: "k".into(),
                    detail: "missing".into(),
                },
            )],
            ..History::default()
        };
        assert!(to_porcupine(&history).unwrap_err().starts_with("ops[0]"));
    }
}
