//! The depth-first walk over candidates (`candidates.rs` orders them,
//! `prune.rs` removes dead ones), with Lowe's memo of configurations.
//!
//! The memo holds dead configurations only: the ones whose every
//! continuation was tried. A configuration on the current path cannot come
//! back further down it (each step linearizes one more entry, and the set
//! of linearized entries is part of the configuration), so remembering it
//! would prune nothing; leaving it out keeps a search that never
//! backtracks (most linearizable histories) from paying a hash-set insert
//! and 16 bytes per step.

use super::{Search, SearchOutcome};

/// One level of the walk: its configuration's memo key, where its
/// candidates start in the walk's buffer of them (they run to the next
/// level's start, or the buffer's end), the next to try, and the one
/// applied (with the value a pop removed). One buffer for every level, not
/// a vector each (an allocation per step).
struct Frame {
    key: u128,
    start: usize,
    next: usize,
    applied: Option<(usize, Option<u32>)>,
}

impl Search<'_> {
    /// Walks depth-first from the empty history within `steps_max` steps:
    /// a witness, no valid order (with the longest dead-end path and the
    /// required entry that could not be placed after it), or out of budget.
    pub(super) fn run(&mut self, steps_max: u64) -> (SearchOutcome, u64) {
        if self.deadlines.is_empty() {
            return (SearchOutcome::Linearizable(Vec::new()), 0);
        }
        let mut best: Vec<usize> = Vec::new();
        let mut stuck = None;
        let mut steps = 0u64;
        let mut choices = Vec::new();
        self.candidates(&mut choices);
        let mut stack = vec![Frame {
            key: self.key(),
            start: 0,
            next: 0,
            applied: None,
        }];
        while let Some(frame) = stack.last_mut() {
            if let Some((entry, removed)) = frame.applied.take() {
                self.undo(entry, removed);
            }
            if frame.start + frame.next == choices.len() {
                if stuck.is_none() || self.path.len() > best.len() {
                    best = self.path.clone();
                    stuck = self.deadlines.first().map(|(_, e)| e);
                }
                let dead = stack.pop().expect("the loop holds a frame");
                choices.truncate(dead.start);
                self.memo.insert(dead.key);
                continue;
            }
            steps += 1;
            if steps > steps_max {
                return (SearchOutcome::Unknown, steps);
            }
            let entry = choices[frame.start + frame.next];
            frame.next += 1;
            let removed = self.apply(entry);
            let key = self.key();
            if self.memo.contains(&key) {
                self.undo(entry, removed);
                continue;
            }
            let frame = stack.last_mut().expect("the loop holds a frame");
            frame.applied = Some((entry, removed));
            if self.deadlines.is_empty() {
                return (SearchOutcome::Linearizable(self.path.clone()), steps);
            }
            let start = choices.len();
            self.candidates(&mut choices);
            stack.push(Frame {
                key,
                start,
                next: 0,
                applied: None,
            });
        }
        (SearchOutcome::NotLinearizable { longest: best, stuck }, steps)
    }
}
