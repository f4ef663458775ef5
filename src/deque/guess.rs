//! When a handle may start an operation from the anchor it last wrote
//! instead of reading it (the hardened algorithm's round-trip saving).
//!
//! The guess is the anchor and CAS token of this handle's last winning
//! anchor CAS. An uncontended client's next operation can CAS against it
//! straight away: the CAS itself checks the guess (a stale token fails),
//! and a guess is used once, so a wrong guess costs one failed attempt,
//! never a wrong result. A guess that missed (another client moved the
//! anchor) cost a round trip more than reading would have, so after a miss
//! the handle reads for a while: 1 operation, then 2, 4, ... up to
//! [`SKIP_MAX`] after misses in a row. A lone client always guesses; a
//! handle on a busy deque (a shard, say) soon stops paying for misses.
//!
//! This caches one CAS token per handle (besides the tokens of what the
//! handle keeps back for its next request: `popped.rs`, `deferred_link.rs`).

use crate::format::Anchor;
use crate::store::CasToken;

/// The longest run of operations a handle reads the anchor for after its
/// guesses kept missing, before it tries a guess again.
pub(crate) const SKIP_MAX: u32 = 64;

/// What an attempt starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The guessed anchor and its token.
    Guess(Anchor, CasToken),
    /// Read the anchor.
    Read,
}

/// One handle's guessing state.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuessPolicy {
    /// The last won anchor and its token, until an attempt takes it.
    guess: Option<(Anchor, CasToken)>,
    /// Whether the attempt in progress started from the guess.
    guessing: bool,
    /// Guesses still to pass up.
    skip: u32,
    /// The skip the next miss sets (doubling).
    skip_next: u32,
}

impl GuessPolicy {
    /// A policy that guesses from the first won CAS on.
    pub(crate) fn new() -> Self {
        GuessPolicy {
            skip_next: 1,
            ..GuessPolicy::default()
        }
    }

    /// Decides where a new attempt starts. `usable` says whether a guessed
    /// anchor could serve this operation (a pop's "empty" must come from a
    /// fresh read, for one). The guess is taken whatever the answer.
    pub(crate) fn start(&mut self, usable: impl FnOnce(&Anchor) -> bool) -> Start {
        if std::mem::take(&mut self.guessing) {
            // The previous attempt started from a guess and did not win.
            self.skip = self.skip_next;
            self.skip_next = (self.skip_next * 2).min(SKIP_MAX);
        }
        match self.guess.take() {
            Some((anchor, token)) if usable(&anchor) => {
                if self.skip > 0 {
                    self.skip -= 1;
                    return Start::Read;
                }
                self.guessing = true;
                Start::Guess(anchor, token)
            }
            _ => Start::Read,
        }
    }

    /// Whether the next operation will start from the guess, if it is
    /// usable: no skip is left to serve.
    pub(crate) fn will_guess(&self) -> bool {
        self.skip == 0
    }

    /// An anchor CAS of this handle is about to be judged: whatever its
    /// outcome, the old guess is gone.
    pub(crate) fn forget(&mut self) {
        self.guess = None;
    }

    /// An anchor CAS of this handle won with `token`: `anchor` is the next
    /// guess, and a guessing attempt that won resets the skip.
    pub(crate) fn won(&mut self, anchor: Anchor, token: CasToken) {
        if std::mem::take(&mut self.guessing) {
            self.skip_next = 1;
        }
        self.guess = Some((anchor, token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Status;

    fn anchor(left: u128) -> Anchor {
        Anchor {
            status: Status::Stable,
            left: Some(crate::format::NodeId(left)),
            right: Some(crate::format::NodeId(left)),
            lifetime: None,
        }
    }

    #[test]
    fn nothing_to_guess_before_a_won_cas() {
        let mut policy = GuessPolicy::new();
        assert_eq!(policy.start(|_| true), Start::Read);
    }

    #[test]
    fn a_won_cas_is_guessed_once() {
        let mut policy = GuessPolicy::new();
        policy.won(anchor(1), CasToken(5));
        assert_eq!(policy.start(|_| true), Start::Guess(anchor(1), CasToken(5)));
        // The guess was taken: the retry reads.
        assert_eq!(policy.start(|_| true), Start::Read);
    }

    #[test]
    fn an_unusable_guess_is_dropped_and_costs_no_skip() {
        let mut policy = GuessPolicy::new();
        policy.won(anchor(1), CasToken(5));
        assert_eq!(policy.start(|_| false), Start::Read);
        policy.won(anchor(2), CasToken(6));
        assert_eq!(policy.start(|_| true), Start::Guess(anchor(2), CasToken(6)));
    }

    /// One operation of a client whose guesses always lose: if it starts
    /// from a guess, the CAS loses and the retry reads and wins. Returns
    /// whether it guessed.
    fn contended_op(policy: &mut GuessPolicy) -> bool {
        let guessed = matches!(policy.start(|_| true), Start::Guess(..));
        if guessed {
            policy.forget();
            assert_eq!(policy.start(|_| true), Start::Read, "a retry reads");
        }
        policy.won(anchor(1), CasToken(1));
        guessed
    }

    /// After misses in a row the handle reads for 1, 2, 4 ... up to 64
    /// operations before guessing again.
    #[test]
    fn misses_in_a_row_double_the_reads_up_to_the_bound() {
        let mut policy = GuessPolicy::new();
        assert!(!contended_op(&mut policy), "nothing to guess at first");
        let mut reads_between = Vec::new();
        let mut reads = 0;
        while reads_between.len() < 9 {
            if contended_op(&mut policy) {
                reads_between.push(reads);
                reads = 0;
            } else {
                reads += 1;
            }
        }
        assert_eq!(reads_between, [0, 1, 2, 4, 8, 16, 32, 64, 64]);
    }

    #[test]
    fn a_guess_that_wins_resets_the_skip() {
        let mut policy = GuessPolicy::new();
        contended_op(&mut policy);
        // Three misses in a row: the next guess comes after 4 reads.
        for _ in 0..3 {
            while !contended_op(&mut policy) {}
        }
        let mut reads = 0;
        while policy.start(|_| true) == Start::Read {
            reads += 1;
            policy.won(anchor(1), CasToken(1));
        }
        assert_eq!(reads, 4);
        // This guess wins: the next miss skips one operation only.
        policy.won(anchor(2), CasToken(2));
        assert!(contended_op(&mut policy), "a won guess is guessed again");
        assert!(!contended_op(&mut policy));
        assert!(contended_op(&mut policy));
    }
}
