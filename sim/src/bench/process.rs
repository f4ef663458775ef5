//! `mcsim bench real --client-cmd NAME=COMMAND`: the same points measured
//! with client processes (`docs/client-protocol.md`) beside the Rust
//! library's threads, on the same servers in the same interleaved rounds,
//! so a client in another language compares with the library within one
//! run.
//!
//! What a process costs is measured where it can be seen. Its latency and
//! ops/s are taken at the harness's end of the protocol (one JSON line out,
//! one in), so they include the pipe, about the same for every client.
//! Its requests are counted by the servers themselves (`stats`: `cmd_get`,
//! `cmd_set`, which counts `add` and `cas` too, `cmd_touch`, `delete_hits`,
//! `delete_misses`) over the measured window, in which nothing else talks
//! to them. Its round trips and retries are not seen from outside and read
//! as not measured.

use std::sync::Barrier;
use std::time::Instant;

use memcache_collections::DequeOptions;
use memcache_collections::memcached::LocalServer;

use super::real::{ClientTally, Mix};
use crate::history::OpResult;
use crate::protocol::{Init, ServerLink};
use crate::real::external::ProcessClient;

/// The server-side counters whose sum is the requests clients sent.
const REQUEST_STATS: [&str; 5] = ["cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses"];

/// Requests the servers have answered so far, all together.
pub(super) fn server_requests(servers: &[LocalServer]) -> Result<u64, String> {
    let mut total = 0;
    for server in servers {
        let stats = server
            .stats()
            .map_err(|e| format!("stats of {}: {e}", server.address()))?;
        total += stats
            .iter()
            .filter(|(name, _)| REQUEST_STATS.contains(&name.as_str()))
            .filter_map(|(_, value)| value.parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

/// Starts client process `client` on the deque `name`, straight to the
/// servers (no proxies: nothing is injected in a benchmark).
pub(super) fn start<'a>(
    command: &str,
    client: usize,
    addresses: &[String],
    name: &str,
    options: &DequeOptions,
) -> Result<ProcessClient<'a>, String> {
    let servers = addresses
        .iter()
        .map(|address| ServerLink {
            name: address.clone(),
            dial: address.clone(),
        })
        .collect();
    let options = DequeOptions {
        id_seed: Some(0x5EED_0000 + client as u64),
        ..options.clone()
    };
    ProcessClient::start(
        command,
        Init::new(client as u32, servers, name, &options, 1_000_000),
        None,
    )
}

/// One client process: the mix's operations in turn until time is up, as
/// the library's bench clients run them. An answer other than a result is
/// an error that ends the bench.
pub(super) fn client_loop(
    mut process: ProcessClient<'_>,
    value: &[u8],
    mix: Mix,
    start: &Barrier,
    duration: std::time::Duration,
) -> Result<ClientTally, String> {
    let mut tally = ClientTally::default();
    start.wait();
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        let began = Instant::now();
        let op = mix.op(tally.ops);
        let result = process.run_unsupervised(op.into(), op.is_push().then_some(value))?;
        tally
            .latencies_us
            .push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        tally.ops += 1;
        tally.errors += u64::from(matches!(
            result,
            OpResult::Failed { .. } | OpResult::Unknown | OpResult::Corruption { .. }
        ));
    }
    Ok(tally)
}
