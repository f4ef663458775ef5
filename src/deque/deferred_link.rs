//! A pusher's link to its neighbour, carried by the handle's next request
//! ([`DequeOptions::deferred_link`](crate::DequeOptions::deferred_link)).
//!
//! A `hardened` push took three round trips: write its node, CAS the
//! anchor (reading its neighbour in the same round trip), then link the
//! neighbour and mark the anchor stable. The third changes no contents, so
//! any client may do it (helping, Michael 2003). With deferred links, a
//! handle that expects to start its next operation from its own anchor (its
//! guess, `guess.rs`) keeps that third step back: the link CAS travels with
//! the next operation's first request, and the stable mark is never written.
//! The next operation starts from the half-done anchor as if it were stable,
//! and its CAS, on the token of the push's own CAS, replaces it only if the
//! link went in: a CAS on the token the pusher read the neighbour with
//! succeeds only if nobody touched the neighbour since, so nobody can have
//! stabilized or moved the deque on. An uncontended push then takes two
//! round trips, as a pop does.
//!
//! The anchor stays half done until the handle's next request. A client
//! that meets it in between finishes the push itself, as it would any
//! half-done push, and then this handle's guess misses, it reads for a
//! while (`guess.rs`), and while it reads it links at once again. A handle
//! dropped with a link pending leaves it to the next client.

use crate::deque::Flaw;
use crate::deque::context::{Context, Effect};
use crate::deque::error::OpKind;
use crate::deque::retries::RetryCause;
use crate::format::{self, Anchor, Node, NodeId, Status};
use crate::store::{self, CasOutcome, CasToken, Command, Reply, Store, StoreError};

/// A push whose neighbour link this handle has kept back.
#[derive(Debug, Clone)]
pub(crate) struct PendingLink {
    /// The half-done anchor the push wrote, and its token.
    pub(crate) pushed: Anchor,
    pub(crate) pushed_token: CasToken,
    /// The neighbour with its outward link set, and the token it was read
    /// with; `None` when the link was already in place.
    pub(crate) link: Option<(NodeId, Node, CasToken)>,
}

/// Whether the attempt in progress started from a pending link's anchor,
/// and what became of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LinkState {
    /// The attempt did not start from a half-done anchor of its own.
    #[default]
    NotRequired,
    /// It did; the link has not been sent yet.
    Pending,
    /// It did, and the link is in place: its CAS stored, or it already was.
    InPlace,
    /// It did, and the link CAS failed or its answer was lost: the
    /// half-done anchor may not be treated as stable.
    Failed,
}

impl<S: Store> Context<S> {
    /// Whether a push that has just won should keep its link back: deferred
    /// links are on, and the handle's next operation will start from its
    /// guess (otherwise it would read the half-done anchor and have to
    /// finish the push itself).
    pub(crate) fn defers_link(&self) -> bool {
        self.deferred_link && self.guess.will_guess()
    }

    /// Keeps the push's link back for the handle's next request.
    pub(crate) fn defer_link(&mut self, pending: PendingLink) {
        self.pending_link = Some(pending);
    }

    /// The stable anchor `anchor` stands for if it is this handle's pending
    /// push, with `token` the push's own: an attempt may start from it.
    pub(crate) fn pending_as_stable(&self, anchor: &Anchor, token: CasToken) -> Option<Anchor> {
        let pending = self.pending_link.as_ref()?;
        (pending.pushed == *anchor && pending.pushed_token == token).then_some(Anchor {
            status: Status::Stable,
            ..*anchor
        })
    }

    /// Starts an attempt from this handle's pending push (`pending_as_stable`
    /// said it may): the link is in place already, or goes with the next
    /// request.
    pub(crate) fn start_from_pending(&mut self) {
        let already = matches!(&self.pending_link, Some(PendingLink { link: None, .. }));
        if already {
            self.pending_link = None;
        }
        self.link_state = if already {
            LinkState::InPlace
        } else {
            LinkState::Pending
        };
    }

    /// The pending link's CAS, taken to travel with the next request.
    pub(crate) fn take_link_command(&mut self) -> Option<Command> {
        let (pen, node, token) = self.pending_link.take()?.link?;
        Some(Command::Cas {
            key: self.node_key(pen),
            value: format::encode_node(&node),
            token,
        })
    }

    /// What the carried link CAS answered.
    pub(crate) fn link_answered(&mut self, command: &Command, reply: Result<Reply, StoreError>) {
        if self.link_state == LinkState::Pending {
            let stored = matches!(store::cas_outcome(command, reply), Ok(CasOutcome::Stored(_)));
            self.link_state = if stored { LinkState::InPlace } else { LinkState::Failed };
        }
    }

    /// Sends what the handle keeps back for its next request: its last
    /// push's link, with the stable mark it skipped, and its last pop's
    /// delete. Housekeeping: a failure leaves the work to other clients, as
    /// it always may.
    pub(crate) async fn settle(&mut self) {
        if let Some(pending) = self.pending_link.take() {
            let stable = Anchor {
                status: Status::Stable,
                ..pending.pushed
            };
            // `op` only names the operation in an error nobody sees.
            let op = OpKind::PushBack;
            let _ = match pending.link {
                Some((pen, node, token)) => {
                    self.link_and_mark_stable(op, pen, &node, token, &stable, pending.pushed_token)
                        .await
                }
                None => self
                    .cas_anchor(op, Effect::Housekeeping, &stable, pending.pushed_token)
                    .await
                    .map(|_| ()),
            };
        }
        if let Some((id, token)) = self.release.take() {
            let delete = Command::DeleteCas {
                key: self.node_key(id),
                token,
            };
            let _ = self.store.call(delete).await;
        }
    }

    /// Whether this attempt may make its linearizing CAS. An attempt that
    /// started from its pending push and has not seen the link go in may
    /// not: that counts as a guess that missed, with nothing sent.
    pub(crate) fn link_allows_cas(&mut self) -> bool {
        // FLAW (unchecked-deferred-link): the link's outcome never looked at.
        if matches!(self.link_state, LinkState::NotRequired | LinkState::InPlace)
            || self.has(Flaw::UncheckedDeferredLink)
        {
            return true;
        }
        self.guess.forget();
        self.count_retry(RetryCause::CasLost { guessed: true });
        false
    }
}
