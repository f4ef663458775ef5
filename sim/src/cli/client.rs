//! `mcsim client`: the Rust library as a client process, speaking the
//! client protocol (`docs/client-protocol.md`) on standard input and
//! output. It is the protocol's reference implementation: the harness
//! drives it with `mcsim run --backend real --client-cmd 'mcsim client'`
//! exactly as it drives a client in another language, so the protocol
//! path is tested on every run of the suite with it, and a new client can
//! be compared with it line for line.

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use memcache_collections::memcached::{MemcachedOptions, MemcachedStore};
use memcache_collections::store::block_on;
use memcache_collections::{Backoff, Deque, DequeError, DequeOptions, Variant};
use memcache_sim::exit;
use memcache_sim::history::{FailKind, OpName, OpResult};
use memcache_sim::protocol::{self, FromClient, Init, ProtocolOp, ToClient};
use memcache_sim::workload;

/// `mcsim client`'s arguments: none; everything comes in the `init`
/// message.
#[derive(clap::Args)]
pub struct ClientArgs {}

/// Serves the protocol until standard input ends; a line that is not the
/// protocol's ends it with the usage status and the reason on standard
/// error.
pub fn run(_: &ClientArgs) -> u8 {
    match serve(io::stdin().lock(), io::stdout().lock()) {
        Ok(()) => exit::OK,
        Err(why) => {
            eprintln!("mcsim client: {why}");
            exit::USAGE
        }
    }
}

fn serve(input: impl BufRead, mut output: impl Write) -> Result<(), String> {
    let mut lines = input.lines();
    let mut answer = |message: &FromClient| -> Result<(), String> {
        let mut line = serde_json::to_vec(message).expect("protocol messages serialise");
        line.push(b'\n');
        output
            .write_all(&line)
            .and_then(|()| output.flush())
            .map_err(|e| format!("writing an answer: {e}"))
    };
    let Some(first) = lines.next() else { return Ok(()) };
    let first = first.map_err(|e| format!("reading init: {e}"))?;
    let init = match serde_json::from_str::<ToClient>(&first) {
        Ok(ToClient::Init(init)) => init,
        _ => return Err(format!("the first line is not an init message: {first}")),
    };
    let mut client = match Client::new(&init) {
        Ok(client) => client,
        Err(reason) => return answer(&FromClient::InitFailed { reason }),
    };
    answer(&FromClient::InitOk)?;
    for (number, line) in lines.enumerate() {
        let line = line.map_err(|e| format!("reading line {}: {e}", number + 2))?;
        let (id, op, value) = match serde_json::from_str::<ToClient>(&line) {
            Ok(ToClient::Op { id, op, value }) => (id, op, value),
            _ => return Err(format!("line {} is not an op message: {line}", number + 2)),
        };
        let value = value
            .map(|text| protocol::text_to_bytes(&text))
            .transpose()
            .map_err(|c| format!("op {id}: the value holds {c:?}, which is not one byte"))?;
        let result = block_on(client.run(op, value));
        answer(&FromClient::Result { id, result })?;
    }
    Ok(())
}

/// One deque handle on the servers the init named.
struct Client {
    deque: Deque<Arc<MemcachedStore>>,
    store: Arc<MemcachedStore>,
    name: String,
    options: DequeOptions,
}

impl Client {
    fn new(init: &Init) -> Result<Self, String> {
        let variant = Variant::from_name(&init.variant)
            .ok_or_else(|| format!("no deque variant is named {:?} (mcsim list variants)", init.variant))?;
        let timeout = Duration::from_micros(init.timeout_us);
        let names: Vec<&str> = init.servers.iter().map(|s| s.name.as_str()).collect();
        let dial: Vec<&str> = init.servers.iter().map(|s| s.dial.as_str()).collect();
        let options = MemcachedOptions {
            io_timeout: timeout,
            connect_timeout: timeout,
        };
        let store = Arc::new(MemcachedStore::connect_via(&names, &dial, &options).map_err(|e| e.to_string())?);
        let options = DequeOptions {
            variant,
            item_size_max: init.item_size_max_bytes,
            retries_max: init.retries_max,
            id_seed: Some(init.id_seed),
            backoff: Backoff {
                first_us: init.backoff_first_us,
                max_us: init.backoff_max_us,
            },
            deferred_link: init.deferred_link,
        };
        let deque = Deque::attach(store.clone(), &init.deque, options.clone()).map_err(|e| e.to_string())?;
        Ok(Client {
            deque,
            store,
            name: init.deque.clone(),
            options,
        })
    }

    async fn run(&mut self, op: ProtocolOp, value: Option<Vec<u8>>) -> OpResult {
        let op = match op {
            ProtocolOp::PushBack => OpName::PushBack,
            ProtocolOp::PushFront => OpName::PushFront,
            ProtocolOp::PopBack => OpName::PopBack,
            ProtocolOp::PopFront => OpName::PopFront,
            ProtocolOp::Create | ProtocolOp::Bind => return self.rebind(op).await,
        };
        let value = value.unwrap_or_default();
        workload::run_op_named(&mut self.deque, op, value, protocol::bytes_to_text).await
    }

    /// `create` or `bind` the deque's name anew; the handle is replaced on
    /// success.
    async fn rebind(&mut self, op: ProtocolOp) -> OpResult {
        let (store, options) = (self.store.clone(), self.options.clone());
        let fresh = match op {
            ProtocolOp::Create => Deque::create(store, Some(&self.name), options).await,
            _ => Deque::bind(store, &self.name, options).await,
        };
        match fresh {
            Ok(deque) => {
                self.deque = deque;
                OpResult::Ok
            }
            Err(error @ DequeError::OutcomeUnknown { .. }) => workload::history_result(Err(error), true),
            Err(error) => OpResult::Failed {
                error: FailKind::of(&error),
            },
        }
    }
}
