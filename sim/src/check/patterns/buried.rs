//! Rule 4 of `patterns`: values buried for ever under values nobody took
//! out.

use super::index;
use crate::check::patterns::Refutation;
use crate::check::prepare::Prepared;
use crate::check::spec::DequeOp;

/// Rule 4: per end, one sweep over the unobserved pushes by invocation,
/// adding by push deadline the values pushed and popped at that end whose
/// pop returned before any unknown pop there was invoked, and keeping the
/// one whose pop was invoked latest.
pub(super) fn buried_for_ever(
    prepared: &Prepared,
    push_of: &[Option<usize>],
    exit_of: &[Option<usize>],
) -> Option<Refutation> {
    let entries = &prepared.entries;
    let end_name = |front: bool| if front { "front" } else { "back" };
    for front in [true, false] {
        let first_unknown_pop = entries
            .iter()
            .filter(|e| !e.required && !e.op.is_push() && e.op.at_front() == front)
            .map(|e| e.invoke_us)
            .min()
            .unwrap_or(u64::MAX);
        let mut unobserved = Vec::new();
        let mut buried = Vec::new();
        for (v, push) in push_of.iter().enumerate() {
            let Some(push) = *push else { continue };
            if entries[push].op.at_front() != front || !entries[push].required {
                continue;
            }
            match exit_of[v] {
                None => unobserved.push(push),
                Some(pop) if entries[pop].op.at_front() == front && entries[pop].deadline_us < first_unknown_pop => {
                    buried.push((push, pop))
                }
                Some(_) => {}
            }
        }
        unobserved.sort_by_cached_key(|&x| entries[x].invoke_us);
        buried.sort_by_cached_key(|&(w, _)| entries[w].deadline_us);
        let mut added = 0;
        let mut latest: Option<(usize, usize)> = None;
        for &x in &unobserved {
            while added < buried.len() && entries[buried[added].0].deadline_us < entries[x].invoke_us {
                let (w, pop) = buried[added];
                if latest.is_none_or(|(_, p)| entries[pop].invoke_us > entries[p].invoke_us) {
                    latest = Some((w, pop));
                }
                added += 1;
            }
            if let Some((w, pop)) = latest
                && entries[pop].invoke_us > entries[x].deadline_us
            {
                let value = |push: usize| match entries[push].op {
                    DequeOp::PushFront(v) | DequeOp::PushBack(v) => &prepared.values[v as usize],
                    _ => unreachable!("pushes only"),
                };
                return Some(Refutation {
                    reason: format!(
                        "op {} pushed {:?} at the {end} by {} us, while {:?} (op {}, pushed by {} us) was in, and \
                         nothing returned {:?}; yet op {}, invoked at {} us, popped {:?} from the {end}, which needed \
                         {:?} gone, and no unknown pop at the {end} was invoked before op {} returned",
                        index(entries, x),
                        value(x),
                        entries[x].deadline_us,
                        value(w),
                        index(entries, w),
                        entries[w].deadline_us,
                        value(x),
                        index(entries, pop),
                        entries[pop].invoke_us,
                        value(w),
                        value(x),
                        index(entries, pop),
                        end = end_name(front),
                    ),
                    ops: vec![index(entries, w), index(entries, x), index(entries, pop)],
                });
            }
        }
    }
    None
}

/// Rule 4, crossing form: a value `w` pushed at one end and popped at the
/// far end `E` finds every value in the deque between it and `E`. Per
/// crossing `w`: the values nobody returns whose pushes returned before
/// `w`'s was invoked, against the unknown pops that could take one out
/// (at `E` invoked by `w`'s pop's deadline, or at `w`'s end invoked by its
/// push's); more values than pops refutes. O(n log n).
pub(super) fn buried_by_a_crossing_value(
    prepared: &Prepared,
    push_of: &[Option<usize>],
    exit_of: &[Option<usize>],
) -> Option<Refutation> {
    let entries = &prepared.entries;
    let mut unobserved: Vec<(u64, usize)> = push_of
        .iter()
        .enumerate()
        .filter_map(|(v, push)| push.filter(|_| exit_of[v].is_none()))
        .filter(|&x| entries[x].required)
        .map(|x| (entries[x].deadline_us, x))
        .collect();
    if unobserved.is_empty() {
        return None;
    }
    unobserved.sort_unstable();
    // Per end (front: index 1), the unknown pops' invocations, sorted.
    let mut unknown_pops: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    for e in entries.iter().filter(|e| !e.required && !e.op.is_push()) {
        unknown_pops[usize::from(e.op.at_front())].push(e.invoke_us);
    }
    for list in &mut unknown_pops {
        list.sort_unstable();
    }
    let invoked_by = |end: bool, at: u64| unknown_pops[usize::from(end)].partition_point(|&invoke| invoke <= at);
    for (v, push) in push_of.iter().enumerate() {
        let (Some(w), Some(pop)) = (*push, exit_of[v]) else {
            continue;
        };
        let exit_front = entries[pop].op.at_front();
        if entries[w].op.at_front() == exit_front {
            continue;
        }
        let before = unobserved.partition_point(|&(deadline, _)| deadline < entries[w].invoke_us);
        let pops = invoked_by(exit_front, entries[pop].deadline_us) + invoked_by(!exit_front, entries[w].deadline_us);
        if before <= pops {
            continue;
        }
        let x = unobserved[0].1;
        let value = |push: usize| match entries[push].op {
            DequeOp::PushFront(v) | DequeOp::PushBack(v) => &prepared.values[v as usize],
            _ => unreachable!("pushes only"),
        };
        let end_name = |front: bool| if front { "front" } else { "back" };
        return Some(Refutation {
            reason: format!(
                "op {} pushed {:?} at the {} from {} us and op {} popped it from the {}, past every value in the \
                 deque then; {before} value(s) nobody returned were pushed before (the first: {:?}, op {}, by {} \
                 us), and only {pops} unknown pop(s) could have taken them out in time",
                index(entries, w),
                value(w),
                end_name(!exit_front),
                entries[w].invoke_us,
                index(entries, pop),
                end_name(exit_front),
                value(x),
                index(entries, x),
                entries[x].deadline_us,
            ),
            ops: vec![index(entries, x), index(entries, w), index(entries, pop)],
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::check::patterns::refute;
    use crate::check::patterns::tests::op;
    use crate::check::prepare::{PrepareOptions, prepare};
    use crate::history::{History, HistoryOp, OpName, OpResult};

    /// Where a failure here reruns.
    const RERUN: &str = "rerun: cargo test -p memcache-sim --lib check::patterns::buried";

    /// "x" pushed at the back and never seen again; "w" pushed at the back
    /// after it and popped at the front (seed 128 of `mcsim bench checker
    /// --clients 64 --ops 10000`, reduced).
    fn history(extra: Vec<HistoryOp>, w_invoked_us: u64) -> History {
        let mut ops = vec![
            op(0, OpName::PushBack, Some("x"), (0, 10), OpResult::Ok),
            op(1, OpName::PushBack, Some("w"), (w_invoked_us, 30), OpResult::Ok),
            op(
                2,
                OpName::PopFront,
                None,
                (40, 50),
                OpResult::Value { value: "w".into() },
            ),
        ];
        ops.extend(extra);
        History {
            ops,
            ..History::default()
        }
    }

    fn refuted(history: &History) -> Option<Vec<usize>> {
        refute(&prepare(history, |_, _| true, &PrepareOptions::default())).map(|r| r.ops)
    }

    #[test]
    fn a_value_popped_past_one_nobody_took_out_is_refuted() {
        assert_eq!(refuted(&history(Vec::new(), 20)), Some(vec![0, 1, 2]), "{RERUN}");
    }

    #[test]
    fn an_unknown_pop_in_time_at_either_end_could_have_taken_it() {
        let unknown = |name, at: u64| op(3, name, None, (at, at + 100), OpResult::Unknown);
        // At the front by the pop's deadline, or at the back by the push's.
        assert_eq!(
            refuted(&history(vec![unknown(OpName::PopFront, 45)], 20)),
            None,
            "{RERUN}"
        );
        assert_eq!(
            refuted(&history(vec![unknown(OpName::PopBack, 25)], 20)),
            None,
            "{RERUN}"
        );
        // At the back after "w" was pushed: "w" stands in the way.
        assert!(
            refuted(&history(vec![unknown(OpName::PopBack, 35)], 20)).is_some(),
            "{RERUN}"
        );
    }

    #[test]
    fn a_value_that_may_have_gone_in_after_is_not_counted() {
        assert_eq!(refuted(&history(Vec::new(), 5)), None, "{RERUN}");
    }
}
