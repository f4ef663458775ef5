//! The linearizability search: Wing & Gong's depth-first search over which
//! pending operation takes effect next, with Lowe's memoisation of
//! (linearized set, state) as Porcupine does it, shaped for deques.
//!
//! - Candidates next are the pending operations invoked no later than the
//!   earliest deadline among pending required operations (nothing that
//!   returned before an operation was invoked may come after it).
//! - Distinct values make most candidates inapplicable at once: a pop that
//!   returned `v` fits only when `v` is at its end.
//! - An optional (unknown) pop is tried only when the value at its end is
//!   one no definite pop ever returns: removing an observed value leads
//!   nowhere, and removing nothing changes nothing.
//! - Configurations are memoised as a 128-bit hash: a Zobrist hash of the
//!   linearized set and a positional polynomial hash of the contents, both
//!   kept incrementally, so a step costs O(log n) and memory is 16 bytes per
//!   configuration. (A hash collision could prune a live branch; at 2^-128
//!   per pair it is not a practical concern.)
//! - A step budget bounds the search; running out is the verdict *unknown*.

use std::collections::BTreeSet;

use rustc_hash::FxHashSet;

use super::prepare::{Entry, Prepared};
use super::spec::{DequeOp, DequeRet, DequeSpec, SequentialSpec};

/// The Mersenne prime 2^61 - 1, modulus of the contents hash.
const MODULUS: u64 = (1 << 61) - 1;
/// Base of the positional contents hash.
const BASE: u64 = 1_000_003;

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchOutcome {
    /// A valid order: entry indices in linearization order.
    Linearizable(Vec<usize>),
    /// No valid order exists.
    NotLinearizable {
        /// The longest valid partial order found (entry indices).
        longest: Vec<usize>,
        /// The required entry that could not be placed after it.
        stuck: Option<usize>,
    },
    /// The step budget ran out first.
    Unknown,
}

/// A search's outcome and cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// The answer.
    pub outcome: SearchOutcome,
    /// Steps taken (each tries one candidate).
    pub steps: u64,
    /// Distinct configurations memoised.
    pub configurations: usize,
}

struct Frame {
    choices: Vec<usize>,
    next: usize,
    /// The choice currently applied, and the value a pop removed.
    applied: Option<(usize, Option<u32>)>,
}

struct Search<'a> {
    entries: &'a [Entry],
    observed: &'a [bool],
    /// Required entries in invocation order, and each entry's position there.
    required: Vec<usize>,
    required_position: Vec<usize>,
    optional: Vec<usize>,
    linearized: Vec<bool>,
    deadlines: BTreeSet<(u64, usize)>,
    frontier: usize,
    state: DequeSpec,
    left_position: i64,
    offset: i64,
    powers: Vec<u64>,
    set_hash: u64,
    contents_hash: u64,
    memo: FxHashSet<u128>,
    path: Vec<usize>,
}

/// Searches for a linearization of `prepared` within `steps_max` steps.
pub fn search(prepared: &Prepared, steps_max: u64) -> SearchResult {
    let entries = &prepared.entries;
    let n = entries.len();
    let mut required = Vec::new();
    let mut optional = Vec::new();
    let mut required_position = vec![usize::MAX; n];
    for (i, entry) in entries.iter().enumerate() {
        if entry.required {
            required_position[i] = required.len();
            required.push(i);
        } else {
            optional.push(i);
        }
    }
    let mut powers = vec![1u64; 2 * n + 3];
    for i in 1..powers.len() {
        powers[i] = mul_mod(powers[i - 1], BASE);
    }
    let mut search = Search {
        entries,
        observed: &prepared.observed,
        deadlines: required.iter().map(|&i| (entries[i].deadline_us, i)).collect(),
        required,
        required_position,
        optional,
        linearized: vec![false; n],
        frontier: 0,
        state: DequeSpec::default(),
        left_position: 0,
        offset: n as i64 + 1,
        powers,
        set_hash: 0,
        contents_hash: 0,
        memo: FxHashSet::default(),
        path: Vec::new(),
    };
    let (outcome, steps) = search.run(steps_max);
    SearchResult {
        outcome,
        steps,
        configurations: search.memo.len(),
    }
}

impl Search<'_> {
    fn run(&mut self, steps_max: u64) -> (SearchOutcome, u64) {
        if self.deadlines.is_empty() {
            return (SearchOutcome::Linearizable(Vec::new()), 0);
        }
        let mut best: Vec<usize> = Vec::new();
        let mut stuck = None;
        let mut steps = 0u64;
        let mut stack = vec![Frame {
            choices: self.candidates(),
            next: 0,
            applied: None,
        }];
        while let Some(frame) = stack.last_mut() {
            if let Some((entry, removed)) = frame.applied.take() {
                self.undo(entry, removed);
            }
            if frame.next == frame.choices.len() {
                if stuck.is_none() || self.path.len() > best.len() {
                    best = self.path.clone();
                    stuck = self.deadlines.first().map(|&(_, e)| e);
                }
                stack.pop();
                continue;
            }
            steps += 1;
            if steps > steps_max {
                return (SearchOutcome::Unknown, steps);
            }
            let entry = frame.choices[frame.next];
            frame.next += 1;
            let removed = self.apply(entry);
            if !self.memo.insert(self.key()) {
                self.undo(entry, removed);
                continue;
            }
            let frame = stack.last_mut().expect("the loop holds a frame");
            frame.applied = Some((entry, removed));
            if self.deadlines.is_empty() {
                return (SearchOutcome::Linearizable(self.path.clone()), steps);
            }
            let choices = self.candidates();
            stack.push(Frame {
                choices,
                next: 0,
                applied: None,
            });
        }
        (SearchOutcome::NotLinearizable { longest: best, stuck }, steps)
    }

    /// Pending entries that may take effect next and fit the current state,
    /// the most urgent first.
    fn candidates(&self) -> Vec<usize> {
        let Some(&(deadline, urgent)) = self.deadlines.first() else {
            return Vec::new();
        };
        let mut choices = Vec::new();
        if self.fits(urgent) {
            choices.push(urgent);
        }
        for &entry in &self.required[self.frontier..] {
            if self.entries[entry].invoke_us > deadline {
                break;
            }
            if entry != urgent && !self.linearized[entry] && self.fits(entry) {
                choices.push(entry);
            }
        }
        let unobserved_at_an_end = [self.state.items.front(), self.state.items.back()]
            .into_iter()
            .flatten()
            .any(|&v| !self.observed[v as usize]);
        if unobserved_at_an_end {
            for &entry in &self.optional {
                let e = &self.entries[entry];
                if e.invoke_us > deadline {
                    break;
                }
                let removes_unobserved =
                    matches!(self.state.peek(&e.op), DequeRet::Value(v) if !self.observed[v as usize]);
                if !self.linearized[entry] && removes_unobserved {
                    choices.push(entry);
                }
            }
        }
        choices
    }

    fn fits(&self, entry: usize) -> bool {
        let e = &self.entries[entry];
        match e.ret {
            Some(DequeRet::Pushed) | None => true,
            Some(ret) => self.state.peek(&e.op) == ret,
        }
    }

    /// Linearizes `entry`; returns the value a pop removed.
    fn apply(&mut self, entry: usize) -> Option<u32> {
        let e = &self.entries[entry];
        self.linearized[entry] = true;
        self.set_hash ^= zobrist(entry);
        self.path.push(entry);
        if e.required {
            self.deadlines.remove(&(e.deadline_us, entry));
            while self.frontier < self.required.len() && self.linearized[self.required[self.frontier]] {
                self.frontier += 1;
            }
        }
        let removed = match e.op {
            DequeOp::PushFront(v) => {
                self.left_position -= 1;
                self.add_at(self.left_position, v);
                None
            }
            DequeOp::PushBack(v) => {
                self.add_at(self.left_position + self.state.items.len() as i64, v);
                None
            }
            DequeOp::PopFront => self.state.items.front().copied(),
            DequeOp::PopBack => self.state.items.back().copied(),
        };
        match e.op {
            DequeOp::PopFront if removed.is_some() => {
                self.remove_at(self.left_position, removed.expect("checked"));
                self.left_position += 1;
            }
            DequeOp::PopBack if removed.is_some() => {
                let position = self.left_position + self.state.items.len() as i64 - 1;
                self.remove_at(position, removed.expect("checked"));
            }
            _ => {}
        }
        self.state.invoke(&e.op);
        removed
    }

    fn undo(&mut self, entry: usize, removed: Option<u32>) {
        let e = &self.entries[entry];
        self.linearized[entry] = false;
        self.set_hash ^= zobrist(entry);
        self.path.pop();
        if e.required {
            self.deadlines.insert((e.deadline_us, entry));
            self.frontier = self.frontier.min(self.required_position[entry]);
        }
        match (e.op, removed) {
            (DequeOp::PushFront(v), _) => {
                self.state.items.pop_front();
                self.remove_at(self.left_position, v);
                self.left_position += 1;
            }
            (DequeOp::PushBack(v), _) => {
                self.state.items.pop_back();
                self.remove_at(self.left_position + self.state.items.len() as i64, v);
            }
            (DequeOp::PopFront, Some(v)) => {
                self.left_position -= 1;
                self.add_at(self.left_position, v);
                self.state.items.push_front(v);
            }
            (DequeOp::PopBack, Some(v)) => {
                self.add_at(self.left_position + self.state.items.len() as i64, v);
                self.state.items.push_back(v);
            }
            _ => {}
        }
    }

    fn term(&self, position: i64, value: u32) -> u64 {
        let power = self.powers[(position + self.offset) as usize];
        mul_mod(value_hash(value), power)
    }

    fn add_at(&mut self, position: i64, value: u32) {
        self.contents_hash = (self.contents_hash + self.term(position, value)) % MODULUS;
    }

    fn remove_at(&mut self, position: i64, value: u32) {
        self.contents_hash = (self.contents_hash + MODULUS - self.term(position, value)) % MODULUS;
    }

    fn key(&self) -> u128 {
        (u128::from(self.set_hash) << 64) | u128::from(self.contents_hash)
    }
}

fn mul_mod(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    let folded = (product & u128::from(MODULUS)) + (product >> 61);
    let folded = folded as u64;
    if folded >= MODULUS { folded - MODULUS } else { folded }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn zobrist(entry: usize) -> u64 {
    splitmix(entry as u64 ^ 0x5EED)
}

fn value_hash(value: u32) -> u64 {
    splitmix(u64::from(value)) % (MODULUS - 1) + 1
}
