//! Every random choice of a run comes from one master seed, split into one
//! ChaCha stream per subsystem (TigerBeetle-style): adding draws to one
//! subsystem, or a new fault type, leaves every other stream unchanged.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::config::Latency;

/// The subsystems that draw randomness; each gets its own ChaCha stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Latencies, drops and spikes.
    Network = 1,
    /// Random fault times and targets.
    Faults = 2,
    /// Client workloads (one sub-stream per client).
    Workload = 3,
    /// Node ids of the deque handles (one sub-stream per client).
    NodeIds = 4,
    /// A scenario's per-seed swarm fault mix.
    Swarm = 5,
    /// The real backend's filler traffic (value sizes).
    Filler = 6,
    /// The order in which a simulated client's batch reaches its servers
    /// (one sub-stream per client).
    Batches = 7,
    /// Which client a stepped scheduler runs next (MCAS bank runs).
    Schedule = 8,
}

/// A random stream for `stream` (and `index`, e.g. the client), derived from
/// `master_seed`.
pub fn stream(master_seed: u64, stream: Stream, index: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(master_seed);
    rng.set_stream(((stream as u64) << 32) | u64::from(index));
    rng
}

/// A seed for a library component that takes a `u64` (deque node ids).
pub fn derived_seed(master_seed: u64, stream_kind: Stream, index: u32) -> u64 {
    stream(master_seed, stream_kind, index).random()
}

/// Samples a one-way latency.
pub fn sample_latency(rng: &mut ChaCha8Rng, latency: &Latency) -> u64 {
    match *latency {
        Latency::Constant { us } => us,
        Latency::Uniform { min_us, max_us } => rng.random_range(min_us..=max_us.max(min_us)),
        Latency::Exponential { min_us, tail_mean_us } => {
            // Inverse transform; `1 - u` is in (0, 1], so `ln` is finite.
            let u: f64 = rng.random();
            min_us + (-(1.0 - u).ln() * tail_mean_us as f64) as u64
        }
    }
}

/// Time to the next event of a Poisson process with `rate_per_s`.
pub fn sample_interval_us(rng: &mut ChaCha8Rng, rate_per_s: f64) -> u64 {
    let u: f64 = rng.random();
    (-(1.0 - u).ln() / rate_per_s * 1e6) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a = stream(7, Stream::Network, 0).next_u64();
        assert_eq!(a, stream(7, Stream::Network, 0).next_u64());
        assert_ne!(a, stream(7, Stream::Faults, 0).next_u64());
        assert_ne!(a, stream(7, Stream::Network, 1).next_u64());
        assert_ne!(a, stream(8, Stream::Network, 0).next_u64());
    }
}
