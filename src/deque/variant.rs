//! Which algorithm a handle runs: the real ones and the deliberately
//! broken copies the harness must catch.

/// The deque algorithm a handle runs.
///
/// Broken variants exist to prove the harness catches wrong algorithms: each
/// is `michael2003` (or, for `lifetime-without-mark`, `adopt-foreign-anchor`,
/// `link-after-first-request` and `unchecked-deferred-link`, `hardened`) with one
/// realistic flaw injected at a marked point (see
/// `Flaw`), so the catalogue shares one algorithm instead of near-copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Variant {
    /// The library's default: `michael2003` plus the anchor server's
    /// lifetime in the anchor. `create` stamps it, every anchor written
    /// copies it, and every anchor read compares it with the running one,
    /// so an anchor written over a re-created deque by a client that read
    /// the old one (a CAS token from before a restart is accepted again,
    /// docs/memcached.md) is reported as corruption by every reader instead of
    /// silently dropping the new deque's values. The lifetime is the
    /// process identity plus a life mark the server holds, so a container
    /// restart within one second is a new life too. Costs 8 bytes in the
    /// anchor and one `stats` exchange per handle (at create or first
    /// read), none per operation. Also refuses a server with CAS disabled
    /// and writes fresh nodes with `add`. FINDINGS.md has the findings and
    /// the fixes this variant keeps from the port (unknown outcomes
    /// surfaced, published nodes never rewritten).
    #[default]
    Hardened,
    /// The 2013 library's algorithm, as `docs/algorithm.md` describes it.
    Michael2003,
    /// Broken: popping the only item swings just the popped end to "none"
    /// and leaves the other end naming the deleted node, an easy slip when
    /// the general case updates one end only. The next operation finds a
    /// half-empty anchor or a vanished node and reports corruption although
    /// nothing was lost: the harness must see false alarms (or worse).
    OneEndSinglePop,
    /// Broken: a node that cannot be loaded is always taken for a race (a
    /// concurrent pop), never for a loss. After an eviction the client
    /// retries forever: the harness must see liveness failures where the
    /// baseline reports corruption.
    NoCorruptionDetection,
    /// Broken: the first failed node load is declared corruption, without
    /// the second look that tells a race from a loss. Under contention a
    /// concurrent pop makes a healthy deque "corrupt": false alarms.
    CorruptionOnFirstMiss,
    /// Broken: stabilize links the penultimate node with `set` instead of
    /// `cas`, so a stale stabilizer can overwrite a newer link (or resurrect
    /// a popped node): the harness must see wrong or lost values.
    SetLinkInsteadOfCas,
    /// Broken: stabilize links the penultimate node without re-reading the
    /// anchor first, so it can link a node into a deque that has moved on.
    StabilizeWithoutRecheck,
    /// Broken: a pop deletes its node before its anchor CAS; when the CAS
    /// loses, the node is gone but still in the deque: others find a hole
    /// where nothing was lost (false alarms, lost values).
    DeleteBeforeCas,
    /// Broken: a timed-out anchor CAS is taken as failed and the push is
    /// retried with a new node; if the first CAS had landed, the value is in
    /// the deque twice: duplicates.
    RetryUnknownCas,
    /// Broken: a push whose anchor CAS lost its reply retries with the same
    /// node, rewriting it with `set`. If the first CAS had landed, the node
    /// is already published (linked, perhaps popped): the rewrite resets its
    /// links and the retry pushes it a second time. The harness must see
    /// duplicates, lost values or broken links.
    RewritePublishedNode,
    /// Broken: stabilize mirrors the wrong side, linking the far end's nodes
    /// after a push. A healthy deque reports broken links (false alarms), or
    /// values come out in the wrong order.
    StabilizeWrongSide,
    /// Broken: `hardened` with the server lifetime it had before the life
    /// mark: only the process identity `stats` gives (process id and start
    /// second). memcached as process 1 of a container, restarted within a
    /// second, repeats it, so a stale anchor CAS from before the restart
    /// silently replaces a re-created deque again (FINDINGS.md, container
    /// restarts).
    LifetimeWithoutMark,
    /// Broken: `hardened` taking an anchor stamped with another server life
    /// for the deque after a restart and carrying on with it, instead of
    /// reporting it, the kind of "fix" a false alarm invites. The anchor was
    /// written by a compare-and-set with a token from before the restart
    /// (FINDINGS.md, finding 1): building on it drops the re-created
    /// deque's values, and the simulator's oracle sees a client that knew
    /// the running life succeed on it.
    AdoptForeignAnchor,
    /// Broken: `hardened` sending a kept-back neighbour link after the
    /// request it travels with instead of before it (`deferred_link.rs`),
    /// the natural place for a piggybacked write. A pop of the far end of a
    /// two-node deque then loads the neighbour without the link it is
    /// about to get and finds no inward link: false alarms, or a deque
    /// moved to a wrong end.
    LinkAfterFirstRequest,
    /// Broken: `hardened` starting from its own half-done push as if it
    /// were stable without checking that the carried link went in. When
    /// the link's request or reply is lost, the anchor moves on past a
    /// neighbour that was never linked: a later pop finds a broken link
    /// where nothing was lost.
    UncheckedDeferredLink,
    /// Broken by design: the increment-allocated deque of the 2013 README's
    /// warning (see the `increment_queue` module): a pop can claim a slot
    /// before its push writes it, and reports empty while the value is lost.
    IncrementAllocatedQueue,
}

/// The one flaw a broken variant injects into its algorithm, applied at
/// the point marked `FLAW (<variant name>)`: one algorithm for the whole
/// catalogue instead of near-copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
    /// See [`Variant::OneEndSinglePop`].
    SinglePopClearsOneEnd,
    /// See [`Variant::NoCorruptionDetection`].
    MissingNodeIsAlwaysARace,
    /// See [`Variant::CorruptionOnFirstMiss`].
    CorruptionOnFirstMiss,
    /// See [`Variant::SetLinkInsteadOfCas`].
    SetLinkInsteadOfCas,
    /// See [`Variant::StabilizeWithoutRecheck`].
    StabilizeWithoutRecheck,
    /// See [`Variant::DeleteBeforeCas`].
    DeleteBeforeCas,
    /// See [`Variant::RetryUnknownCas`].
    RetryUnknownCas,
    /// See [`Variant::RewritePublishedNode`].
    RewritePublishedNode,
    /// See [`Variant::StabilizeWrongSide`].
    StabilizeWrongSide,
    /// See [`Variant::LifetimeWithoutMark`] (a flaw of `hardened`).
    LifetimeWithoutMark,
    /// See [`Variant::AdoptForeignAnchor`] (a flaw of `hardened`).
    AdoptForeignAnchor,
    /// See [`Variant::LinkAfterFirstRequest`] (a flaw of `hardened`).
    LinkAfterFirstRequest,
    /// See [`Variant::UncheckedDeferredLink`] (a flaw of `hardened`).
    UncheckedDeferredLink,
}

impl Variant {
    /// Every variant, for listings and for running a suite against each.
    pub const ALL: &'static [Variant] = &[
        Variant::Hardened,
        Variant::Michael2003,
        Variant::OneEndSinglePop,
        Variant::NoCorruptionDetection,
        Variant::CorruptionOnFirstMiss,
        Variant::SetLinkInsteadOfCas,
        Variant::StabilizeWithoutRecheck,
        Variant::DeleteBeforeCas,
        Variant::RetryUnknownCas,
        Variant::RewritePublishedNode,
        Variant::StabilizeWrongSide,
        Variant::LifetimeWithoutMark,
        Variant::AdoptForeignAnchor,
        Variant::LinkAfterFirstRequest,
        Variant::UncheckedDeferredLink,
        Variant::IncrementAllocatedQueue,
    ];

    /// The variant's stable name, as scenario files and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Hardened => "hardened",
            Variant::Michael2003 => "michael2003",
            Variant::OneEndSinglePop => "one-end-single-pop",
            Variant::NoCorruptionDetection => "no-corruption-detection",
            Variant::CorruptionOnFirstMiss => "corruption-on-first-miss",
            Variant::SetLinkInsteadOfCas => "set-link-instead-of-cas",
            Variant::StabilizeWithoutRecheck => "stabilize-without-recheck",
            Variant::DeleteBeforeCas => "delete-before-cas",
            Variant::RetryUnknownCas => "retry-unknown-cas",
            Variant::RewritePublishedNode => "rewrite-published-node",
            Variant::StabilizeWrongSide => "stabilize-wrong-side",
            Variant::LifetimeWithoutMark => "lifetime-without-mark",
            Variant::AdoptForeignAnchor => "adopt-foreign-anchor",
            Variant::LinkAfterFirstRequest => "link-after-first-request",
            Variant::UncheckedDeferredLink => "unchecked-deferred-link",
            Variant::IncrementAllocatedQueue => "increment-allocated-queue",
        }
    }

    /// One line on what the variant is, for listings (the variant's doc says
    /// more).
    pub fn description(self) -> &'static str {
        match self {
            Variant::Hardened => {
                "the default: michael2003 plus the server-lifetime stamp, checked pops, fewer round trips"
            }
            Variant::Michael2003 => "the 2013 library's algorithm (docs/algorithm.md), the baseline",
            Variant::OneEndSinglePop => "broken: popping the only item clears one end of the anchor",
            Variant::NoCorruptionDetection => "broken: a node that cannot be loaded is always taken for a race",
            Variant::CorruptionOnFirstMiss => "broken: the first failed node load is declared corruption",
            Variant::SetLinkInsteadOfCas => "broken: stabilize links the neighbour with set, not cas",
            Variant::StabilizeWithoutRecheck => "broken: stabilize links without re-reading the anchor",
            Variant::DeleteBeforeCas => "broken: a pop deletes its node before its anchor CAS",
            Variant::RetryUnknownCas => "broken: a push whose CAS reply was lost retries with a new node",
            Variant::RewritePublishedNode => "broken: a push whose CAS reply was lost rewrites its published node",
            Variant::StabilizeWrongSide => "broken: stabilize mirrors the wrong side",
            Variant::LifetimeWithoutMark => {
                "broken: hardened, its server lifetime only the process id and start second (no life mark)"
            }
            Variant::AdoptForeignAnchor => {
                "broken: hardened, an anchor of another server life is used as the deque instead of reported"
            }
            Variant::LinkAfterFirstRequest => {
                "broken: hardened, a kept-back neighbour link sent after the request it travels with"
            }
            Variant::UncheckedDeferredLink => {
                "broken: hardened, its own half-done push taken for stable without checking the link went in"
            }
            Variant::IncrementAllocatedQueue => {
                "broken by design: the increment-allocated queue the 2013 README warns against"
            }
        }
    }

    /// Whether the variant is deliberately broken (a mutation to catch).
    pub fn is_broken(self) -> bool {
        !matches!(self, Variant::Hardened | Variant::Michael2003)
    }

    /// Whether the variant is `hardened` or its flawed copy: the switches
    /// below are on for both.
    fn is_hardened(self) -> bool {
        matches!(
            self,
            Variant::Hardened
                | Variant::LifetimeWithoutMark
                | Variant::AdoptForeignAnchor
                | Variant::LinkAfterFirstRequest
                | Variant::UncheckedDeferredLink
        )
    }

    /// The real algorithm a broken variant is a copy of (itself for the
    /// real ones and for the increment-allocated queue, a different
    /// algorithm). A harness hunting a variant's flaw ignores failures its
    /// base shares: a regression that fails on `michael2003` fails on every
    /// flaw copied from it, whatever the flaw.
    pub fn base(self) -> Variant {
        match self {
            Variant::Hardened | Variant::Michael2003 | Variant::IncrementAllocatedQueue => self,
            Variant::LifetimeWithoutMark
            | Variant::AdoptForeignAnchor
            | Variant::LinkAfterFirstRequest
            | Variant::UncheckedDeferredLink => Variant::Hardened,
            _ => Variant::Michael2003,
        }
    }

    /// Whether anchors carry and check the server lifetime.
    pub(crate) fn tracks_lifetime(self) -> bool {
        self.is_hardened()
    }

    /// Whether a token of 0 (a server with CAS disabled) is refused at
    /// once instead of retried as contention.
    pub(crate) fn checks_cas_support(self) -> bool {
        self.is_hardened()
    }

    /// Whether a push writes its fresh node with `add`, so a repeated id
    /// is noticed instead of overwriting a linked node (`own_node.rs`).
    pub(crate) fn adds_fresh_nodes(self) -> bool {
        self.is_hardened()
    }

    /// Whether operations start from the client's last anchor and a pusher
    /// pipelines its own stabilize (`michael2003` and its flawed copies keep
    /// docs/algorithm.md's request sequence, where the flaws live).
    pub(crate) fn engineers_round_trips(self) -> bool {
        self.is_hardened()
    }

    /// The flaw this variant injects, if any.
    pub(crate) fn flaw(self) -> Option<Flaw> {
        match self {
            // The real algorithms, and a different algorithm dispatched in
            // `Deque`.
            Variant::Hardened | Variant::Michael2003 | Variant::IncrementAllocatedQueue => None,
            Variant::OneEndSinglePop => Some(Flaw::SinglePopClearsOneEnd),
            Variant::NoCorruptionDetection => Some(Flaw::MissingNodeIsAlwaysARace),
            Variant::CorruptionOnFirstMiss => Some(Flaw::CorruptionOnFirstMiss),
            Variant::SetLinkInsteadOfCas => Some(Flaw::SetLinkInsteadOfCas),
            Variant::StabilizeWithoutRecheck => Some(Flaw::StabilizeWithoutRecheck),
            Variant::DeleteBeforeCas => Some(Flaw::DeleteBeforeCas),
            Variant::RetryUnknownCas => Some(Flaw::RetryUnknownCas),
            Variant::RewritePublishedNode => Some(Flaw::RewritePublishedNode),
            Variant::StabilizeWrongSide => Some(Flaw::StabilizeWrongSide),
            Variant::LifetimeWithoutMark => Some(Flaw::LifetimeWithoutMark),
            Variant::AdoptForeignAnchor => Some(Flaw::AdoptForeignAnchor),
            Variant::LinkAfterFirstRequest => Some(Flaw::LinkAfterFirstRequest),
            Variant::UncheckedDeferredLink => Some(Flaw::UncheckedDeferredLink),
        }
    }

    /// Looks a variant up by [`name`](Variant::name).
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.iter().copied().find(|v| v.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_name_reads_back_as_its_variant() {
        for &variant in Variant::ALL {
            assert_eq!(Variant::from_name(variant.name()), Some(variant), "{}", variant.name());
        }
        assert_eq!(Variant::from_name("no-such-variant"), None);
    }

    /// `mcsim list` prints one line per variant: each must say which one it
    /// is, and whether it is broken.
    #[test]
    fn descriptions_tell_the_variants_apart_and_mark_the_broken_ones() {
        let descriptions: BTreeSet<&str> = Variant::ALL.iter().map(|v| v.description()).collect();
        assert_eq!(descriptions.len(), Variant::ALL.len());
        for &variant in Variant::ALL {
            assert_eq!(
                variant.description().starts_with("broken"),
                variant.is_broken(),
                "{}",
                variant.name()
            );
        }
    }

    /// A flawed copy runs its base's algorithm with one flaw: the switches
    /// of `hardened` are on exactly for `hardened` and its copies, and the
    /// base of a broken variant is one of the real algorithms (or itself,
    /// for the increment-allocated queue, a different algorithm).
    #[test]
    fn a_broken_variant_is_one_flaw_on_a_real_algorithm() {
        for &variant in Variant::ALL {
            let base = variant.base();
            let hardened = base == Variant::Hardened;
            assert_eq!(variant.tracks_lifetime(), hardened, "{}", variant.name());
            assert_eq!(variant.checks_cas_support(), hardened, "{}", variant.name());
            assert_eq!(variant.adds_fresh_nodes(), hardened, "{}", variant.name());
            assert_eq!(variant.engineers_round_trips(), hardened, "{}", variant.name());
            let copy = variant.is_broken() && variant != Variant::IncrementAllocatedQueue;
            assert_eq!(variant.flaw().is_some(), copy, "{}", variant.name());
            if copy {
                assert!(
                    matches!(base, Variant::Hardened | Variant::Michael2003),
                    "{}",
                    variant.name()
                );
            } else {
                assert_eq!(base, variant);
            }
        }
        assert_eq!(Variant::AdoptForeignAnchor.base(), Variant::Hardened);
        assert_eq!(Variant::LifetimeWithoutMark.base(), Variant::Hardened);
        assert_eq!(Variant::DeleteBeforeCas.base(), Variant::Michael2003);
    }
}
