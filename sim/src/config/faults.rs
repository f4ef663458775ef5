//! The faults a run can be given: scheduled ones with their triggers, and
//! random ones by rate. World-neutral: the simulator and the real backend
//! read the same types, and `crate::nemesis` decides, once for both, when
//! each fires and what it strikes.

use serde::{Deserialize, Serialize};

use super::non_negative;

/// When a scheduled fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// At a virtual time.
    AtUs {
        /// Microseconds since the run began.
        at_us: u64,
    },
    /// When this many operations (all clients together) have returned.
    AfterOps {
        /// Completed operations.
        ops: u64,
    },
    /// Just before `client` sends its request number `requests + 1`: the
    /// first `requests` requests of that client have been answered. Pins a
    /// fault between two exact steps of an algorithm. Only data requests
    /// count (gets, set, add, cas, delete): a hardened handle's server
    /// lifetime check is not a step of the algorithm, so the same number
    /// pins the same step on every variant.
    AfterClientRequests {
        /// The client watched.
        client: u32,
        /// Requests it has completed.
        requests: u64,
    },
}

/// Which deque entry a targeted loss destroys.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossTarget {
    /// The anchor.
    Anchor,
    /// A node chosen at random (from the fault stream).
    RandomNode,
    /// The node at this position from the front (0 = leftmost), if any.
    NodeAt {
        /// Position from the left end.
        position: u64,
    },
}

/// What a partition does to messages on a cut link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionMode {
    /// Messages are lost.
    Drop,
    /// Messages wait and are delivered when the partition heals.
    Hold,
}

/// A fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The server process restarts: every item lost, CAS counter back to 1,
    /// connections reset (messages in flight are lost).
    Restart {
        /// Server index.
        server: u32,
    },
    /// `flush_all` on a server.
    FlushAll {
        /// Server index.
        server: u32,
    },
    /// One deque entry is lost, as an eviction would lose it.
    Lose {
        /// Which entry.
        target: LossTarget,
    },
    /// Links between `server` and `clients` (all clients if empty) are cut
    /// for `duration_us`.
    Partition {
        /// Server index.
        server: u32,
        /// Affected clients; empty means all.
        clients: Vec<u32>,
        /// How long until it heals.
        duration_us: u64,
        /// Whether cut messages are lost or held.
        mode: PartitionMode,
    },
    /// The client stops for a while; replies wait for it.
    Pause {
        /// Client index.
        client: u32,
        /// How long.
        duration_us: u64,
    },
    /// The client stops forever, wherever it is in its current operation.
    Crash {
        /// Client index.
        client: u32,
    },
}

/// The clients a partition cuts off: those named that exist, or every
/// client when none is named.
pub fn partitioned_clients(named: &[u32], count: usize) -> Vec<usize> {
    if named.is_empty() {
        (0..count).collect()
    } else {
        named.iter().map(|&c| c as usize).filter(|&c| c < count).collect()
    }
}

/// A fault and when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When.
    pub trigger: Trigger,
    /// What.
    pub fault: Fault,
}

/// Faults drawn at random over the run, each as a rate per second of the run
/// (a Poisson process from the fault stream). Zero switches a kind off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFaults {
    /// Server restarts.
    #[serde(deserialize_with = "non_negative")]
    pub restart_per_s: f64,
    /// `flush_all`s.
    #[serde(deserialize_with = "non_negative")]
    pub flush_per_s: f64,
    /// Losses of a random node.
    #[serde(deserialize_with = "non_negative")]
    pub lose_node_per_s: f64,
    /// Losses of the anchor.
    #[serde(deserialize_with = "non_negative")]
    pub lose_anchor_per_s: f64,
    /// Partitions of a random server from a random half of the clients.
    #[serde(deserialize_with = "non_negative")]
    pub partition_per_s: f64,
    /// How long a random partition lasts.
    pub partition_duration_us: u64,
    /// Pauses of a random client.
    #[serde(deserialize_with = "non_negative")]
    pub pause_per_s: f64,
    /// How long a random pause lasts.
    pub pause_duration_us: u64,
}

impl Default for RandomFaults {
    fn default() -> Self {
        RandomFaults {
            restart_per_s: 0.0,
            flush_per_s: 0.0,
            lose_node_per_s: 0.0,
            lose_anchor_per_s: 0.0,
            partition_per_s: 0.0,
            partition_duration_us: 20_000,
            pause_per_s: 0.0,
            pause_duration_us: 20_000,
        }
    }
}

impl RandomFaults {
    /// The total rate, to know whether any random fault is on.
    pub fn total_per_s(&self) -> f64 {
        self.restart_per_s
            + self.flush_per_s
            + self.lose_node_per_s
            + self.lose_anchor_per_s
            + self.partition_per_s
            + self.pause_per_s
    }
}
