//! `mcsim list`: what the harness knows.

use std::path::PathBuf;

use memcache_collections::Variant;
use memcache_sim::exit;
use memcache_sim::scenario;
use memcache_sim::verdict::Verdict;

/// `mcsim list`'s arguments.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
}

/// Prints scenarios (under `paths`), variants, fault types and verdicts.
pub fn run(args: &ListArgs) -> u8 {
    outln!("scenarios:");
    match scenario::discover(&args.paths) {
        Ok(files) => {
            for file in files {
                match scenario::load(&file) {
                    Ok(s) => {
                        let meta = &s.scenario.meta;
                        let expect: Vec<&str> = meta.expect.iter().map(|v| v.name()).collect();
                        outln!(
                            "  {:<40} variant {:<12} seeds {:<5} expect {}",
                            file.display(),
                            meta.variant.name(),
                            meta.seeds.list().len(),
                            expect.join(", ")
                        );
                    }
                    Err(error) => outln!("  {error}"),
                }
            }
        }
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    }
    outln!("variants:");
    for variant in Variant::ALL {
        outln!("  {}", variant.name());
    }
    outln!("fault types (faults = [{{ trigger = ..., fault = {{ kind = ... }} }}]):");
    for (kind, what) in [
        (
            "restart",
            "server restart: items lost, CAS counter back to 1, connections reset",
        ),
        ("flush_all", "flush_all on a server"),
        (
            "lose",
            "one entry lost: target anchor, random_node, or node_at position",
        ),
        (
            "partition",
            "links from a server to clients cut, drop or hold mode, healed after duration_us",
        ),
        ("pause", "a client stops for duration_us"),
        ("crash", "a client stops forever, mid-operation"),
    ] {
        outln!("  {kind:<10} {what}");
    }
    outln!(
        "  network: latency, drop_request_rate, drop_reply_rate, delay_spike_rate, delay_spike_us, reset_rate, \
         client_timeout_us"
    );
    outln!("  memory: servers.memory_limit_bytes with evictions = true (LRU) or false (-M)");
    outln!(
        "  random_faults: restart_per_s, flush_per_s, lose_node_per_s, lose_anchor_per_s, partition_per_s, pause_per_s"
    );
    outln!("verdicts:");
    for verdict in Verdict::ALL {
        outln!("  {:<20} {}", verdict.name(), verdict.meaning());
    }
    exit::OK
}
