//! `mcsim demo`: several clients share one deque on the in-process store,
//! then a fresh client drains it and every value is accounted for. The quick
//! first run on a fresh clone, until the simulator's scenario suite exists.

use std::collections::BTreeMap;
use std::thread;

use memcache_collections::{BlockingDeque, DequeError, DequeOptions, MemoryStore};
use serde::Serialize;

/// One client's successful pushes and its pops, or the error that stopped it.
type ClientOutcome = Result<(Vec<String>, Vec<Vec<u8>>), DequeError>;

/// What the demo saw.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub clients: usize,
    /// Operations per client.
    pub ops_per_client: usize,
    /// Values pushed successfully.
    pub pushed: usize,
    /// Values popped by the clients.
    pub popped: usize,
    /// Values left for the drain.
    pub drained: usize,
    /// Pushed values that never came out.
    pub lost: usize,
    /// Values that came out more than once, or were never pushed.
    pub duplicated_or_invented: usize,
}

impl DemoReport {
    /// Every pushed value came out exactly once.
    pub fn conserved(&self) -> bool {
        self.lost == 0 && self.duplicated_or_invented == 0
    }
}

/// Runs `clients` threads of `ops_per_client` mixed operations each.
pub fn run(clients: usize, ops_per_client: usize) -> Result<DemoReport, DequeError> {
    let store = MemoryStore::default();
    BlockingDeque::create(&store, Some("demo"), DequeOptions::default())?;
    let store = &store;
    let results: Vec<ClientOutcome> = thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|client| scope.spawn(move || client_run(store, client, ops_per_client)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("demo client panicked"))
            .collect()
    });
    let (mut pushed, mut popped) = (Vec::new(), Vec::new());
    for result in results {
        let (p, q) = result?;
        pushed.extend(p);
        popped.extend(q);
    }
    let popped_by_clients = popped.len();
    let mut drain = BlockingDeque::bind(store, "demo", DequeOptions::default())?;
    while let Some(value) = drain.pop_back()? {
        popped.push(value);
    }
    let mut count: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for value in &popped {
        *count.entry(value.clone()).or_default() += 1;
    }
    let lost = pushed.iter().filter(|v| !count.contains_key(v.as_bytes())).count();
    let expected: usize = pushed.len() - lost;
    Ok(DemoReport {
        clients,
        ops_per_client,
        pushed: pushed.len(),
        popped: popped_by_clients,
        drained: popped.len() - popped_by_clients,
        lost,
        duplicated_or_invented: popped.len() - expected,
    })
}

fn client_run(store: &MemoryStore, client: usize, ops: usize) -> ClientOutcome {
    let mut deque = BlockingDeque::bind(store, "demo", DequeOptions::default())?;
    let (mut pushed, mut popped) = (Vec::new(), Vec::new());
    for i in 0..ops {
        let value = format!("c{client}-{i}");
        match (i * 7 + client) % 4 {
            0 => deque.push_back(value.clone()).map(|_| pushed.push(value))?,
            1 => deque.push_front(value.clone()).map(|_| pushed.push(value))?,
            2 => popped.extend(deque.pop_back()?),
            _ => popped.extend(deque.pop_front()?),
        }
    }
    Ok((pushed, popped))
}
