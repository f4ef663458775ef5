//! What the real backend makes of a scenario: memcached's command line for
//! its servers, and every knob it cannot honour, refused up front with the
//! reason, never ignored.

use memcache_collections::memcached::LocalServerConfig;

use crate::sim::SimConfig;
use crate::sim::config::{Fault, Trigger};

/// memcached's smallest `-m` (MiB) that starts with the default `-I`.
pub const MEMORY_MB_MIN: u32 = 2;
/// `-m` when the scenario sets no memory limit.
pub const MEMORY_MB_DEFAULT: u32 = 64;
/// memcached's bounds on `-I`.
const ITEM_SIZE_MIN_BYTES: usize = 1024;
const ITEM_SIZE_MAX_BYTES: usize = 1 << 30;
const MIB: usize = 1 << 20;

/// How the real backend will run a scenario's servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    /// `-m`, `-I`, `-M`.
    pub local: LocalServerConfig,
    /// Whether filler traffic keeps memory full (a scenario memory limit
    /// below memcached's smallest `-m` is pressure, not a size).
    pub memory_pressure: bool,
}

/// Maps the scenario's servers to memcached settings: `-I` as given, `-M`
/// when evictions are off, and a memory limit as `-m` rounded up to whole
/// MiB (at least 2) with filler traffic keeping it full, because a limit of
/// a few kilobytes cannot be given to memcached itself.
pub fn servers(config: &SimConfig) -> ServerPlan {
    let servers = &config.servers;
    let memory_mb = servers.memory_limit_bytes.map_or(MEMORY_MB_DEFAULT, |bytes| {
        (bytes.div_ceil(MIB) as u32).max(MEMORY_MB_MIN)
    });
    let default_item_size = memcache_collections::memcore::ITEM_SIZE_MAX_DEFAULT;
    ServerPlan {
        local: LocalServerConfig {
            memory_mb,
            item_size_max: (servers.item_size_max_bytes != default_item_size).then_some(servers.item_size_max_bytes),
            no_evictions: !servers.evictions,
            ..LocalServerConfig::default()
        },
        memory_pressure: servers.memory_limit_bytes.is_some(),
    }
}

/// Everything in `config` the real backend cannot do, one sentence each;
/// empty if it can run it.
pub fn refusals(config: &SimConfig) -> Vec<String> {
    let mut refusals = Vec::new();
    let (servers, clients) = (config.servers.count, config.clients.count);
    if servers == 0 {
        refusals.push("servers.count must be at least 1".to_owned());
    }
    let item_size = config.servers.item_size_max_bytes;
    if !(ITEM_SIZE_MIN_BYTES..=ITEM_SIZE_MAX_BYTES).contains(&item_size) {
        refusals.push(format!(
            "servers.item_size_max_bytes = {item_size}: memcached's -I accepts {ITEM_SIZE_MIN_BYTES} bytes to 1 GiB"
        ));
    }
    let memory_mb = self::servers(config).local.memory_mb as usize;
    if item_size * 2 > memory_mb * MIB {
        refusals.push(format!(
            "servers.item_size_max_bytes = {item_size} with -m {memory_mb}: memcached refuses an item limit above \
             half its memory"
        ));
    }
    for (index, spec) in config.faults.iter().enumerate() {
        let at = format!("faults[{index}]");
        if let Trigger::AfterClientRequests { client, .. } = spec.trigger
            && client >= clients
        {
            refusals.push(format!(
                "{at}: trigger watches client {client}, but there are {clients} clients"
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
            refusals.push(format!("{at}: names server {server}, but there are {servers} servers"));
        }
        for client in named_clients.into_iter().filter(|&c| c >= clients) {
            refusals.push(format!("{at}: names client {client}, but there are {clients} clients"));
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::FaultSpec;

    #[test]
    fn a_small_memory_limit_becomes_pressure_on_the_smallest_memcached() {
        let mut config = SimConfig::default();
        config.servers.memory_limit_bytes = Some(4_000);
        config.servers.evictions = false;
        let plan = servers(&config);
        assert_eq!(plan.local.memory_mb, MEMORY_MB_MIN);
        assert!(plan.local.no_evictions && plan.memory_pressure);
        assert!(refusals(&config).is_empty());
    }

    #[test]
    fn impossible_settings_are_refused_with_their_place() {
        let mut config = SimConfig::default();
        config.servers.item_size_max_bytes = 100;
        config.faults.push(FaultSpec {
            trigger: Trigger::AfterOps { ops: 1 },
            fault: Fault::Restart { server: 3 },
        });
        let refusals = refusals(&config);
        assert_eq!(refusals.len(), 2, "{refusals:?}");
        assert!(refusals[0].contains("-I"));
        assert!(refusals[1].starts_with("faults[0]: names server 3"));
    }
}
