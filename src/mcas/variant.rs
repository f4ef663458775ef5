//! Which MCAS a client runs: the library's, or a deliberately broken copy
//! the harness must catch (the deque's catalogue, `Variant`, does the same
//! for the deque). Each broken one is the library's algorithm with one
//! realistic slip at a marked point.

/// The MCAS algorithm a client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum McasVariant {
    /// The library's MCAS (docs/mcas.md): claims re-read on a mismatch,
    /// decided once by `cas`, released by `cas` after the decision,
    /// collected by the originator alone.
    #[default]
    Fraser2004,
    /// Broken: a claim that fails is taken as landed by a helper, without
    /// reading the register again; if another client changed the register
    /// instead, the MCAS succeeds over a value it never saw (lost update).
    ClaimMismatchTakenAsHelped,
    /// Broken: the decision is written with `set`, not `cas`; two clients
    /// that decided differently overwrite each other, and the registers are
    /// released half to new values and half to old ones.
    DecideWithoutCas,
    /// Broken: a client releases the registers by its own decision before
    /// its decision is written; when another client decided the other way,
    /// the MCAS is applied partly.
    ReleaseBeforeDecided,
    /// Broken: releases are written with `set`, not `cas`; a slow helper's
    /// release overwrites whatever came after it (lost updates).
    ReleaseWithoutCas,
    /// Broken: a helper deletes the descriptor after its release, as the
    /// originator does; the originator, still deciding or releasing, finds
    /// its descriptor gone (false alarms).
    HelperDeletes,
    /// Broken: a reader that meets a claim returns the register's old value
    /// from the descriptor without looking at its status; after a success
    /// it returns a value already replaced.
    ReadOldValueOfClaim,
}

impl McasVariant {
    /// Every variant, the library's first.
    pub const ALL: &'static [McasVariant] = &[
        McasVariant::Fraser2004,
        McasVariant::ClaimMismatchTakenAsHelped,
        McasVariant::DecideWithoutCas,
        McasVariant::ReleaseBeforeDecided,
        McasVariant::ReleaseWithoutCas,
        McasVariant::HelperDeletes,
        McasVariant::ReadOldValueOfClaim,
    ];

    /// The variant's name in tests and reports (kebab case).
    pub fn name(self) -> &'static str {
        match self {
            McasVariant::Fraser2004 => "fraser2004",
            McasVariant::ClaimMismatchTakenAsHelped => "claim-mismatch-taken-as-helped",
            McasVariant::DecideWithoutCas => "decide-without-cas",
            McasVariant::ReleaseBeforeDecided => "release-before-decided",
            McasVariant::ReleaseWithoutCas => "release-without-cas",
            McasVariant::HelperDeletes => "helper-deletes",
            McasVariant::ReadOldValueOfClaim => "read-old-value-of-claim",
        }
    }

    /// One line on what the variant is, for listings (its doc says more).
    pub fn description(self) -> &'static str {
        match self {
            McasVariant::Fraser2004 => "the default: Fraser's MCAS (2004) with descriptors and helping, docs/mcas.md",
            McasVariant::ClaimMismatchTakenAsHelped => "broken: a failed claim is taken as a helper's, unread",
            McasVariant::DecideWithoutCas => "broken: the decision is written with set, not cas",
            McasVariant::ReleaseBeforeDecided => "broken: a client releases by its own decision before it is written",
            McasVariant::ReleaseWithoutCas => "broken: releases are written with set, not cas",
            McasVariant::HelperDeletes => "broken: a helper deletes the descriptor after its release",
            McasVariant::ReadOldValueOfClaim => "broken: a reader meeting a claim returns the old value unchecked",
        }
    }

    /// Whether this is a deliberately broken copy.
    pub fn is_broken(self) -> bool {
        self != McasVariant::Fraser2004
    }

    /// The variant named `name` ([`McasVariant::name`]), if any.
    pub fn from_name(name: &str) -> Option<McasVariant> {
        McasVariant::ALL.iter().copied().find(|v| v.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_only_the_default_is_sound() {
        let mut names: Vec<&str> = McasVariant::ALL.iter().map(|v| v.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), McasVariant::ALL.len());
        assert_eq!(McasVariant::default(), McasVariant::ALL[0]);
        assert!(McasVariant::ALL.iter().skip(1).all(|v| v.is_broken()));
        assert!(!McasVariant::Fraser2004.is_broken());
        for &variant in McasVariant::ALL {
            assert_eq!(McasVariant::from_name(variant.name()), Some(variant));
            assert!(!variant.description().is_empty());
        }
        assert_eq!(McasVariant::from_name("fraser"), None);
    }
}
