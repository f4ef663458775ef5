//! `mcsim demo`: several client threads share one deque on the in-process
//! store, without the simulator; every value must come out exactly once.

use memcache_sim::{demo, exit};

/// `mcsim demo`'s arguments.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Client threads.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Operations per client.
    #[arg(long, default_value_t = 5_000)]
    pub ops: usize,
}

/// Runs the demo; returns the exit status.
pub fn run(args: &DemoArgs) -> u8 {
    let replay = format!("mcsim demo --clients {} --ops {}", args.clients, args.ops);
    match demo::run(args.clients, args.ops) {
        Ok(report) => {
            outln!(
                "{} clients x {} ops on one deque: {} pushed, {} popped, {} drained; lost {}, duplicated or invented {}",
                report.clients,
                report.ops_per_client,
                report.pushed,
                report.popped,
                report.drained,
                report.lost,
                report.duplicated_or_invented
            );
            if report.conserved() {
                exit::OK
            } else {
                eprintln!("FAIL: values were lost or duplicated; replay: {replay}");
                exit::CORRECTNESS
            }
        }
        Err(error) => {
            eprintln!("FAIL: {error}; replay: {replay}");
            exit::CORRECTNESS
        }
    }
}
