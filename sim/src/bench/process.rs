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
use crate::protocol::{Init, ProtocolOp, ServerLink};
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
    let init = Init {
        client: client as u32,
        servers: addresses
            .iter()
            .map(|address| ServerLink {
                name: address.clone(),
                dial: address.clone(),
            })
            .collect(),
        deque: name.to_owned(),
        variant: options.variant.name().to_owned(),
        item_size_max_bytes: options.item_size_max,
        retries_max: options.retries_max,
        backoff_first_us: options.backoff.first_us,
        backoff_max_us: options.backoff.max_us,
        timeout_us: 1_000_000,
        id_seed: 0x5EED_0000 + client as u64,
    };
    ProcessClient::start(command, init, None)
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
        let (op, value) = match (mix, tally.ops % 4) {
            (Mix::BothEnds, 2) => (ProtocolOp::PushFront, Some(value)),
            (Mix::BothEnds, 3) | (Mix::Lifo, 1 | 3) => (ProtocolOp::PopBack, None),
            (_, 0 | 2) => (ProtocolOp::PushBack, Some(value)),
            _ => (ProtocolOp::PopFront, None),
        };
        let result = process.run_unsupervised(op, value)?;
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
