//! The simulated network: one state machine per client-server link (up, or
//! cut in drop or hold mode, as turmoil models links; overlapping
//! partitions are counted, so a link heals only when the last one does),
//! and one random stream for every message's fate, drawn by the same
//! function the real backend's proxy uses (`crate::nemesis::fate`).

use rand_chacha::ChaCha8Rng;

use crate::config::{NetworkConfig, PartitionMode};
use crate::nemesis::fate::{self, Direction, Fate};

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

    /// Decides one message's fate (the draws never depend on the link's
    /// state, so a partition never shifts later fates).
    pub(crate) fn fate(&mut self, client: usize, server: usize, direction: Direction) -> Fate {
        let link = *self.link(client, server);
        let cut = (link.cuts > 0).then(|| link.mode.unwrap_or(PartitionMode::Drop));
        fate::draw(&mut self.rng, &self.config, direction, cut)
    }

    /// A fresh latency for a held message released by a heal.
    pub(crate) fn latency_us(&mut self) -> u64 {
        fate::release_latency_us(&mut self.rng, &self.config)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, stream};

    fn network() -> Network {
        Network::new(NetworkConfig::default(), stream(1, Stream::Network, 0), 3, 2)
    }

    #[test]
    fn a_cut_covers_only_its_links_and_heals() {
        let mut net = network();
        net.cut(1, &[0, 2], PartitionMode::Hold);
        assert_eq!(net.fate(0, 1, Direction::Request), Fate::Held);
        assert_eq!(net.fate(2, 1, Direction::Reply), Fate::Held);
        assert!(matches!(net.fate(1, 1, Direction::Request), Fate::Arrives { .. }));
        assert!(matches!(net.fate(0, 0, Direction::Request), Fate::Arrives { .. }));
        assert!(net.heal(1, 0));
        assert!(matches!(net.fate(0, 1, Direction::Request), Fate::Arrives { .. }));
    }

    #[test]
    fn overlapping_partitions_heal_with_the_last_one() {
        let mut net = network();
        net.cut(0, &[1], PartitionMode::Drop);
        net.cut(0, &[1], PartitionMode::Hold);
        assert_eq!(net.fate(1, 0, Direction::Request), Fate::Held, "the latest mode");
        assert!(!net.heal(0, 1), "one partition still covers the link");
        assert_eq!(net.fate(1, 0, Direction::Request), Fate::Held);
        assert!(net.heal(0, 1));
        assert!(matches!(net.fate(1, 0, Direction::Request), Fate::Arrives { .. }));
    }
}
