//! What each world can do: the one place a plan is refused, with the
//! reason, before any world starts (`RunPlan::refusals`). A configuration
//! impossible in every world (`RunConfig::problems`) is refused everywhere;
//! beyond that the simulator can run anything, and the real backend refuses
//! what memcached cannot be made to do. MCAS runs (the second subject) are
//! refused where their history could not be judged: targeted losses (their
//! targets are deque items) and, on the real backend, memory limits. Also
//! here: how the real backend
//! maps a configuration to memcached's command line.

use memcache_collections::memcached::LocalServerConfig;
use serde::{Deserialize, Serialize};

use crate::algorithm::Subject;
use crate::config::{Fault, RunConfig};

/// Where a run happens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The deterministic simulator: one seed is one exact run.
    #[default]
    Sim,
    /// Real memcached processes the harness starts, with real faults
    /// (`crate::real`): one seed fixes the choices, not the interleaving.
    Real,
}

impl Backend {
    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sim => "sim",
            Backend::Real => "real",
        }
    }
}

/// Everything `config` asks that `backend` cannot do for `subject`, one
/// sentence each; empty if it can run it.
pub fn refusals(backend: Backend, subject: Subject, config: &RunConfig) -> Vec<String> {
    let mut refusals = config.problems();
    match backend {
        Backend::Real => refusals.extend(real_refusals(config)),
        Backend::Sim => refusals.extend(sim_refusals(config)),
    }
    if subject == Subject::Mcas {
        refusals.extend(mcas_refusals(backend, config));
    }
    refusals
}

/// What a run with client processes (`--client-cmd`) cannot do: they run
/// on real memcached only (a process lives in real time, which the
/// simulator does not have), drive a deque only, and cannot have a fault
/// pinned to a client's request count (the harness sees a process's
/// operations, not its requests).
pub fn client_process_refusals(backend: Backend, subject: Subject, config: &RunConfig) -> Vec<String> {
    let mut refusals = Vec::new();
    if backend == Backend::Sim {
        refusals.push("a client process (--client-cmd) runs on real memcached only: add --backend real".to_owned());
    }
    if subject == Subject::Mcas {
        refusals.push("a client process (--client-cmd) drives a deque; this is an MCAS scenario".to_owned());
    }
    let pinned: Vec<String> = config
        .faults
        .iter()
        .enumerate()
        .filter(|(_, spec)| matches!(spec.trigger, crate::config::Trigger::AfterClientRequests { .. }))
        .map(|(i, _)| format!("faults[{i}]"))
        .collect();
    if !pinned.is_empty() {
        refusals.push(format!(
            "{} fire(s) after a client's n-th request, which the harness cannot count for a client process \
             (it sees operations, not requests)",
            pinned.join(", ")
        ));
    }
    refusals
}

/// What an MCAS run cannot do yet: targeted losses (they aim at the
/// deque's anchor and nodes), and memory limits on the real backend (its
/// loss monitor counts evictions without knowing which keys went; the
/// simulator records them). Restarts and flushes run in both worlds: each
/// records the registers they take.
fn mcas_refusals(backend: Backend, config: &RunConfig) -> Vec<String> {
    let mut refusals = Vec::new();
    let random = &config.random_faults;
    let mut losing: Vec<String> = [
        ("random_faults.lose_node_per_s", random.lose_node_per_s),
        ("random_faults.lose_anchor_per_s", random.lose_anchor_per_s),
    ]
    .into_iter()
    .filter(|(_, rate)| *rate > 0.0)
    .map(|(name, _)| name.to_owned())
    .collect();
    losing.extend(
        config
            .faults
            .iter()
            .enumerate()
            .filter(|(_, spec)| matches!(spec.fault, Fault::Lose { .. }))
            .map(|(i, _)| format!("faults[{i}]")),
    );
    if backend == Backend::Real && config.servers.memory_limit_bytes.is_some() {
        losing.push("servers.memory_limit_bytes (on the real backend)".to_owned());
    }
    if !losing.is_empty() {
        refusals.push(format!(
            "{}: MCAS runs take restarts, flushes and (in the simulator) evictions; targeted losses aim at deque \
             items, and real memcached's evictions are counted without their keys",
            losing.join(", ")
        ));
    }
    refusals
}

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
pub fn servers(config: &RunConfig) -> ServerPlan {
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
            cas_disabled: !servers.cas,
            own_pid_namespace: servers.restart_keeps_identity,
            ..LocalServerConfig::default()
        },
        memory_pressure: servers.memory_limit_bytes.is_some(),
    }
}

/// What the simulator does not model faithfully: `flush_all` on a server
/// without CAS, which memcached applies by the wall-clock second (an item
/// stored later in the same second is flushed too; docs/memcached.md).
fn sim_refusals(config: &RunConfig) -> Vec<String> {
    let flushes = config.random_faults.flush_per_s > 0.0
        || config
            .faults
            .iter()
            .any(|spec| matches!(spec.fault, crate::config::Fault::FlushAll { .. }));
    if !config.servers.cas && flushes {
        vec![
            "servers.cas = false with flush faults: memcached -C flushes by the second, hiding items stored after the \
             flush within it, which the simulator (no wall clock) does not model; run it with --backend real"
                .to_owned(),
        ]
    } else {
        Vec::new()
    }
}

/// What memcached cannot be made to do.
fn real_refusals(config: &RunConfig) -> Vec<String> {
    let mut refusals = Vec::new();
    let item_size = config.servers.item_size_max_bytes;
    if !(ITEM_SIZE_MIN_BYTES..=ITEM_SIZE_MAX_BYTES).contains(&item_size) {
        refusals.push(format!(
            "servers.item_size_max_bytes = {item_size}: memcached's -I accepts {ITEM_SIZE_MIN_BYTES} bytes to 1 GiB"
        ));
    }
    if config.servers.restart_keeps_identity
        && let Err(reason) = LocalServerConfig::pid_namespaces_available()
    {
        refusals.push(format!(
            "servers.restart_keeps_identity: memcached must run as process 1 of its own PID namespace, and {reason}"
        ));
    }
    let memory_mb = servers(config).local.memory_mb as usize;
    if item_size.saturating_mul(2) > memory_mb.saturating_mul(MIB) {
        refusals.push(format!(
            "servers.item_size_max_bytes = {item_size} with -m {memory_mb}: memcached refuses an item limit above \
             half its memory"
        ));
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Fault, FaultSpec, Trigger};

    #[test]
    fn a_small_memory_limit_becomes_pressure_on_the_smallest_memcached() {
        let mut config = RunConfig::default();
        config.servers.memory_limit_bytes = Some(4_000);
        config.servers.evictions = false;
        let plan = servers(&config);
        assert_eq!(plan.local.memory_mb, MEMORY_MB_MIN);
        assert!(plan.local.no_evictions && plan.memory_pressure);
        assert!(refusals(Backend::Real, Subject::Deque, &config).is_empty());
    }

    #[test]
    fn the_simulator_refuses_flushes_without_cas() {
        let mut config = RunConfig::default();
        config.servers.cas = false;
        assert!(refusals(Backend::Sim, Subject::Deque, &config).is_empty());
        config.random_faults.flush_per_s = 1.0;
        assert!(refusals(Backend::Sim, Subject::Deque, &config)[0].contains("servers.cas = false with flush faults"));
        assert!(refusals(Backend::Real, Subject::Deque, &config).is_empty());
    }

    /// MCAS runs take restarts and flushes in both worlds and memory limits
    /// in the simulator; targeted losses, and memory limits on real
    /// memcached, are refused by name; the same configuration runs for the
    /// deque.
    #[test]
    fn mcas_runs_that_lose_items_untracked_are_refused() {
        let mut config = RunConfig::default();
        assert!(refusals(Backend::Sim, Subject::Mcas, &config).is_empty());
        assert!(refusals(Backend::Real, Subject::Mcas, &config).is_empty());
        config.random_faults.restart_per_s = 1.0;
        config.faults.push(FaultSpec {
            trigger: Trigger::AfterOps { ops: 1 },
            fault: Fault::FlushAll { server: 0 },
        });
        assert!(refusals(Backend::Sim, Subject::Mcas, &config).is_empty());
        config.servers.memory_limit_bytes = Some(100_000);
        assert!(refusals(Backend::Sim, Subject::Mcas, &config).is_empty());
        config.random_faults.lose_node_per_s = 1.0;
        let refused = refusals(Backend::Real, Subject::Mcas, &config);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].starts_with(
                "random_faults.lose_node_per_s, servers.memory_limit_bytes (on the real backend): MCAS runs take"
            ),
            "{}",
            refused[0]
        );
        assert!(refusals(Backend::Sim, Subject::Deque, &config).is_empty());
    }

    #[test]
    fn impossible_settings_are_refused_with_their_place() {
        let mut config = RunConfig::default();
        config.servers.item_size_max_bytes = 100;
        config.faults.push(FaultSpec {
            trigger: Trigger::AfterOps { ops: 1 },
            fault: Fault::Restart { server: 3 },
        });
        let refusals = refusals(Backend::Real, Subject::Deque, &config);
        assert!(super::refusals(Backend::Sim, Subject::Deque, &config)[0].starts_with("faults[0]: names server 3"));
        assert_eq!(refusals.len(), 2, "{refusals:?}");
        assert!(refusals[0].starts_with("faults[0]: names server 3"));
        assert!(refusals[1].contains("-I"));
    }
}
