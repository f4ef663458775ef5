//! The facade that lets one test body run under loom, shuttle or plain
//! threads: the few synchronisation primitives the model store needs,
//! picked by a type parameter instead of `cfg` flags, so all three worlds
//! build (and are checked) in one binary.
//!
//! Every store call takes the world's lock, and a lock acquisition is a
//! scheduling point for both model checkers: they interleave the clients at
//! exactly the granularity memcached does (one request at a time).

use std::sync::Mutex;

/// One way of running threads and sharing state.
pub trait World: 'static {
    /// A mutual-exclusion cell the world's scheduler sees.
    type Lock<T: Send + 'static>: Send + Sync + 'static;
    /// A joinable thread.
    type Join<T: Send + 'static>;

    /// A lock holding `value`.
    fn lock_new<T: Send + 'static>(value: T) -> Self::Lock<T>;
    /// Runs `f` with the lock held (a scheduling point).
    fn with<T: Send + 'static, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R;
    /// Starts a thread.
    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Self::Join<T>;
    /// Waits for a thread's result.
    fn join<T: Send + 'static>(handle: Self::Join<T>) -> T;
    /// A choice in `0..n` that the world's scheduler controls, so that it
    /// replays with the schedule; `None` where the world has no such thing
    /// (loom explores explicit branches instead).
    fn choose(n: u32) -> Option<u32>;
    /// The world's name in reports.
    fn name() -> &'static str;
}

/// Plain threads and `std::sync`: the bodies run for real, unexplored.
#[derive(Debug)]
pub struct StdWorld;

impl World for StdWorld {
    type Lock<T: Send + 'static> = Mutex<T>;
    type Join<T: Send + 'static> = std::thread::JoinHandle<T>;

    fn lock_new<T: Send + 'static>(value: T) -> Mutex<T> {
        Mutex::new(value)
    }

    fn with<T: Send + 'static, R>(lock: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Self::Join<T> {
        std::thread::spawn(f)
    }

    fn join<T: Send + 'static>(handle: Self::Join<T>) -> T {
        handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn choose(_n: u32) -> Option<u32> {
        None
    }

    fn name() -> &'static str {
        "std"
    }
}

/// loom: exhaustive (or preemption-bounded) exploration of interleavings.
#[derive(Debug)]
pub struct LoomWorld;

impl World for LoomWorld {
    type Lock<T: Send + 'static> = loom::sync::Mutex<T>;
    type Join<T: Send + 'static> = loom::thread::JoinHandle<T>;

    fn lock_new<T: Send + 'static>(value: T) -> Self::Lock<T> {
        loom::sync::Mutex::new(value)
    }

    fn with<T: Send + 'static, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut lock.lock().expect("a panicking client aborts the whole execution"))
    }

    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Self::Join<T> {
        loom::thread::spawn(f)
    }

    fn join<T: Send + 'static>(handle: Self::Join<T>) -> T {
        handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn choose(_n: u32) -> Option<u32> {
        None
    }

    fn name() -> &'static str {
        "loom"
    }
}

/// shuttle: randomized (random walk or PCT) schedules that replay from a
/// saved schedule, with fault choices drawn from `shuttle::rand`.
#[derive(Debug)]
pub struct ShuttleWorld;

impl World for ShuttleWorld {
    type Lock<T: Send + 'static> = shuttle::sync::Mutex<T>;
    type Join<T: Send + 'static> = shuttle::thread::JoinHandle<T>;

    fn lock_new<T: Send + 'static>(value: T) -> Self::Lock<T> {
        shuttle::sync::Mutex::new(value)
    }

    fn with<T: Send + 'static, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut lock.lock().expect("a panicking client aborts the whole execution"))
    }

    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Self::Join<T> {
        shuttle::thread::spawn(f)
    }

    fn join<T: Send + 'static>(handle: Self::Join<T>) -> T {
        handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn choose(n: u32) -> Option<u32> {
        use shuttle::rand::Rng;
        Some(shuttle::rand::thread_rng().gen_range(0..n))
    }

    fn name() -> &'static str {
        "shuttle"
    }
}
