//! Which algorithm a run tests: a variant of one of the harness's two
//! subjects, the deque (`memcache_collections::Variant`) or MCAS
//! (`memcache_collections::mcas::McasVariant`). One type, so that scenario
//! files, `--variant`, plans, records, replay lines and `mcsim validate`
//! name either subject's algorithms the same way; the two catalogues'
//! names are distinct, so a name alone says which subject it belongs to.

use std::fmt;

use memcache_collections::Variant;
use memcache_collections::mcas::McasVariant;
use serde::{Deserialize, Serialize};

/// What a run exercises: the deque or MCAS registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// The lock-free deque (docs/algorithm.md).
    #[default]
    Deque,
    /// Multi-entry compare-and-set under the bank workload (docs/mcas.md).
    Mcas,
}

impl Subject {
    /// The subject's name in scenario files (`subject = "mcas"`).
    pub fn name(self) -> &'static str {
        match self {
            Subject::Deque => "deque",
            Subject::Mcas => "mcas",
        }
    }

    /// The subject's own algorithm, the one its scenarios run by default.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            Subject::Deque => Algorithm::Deque(Variant::default()),
            Subject::Mcas => Algorithm::Mcas(McasVariant::default()),
        }
    }
}

/// An algorithm of either subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Deque(Variant),
    Mcas(McasVariant),
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm::Deque(Variant::default())
    }
}

impl From<Variant> for Algorithm {
    fn from(variant: Variant) -> Self {
        Algorithm::Deque(variant)
    }
}

impl From<McasVariant> for Algorithm {
    fn from(variant: McasVariant) -> Self {
        Algorithm::Mcas(variant)
    }
}

impl Algorithm {
    /// Every algorithm: the deque's catalogue, then MCAS's.
    pub fn all() -> Vec<Algorithm> {
        let deque = Variant::ALL.iter().map(|&v| Algorithm::Deque(v));
        deque
            .chain(McasVariant::ALL.iter().map(|&v| Algorithm::Mcas(v)))
            .collect()
    }

    /// The stable name scenario files and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Deque(v) => v.name(),
            Algorithm::Mcas(v) => v.name(),
        }
    }

    /// One line on what it is, for listings.
    pub fn description(self) -> &'static str {
        match self {
            Algorithm::Deque(v) => v.description(),
            Algorithm::Mcas(v) => v.description(),
        }
    }

    /// The algorithm named `name`, in either catalogue.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Variant::from_name(name)
            .map(Algorithm::Deque)
            .or_else(|| McasVariant::from_name(name).map(Algorithm::Mcas))
    }

    /// Whether it is a deliberately broken copy.
    pub fn is_broken(self) -> bool {
        match self {
            Algorithm::Deque(v) => v.is_broken(),
            Algorithm::Mcas(v) => v.is_broken(),
        }
    }

    /// The subject it implements.
    pub fn subject(self) -> Subject {
        match self {
            Algorithm::Deque(_) => Subject::Deque,
            Algorithm::Mcas(_) => Subject::Mcas,
        }
    }

    /// The algorithm a broken variant is a copy of (itself for a real one,
    /// and for a broken deque algorithm of its own): a deque variant's
    /// base; MCAS's single real algorithm.
    pub fn base(self) -> Algorithm {
        match self {
            Algorithm::Deque(v) => Algorithm::Deque(v.base()),
            Algorithm::Mcas(_) => Algorithm::Mcas(McasVariant::default()),
        }
    }

    /// The deque variant, for the worlds' deque clients; `None` for MCAS.
    pub fn deque(self) -> Option<Variant> {
        match self {
            Algorithm::Deque(v) => Some(v),
            Algorithm::Mcas(_) => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name alone says which subject: the catalogues share no name, and
    /// every algorithm reads back from its name.
    #[test]
    fn names_are_unique_across_subjects() {
        let all = Algorithm::all();
        let mut names: Vec<&str> = all.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for algorithm in all {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
            assert_eq!(algorithm.base().subject(), algorithm.subject());
            assert_eq!(algorithm.base().base(), algorithm.base());
        }
        assert_eq!(
            Algorithm::from_name("fraser2004").map(Algorithm::subject),
            Some(Subject::Mcas)
        );
        assert_eq!(Subject::Mcas.default_algorithm().name(), "fraser2004");
        assert_eq!(Subject::default().default_algorithm(), Algorithm::default());
    }
}
