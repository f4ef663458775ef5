//! Which unpopped values a loss accounts for.
//!
//! A value that was pushed, acknowledged and never popped is a silent loss
//! unless a reported loss explains it. A loss explains a value when it
//! could have taken it:
//! - the loss destroyed the value's own node (`held.values`), or
//! - it destroyed the deque's anchor (`held.anchor`) after the value's
//!   push was invoked (an anchor loss strands everything the deque held);
//! - a loss whose world could not look inside (`held: None`: real
//!   memcached, a history from elsewhere) may have held anything pushed
//!   before the last corruption report after it.
//!
//! and only if a corruption report returned at or after that loss. A report
//! on its own explains nothing: a value destroyed by a write no loss
//! accounts for (a stale overwrite nobody noticed) stays a silent loss even
//! when the drain reports a broken deque afterwards.

use std::collections::BTreeSet;

use crate::history::{History, OpResult};

/// The values (of pushes with an `ok` result) that some reported loss
/// explains, so the search may drop them when nobody popped them.
pub fn explained_values(history: &History) -> BTreeSet<String> {
    let reports: Vec<u64> = history
        .ops
        .iter()
        .filter(|op| matches!(op.result, OpResult::Corruption { .. }))
        .filter_map(|op| op.return_us)
        .collect();
    let last_report_after = |at_us: u64| reports.iter().copied().filter(|&r| r >= at_us).max();
    let mut explained = BTreeSet::new();
    for loss in &history.losses {
        let Some(last_report_us) = last_report_after(loss.at_us) else {
            continue;
        };
        let pushes = history
            .ops
            .iter()
            .filter(|op| op.op.is_push() && op.result == OpResult::Ok);
        match &loss.held {
            None => explained.extend(
                pushes
                    .filter(|op| op.invoke_us <= last_report_us)
                    .filter_map(|op| op.value.clone()),
            ),
            Some(held) => {
                explained.extend(held.values.iter().cloned());
                if held.anchor {
                    explained.extend(
                        pushes
                            .filter(|op| op.invoke_us < loss.at_us)
                            .filter_map(|op| op.value.clone()),
                    );
                }
            }
        }
    }
    explained
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Held, HistoryOp, Loss, LossCause, OpName};

    fn push(value: &str, invoke_us: u64) -> HistoryOp {
        HistoryOp {
            client: 0,
            op: OpName::PushBack,
            value: Some(value.into()),
            invoke_us,
            return_us: Some(invoke_us + 1),
            result: OpResult::Ok,
        }
    }

    fn report(at_us: u64) -> HistoryOp {
        HistoryOp {
            client: 1,
            op: OpName::PopFront,
            value: None,
            invoke_us: at_us - 1,
            return_us: Some(at_us),
            result: OpResult::Corruption {
                key: "k".into(),
                detail: "missing".into(),
            },
        }
    }

    fn loss(at_us: u64, held: Option<Held>) -> Loss {
        Loss {
            at_us,
            server: 0,
            key: None,
            cause: LossCause::Injected,
            held,
        }
    }

    fn history(losses: Vec<Loss>, report_at_us: Option<u64>) -> History {
        let mut ops = vec![push("a", 10), push("b", 20), push("c", 40)];
        ops.extend(report_at_us.map(report));
        History {
            ops,
            losses,
            drain_client: None,
        }
    }

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn a_node_loss_explains_its_own_value_only() {
        let held = Held {
            anchor: false,
            values: vec!["b".into()],
        };
        assert_eq!(
            explained_values(&history(vec![loss(30, Some(held))], Some(50))),
            set(&["b"])
        );
    }

    #[test]
    fn an_anchor_loss_explains_what_was_pushed_before_it() {
        let held = Held {
            anchor: true,
            values: Vec::new(),
        };
        assert_eq!(
            explained_values(&history(vec![loss(30, Some(held))], Some(50))),
            set(&["a", "b"])
        );
    }

    #[test]
    fn an_unreported_loss_explains_nothing() {
        let held = Held {
            anchor: true,
            values: vec!["c".into()],
        };
        assert!(explained_values(&history(vec![loss(30, Some(held.clone()))], None)).is_empty());
        assert!(
            explained_values(&history(vec![loss(30, Some(held))], Some(25))).is_empty(),
            "a report before the loss is not about it"
        );
    }

    #[test]
    fn a_loss_nobody_looked_inside_explains_pushes_up_to_the_last_report() {
        assert_eq!(
            explained_values(&history(vec![loss(15, None)], Some(30))),
            set(&["a", "b"])
        );
    }

    #[test]
    fn a_report_alone_explains_nothing() {
        let held = Held::default();
        assert!(explained_values(&history(vec![loss(5, Some(held))], Some(50))).is_empty());
    }
}
