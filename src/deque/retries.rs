//! Why a handle's attempts ended without finishing their operation.
//!
//! Retries per operation say how contended a deque is; their causes say
//! what to do about it. A tail made of anchor CASes lost after a fresh read
//! calls for fairer contention management, one made of helping for fewer
//! half-done pushes, one made of vanished nodes for a look at who deletes
//! them. `mcsim bench real` reports each cause per operation.

use std::ops::{Add, AddAssign};

/// A handle's attempts that ended without finishing their operation,
/// counted by cause since the handle was made ([`Deque::retries`]).
///
/// Every attempt that does not finish its operation, with a result or an
/// error, counts once here, under the first cause that ended it; so for a
/// handle whose operations all returned, `total()` is
/// [`Deque::attempts`] minus the operations. An operation that runs out of
/// attempts (`RetriesExhausted`) counts its last attempt too.
///
/// [`Deque::retries`]: crate::Deque::retries
/// [`Deque::attempts`]: crate::Deque::attempts
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retries {
    /// The linearizing anchor CAS lost, on the anchor this handle itself
    /// last wrote (the guess that saves the read's round trip: another
    /// client had moved the deque on since); or not sent, because the
    /// guess was this handle's own half-done push and the neighbour link it
    /// carried did not go in (`DequeOptions::deferred_link`).
    pub cas_lost_on_guess: u64,
    /// The linearizing anchor CAS lost, on an anchor read in the same
    /// attempt: another client's CAS landed between this attempt's read
    /// and its CAS, the window contention management is about.
    pub cas_lost_after_read: u64,
    /// The anchor recorded another client's half-done push, which this
    /// attempt finished (or found finished) before starting over
    /// ("helping", Michael 2003).
    pub helped_push: u64,
    /// A pop's end node was gone, or did not fit the anchor, because the
    /// anchor had moved on since it was read (a second miss of the same
    /// node is corruption, not a retry).
    pub node_gone: u64,
    /// A linearizing CAS whose reply was lost, tried again. Only broken
    /// variants do this (`retry-unknown-cas`, `rewrite-published-node`);
    /// the real algorithms report the unknown outcome instead.
    pub reply_lost: u64,
}

/// One cause of [`Retries`], as the algorithms report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryCause {
    CasLost { guessed: bool },
    HelpedPush,
    NodeGone,
    ReplyLost,
}

impl Retries {
    /// Every attempt counted, whatever its cause.
    pub fn total(&self) -> u64 {
        self.cas_lost_on_guess + self.cas_lost_after_read + self.helped_push + self.node_gone + self.reply_lost
    }

    /// What was counted after `earlier`, a reading of the same handle
    /// (field by field; a field smaller than `earlier`'s reads 0).
    pub fn since(&self, earlier: &Retries) -> Retries {
        Retries {
            cas_lost_on_guess: self.cas_lost_on_guess.saturating_sub(earlier.cas_lost_on_guess),
            cas_lost_after_read: self.cas_lost_after_read.saturating_sub(earlier.cas_lost_after_read),
            helped_push: self.helped_push.saturating_sub(earlier.helped_push),
            node_gone: self.node_gone.saturating_sub(earlier.node_gone),
            reply_lost: self.reply_lost.saturating_sub(earlier.reply_lost),
        }
    }

    pub(crate) fn count(&mut self, cause: RetryCause) {
        let counter = match cause {
            RetryCause::CasLost { guessed: true } => &mut self.cas_lost_on_guess,
            RetryCause::CasLost { guessed: false } => &mut self.cas_lost_after_read,
            RetryCause::HelpedPush => &mut self.helped_push,
            RetryCause::NodeGone => &mut self.node_gone,
            RetryCause::ReplyLost => &mut self.reply_lost,
        };
        *counter += 1;
    }
}

impl Add for Retries {
    type Output = Retries;

    /// Field by field: several handles' counts together (a sharded deque's,
    /// a benchmark's clients').
    fn add(mut self, other: Retries) -> Retries {
        self += other;
        self
    }
}

impl AddAssign for Retries {
    fn add_assign(&mut self, other: Retries) {
        self.cas_lost_on_guess += other.cas_lost_on_guess;
        self.cas_lost_after_read += other.cas_lost_after_read;
        self.helped_push += other.helped_push;
        self.node_gone += other.node_gone;
        self.reply_lost += other.reply_lost;
    }
}

impl std::iter::Sum for Retries {
    fn sum<I: Iterator<Item = Retries>>(iter: I) -> Retries {
        iter.fold(Retries::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::{Retries, RetryCause};

    #[test]
    fn each_cause_counts_under_its_own_field_and_in_the_total() {
        let mut retries = Retries::default();
        let causes = [
            RetryCause::CasLost { guessed: true },
            RetryCause::CasLost { guessed: false },
            RetryCause::CasLost { guessed: false },
            RetryCause::HelpedPush,
            RetryCause::NodeGone,
            RetryCause::ReplyLost,
        ];
        for cause in causes {
            retries.count(cause);
        }
        assert_eq!(
            (
                retries.cas_lost_on_guess,
                retries.cas_lost_after_read,
                retries.helped_push,
                retries.node_gone,
                retries.reply_lost
            ),
            (1, 2, 1, 1, 1)
        );
        assert_eq!(retries.total(), 6);
        let earlier = retries;
        retries.count(RetryCause::NodeGone);
        let later = retries.since(&earlier);
        assert_eq!((later.node_gone, later.total()), (1, 1));
        assert_eq!((earlier + later), retries);
        assert_eq!([earlier, later].into_iter().sum::<Retries>(), retries);
        assert_eq!(earlier.since(&retries), Retries::default(), "never below zero");
    }
}
