//! Random faults: which kinds there are, their rates, and how one is drawn
//! from the fault stream. Shared by the simulator and the real backend, so a
//! seed draws the same fault sequence in both worlds.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::{Fault, LossTarget, PartitionMode, RandomFaults};

/// A kind of random fault, each a Poisson process with its own rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomKind {
    /// A server restart.
    Restart,
    /// A `flush_all`.
    Flush,
    /// The loss of a random node.
    LoseNode,
    /// The loss of the anchor.
    LoseAnchor,
    /// A partition of a server from some clients.
    Partition,
    /// A client's pause.
    Pause,
}

impl RandomKind {
    /// Every kind, in the order their first events are drawn.
    pub const ALL: [RandomKind; 6] = [
        RandomKind::Restart,
        RandomKind::Flush,
        RandomKind::LoseNode,
        RandomKind::LoseAnchor,
        RandomKind::Partition,
        RandomKind::Pause,
    ];

    /// The kind's rate per second in `rates` (0: off).
    pub fn rate_per_s(self, rates: &RandomFaults) -> f64 {
        match self {
            RandomKind::Restart => rates.restart_per_s,
            RandomKind::Flush => rates.flush_per_s,
            RandomKind::LoseNode => rates.lose_node_per_s,
            RandomKind::LoseAnchor => rates.lose_anchor_per_s,
            RandomKind::Partition => rates.partition_per_s,
            RandomKind::Pause => rates.pause_per_s,
        }
    }

    /// Draws one fault of this kind: its server, clients and mode.
    pub fn draw(self, rng: &mut ChaCha8Rng, servers: u32, clients: u32, rates: &RandomFaults) -> Fault {
        match self {
            RandomKind::Restart => Fault::Restart {
                server: rng.random_range(0..servers),
            },
            RandomKind::Flush => Fault::FlushAll {
                server: rng.random_range(0..servers),
            },
            RandomKind::LoseNode => Fault::Lose {
                target: LossTarget::RandomNode,
            },
            RandomKind::LoseAnchor => Fault::Lose {
                target: LossTarget::Anchor,
            },
            RandomKind::Partition => {
                let server = rng.random_range(0..servers);
                let cut: Vec<u32> = (0..clients).filter(|_| rng.random_bool(0.5)).collect();
                Fault::Partition {
                    server,
                    clients: if cut.is_empty() { vec![0] } else { cut },
                    duration_us: rates.partition_duration_us,
                    mode: if rng.random_bool(0.5) {
                        PartitionMode::Drop
                    } else {
                        PartitionMode::Hold
                    },
                }
            }
            RandomKind::Pause => Fault::Pause {
                client: rng.random_range(0..clients.max(1)),
                duration_us: rates.pause_duration_us,
            },
        }
    }
}
