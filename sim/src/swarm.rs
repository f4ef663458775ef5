//! Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): each seed
//! draws its own mix of fault kinds, each kind switched off entirely with
//! some probability and otherwise drawn from its range, so seeds explore
//! very different mixes instead of one average.

use std::fmt;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::rng::{self, Stream};

/// Ranges from which each seed draws its own fault rates; every kind is also
/// switched off entirely with `off_probability`, so seeds explore very
/// different mixes (some kinds absent, others at wildly different rates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Swarm {
    /// Probability that a fault kind is off for a seed.
    #[serde(deserialize_with = "crate::config::probability")]
    pub off_probability: f64,
    /// Range of `network.drop_request_rate`.
    pub drop_request_rate: [f64; 2],
    /// Range of `network.drop_reply_rate`.
    pub drop_reply_rate: [f64; 2],
    /// Range of `network.delay_spike_rate`.
    pub delay_spike_rate: [f64; 2],
    /// Range of `random_faults.restart_per_s`.
    pub restart_per_s: [f64; 2],
    /// Range of `random_faults.flush_per_s`.
    pub flush_per_s: [f64; 2],
    /// Range of `random_faults.lose_node_per_s`.
    pub lose_node_per_s: [f64; 2],
    /// Range of `random_faults.lose_anchor_per_s`.
    pub lose_anchor_per_s: [f64; 2],
    /// Range of `random_faults.partition_per_s`.
    pub partition_per_s: [f64; 2],
    /// Range of `random_faults.pause_per_s`.
    pub pause_per_s: [f64; 2],
    /// Whether seeds may run with `servers.restart_keeps_identity` (on
    /// with probability `1 - off_probability`).
    pub restart_keeps_identity: bool,
    /// Whether seeds may run with `clients.colliding_node_ids` (likewise).
    pub colliding_node_ids: bool,
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            off_probability: 0.5,
            drop_request_rate: [0.0, 0.05],
            drop_reply_rate: [0.0, 0.05],
            delay_spike_rate: [0.0, 0.05],
            restart_per_s: [0.0, 5.0],
            flush_per_s: [0.0, 2.0],
            lose_node_per_s: [0.0, 20.0],
            lose_anchor_per_s: [0.0, 2.0],
            partition_per_s: [0.0, 20.0],
            pause_per_s: [0.0, 20.0],
            restart_keeps_identity: true,
            colliding_node_ids: true,
        }
    }
}

/// What one seed drew from a [`Swarm`]: the rates its run uses, in the
/// order they were drawn. Shown by `repro`, in JSON records and in the HTML
/// report, so a reader knows what a failing swarm seed injected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmDraws {
    /// `(field, rate)`, with the field named as in the configuration
    /// (`network.drop_reply_rate`, `random_faults.restart_per_s`, ...); 0
    /// means the kind was switched off for this seed.
    pub rates: Vec<(String, f64)>,
    /// `(field, on)` for the switches (`servers.restart_keeps_identity`,
    /// `clients.colliding_node_ids`), drawn after the rates. Absent from
    /// records written before switches existed.
    #[serde(default)]
    pub switches: Vec<(String, bool)>,
}

impl Swarm {
    /// What is wrong with the ranges, one sentence each: a range must go
    /// from a low to a high bound, both finite and not negative, and a
    /// probability's high bound is at most 1.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (field, [low, high]) in self.ranges() {
            if !(low.is_finite() && high.is_finite() && 0.0 <= low && low <= high) {
                problems.push(format!(
                    "swarm.{}: [{low}, {high}] is not a range from a low to a high bound, both 0 or more",
                    field.rsplit('.').next().unwrap_or(field)
                ));
            } else if field.starts_with("network.") && high > 1.0 {
                problems.push(format!(
                    "swarm.{}: {high} is not a probability: the allowed range is 0 to 1",
                    field.rsplit('.').next().unwrap_or(field)
                ));
            }
        }
        problems
    }

    /// Every range with the configuration field it sets, in draw order.
    fn ranges(&self) -> [(&'static str, [f64; 2]); 9] {
        [
            ("network.drop_request_rate", self.drop_request_rate),
            ("network.drop_reply_rate", self.drop_reply_rate),
            ("network.delay_spike_rate", self.delay_spike_rate),
            ("random_faults.restart_per_s", self.restart_per_s),
            ("random_faults.flush_per_s", self.flush_per_s),
            ("random_faults.lose_node_per_s", self.lose_node_per_s),
            ("random_faults.lose_anchor_per_s", self.lose_anchor_per_s),
            ("random_faults.partition_per_s", self.partition_per_s),
            ("random_faults.pause_per_s", self.pause_per_s),
        ]
    }

    /// The rates of `seed`, from the seed's own swarm stream.
    pub fn draw(&self, seed: u64) -> SwarmDraws {
        let mut rng = rng::stream(seed, Stream::Swarm, 0);
        let rates = self
            .ranges()
            .into_iter()
            .map(|(field, range)| {
                let off = rng.random_bool(self.off_probability.clamp(0.0, 1.0));
                let u: f64 = rng.random();
                let rate = if off { 0.0 } else { range[0] + u * (range[1] - range[0]) };
                (field.to_owned(), rate)
            })
            .collect();
        let switches = self
            .switches()
            .into_iter()
            .map(|(field, allowed)| {
                let on = !rng.random_bool(self.off_probability.clamp(0.0, 1.0));
                (field.to_owned(), allowed && on)
            })
            .collect();
        SwarmDraws { rates, switches }
    }

    /// Every switch with the configuration field it sets, in draw order.
    fn switches(&self) -> [(&'static str, bool); 2] {
        [
            ("servers.restart_keeps_identity", self.restart_keeps_identity),
            ("clients.colliding_node_ids", self.colliding_node_ids),
        ]
    }
}

impl SwarmDraws {
    /// Sets the drawn rates in `config`.
    pub fn apply(&self, config: &mut RunConfig) {
        for (&(_, rate), slot) in self.rates.iter().zip(rate_slots(config)) {
            *slot = rate;
        }
        let switches = [
            &mut config.servers.restart_keeps_identity,
            &mut config.clients.colliding_node_ids,
        ];
        for (&(_, on), slot) in self.switches.iter().zip(switches) {
            *slot = on;
        }
    }
}

/// The configuration fields a swarm draws, in [`Swarm::ranges`]' order.
fn rate_slots(config: &mut RunConfig) -> [&mut f64; 9] {
    let (network, random) = (&mut config.network, &mut config.random_faults);
    [
        &mut network.drop_request_rate,
        &mut network.drop_reply_rate,
        &mut network.delay_spike_rate,
        &mut random.restart_per_s,
        &mut random.flush_per_s,
        &mut random.lose_node_per_s,
        &mut random.lose_anchor_per_s,
        &mut random.partition_per_s,
        &mut random.pause_per_s,
    ]
}

impl fmt::Display for SwarmDraws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on: Vec<String> = self
            .rates
            .iter()
            .filter(|(_, rate)| *rate > 0.0)
            .map(|(field, rate)| format!("{field} = {rate:.4}"))
            .chain(
                self.switches
                    .iter()
                    .filter(|(_, on)| *on)
                    .map(|(field, _)| format!("{field} = true")),
            )
            .collect();
        if on.is_empty() {
            f.write_str("every fault kind off")
        } else {
            f.write_str(&on.join(", "))
        }
    }
}
