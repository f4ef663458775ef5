//! The simulated network: one state machine per client-server link (up, or
//! cut in drop or hold mode, as turmoil models links), and the per-message
//! fate (latency, drop, delay spike, connection reset) drawn from the
//! network stream.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::config::{NetworkConfig, PartitionMode};
use super::rng::sample_latency;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Client to server.
    Request,
    /// Server to client.
    Reply,
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// It arrives after this many microseconds.
    Arrives { after_us: u64 },
    /// It is lost on a flaky link.
    Dropped,
    /// The link is cut and drops everything.
    Cut,
    /// The link is cut and holds messages until it heals.
    Held,
    /// The connection is reset: the message is lost and its client hears
    /// of it after this many microseconds.
    Reset { after_us: u64 },
}

#[derive(Debug, Clone, Copy, Default)]
struct Link {
    /// Active partitions covering this link, and the mode of the latest.
    cuts: u32,
    mode: Option<PartitionMode>,
}

/// Every link's state and the network's random stream.
#[derive(Debug)]
pub(crate) struct Network {
    config: NetworkConfig,
    rng: ChaCha8Rng,
    servers: usize,
    links: Vec<Link>,
}

impl Network {
    pub(crate) fn new(config: NetworkConfig, rng: ChaCha8Rng, clients: usize, servers: usize) -> Self {
        Network {
            config,
            rng,
            servers,
            links: vec![Link::default(); clients * servers],
        }
    }

    fn link(&mut self, client: usize, server: usize) -> &mut Link {
        &mut self.links[client * self.servers + server]
    }

    /// Decides one message's fate. Draws happen in a fixed order whatever the
    /// link's state, so a partition never shifts later messages' fates.
    pub(crate) fn fate(&mut self, client: usize, server: usize, direction: Direction) -> Fate {
        let drop_rate = match direction {
            Direction::Request => self.config.drop_request_rate,
            Direction::Reply => self.config.drop_reply_rate,
        };
        let latency_us = sample_latency(&mut self.rng, &self.config.latency);
        // A rate of zero draws nothing: the configuration is part of a run's
        // identity, so skipping is as deterministic as drawing.
        let dropped = drop_rate > 0.0 && self.rng.random_bool(drop_rate.min(1.0));
        let spike_rate = self.config.delay_spike_rate;
        let spiked = spike_rate > 0.0 && self.rng.random_bool(spike_rate.min(1.0));
        let reset_rate = self.config.reset_rate;
        let reset = reset_rate > 0.0 && self.rng.random_bool(reset_rate.min(1.0));
        let link = *self.link(client, server);
        if link.cuts > 0 {
            return match link.mode {
                Some(PartitionMode::Hold) => Fate::Held,
                _ => Fate::Cut,
            };
        }
        if dropped {
            return Fate::Dropped;
        }
        if reset {
            return Fate::Reset { after_us: latency_us };
        }
        let spike_us = if spiked { self.config.delay_spike_us } else { 0 };
        Fate::Arrives {
            after_us: latency_us + spike_us,
        }
    }

    /// A fresh latency for a held message released by a heal.
    pub(crate) fn latency_us(&mut self) -> u64 {
        sample_latency(&mut self.rng, &self.config.latency)
    }

    /// Cuts the links from `server` to `clients`.
    pub(crate) fn cut(&mut self, server: usize, clients: &[usize], mode: PartitionMode) {
        for &client in clients {
            let link = self.link(client, server);
            link.cuts += 1;
            link.mode = Some(mode);
        }
    }

    /// Heals one partition; a link stays cut while another covers it.
    /// Returns whether the link between `client` and `server` is now up.
    pub(crate) fn heal(&mut self, server: usize, client: usize) -> bool {
        let link = self.link(client, server);
        link.cuts = link.cuts.saturating_sub(1);
        if link.cuts == 0 {
            link.mode = None;
        }
        link.cuts == 0
    }

    /// The client timeout.
    pub(crate) fn timeout_us(&self) -> u64 {
        self.config.client_timeout_us
    }
}
