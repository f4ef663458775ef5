//! The 2013 library's algorithm (Maged Michael, "CAS-Based Lock-Free
//! Algorithm for Shared Deques", 2003), as `docs/algorithm.md` describes it: the
//! baseline that later variants and fixes are measured against.
//!
//! Written for the right end; [`Side`] mirrors it for the left. Broken
//! variants pass [`Flaws`]; each flaw is applied at a point marked `FLAW`.
//! Requests per uncontended operation: push onto a non-empty deque 7 (gets
//! anchor, set node, cas anchor, gets penultimate, gets anchor, cas
//! penultimate, cas anchor), pop 4 (gets anchor, gets node, cas anchor,
//! delete), one round trip each.
//!
//! The default `hardened` variant runs this same code with its `Context`
//! switches on (FINDINGS.md and ARCHITECTURE.md say why):
//! - anchors carry the server lifetime, checked in `read_anchor`, and a pop
//!   checks that its node is still there after its CAS (read back in the
//!   CAS's round trip, or its delete's answer: `cas_anchor_and_check_popped`,
//!   `delete_popped`);
//! - an operation starts from the anchor its client last wrote
//!   (`start_anchor`), a pusher finishes its own push in two pipelined
//!   batches (`finish_own_push`), the second of which it leaves to its next
//!   operation's first request when that operation will start from its
//!   anchor (`deferred_link.rs`), and a pop reads its node back in the round
//!   trip of its CAS and leaves the delete to the handle's next request
//!   (`cas_anchor_and_check_popped`): push 4 requests (and a link carried by
//!   the next operation) in 2 round trips, pop 3 requests (and a delete
//!   carried by the next operation) in 2.
//!
//! What it does with faults (the harness measures the consequences):
//! - a lost reply on the anchor CAS that would complete the op is surfaced as
//!   [`DequeError::OutcomeUnknown`]; every other failed request ends the op
//!   with [`DequeError::Backend`] (no effect), never with a guess;
//! - a missing anchor is corruption at once; a node missing twice in a row is
//!   corruption (docs/algorithm.md's per-client "last failed id").

use crate::deque::Flaw;
use crate::deque::context::{Context, Effect, OwnPushReads};
use crate::deque::deferred_link::PendingLink;
use crate::deque::error::{DequeError, OpKind};
use crate::deque::own_node::OwnNode;
use crate::deque::retries::RetryCause;
use crate::deque::side::Side;
use crate::format::{Anchor, Node, NodeId, Status};
use crate::store::{CasToken, Store};

/// Pushes `value` at `side`.
pub(crate) async fn push<S: Store>(
    ctx: &mut Context<S>,
    op: OpKind,
    side: Side,
    value: Vec<u8>,
) -> Result<(), DequeError> {
    let mut own = ctx.own_node();
    for attempt in 0..ctx.retries_max {
        ctx.back_off(attempt).await;
        let (anchor, token) = ctx.start_anchor(op, |a| a.status == Status::Stable).await?;
        if anchor.is_empty() {
            let node = side.new_end_node(None, value.clone());
            let id = ctx.write_own_node(op, &mut own, &node, token).await?;
            let single = Anchor {
                status: Status::Stable,
                left: Some(id),
                right: Some(id),
                lifetime: anchor.lifetime,
            };
            match ctx.cas_anchor(op, Effect::Linearizing, &single, token).await {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
                Err(error) => retry_after_lost_cas(ctx, error, &mut own)?,
            }
        } else if anchor.status == Status::Stable {
            let end = side
                .end(&anchor)
                .ok_or_else(|| ctx.broken_link(op, &ctx.anchor_key, "anchor has only one end"))?;
            let node = side.new_end_node(Some(end), value.clone());
            let id = ctx.write_own_node(op, &mut own, &node, token).await?;
            let pushed = side.with_end(&anchor, Some(id), side.push_status());
            if ctx.engineered {
                let (won, pen) = ctx.cas_anchor_and_read(op, &pushed, token, end).await;
                match won {
                    Ok(Some(pushed_token)) => {
                        // Housekeeping, as below: the push has taken effect.
                        let _ = finish_own_push(ctx, op, side, pushed, pushed_token, id, end, pen).await;
                        return Ok(());
                    }
                    Ok(None) => continue,
                    Err(error) => {
                        retry_after_lost_cas(ctx, error, &mut own)?;
                        continue;
                    }
                }
            }
            match ctx.cas_anchor(op, Effect::Linearizing, &pushed, token).await {
                Ok(Some(_)) => {
                    // The push has taken effect. Linking the neighbour is
                    // housekeeping any client can finish, so its failure does
                    // not change this push's result.
                    let _ = stabilize(ctx, op, pushed, None, Some(node)).await;
                    return Ok(());
                }
                Ok(None) => {}
                Err(error) => retry_after_lost_cas(ctx, error, &mut own)?,
            }
        } else {
            stabilize(ctx, op, anchor, Some(token), None).await?;
            ctx.count_retry(RetryCause::HelpedPush);
        }
    }
    Err(ctx.retries_exhausted(op))
}

/// What a push does when its linearizing anchor CAS failed with `error`:
/// give up with it (the real algorithm: an unknown outcome is surfaced,
/// never guessed), unless a flaw retries.
fn retry_after_lost_cas<S: Store>(
    ctx: &mut Context<S>,
    error: DequeError,
    own: &mut OwnNode,
) -> Result<(), DequeError> {
    if !error.outcome_unknown() {
        return Err(error);
    }
    if ctx.has(Flaw::RetryUnknownCas) {
        // FLAW (retry-unknown-cas): a lost reply taken for a failure; retry
        // with a new node although the first may have landed.
        *own = ctx.own_node();
        ctx.count_retry(RetryCause::ReplyLost);
        Ok(())
    } else if ctx.has(Flaw::RewritePublishedNode) {
        // FLAW (rewrite-published-node): retry with the same node, rewritten
        // blind although it may be published.
        ctx.count_retry(RetryCause::ReplyLost);
        Ok(())
    } else {
        Err(error)
    }
}

/// Pops from `side`; `Ok(None)` when the deque is empty.
pub(crate) async fn pop<S: Store>(ctx: &mut Context<S>, op: OpKind, side: Side) -> Result<Option<Vec<u8>>, DequeError> {
    for attempt in 0..ctx.retries_max {
        ctx.back_off(attempt).await;
        // "Empty" must come from a fresh read (it is the linearization
        // point), so a guess serves only a stable, non-empty anchor.
        let (anchor, token) = ctx
            .start_anchor(op, |a| a.status == Status::Stable && !a.is_empty())
            .await?;
        if anchor.is_empty() {
            return Ok(None);
        }
        if !anchor.is_single() && anchor.status != Status::Stable {
            stabilize(ctx, op, anchor, Some(token), None).await?;
            ctx.count_retry(RetryCause::HelpedPush);
            continue;
        }
        let end = side
            .end(&anchor)
            .ok_or_else(|| ctx.broken_link(op, &ctx.anchor_key, "anchor has only one end"))?;
        let Some((node, node_token)) = ctx.load_node(op, end).await? else {
            ctx.count_retry(RetryCause::NodeGone);
            continue;
        };
        let popped = if anchor.is_single() && ctx.has(Flaw::SinglePopClearsOneEnd) {
            // FLAW (one-end-single-pop): only the popped end is cleared.
            side.with_end(&anchor, None, anchor.status)
        } else if anchor.is_single() {
            anchor.emptied()
        } else {
            match side.inward(&node) {
                Some(inner) => side.with_end(&anchor, Some(inner), anchor.status),
                None => {
                    let what = "end node of a longer deque has no inward link";
                    ctx.contradiction(op, &ctx.node_key(end), what, &anchor, Some(token))
                        .await?;
                    ctx.count_retry(RetryCause::NodeGone);
                    continue;
                }
            }
        };
        if ctx.has(Flaw::DeleteBeforeCas) {
            // FLAW (delete-before-cas): the node goes before the pop is sure.
            let _ = ctx.delete_popped(op, end).await;
        }
        if ctx.checks_popped_in_cas_batch(end, node.value.len()) {
            if ctx
                .cas_anchor_and_check_popped(op, &popped, token, end, node_token)
                .await?
                .is_some()
            {
                return Ok(Some(node.value));
            }
            continue;
        }
        if ctx.cas_anchor(op, Effect::Linearizing, &popped, token).await?.is_some() {
            if !ctx.has(Flaw::DeleteBeforeCas) {
                ctx.delete_popped(op, end).await?;
            }
            return Ok(Some(node.value));
        }
    }
    Err(ctx.retries_exhausted(op))
}

/// The pusher finishes its own push (hardened). `reads` came in the same
/// round trip as the winning CAS: `pen`, the old end, then the anchor. If the
/// anchor still held this push after `pen` was read (its token unchanged),
/// `pen` is as docs/algorithm.md's re-check would have it, and the link and the
/// stable mark go out together (`Context::link_and_mark_stable`); otherwise
/// another client has moved on and finishes it.
#[allow(clippy::too_many_arguments)]
async fn finish_own_push<S: Store>(
    ctx: &mut Context<S>,
    op: OpKind,
    side: Side,
    pushed: Anchor,
    pushed_token: CasToken,
    last_id: NodeId,
    pen_id: NodeId,
    reads: OwnPushReads,
) -> Result<(), DequeError> {
    if reads.anchor_token != Some(pushed_token) {
        return Ok(());
    }
    let Some((mut pen, pen_token)) = ctx.node_from(op, pen_id, reads.pen)? else {
        return Ok(());
    };
    let stable = Anchor {
        status: Status::Stable,
        ..pushed
    };
    let linked = side.outward(&pen) == Some(last_id);
    side.set_outward(&mut pen, Some(last_id));
    if ctx.defers_link() {
        ctx.defer_link(PendingLink {
            pushed,
            pushed_token,
            link: (!linked).then_some((pen_id, pen, pen_token)),
        });
        return Ok(());
    }
    if linked {
        ctx.cas_anchor(op, Effect::Housekeeping, &stable, pushed_token).await?;
        return Ok(());
    }
    ctx.link_and_mark_stable(op, pen_id, &pen, pen_token, &stable, pushed_token)
        .await
}

/// Finishes a half-done push recorded in `anchor`: links the penultimate node
/// to the last one, then marks the anchor stable. `token` is the anchor's
/// token if the caller read it; a pusher that just CASed it has none and
/// re-reads. `last` is the pushed node when the pusher itself stabilizes (it
/// knows its node, so it is not read again). Returns early, without error, whenever another client has moved
/// the deque on.
async fn stabilize<S: Store>(
    ctx: &mut Context<S>,
    op: OpKind,
    anchor: Anchor,
    mut token: Option<CasToken>,
    last: Option<Node>,
) -> Result<(), DequeError> {
    let Some(side) = Side::of_push(anchor.status) else {
        return Ok(());
    };
    // FLAW (stabilize-wrong-side): the mirror image of the right side.
    let side = if ctx.has(Flaw::StabilizeWrongSide) {
        side.opposite()
    } else {
        side
    };
    let last_id = side
        .end(&anchor)
        .ok_or_else(|| ctx.broken_link(op, &ctx.anchor_key, "anchor has only one end"))?;
    let last = match last {
        Some(node) => node,
        None => match ctx.load_node(op, last_id).await? {
            Some((node, _)) => node,
            None => return Ok(()),
        },
    };
    let Some(pen_id) = side.inward(&last) else {
        let what = "pushed node has no inward link";
        return ctx
            .contradiction(op, &ctx.node_key(last_id), what, &anchor, token)
            .await;
    };
    let Some((mut pen, pen_token)) = ctx.load_node(op, pen_id).await? else {
        return Ok(());
    };
    if side.outward(&pen) != Some(last_id) {
        // FLAW (stabilize-without-recheck): link without looking again.
        if !ctx.has(Flaw::StabilizeWithoutRecheck) {
            let (current, current_token) = ctx.read_anchor(op).await?;
            if current != anchor {
                return Ok(());
            }
            token = Some(current_token);
        }
        side.set_outward(&mut pen, Some(last_id));
        let pen_key = ctx.node_key(pen_id);
        let linked = if ctx.has(Flaw::SetLinkInsteadOfCas) {
            // FLAW (set-link-instead-of-cas): a blind write of a published node.
            ctx.write_node(op, &pen_key, &pen).await.map(|()| true)?
        } else {
            ctx.cas_node(op, &pen_key, &pen, pen_token).await?
        };
        if !linked {
            return Ok(());
        }
    }
    let token = match token {
        Some(token) => token,
        None => {
            let (current, current_token) = ctx.read_anchor(op).await?;
            if current != anchor {
                return Ok(());
            }
            current_token
        }
    };
    let stable = Anchor {
        status: Status::Stable,
        ..anchor
    };
    ctx.cas_anchor(op, Effect::Housekeeping, &stable, token).await?;
    Ok(())
}
