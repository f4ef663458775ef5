//! What a run is, besides its seed and algorithm: the servers, the
//! network, the clients and their workload, and the faults. World-neutral:
//! the simulator, the real backend and every command read these types, and
//! a scenario file's sections are exactly [`RunConfig`]'s (one list of
//! sections, [`RunConfig::SECTIONS`], read by one visitor). Every default is
//! here, in one place, and units are the last word of every field name.
//! Rates and probabilities are range-checked as they are read, so a bad one
//! is refused with its file, line and the allowed range.

mod bank;
mod faults;

use std::fmt;

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use bank::BankConfig;
pub use faults::{Fault, FaultSpec, LossTarget, PartitionMode, RandomFaults, Trigger, partitioned_clients};

/// The name of the deque every run's clients share, in every world.
pub const DEQUE_NAME: &str = "simdeque";

/// One run's world, workload and faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunConfig {
    /// The memcached servers.
    pub servers: ServersConfig,
    /// Every client-server link.
    pub network: NetworkConfig,
    /// The clients and their workload.
    pub clients: ClientsConfig,
    /// Faults at fixed points of the run.
    pub faults: Vec<FaultSpec>,
    /// Faults drawn at random, by rate.
    pub random_faults: RandomFaults,
    /// The MCAS subject's bank workload (MCAS runs only).
    pub bank: BankConfig,
}

impl RunConfig {
    /// The TOML sections (top-level keys) of a configuration.
    pub const SECTIONS: &'static [&'static str] = &["servers", "network", "clients", "faults", "random_faults", "bank"];

    /// Reads the section `key` from `map` into `self`; `Ok(false)` if `key`
    /// is not a section of a configuration. Scenario files read their
    /// configuration sections through this too, so a section added here is
    /// a scenario section at once, and errors keep their line and column.
    pub fn read_section<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "servers" => self.servers = map.next_value()?,
            "network" => self.network = map.next_value()?,
            "clients" => self.clients = map.next_value()?,
            "faults" => self.faults = map.next_value()?,
            "random_faults" => self.random_faults = map.next_value()?,
            "bank" => self.bank = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What makes this configuration impossible in any world, one sentence
    /// each (empty if none): counts of zero, times so long they would
    /// overflow a run's clock, faults naming servers or clients that do not
    /// exist.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (field, us) in self.durations_us() {
            if us > TIME_US_MAX {
                problems.push(format!("{field} = {us}: times are at most {TIME_US_MAX} us (a day)"));
            }
        }
        let (servers, clients) = (self.servers.count, self.clients.count);
        if servers == 0 {
            problems.push("servers.count must be at least 1".to_owned());
        }
        if clients == 0 {
            problems.push("clients.count must be at least 1".to_owned());
        }
        problems.extend(self.bank.problems());
        let c = &self.clients;
        let mix = &c.mix;
        if c.ops_per_client > 0 && [mix.push_back, mix.push_front, mix.pop_back, mix.pop_front] == [0; 4] {
            problems.push("clients.mix: every weight is 0, so no operation can be drawn".to_owned());
        }
        if c.value_size_bytes_min > c.value_size_bytes_max {
            problems.push(format!(
                "clients.value_size_bytes_min = {} is above clients.value_size_bytes_max = {}",
                c.value_size_bytes_min, c.value_size_bytes_max
            ));
        }
        if c.backoff_first_us > c.backoff_max_us {
            problems.push(format!(
                "clients.backoff_first_us = {} is above clients.backoff_max_us = {}",
                c.backoff_first_us, c.backoff_max_us
            ));
        }
        for (index, spec) in self.faults.iter().enumerate() {
            let at = format!("faults[{index}]");
            if let Trigger::AfterClientRequests { client, .. } = spec.trigger
                && client >= clients
            {
                problems.push(format!(
                    "{at}: the trigger watches client {client}, but there are {clients} clients"
                ));
            }
            let (server, named_clients): (Option<u32>, Vec<u32>) = match &spec.fault {
                Fault::Restart { server } | Fault::FlushAll { server } => (Some(*server), Vec::new()),
                Fault::Partition { server, clients, .. } => (Some(*server), clients.clone()),
                Fault::Pause { client, .. } | Fault::Crash { client } => (None, vec![*client]),
                Fault::Lose { .. } => (None, Vec::new()),
            };
            if let Some(server) = server
                && server >= servers
            {
                problems.push(format!("{at}: names server {server}, but there are {servers} servers"));
            }
            for client in named_clients.into_iter().filter(|&c| c >= clients) {
                problems.push(format!("{at}: names client {client}, but there are {clients} clients"));
            }
        }
        problems
    }
}

impl RunConfig {
    /// Every time the configuration sets, named as in the file.
    fn durations_us(&self) -> Vec<(String, u64)> {
        let network = &self.network;
        let mut times = match network.latency {
            Latency::Constant { us } => vec![("network.latency.us".to_owned(), us)],
            Latency::Uniform { min_us, max_us } => vec![
                ("network.latency.min_us".to_owned(), min_us),
                ("network.latency.max_us".to_owned(), max_us),
            ],
            Latency::Exponential { min_us, tail_mean_us } => vec![
                ("network.latency.min_us".to_owned(), min_us),
                ("network.latency.tail_mean_us".to_owned(), tail_mean_us),
            ],
        };
        times.push(("network.delay_spike_us".to_owned(), network.delay_spike_us));
        times.push(("network.client_timeout_us".to_owned(), network.client_timeout_us));
        times.push(("clients.think_time_us_max".to_owned(), self.clients.think_time_us_max));
        let random = &self.random_faults;
        times.push((
            "random_faults.partition_duration_us".to_owned(),
            random.partition_duration_us,
        ));
        times.push(("random_faults.pause_duration_us".to_owned(), random.pause_duration_us));
        for (index, spec) in self.faults.iter().enumerate() {
            if let Trigger::AtUs { at_us } = spec.trigger {
                times.push((format!("faults[{index}].trigger.at_us"), at_us));
            }
            if let Fault::Partition { duration_us, .. } | Fault::Pause { duration_us, .. } = spec.fault {
                times.push((format!("faults[{index}].fault.duration_us"), duration_us));
            }
        }
        times
    }
}

/// The longest time a configuration may set: a day, far beyond any run,
/// and far below where a run's clock would overflow.
pub const TIME_US_MAX: u64 = 86_400_000_000;

impl<'de> Deserialize<'de> for RunConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Sections;
        impl<'de> Visitor<'de> for Sections {
            type Value = RunConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a run configuration")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RunConfig, A::Error> {
                let mut config = RunConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    if !config.read_section(&key, &mut map)? {
                        return Err(A::Error::unknown_field(&key, RunConfig::SECTIONS));
                    }
                }
                Ok(config)
            }
        }
        deserializer.deserialize_map(Sections)
    }
}

/// Reads a probability, refusing anything outside 0 to 1 (where the reader
/// says where it stands).
pub(crate) fn probability<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(D::Error::custom(format!(
            "{value} is not a probability: the allowed range is 0 to 1"
        )))
    }
}

/// Reads a rate (per second), refusing a negative or non-finite one.
pub(crate) fn non_negative<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!(
            "{value} is not a rate: the allowed range is 0 or more (per second)"
        )))
    }
}

/// The memcached servers; keys are spread over them by ketama.
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
    /// `false` is `-C`: CAS disabled, every token 0 and every
    /// compare-and-set refused (`EX`), as memcached 1.6.18 does it.
    pub cas: bool,
    /// Whether a restart keeps the process identity `stats` reports
    /// (process id and start second): memcached as process 1 of a
    /// container, restarted within one second. Only the life mark the
    /// deque writes into the server tells such lives apart.
    pub restart_keeps_identity: bool,
}

impl Default for ServersConfig {
    fn default() -> Self {
        ServersConfig {
            count: 1,
            item_size_max_bytes: memcache_collections::memcore::ITEM_SIZE_MAX_DEFAULT,
            memory_limit_bytes: None,
            evictions: true,
            cas: true,
            restart_keeps_identity: false,
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
    #[serde(deserialize_with = "probability")]
    pub drop_request_rate: f64,
    /// Probability that a reply never reaches the client (the server applied
    /// the request).
    #[serde(deserialize_with = "probability")]
    pub drop_reply_rate: f64,
    /// Probability that a message is held back by `delay_spike_us` extra,
    /// usually past the client's timeout: the request is applied after its
    /// client gave up on it, or overtaken by a later one.
    #[serde(deserialize_with = "probability")]
    pub delay_spike_rate: f64,
    /// The extra delay of a spike.
    pub delay_spike_us: u64,
    /// Probability that a message's connection is reset under it: the
    /// message is lost (a request never applied, a reply after the server
    /// applied it) and its client learns at once, one latency later,
    /// instead of at its timeout. Either way the client cannot know
    /// whether a write took effect.
    #[serde(deserialize_with = "probability")]
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

/// The clients: how many, and the workload each runs.
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
    /// Every client (and the setup and drain clients) draws node ids from
    /// the same seeded stream, as handles sharing `DequeOptions::id_seed`
    /// or a worker restarted with its seed do: their ids collide on
    /// purpose.
    pub colliding_node_ids: bool,
    /// A pusher that expects to start its next operation from its own
    /// anchor leaves linking its neighbour to that operation
    /// (`DequeOptions::deferred_link`).
    pub deferred_link: bool,
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
            colliding_node_ids: false,
            deferred_link: true,
        }
    }
}
