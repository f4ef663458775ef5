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

/// What a scenario file says it is for: the first line of its opening
/// comment.
fn purpose(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().next().map(str::to_owned))
        .and_then(|line| line.strip_prefix('#').map(|l| l.trim().to_owned()))
        .unwrap_or_default()
}

/// Prints scenarios (under `paths`), variants, fault types and verdicts,
/// each with what it is.
pub fn run(args: &ListArgs) -> u8 {
    outln!("scenarios (file, variant, seeds, expected verdicts, what it is for):");
    let files = match scenario::discover(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    };
    let width = files.iter().map(|f| f.display().to_string().len()).max().unwrap_or(0);
    for file in files {
        match scenario::load(&file) {
            Ok(s) => {
                let meta = &s.scenario.meta;
                let expect: Vec<&str> = meta.expect.iter().map(|v| v.name()).collect();
                outln!(
                    "  {:<width$}  {:<26} {:>5}  {}",
                    file.display(),
                    meta.variant.name(),
                    meta.seeds.list().len(),
                    expect.join(", ")
                );
                outln!("  {:<width$}  {}", "", purpose(&file));
            }
            Err(error) => outln!("  {error}"),
        }
    }
    outln!("variants (--variant NAME):");
    for variant in Variant::ALL {
        outln!("  {:<26} {}", variant.name(), variant.description());
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
        outln!("  {kind:<26} {what}");
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
        outln!("  {:<26} {}", verdict.name(), verdict.meaning());
    }
    exit::OK
}
