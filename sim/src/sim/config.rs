//! Everything a simulated run depends on besides its seed. A run is a pure
//! function of (`SimConfig`, seed). Every default is here, in one place, and
//! units are the last word of every field name.

use memcache_collections::Variant;
use serde::{Deserialize, Serialize};

/// One simulated run's world and workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// The deque algorithm, by its `Variant` name.
    pub variant: String,
    /// The memcached servers.
    pub servers: ServersConfig,
    /// Every client-server link.
    pub network: NetworkConfig,
    /// The simulated clients and their workload.
    pub clients: ClientsConfig,
    /// Faults at fixed points of the run.
    pub faults: Vec<FaultSpec>,
    /// Faults drawn at random, by rate.
    pub random_faults: RandomFaults,
    /// After the workload, drain the deque from both ends with a fresh client
    /// on a healed network, so every surviving value is accounted for.
    pub drain: bool,
    /// Keep the full trace in memory (for `repro`); the trace hash is computed
    /// either way.
    pub keep_trace: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            variant: Variant::default().name().to_owned(),
            servers: ServersConfig::default(),
            network: NetworkConfig::default(),
            clients: ClientsConfig::default(),
            faults: Vec::new(),
            random_faults: RandomFaults::default(),
            drain: true,
            keep_trace: false,
        }
    }
}

/// The simulated memcached servers; keys are spread over them by ketama.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServersConfig {
    /// How many servers.
    pub count: u32,
    /// `-I`: the item size limit.
    pub item_size_max_bytes: usize,
    /// `-m` as bytes of items; absent for unlimited.
    pub memory_limit_bytes: Option<usize>,
    /// `false` is `-M`: refuse stores when full instead of evicting.
    pub evictions: bool,
}

impl Default for ServersConfig {
    fn default() -> Self {
        ServersConfig {
            count: 1,
            item_size_max_bytes: memcache_collections::memcore::ITEM_SIZE_MAX_DEFAULT,
            memory_limit_bytes: None,
            evictions: true,
        }
    }
}

/// One-way message latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Every message takes exactly this long.
    Constant {
        /// The delay.
        us: u64,
    },
    /// Uniform between the bounds, inclusive.
    Uniform {
        /// Shortest delay.
        min_us: u64,
        /// Longest delay.
        max_us: u64,
    },
    /// `min_us` plus an exponential tail with the given mean: mostly fast,
    /// sometimes slow, which is what reorders messages.
    Exponential {
        /// Shortest delay.
        min_us: u64,
        /// Mean of the tail above the minimum.
        tail_mean_us: u64,
    },
}

/// Faults and delays on client-server links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// One-way latency of every message.
    pub latency: Latency,
    /// Probability that a request never reaches the server.
    pub drop_request_rate: f64,
    /// Probability that a reply never reaches the client (the server applied
    /// the request).
    pub drop_reply_rate: f64,
    /// Probability that a message is held back by `delay_spike_us` extra,
    /// usually past the client's timeout: the request is applied after its
    /// client gave up on it, or overtaken by a later one.
    pub delay_spike_rate: f64,
    /// The extra delay of a spike.
    pub delay_spike_us: u64,
    /// Probability that a message's connection is reset under it: the
    /// message is lost (a request never applied, a reply after the server
    /// applied it) and its client learns at once, one latency later,
    /// instead of at its timeout. Either way the client cannot know
    /// whether a write took effect.
    pub reset_rate: f64,
    /// A request without a reply after this long fails with an unknown
    /// outcome (a write) or no effect (a read).
    pub client_timeout_us: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            latency: Latency::Exponential {
                min_us: 20,
                tail_mean_us: 30,
            },
            drop_request_rate: 0.0,
            drop_reply_rate: 0.0,
            delay_spike_rate: 0.0,
            delay_spike_us: 20_000,
            reset_rate: 0.0,
            client_timeout_us: 10_000,
        }
    }
}

/// Relative weights of the four operations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpMix {
    /// Weight of `push_back`.
    pub push_back: u32,
    /// Weight of `push_front`.
    pub push_front: u32,
    /// Weight of `pop_back`.
    pub pop_back: u32,
    /// Weight of `pop_front`.
    pub pop_front: u32,
}

impl Default for OpMix {
    fn default() -> Self {
        OpMix {
            push_back: 1,
            push_front: 1,
            pop_back: 1,
            pop_front: 1,
        }
    }
}

/// The simulated clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientsConfig {
    /// How many clients, each running its own deque handle.
    pub count: u32,
    /// Operations each client runs.
    pub ops_per_client: u64,
    /// Which operations, by weight.
    pub mix: OpMix,
    /// Smallest pushed value (values are padded ids, so at least the id).
    pub value_size_bytes_min: usize,
    /// Largest pushed value.
    pub value_size_bytes_max: usize,
    /// Pause between a client's operations: uniform in 0..=this.
    pub think_time_us_max: u64,
    /// Items pushed before the workload starts (not part of the history's
    /// concurrency, but part of its contents).
    pub prefill_items: u64,
    /// Attempts per operation before the deque gives up.
    pub retries_max: u32,
    /// What an application does when its deque's anchor is reported lost
    /// or foreign: `create` the deque again under its name (or, if another
    /// client already did, `bind` to it) and carry on. Exercises the restart
    /// ABA (FINDINGS.md): a client that read the old anchor may write it back
    /// over the new one.
    pub recreate_after_anchor_loss: bool,
    /// The deque's backoff after a lost race: the first bound, in virtual
    /// microseconds (0: retry at once). Defaults to the library's.
    pub backoff_first_us: u32,
    /// The largest backoff bound.
    pub backoff_max_us: u32,
}

impl Default for ClientsConfig {
    fn default() -> Self {
        ClientsConfig {
            count: 4,
            ops_per_client: 50,
            mix: OpMix::default(),
            value_size_bytes_min: 0,
            value_size_bytes_max: 0,
            think_time_us_max: 100,
            prefill_items: 0,
            retries_max: 1_000,
            recreate_after_anchor_loss: false,
            backoff_first_us: memcache_collections::deque::BACKOFF_FIRST_US_DEFAULT,
            backoff_max_us: memcache_collections::deque::BACKOFF_MAX_US_DEFAULT,
        }
    }
}

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

/// Faults drawn at random over the run, each as a rate per simulated second
/// (a Poisson process from the fault stream). Zero switches a kind off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFaults {
    /// Server restarts.
    pub restart_per_s: f64,
    /// `flush_all`s.
    pub flush_per_s: f64,
    /// Losses of a random node.
    pub lose_node_per_s: f64,
    /// Losses of the anchor.
    pub lose_anchor_per_s: f64,
    /// Partitions of a random server from a random half of the clients.
    pub partition_per_s: f64,
    /// How long a random partition lasts.
    pub partition_duration_us: u64,
    /// Pauses of a random client.
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
