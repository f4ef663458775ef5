//! `mcsim list`: what the harness knows.

use std::path::PathBuf;

use memcache_sim::algorithm::{Algorithm, Subject};
use memcache_sim::exit;
use memcache_sim::scenario;
use memcache_sim::verdict::Verdict;

/// `mcsim list`'s arguments.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Scenario files or directories (default: `scenarios` in the current
    /// directory, if there is one).
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
    let mut status = exit::OK;
    let default = [PathBuf::from("scenarios")];
    let paths: &[PathBuf] = if args.paths.is_empty() { &default } else { &args.paths };
    let files = match scenario::discover(paths) {
        Ok(files) => files,
        Err(error) if args.paths.is_empty() => {
            // Asked for nothing in particular, outside the repository: the
            // rest of the list is still what the user came for.
            outln!("(no scenarios listed: {error})");
            Vec::new()
        }
        Err(error) => {
            // The rest of the list does not depend on the scenarios: print
            // it, and say why the scenarios are missing.
            eprintln!("mcsim: {error}");
            status = exit::USAGE;
            Vec::new()
        }
    };
    if !files.is_empty() {
        outln!("scenarios (file, variant, seeds, expected verdicts, what it is for):");
    }
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
            Err(error) => {
                outln!("  {error}");
                status = exit::USAGE;
            }
        }
    }
    outln!("variants (--variant NAME):");
    for subject in [Subject::Deque, Subject::Mcas] {
        outln!("  subject = \"{}\":", subject.name());
        for variant in Algorithm::all().into_iter().filter(|a| a.subject() == subject) {
            outln!("    {:<30} {}", variant.name(), variant.description());
        }
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
        "  field: servers.cas = false (memcached -C), servers.restart_keeps_identity = true (a container \
         restart: same pid and start second), clients.colliding_node_ids = true (every client draws the same ids)"
    );
    outln!(
        "  random_faults: restart_per_s, flush_per_s, lose_node_per_s, lose_anchor_per_s, partition_per_s, pause_per_s"
    );
    outln!("verdicts:");
    for verdict in Verdict::ALL {
        outln!("  {:<26} {}", verdict.name(), verdict.meaning());
    }
    status
}
