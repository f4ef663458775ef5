//! Reachability conditions: the event that makes a fault or regression
//! scenario meaningful, stated in its file and checked on every run. A
//! regression scenario that passes without its race happening (a pinned
//! seed that no longer reaches the stale CAS after the restart, say) only
//! looks green; so each scenario names its event and a floor on the share
//! of its runs that must reach it, and a suite below a floor fails (exit 4:
//! the harness stopped testing what it claims to).
//!
//! Each event is a counter of the run's [`Counters`]; a run reached it when
//! the counter is above zero. Some counters exist only where a world can
//! see them: the simulator's probes (`crate::sim` `probes.rs`) see which
//! server life issued a token; a real run cannot, and its reach for those
//! events is `None` (not observable), which the floor leaves out rather
//! than counting as either.

use serde::{Deserialize, Serialize};

use crate::outcome::Counters;

/// An event a scenario needs to have happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReachEvent {
    /// A fault fired (scheduled or random).
    Faults,
    /// A message was lost on a link.
    MessagesDropped,
    /// A connection was reset under a message.
    Resets,
    /// A message was delayed by a spike.
    MessagesSpiked,
    /// A partition held a message until it healed.
    MessagesHeld,
    /// A request got no reply (timed out or reset).
    RequestsFailed,
    /// A server dropped an item on its own (eviction, out of memory).
    ItemsDropped,
    /// A client created the deque again after an anchor loss.
    Recreations,
    /// A client crashed.
    CrashedClients,
    /// A reply reached a client that had stopped waiting (simulator only).
    StaleReplies,
    /// A compare-and-set carried a token from an earlier life of its server
    /// (simulator only).
    StaleTokenCas,
    /// ... and the server accepted it (simulator only).
    StaleTokenCasAccepted,
    /// A compare-and-set of the anchor stored and its client never got the
    /// reply in time (simulator only).
    CasRepliesLost,
    /// A delete found nothing (simulator only).
    DeletesNotFound,
    /// Two clients wrote the same node key (simulator only).
    NodeKeyCollisions,
    /// A reply carried the CAS token 0 (simulator only).
    TokenZeroReplies,
}

impl ReachEvent {
    /// Every event, in declaration order.
    pub const ALL: [ReachEvent; 16] = [
        ReachEvent::Faults,
        ReachEvent::MessagesDropped,
        ReachEvent::Resets,
        ReachEvent::MessagesSpiked,
        ReachEvent::MessagesHeld,
        ReachEvent::RequestsFailed,
        ReachEvent::ItemsDropped,
        ReachEvent::Recreations,
        ReachEvent::CrashedClients,
        ReachEvent::StaleReplies,
        ReachEvent::StaleTokenCas,
        ReachEvent::StaleTokenCasAccepted,
        ReachEvent::CasRepliesLost,
        ReachEvent::DeletesNotFound,
        ReachEvent::NodeKeyCollisions,
        ReachEvent::TokenZeroReplies,
    ];

    /// The name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            ReachEvent::Faults => "faults",
            ReachEvent::MessagesDropped => "messages-dropped",
            ReachEvent::Resets => "resets",
            ReachEvent::MessagesSpiked => "messages-spiked",
            ReachEvent::MessagesHeld => "messages-held",
            ReachEvent::RequestsFailed => "requests-failed",
            ReachEvent::ItemsDropped => "items-dropped",
            ReachEvent::Recreations => "recreations",
            ReachEvent::CrashedClients => "crashed-clients",
            ReachEvent::StaleReplies => "stale-replies",
            ReachEvent::StaleTokenCas => "stale-token-cas",
            ReachEvent::StaleTokenCasAccepted => "stale-token-cas-accepted",
            ReachEvent::CasRepliesLost => "cas-replies-lost",
            ReachEvent::DeletesNotFound => "deletes-not-found",
            ReachEvent::NodeKeyCollisions => "node-key-collisions",
            ReachEvent::TokenZeroReplies => "token-zero-replies",
        }
    }

    /// How often it happened in a run with `counters`; `None` where the
    /// run's world cannot see it.
    pub fn count(self, counters: &Counters) -> Option<u64> {
        let sim = counters.sim.as_ref();
        let requests_seen = !counters.real.as_ref().is_some_and(|real| real.client_processes);
        Some(match self {
            ReachEvent::Faults => counters.faults,
            ReachEvent::MessagesDropped => counters.messages_dropped,
            ReachEvent::Resets => counters.resets,
            ReachEvent::MessagesSpiked => counters.messages_spiked,
            ReachEvent::MessagesHeld => counters.messages_held,
            ReachEvent::RequestsFailed => requests_seen.then_some(counters.requests_failed)?,
            ReachEvent::ItemsDropped => counters.items_dropped,
            ReachEvent::Recreations => counters.recreations,
            ReachEvent::CrashedClients => counters.crashed_clients,
            ReachEvent::StaleReplies => sim?.stale_replies,
            ReachEvent::StaleTokenCas => sim?.stale_token_cas,
            ReachEvent::StaleTokenCasAccepted => sim?.stale_token_cas_accepted,
            ReachEvent::CasRepliesLost => sim?.cas_replies_lost,
            ReachEvent::DeletesNotFound => sim?.deletes_not_found,
            ReachEvent::NodeKeyCollisions => sim?.node_key_collisions,
            ReachEvent::TokenZeroReplies => sim?.token_zero_replies,
        })
    }
}

impl std::fmt::Display for ReachEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario's reachability condition: `reach = { event = "...",
/// rate_min = 0.5 }` in its `[scenario]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reach {
    /// The event the scenario is about.
    pub event: ReachEvent,
    /// The least share of the scenario's runs (where the world can see the
    /// event) that must reach it, in `[0, 1]`; 0 only for a scenario whose
    /// pinned seeds carry the condition (each of them must reach it).
    pub rate_min: f64,
}

impl Reach {
    /// Whether a run with `counters` reached the event; `None` where its
    /// world cannot see it.
    pub fn reached(&self, counters: &Counters) -> Option<bool> {
        self.event.count(counters).map(|count| count > 0)
    }

    /// Why the condition cannot be used, if it cannot; `pinned` says
    /// whether the scenario pins seeds.
    pub fn problem(&self, pinned: bool) -> Option<String> {
        if !(0.0..=1.0).contains(&self.rate_min) {
            return Some(format!(
                "reach.rate_min = {}: a share of runs, from 0 to 1",
                self.rate_min
            ));
        }
        (self.rate_min == 0.0 && !pinned).then(|| {
            "reach.rate_min = 0 asks nothing of a scenario without pinned seeds: give a floor, or pin the seeds \
             that reach the event"
                .to_owned()
        })
    }
}

/// How a scenario's runs fared against its reachability condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReachTally {
    /// The scenario.
    pub scenario: String,
    /// Its condition.
    pub reach: Reach,
    /// Runs whose world could see the event.
    pub observed: usize,
    /// Of those, runs that reached it.
    pub reached: usize,
    /// Pinned seeds (observed) that did not reach it: each must.
    pub pinned_unreached: Vec<u64>,
}

impl ReachTally {
    /// Whether the share reached is below the floor (never for a scenario
    /// no world could observe: that is shown, not failed).
    pub fn below_floor(&self) -> bool {
        let share_low = self.observed > 0 && (self.reached as f64) < self.reach.rate_min * self.observed as f64;
        share_low || !self.pinned_unreached.is_empty()
    }

    /// `reached stale-token-cas-accepted in 3 of 200 runs (1.5%), below its
    /// floor of 5%`.
    pub fn describe(&self) -> String {
        let share = if self.observed == 0 {
            0.0
        } else {
            100.0 * self.reached as f64 / self.observed as f64
        };
        let pinned = if self.pinned_unreached.is_empty() {
            String::new()
        } else {
            format!(", and pinned seed(s) {:?} did not reach it", self.pinned_unreached)
        };
        format!(
            "{} reached {} in {} of {} runs ({share:.1}%), {} its floor of {}%{pinned}",
            self.scenario,
            self.reach.event,
            self.reached,
            self.observed,
            if (self.reached as f64) < self.reach.rate_min * self.observed as f64 {
                "below"
            } else {
                "at or above"
            },
            100.0 * self.reach.rate_min
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::SimCounters;

    #[test]
    fn simulator_only_events_are_unobservable_elsewhere() {
        let reach = Reach {
            event: ReachEvent::StaleTokenCas,
            rate_min: 0.5,
        };
        let mut counters = Counters::default();
        assert_eq!(reach.reached(&counters), None);
        counters.sim = Some(SimCounters {
            stale_token_cas: 2,
            ..SimCounters::default()
        });
        assert_eq!(reach.reached(&counters), Some(true));
        let faults = Reach {
            event: ReachEvent::Faults,
            rate_min: 0.5,
        };
        assert_eq!(faults.reached(&Counters::default()), Some(false));
    }

    #[test]
    fn the_floor_is_a_share_of_the_observed_runs() {
        let tally = |observed, reached| ReachTally {
            scenario: "restart".into(),
            reach: Reach {
                event: ReachEvent::Faults,
                rate_min: 0.25,
            },
            observed,
            reached,
            pinned_unreached: Vec::new(),
        };
        assert!(!tally(8, 2).below_floor());
        assert!(tally(8, 1).below_floor());
        assert!(!tally(0, 0).below_floor(), "nothing observable is shown, not failed");
        assert_eq!(
            tally(8, 1).describe(),
            "restart reached faults in 1 of 8 runs (12.5%), below its floor of 25%"
        );
        let mut pinned_miss = tally(8, 8);
        pinned_miss.pinned_unreached = vec![502];
        assert!(pinned_miss.below_floor());
        assert!(
            pinned_miss
                .describe()
                .ends_with("at or above its floor of 25%, and pinned seed(s) [502] did not reach it"),
            "{}",
            pinned_miss.describe()
        );
        let no_floor = Reach {
            event: ReachEvent::Faults,
            rate_min: 0.0,
        };
        assert!(no_floor.problem(false).is_some() && no_floor.problem(true).is_none());
        for (name, event) in ReachEvent::ALL.iter().map(|e| (e.name(), *e)) {
            let parsed: ReachEvent = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(parsed, event);
        }
    }
}
