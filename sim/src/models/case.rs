//! One model-checking case: a deque, its starting contents, what each client
//! does, and which faults may strike; and one execution of it in any
//! [`World`], recorded as a [`History`] for the same checkers the simulator
//! uses.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use memcache_collections::store::block_on;
use memcache_collections::{Deque, DequeOptions, Variant};

use super::store::{FaultRates, ModelStore, Shared};
use super::world::World;
use crate::check::CheckOptions;
use crate::history::{History, HistoryOp, OpName};
use crate::judge::{Expectation, Judgement};
use crate::outcome::{Counters, Outcome, RunEnd};
use crate::workload::{self, Clock, HistoryLog};

/// The deque's name in every case.
pub const DEQUE_NAME: &str = "model";

/// Attempts per operation. A few clients doing a few operations never need
/// more than a handful; a variant that spins (a lost node taken for a race
/// forever) must end as a liveness failure, not as an endless model run.
pub const RETRIES_MAX: u32 = 50;

/// An extra thread that strikes once, at a point the model checker chooses
/// (loom explores every point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chaos {
    /// Lose one item (a node if there is one, else the anchor).
    LoseItem,
    /// Restart the server.
    Restart,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub variant: Variant,
    /// Items pushed at the back before the clients start.
    pub initial: usize,
    /// Each client's operations, in order.
    pub clients: Vec<Vec<OpName>>,
    /// Faults drawn per request (shuttle).
    pub faults: FaultRates,
    /// A fault thread (loom, shuttle).
    pub chaos: Option<Chaos>,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from {} item(s):", self.variant.name(), self.initial)?;
        for (client, ops) in self.clients.iter().enumerate() {
            let names: Vec<&str> = ops.iter().map(|op| op.as_str()).collect();
            write!(f, " c{client}[{}]", names.join(","))?;
        }
        if let Some(chaos) = self.chaos {
            write!(f, " +{chaos:?}")?;
        }
        if self.faults.any() {
            let FaultRates {
                lose_item_per_mille,
                restart_per_mille,
                drop_reply_per_mille,
            } = self.faults;
            write!(
                f,
                " +faults per 1000 requests (lose item {lose_item_per_mille}, restart {restart_per_mille}, \
                 drop reply {drop_reply_per_mille})"
            )?;
        }
        Ok(())
    }
}

/// The clock: request `r` happens at time `3r`; a loss between requests `r`
/// and `r + 1` at `3r + 1`.
pub(crate) fn time_of(requests: u64) -> u64 {
    3 * requests + 1
}

/// The model checkers' clock for operations that run alone (setup and
/// drain, on the main thread with no other thread alive): just after the
/// last request applied, so such an operation's window holds exactly its
/// own requests.
pub(crate) struct ModelClock<W: World>(pub(crate) Arc<W::Lock<Shared>>);

impl<W: World> Clock for ModelClock<W> {
    fn now_us(&self) -> u64 {
        time_of(W::with(&self.0, |shared| shared.requests)) + 1
    }
}

/// Runs `case` once in world `W` and returns its history (drain included).
/// Call it inside the world's model (`loom::model`, a shuttle runner) or,
/// for [`StdWorld`](super::world::StdWorld), anywhere.
pub fn execute<W: World>(case: &Case) -> History {
    let shared = Arc::new(W::lock_new(Shared::new()));
    let options = |client: usize| DequeOptions {
        variant: case.variant,
        id_seed: Some(client as u64),
        retries_max: RETRIES_MAX,
        ..DequeOptions::default()
    };
    let setup_client = case.clients.len();
    let quiet = FaultRates::default();
    let alone = || RefCell::new(HistoryLog::new(ModelClock::<W>(shared.clone())));
    let setup_log = alone();
    let store = ModelStore::<W>::new(shared.clone(), quiet, DEQUE_NAME);
    let mut setup = block_on(Deque::create(store, Some(DEQUE_NAME), options(setup_client)))
        .expect("creating a deque on a fresh server cannot fail");
    block_on(workload::setup::prefill(
        &mut setup,
        case.initial as u64,
        0,
        setup_client as u32,
        &setup_log,
    ))
    .expect("pushing on a quiet server cannot fail");
    let mut ops = setup_log.into_inner().into_ops();
    // Handles are bound before any thread starts, on quiet connections, so
    // what a binding costs (an anchor read; for `hardened` the server's
    // lifetime) adds no interleavings: the model explores operations.
    let deques: Vec<_> = (0..case.clients.len())
        .map(|client| {
            let store = ModelStore::<W>::new(shared.clone(), quiet, DEQUE_NAME);
            let deque = block_on(Deque::bind(store, DEQUE_NAME, options(client)))
                .expect("binding to a fresh deque on a quiet server cannot fail");
            deque.store().set_faults(case.faults);
            deque
        })
        .collect();
    let chaos = case.chaos.map(|chaos| {
        let shared = shared.clone();
        W::spawn(move || {
            W::with(&shared, |shared| match chaos {
                Chaos::LoseItem => shared.lose_one(DEQUE_NAME.as_bytes()),
                Chaos::Restart => shared.restart(),
            })
        })
    });
    let handles: Vec<_> = case
        .clients
        .iter()
        .zip(deques)
        .enumerate()
        .map(|(client, (names, mut deque))| {
            let names = names.clone();
            W::spawn(move || {
                names
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let value = name.is_push().then(|| format!("c{client}.{i}"));
                        run_op(&mut deque, client, name, value)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for handle in handles {
        ops.extend(W::join(handle));
    }
    if let Some(handle) = chaos {
        W::join(handle);
    }
    let drain_client = setup_client + 1;
    let store = ModelStore::<W>::new(shared.clone(), quiet, DEQUE_NAME);
    let mut drain = Deque::attach(store, DEQUE_NAME, options(drain_client)).expect("the name is valid");
    let pushes = ops.iter().filter(|op| op.op.is_push()).count();
    let drain_log = alone();
    block_on(workload::setup::drain(
        &mut drain,
        pushes,
        drain_client as u32,
        &drain_log,
    ));
    ops.extend(drain_log.into_inner().into_ops());
    ops.sort_by_key(|op| (op.invoke_us, op.client));
    let losses = W::with(&shared, |shared| shared.losses.clone());
    History {
        ops,
        losses,
        drain_client: Some(drain_client as u32),
    }
}

fn run_op<W: World>(deque: &mut Deque<ModelStore<W>>, client: usize, name: OpName, value: Option<String>) -> HistoryOp {
    deque.store().begin();
    let bytes = value.clone().map(String::into_bytes).unwrap_or_default();
    let result = block_on(crate::workload::run_op(deque, name, bytes));
    let (invoke_us, return_us) = deque.store().end();
    HistoryOp {
        client: client as u32,
        op: name,
        value,
        invoke_us,
        return_us: Some(return_us),
        result,
    }
}

/// Judges one execution of `case` as every run is judged (`crate::judge`):
/// it passes when linearizable or when every loss was detected. A case may
/// legitimately succeed at nothing (a pop of an empty deque is a success,
/// but so few operations may all meet a fault), so no progress is required;
/// the budget is one tiny histories never exhaust.
pub fn judge(case: &Case, history: &History) -> Judgement {
    let outcome = Outcome {
        end: RunEnd::Finished,
        history: history.clone(),
        workload_clients: case.clients.len() as u32,
        trace_hash: None,
        trace: Vec::new(),
        counters: Counters::default(),
        oracle_violations: Vec::new(),
        mcas: None,
    };
    judge_model_outcome(&outcome)
}

/// Judges one model execution's outcome (either subject's): any pass, no
/// progress required, a budget tiny histories never exhaust.
pub(crate) fn judge_model_outcome(outcome: &Outcome) -> Judgement {
    let expect = Expectation {
        ops_succeeded_min: 0,
        ..Expectation::passing()
    };
    let options = CheckOptions {
        steps_max: 2_000_000,
        explain: false,
    };
    crate::judge::judge(outcome, &expect, options)
}

/// Every combination of `ops_per_client` operations (ends and push/pop) for
/// `clients` clients, without mirror duplicates (clients are symmetric, so
/// client 0's list is never after client 1's).
pub fn all_combinations(clients: usize, ops_per_client: usize) -> Vec<Vec<Vec<OpName>>> {
    const NAMES: [OpName; 4] = [OpName::PushBack, OpName::PushFront, OpName::PopBack, OpName::PopFront];
    let mut lists: Vec<Vec<OpName>> = vec![Vec::new()];
    for _ in 0..ops_per_client {
        lists = lists
            .into_iter()
            .flat_map(|list| {
                NAMES.iter().map(move |&name| {
                    let mut next = list.clone();
                    next.push(name);
                    next
                })
            })
            .collect();
    }
    let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
    for _ in 0..clients {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                let from = combo.last().copied().unwrap_or(0);
                (from..lists.len()).map(move |i| {
                    let mut next = combo.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    combos
        .into_iter()
        .map(|combo| combo.into_iter().map(|i| lists[i].clone()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::world::StdWorld;

    /// The same body runs on plain threads: every value pushed comes out once.
    #[test]
    fn a_case_runs_on_plain_threads() {
        for clients in all_combinations(2, 2).into_iter().take(20) {
            let case = Case {
                variant: Variant::default(),
                initial: 1,
                clients,
                faults: FaultRates::default(),
                chaos: None,
            };
            let judgement = judge(&case, &execute::<StdWorld>(&case));
            assert!(
                judgement.expected,
                "{case}: {}: {}",
                judgement.verdict, judgement.reason
            );
        }
    }
}
