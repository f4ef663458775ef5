//! Driving loom and shuttle over a [`ModelCase`] (a deque [`Case`] or an
//! [`McasCase`]): each execution's history goes through the checkers, and
//! the first failing execution stops the exploration (its schedule saved,
//! under shuttle, for replay).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::case::{Case, execute, judge};
use super::mcas_case::McasCase;
use super::world::{LoomWorld, ShuttleWorld, World};
use crate::check::Verdict;
use crate::judge::Judgement;

/// How shuttle picks schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShuttleScheduler {
    /// Uniformly random choice at every scheduling point.
    Random,
    /// Probabilistic concurrency testing with the given bug depth.
    Pct {
        /// Priority change points per execution, plus one.
        depth: usize,
    },
}

impl ShuttleScheduler {
    /// The scheduler's name in reports.
    pub fn name(self) -> String {
        match self {
            ShuttleScheduler::Random => "shuttle-random".to_owned(),
            ShuttleScheduler::Pct { depth } => format!("shuttle-pct{depth}"),
        }
    }
}

/// The first failing execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFailure {
    /// Its number (1-based) among the executions explored.
    pub execution: u64,
    /// The checker's verdict.
    pub verdict: Verdict,
    /// The checker's reason, with the history.
    pub reason: String,
    /// Where shuttle saved the schedule that replays it.
    pub schedule: Option<PathBuf>,
}

/// What an exploration did.
#[derive(Debug, Clone)]
pub struct Exploration {
    /// The tool (and scheduler).
    pub tool: String,
    /// Executions run (up to and including a failure).
    pub executions: u64,
    /// Wall-clock time.
    pub wall: Duration,
    /// The first failure, if any.
    pub failure: Option<ModelFailure>,
}

/// What the explorers run: one execution in a world, judged as the
/// harness judges every run, with its history as JSON for the report.
pub trait ModelCase: std::fmt::Display + Clone + Send + Sync + 'static {
    fn run<W: World>(&self) -> (Judgement, String);
}

impl ModelCase for Case {
    fn run<W: World>(&self) -> (Judgement, String) {
        let history = execute::<W>(self);
        (
            judge(self, &history),
            serde_json::to_string(&history).unwrap_or_default(),
        )
    }
}

impl ModelCase for McasCase {
    fn run<W: World>(&self) -> (Judgement, String) {
        let run = self.execute::<W>();
        (
            self.judge(&run),
            serde_json::to_string(&run.history).unwrap_or_default(),
        )
    }
}

/// Shared between the body (run by the model checker) and the explorer.
#[derive(Default)]
struct Tally {
    executions: AtomicU64,
    failure: Mutex<Option<ModelFailure>>,
}

/// The body a model checker runs once per execution: execute, check, and
/// panic on a failing verdict (the model checkers' way of reporting one).
fn body<W: World, C: ModelCase>(case: Arc<C>, tally: Arc<Tally>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let execution = tally.executions.fetch_add(1, Ordering::Relaxed) + 1;
        let (report, history) = case.run::<W>();
        if !report.expected {
            let reason = format!("{}: {}\nhistory:\n{history}", report.verdict, report.reason);
            lock(&tally.failure).get_or_insert(ModelFailure {
                execution,
                verdict: report.verdict,
                reason,
                schedule: None,
            });
            panic!("{case}: {} in execution {execution}", report.verdict);
        }
    }
}

/// Explores `case` under loom: every interleaving of the store requests,
/// or those with at most `preemption_bound` preemptions.
pub fn explore_loom<C: ModelCase>(case: &C, preemption_bound: Option<usize>) -> Exploration {
    let tally = Arc::new(Tally::default());
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemption_bound;
    builder.max_branches = 100_000;
    let started = Instant::now();
    let run = body::<LoomWorld, C>(Arc::new(case.clone()), tally.clone());
    let outcome = catch_unwind(AssertUnwindSafe(|| builder.check(run)));
    let failure = lock(&tally.failure).clone();
    if let (Err(panic), None) = (outcome, &failure) {
        // A panic the checkers did not raise is a harness failure, not a
        // finding: let it through.
        std::panic::resume_unwind(panic);
    }
    Exploration {
        tool: match preemption_bound {
            Some(bound) => format!("loom (preemptions <= {bound})"),
            None => "loom".to_owned(),
        },
        executions: tally.executions.load(Ordering::Relaxed),
        wall: started.elapsed(),
        failure,
    }
}

/// Runs `case` under shuttle for up to `iterations` schedules from `seed`;
/// a failing schedule is saved under `schedule_dir`.
///
/// Shuttle saves schedules from a process-wide panic hook that keeps the
/// settings of the first exploration in the process: use one
/// `schedule_dir` per process.
pub fn explore_shuttle<C: ModelCase>(
    case: &C,
    scheduler: ShuttleScheduler,
    seed: u64,
    iterations: usize,
    schedule_dir: &Path,
) -> Exploration {
    let tally = Arc::new(Tally::default());
    let config = shuttle_config(Some(schedule_dir));
    let run = body::<ShuttleWorld, C>(Arc::new(case.clone()), tally.clone());
    let started = Instant::now();
    let before = saved_schedules(schedule_dir);
    let outcome = catch_unwind(AssertUnwindSafe(|| match scheduler {
        ShuttleScheduler::Random => {
            let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(seed, iterations);
            shuttle::Runner::new(scheduler, config).run(run);
        }
        ShuttleScheduler::Pct { depth } => {
            let scheduler = shuttle::scheduler::PctScheduler::new_from_seed(seed, depth, iterations);
            shuttle::Runner::new(scheduler, config).run(run);
        }
    }));
    let mut failure = lock(&tally.failure).clone();
    if let (Err(panic), None) = (outcome, &failure) {
        std::panic::resume_unwind(panic);
    }
    if let Some(failure) = &mut failure {
        failure.schedule = saved_schedules(schedule_dir)
            .into_iter()
            .find(|path| !before.contains(path));
    }
    Exploration {
        tool: scheduler.name(),
        executions: tally.executions.load(Ordering::Relaxed),
        wall: started.elapsed(),
        failure,
    }
}

/// Replays a saved shuttle schedule of `case`: the failure it reproduces,
/// if any.
pub fn replay_shuttle<C: ModelCase>(case: &C, schedule: &Path) -> Option<ModelFailure> {
    let tally = Arc::new(Tally::default());
    let run = body::<ShuttleWorld, C>(Arc::new(case.clone()), tally.clone());
    let scheduler = match shuttle::scheduler::ReplayScheduler::new_from_file(schedule) {
        Ok(scheduler) => scheduler,
        Err(_) => return None,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        shuttle::Runner::new(scheduler, shuttle_config(None)).run(run);
    }));
    lock(&tally.failure).clone()
}

fn shuttle_config(schedule_dir: Option<&Path>) -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.failure_persistence = match schedule_dir {
        Some(dir) => shuttle::FailurePersistence::File(Some(dir.to_path_buf())),
        None => shuttle::FailurePersistence::None,
    };
    config.silence_warnings = true;
    config
}

fn saved_schedules(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// Locks a tally's cell; a panicking model execution cannot leave it half
/// written (it is only ever replaced whole).
fn lock<T>(cell: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
