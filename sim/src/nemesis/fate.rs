//! The fate of one message on a client-server link: its latency, and
//! whether it is dropped, delayed by a spike, lost to a connection reset,
//! or caught by a partition. The simulated network and the real backend's
//! proxy both call [`draw`], so the order of draws on a stream is equal by
//! construction: latency, drop, spike, reset, always all four (a rate of 0
//! draws nothing, whatever the link's state), and only then the link's cut
//! decides. A partition therefore never shifts the fates of later messages.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::{NetworkConfig, PartitionMode};
use crate::rng::sample_latency;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Request,
    /// Server to client.
    Reply,
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It arrives after `after_us`; `spiked` if a delay spike is part of it.
    Arrives {
        /// Microseconds until it arrives.
        after_us: u64,
        /// Whether `delay_spike_us` was added.
        spiked: bool,
    },
    /// It is lost on a flaky link.
    Dropped,
    /// The link is cut and drops everything.
    Cut,
    /// The link is cut and holds messages until it heals; the message then
    /// travels with a fresh latency ([`release_latency_us`]).
    Held,
    /// The connection is reset: the message is lost and its client hears of
    /// it after `after_us`.
    Reset {
        /// Microseconds until the client learns.
        after_us: u64,
    },
}

/// Draws the fate of a message sent in `direction` on a link whose cut, if
/// any, has `cut` mode.
#[inline]
pub fn draw(rng: &mut ChaCha8Rng, network: &NetworkConfig, direction: Direction, cut: Option<PartitionMode>) -> Fate {
    let drop_rate = match direction {
        Direction::Request => network.drop_request_rate,
        Direction::Reply => network.drop_reply_rate,
    };
    let latency_us = sample_latency(rng, &network.latency);
    // A rate of zero draws nothing: the configuration is part of a run's
    // identity, so skipping is as deterministic as drawing.
    let dropped = drop_rate > 0.0 && rng.random_bool(drop_rate.min(1.0));
    let spike_rate = network.delay_spike_rate;
    let spiked = spike_rate > 0.0 && rng.random_bool(spike_rate.min(1.0));
    let reset_rate = network.reset_rate;
    let reset = reset_rate > 0.0 && rng.random_bool(reset_rate.min(1.0));
    match cut {
        Some(PartitionMode::Hold) => return Fate::Held,
        Some(PartitionMode::Drop) => return Fate::Cut,
        None => {}
    }
    if dropped {
        return Fate::Dropped;
    }
    if reset {
        return Fate::Reset { after_us: latency_us };
    }
    let spike_us = if spiked { network.delay_spike_us } else { 0 };
    Fate::Arrives {
        after_us: latency_us + spike_us,
        spiked,
    }
}

/// The latency of a held message released when its partition heals: one
/// more draw on the same stream.
pub fn release_latency_us(rng: &mut ChaCha8Rng, network: &NetworkConfig) -> u64 {
    sample_latency(rng, &network.latency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Latency;
    use crate::rng::{Stream, stream};

    fn lossy() -> NetworkConfig {
        NetworkConfig {
            latency: Latency::Uniform { min_us: 10, max_us: 90 },
            drop_request_rate: 0.2,
            drop_reply_rate: 0.1,
            delay_spike_rate: 0.1,
            reset_rate: 0.05,
            ..NetworkConfig::default()
        }
    }

    /// A cut link consumes the same draws as an open one, so the messages
    /// after a partition meet the fates they would have met without it.
    #[test]
    fn a_cut_never_shifts_later_fates() {
        let network = lossy();
        let fates = |cut_first: usize| {
            let mut rng = stream(3, Stream::Network, 1);
            (0..200)
                .map(|i| {
                    let cut = (i < cut_first).then_some(PartitionMode::Drop);
                    draw(&mut rng, &network, Direction::Request, cut)
                })
                .collect::<Vec<_>>()
        };
        let (open, cut) = (fates(0), fates(50));
        assert!(cut[..50].iter().all(|&f| f == Fate::Cut));
        assert_eq!(open[50..], cut[50..]);
    }

    #[test]
    fn held_messages_wait_and_dropped_ones_are_lost() {
        let network = lossy();
        let mut rng = stream(3, Stream::Network, 1);
        assert_eq!(
            draw(&mut rng, &network, Direction::Reply, Some(PartitionMode::Hold)),
            Fate::Held
        );
        let fates: Vec<Fate> = (0..2_000)
            .map(|_| draw(&mut rng, &network, Direction::Request, None))
            .collect();
        let dropped = fates.iter().filter(|f| **f == Fate::Dropped).count();
        let spiked = fates
            .iter()
            .filter(|f| matches!(f, Fate::Arrives { spiked: true, .. }))
            .count();
        // 20% dropped; a tenth of the rest spiked.
        assert!((300..500).contains(&dropped), "{dropped}");
        assert!((100..220).contains(&spiked), "{spiked}");
        assert!(fates.iter().any(|f| matches!(f, Fate::Reset { .. })));
    }
}
