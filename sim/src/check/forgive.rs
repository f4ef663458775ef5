//! Which unpopped values a loss accounts for.
//!
//! A value that was pushed, acknowledged and never popped is a silent loss
//! unless a reported loss explains it: a corruption report returned at or
//! after the loss, and the loss could have taken the value:
//! - it destroyed the value's own node (`held.values`);
//! - it destroyed a node of the deque after the value's push was invoked:
//!   a hole strands what lies behind it (two holes, or a lost neighbour of
//!   a half-done push, can strand every value then in the deque), while a
//!   value pushed later lands at an end the drain reaches;
//! - it made the anchor unusable (`held.anchor`: the anchor itself, its
//!   server's life mark, or a stale-token CAS over it): the deque as it
//!   stood is gone, and handles that have not noticed keep pushing into it
//!   until someone reports, so it explains values pushed before the last
//!   report after it, or before a client created the deque afresh
//!   (`held.anchor_recreated_us`), whichever came first: what is pushed
//!   into the new deque must come out of it;
//! - a loss whose world could not look inside (`held: None`: real
//!   memcached, the model checkers' restarts, a history from elsewhere) may
//!   have held anything pushed before the last report after it.
//!
//! A loss that held nothing of the deque (another server's life mark, a
//! filler item) explains nothing, and a report on its own explains nothing:
//! a value destroyed by a write no loss accounts for stays a silent loss
//! even when a client or the drain reports a broken deque afterwards.

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
        let invoked_until_us = match &loss.held {
            None => Some(last_report_us),
            Some(held) => {
                explained.extend(held.values.iter().cloned());
                if held.anchor {
                    // Until the deque was created afresh, if it was.
                    Some(
                        held.anchor_recreated_us
                            .map_or(last_report_us, |at| at.min(last_report_us)),
                    )
                } else if !held.values.is_empty() {
                    Some(loss.at_us)
                } else {
                    None
                }
            }
        };
        if let Some(until_us) = invoked_until_us {
            explained.extend(
                pushes
                    .filter(|op| op.invoke_us <= until_us)
                    .filter_map(|op| op.value.clone()),
            );
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
    fn a_node_loss_explains_its_own_value_and_what_it_could_strand() {
        let held = Held {
            anchor: false,
            values: vec!["c".into()],
            ..Held::default()
        };
        assert_eq!(
            explained_values(&history(vec![loss(30, Some(held))], Some(50))),
            set(&["a", "b", "c"]),
            "a and b were in the deque at the loss; c's node was lost"
        );
    }

    #[test]
    fn an_anchor_loss_explains_what_was_pushed_before_the_last_report_after_it() {
        let held = Held {
            anchor: true,
            values: Vec::new(),
            ..Held::default()
        };
        assert_eq!(
            explained_values(&history(vec![loss(15, Some(held.clone()))], Some(30))),
            set(&["a", "b"])
        );
        assert_eq!(
            explained_values(&history(vec![loss(15, Some(held.clone()))], Some(50))),
            set(&["a", "b", "c"]),
            "pushed into the dead deque before anyone reported"
        );
        let recreated = Held {
            anchor_recreated_us: Some(30),
            ..held
        };
        assert_eq!(
            explained_values(&history(vec![loss(15, Some(recreated))], Some(50))),
            set(&["a", "b"]),
            "c went into the deque created afresh at 30"
        );
    }

    #[test]
    fn an_unreported_loss_explains_nothing() {
        let held = Held {
            anchor: true,
            values: vec!["c".into()],
            ..Held::default()
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
    fn a_report_after_a_loss_of_nothing_explains_nothing() {
        let held = Held::default();
        assert!(explained_values(&history(vec![loss(5, Some(held))], Some(50))).is_empty());
    }
}
