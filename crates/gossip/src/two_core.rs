//! [`TwoCore`]: runs the two halves of a large message's verification on two cores when a core
//! is spare, from whatever thread validation runs on.
//!
//! Why not `rayon::join` on the global pool: the pipeline calls the validator on tokio's
//! blocking pool, outside any rayon pool. From there `rayon::join` injects the whole join into
//! the pool and blocks; a sleeping worker must wake to take it and a second one to steal the
//! other half, and on two vCPUs the second wake-up often came after the first worker had done
//! both halves (measured: workers busy 0.84× and 0.07× of the wall time, the join slower than
//! one thread). Here the calling thread runs one half itself and offers the other to a helper
//! thread the validator owns; if the helper has not started it by the time the caller is done,
//! the caller takes it back and runs it too. So one wake-up at most, and never slower than one
//! thread by more than the hand-off (a boxed closure and a futex wake, a few µs).
//!
//! Oversubscription: each validation in flight is counted, and a message is split only while
//! the validations in flight, this one included, leave a spare core for its other half
//! (`2 × in flight ≤ cores`). On two cores a lone message uses both, and two messages in flight
//! run one per core instead of four threads fighting over two.

use std::{
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::{
        Arc, Condvar, Mutex, OnceLock, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

/// How long a helper woken ahead of a large message ([`TwoCore::prewake`]) spins for its half
/// before going back to sleep: longer than a blocking-pool thread usually takes to start the
/// validation (176 µs p50, 1.2 ms p99 measured on the devnet under load).
const PREWAKE_SPIN: Duration = Duration::from_millis(2);

/// A job offered to the helper: run by whichever side takes it first.
type Job<R> = Box<dyn FnOnce() -> R + Send>;

/// The two-core splitter of one validator.
#[derive(Debug)]
pub(crate) struct TwoCore {
    /// Cores validation may use; 1 never splits.
    cores: usize,
    /// Validations running now (each holds an [`InFlight`]).
    in_flight: AtomicUsize,
    /// The helper threads, started on the first split (most validators in tests never split).
    /// `None` if the threads could not be started: then nothing is split.
    helpers: OnceLock<Option<rayon::ThreadPool>>,
    /// Messages split, and how many of those the caller took back (the helper had not started
    /// in time), for benches and diagnostics.
    splits: AtomicU64,
    taken_back: AtomicU64,
    /// Where a split leaves its half for a helper already awake and spinning.
    mailbox: Arc<Mailbox>,
}

/// A half offered to an awake helper, type-erased.
trait Pending: Send + Sync {
    /// Runs the job unless its caller took it back; whether it ran.
    fn run_if_pending(&self) -> bool;
}

/// The hand-over point between a split and a helper woken ahead of it.
#[derive(Debug, Default)]
struct Mailbox {
    /// A helper is spinning here.
    spinning: AtomicBool,
    offer: Mutex<Option<Arc<dyn Pending>>>,
}

impl std::fmt::Debug for dyn Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

impl Mailbox {
    fn offer(&self) -> std::sync::MutexGuard<'_, Option<Arc<dyn Pending>>> {
        self.offer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// On a helper: spins until a half is offered (and runs it) or [`PREWAKE_SPIN`] passes.
    fn spin(&self) {
        let deadline = Instant::now() + PREWAKE_SPIN;
        while Instant::now() < deadline {
            let offered = self.offer().take();
            // A stale offer (its caller took the half back) does not end the wait.
            if offered.is_some_and(|offer| offer.run_if_pending()) {
                break;
            }
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            // On a shared core, let the thread that will make the offer run first.
            thread::yield_now();
        }
        self.spinning.store(false, Ordering::Release);
    }
}

/// One validation counted as in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl TwoCore {
    /// A splitter for `cores` cores (at least 1).
    pub(crate) fn new(cores: usize) -> Self {
        Self {
            cores: cores.max(1),
            in_flight: AtomicUsize::new(0),
            helpers: OnceLock::new(),
            splits: AtomicU64::new(0),
            taken_back: AtomicU64::new(0),
            mailbox: Arc::default(),
        }
    }

    /// Wakes a helper ahead of a large message about to be validated elsewhere (the behaviour
    /// calls this as the message arrives, the pipeline again before handing the check to a
    /// blocking thread), so the helper's wake-up overlaps the message id, the hand-offs and
    /// that thread's wake-up instead of following them: waking a sleeping thread took from
    /// 45 µs to over 1 ms on this project's 2-vCPU machine, as long as a large message's half.
    /// The helper spins for its half up to [`PREWAKE_SPIN`]. Nothing when no core would be
    /// spare for the message or a helper is already waiting.
    pub(crate) fn prewake(&self) {
        let spare = self
            .in_flight
            .load(Ordering::Relaxed)
            .saturating_add(1)
            .saturating_mul(2)
            <= self.cores;
        if self.cores < 2 || !spare || self.mailbox.spinning.swap(true, Ordering::AcqRel) {
            return;
        }
        match self.helpers() {
            Some(helpers) => {
                let mailbox = Arc::clone(&self.mailbox);
                helpers.spawn(move || mailbox.spin());
            }
            None => self.mailbox.spinning.store(false, Ordering::Release),
        }
    }

    /// Messages split so far, and how many of them the calling thread took back because no
    /// helper had started its half in time.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.splits.load(Ordering::Relaxed),
            self.taken_back.load(Ordering::Relaxed),
        )
    }

    /// A splitter for the cores this process may use.
    pub(crate) fn for_this_machine() -> Self {
        Self::new(thread::available_parallelism().map_or(1, usize::from))
    }

    /// The cores this splitter may use.
    pub(crate) const fn cores(&self) -> usize {
        self.cores
    }

    /// Counts one validation in flight until the guard drops.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Whether a message entered now has a spare core for its other half.
    fn spare_core(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed).saturating_mul(2) <= self.cores
    }

    fn helpers(&self) -> Option<&rayon::ThreadPool> {
        self.helpers
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads((self.cores / 2).max(1))
                    .thread_name(|i| format!("op-p2p-verify-{i}"))
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Runs `here` on this thread and `there` on a helper when a core is spare, else `None`
    /// (the caller then runs its own sequential path). `there` is taken back and run here if
    /// no helper has started it when `here` is done. A panic in `there` resumes here.
    pub(crate) fn join<A, B, RA, RB>(&self, here: A, there: B) -> Option<(RA, RB)>
    where
        A: FnOnce() -> RA,
        B: FnOnce() -> RB + Send + 'static,
        RB: Send + 'static,
    {
        if self.cores < 2 || !self.spare_core() {
            return None;
        }
        let helpers = self.helpers()?;
        let slot = Arc::new(Slot::new(Box::new(there)));
        let pending: Arc<dyn Pending> = slot.clone();
        let mut to_mailbox = self.mailbox.spinning.load(Ordering::Acquire);
        if to_mailbox {
            *self.mailbox.offer() = Some(Arc::clone(&pending));
            // The spinner may have given up just now: then a helper is woken as usual (the
            // slot runs its job once, whoever comes first).
            to_mailbox = self.mailbox.spinning.load(Ordering::Acquire);
        }
        if !to_mailbox {
            let offered = Arc::clone(&pending);
            helpers.spawn(move || {
                offered.run_if_pending();
            });
        }
        self.splits.fetch_add(1, Ordering::Relaxed);
        let a = here();
        let (b, taken_back) = slot.take_back_or_wait();
        if taken_back {
            self.taken_back.fetch_add(1, Ordering::Relaxed);
        }
        // Our offer must not linger in the mailbox (it holds the message).
        let mut offer = self.mailbox.offer();
        if offer
            .as_ref()
            .is_some_and(|o| std::ptr::addr_eq(Arc::as_ptr(o), Arc::as_ptr(&pending)))
        {
            *offer = None;
        }
        drop(offer);
        Some((a, b))
    }
}

/// A job and its result, shared by the caller and the helper.
struct Slot<R> {
    job: Mutex<Option<Job<R>>>,
    result: Mutex<Option<thread::Result<R>>>,
    done: Condvar,
}

impl<R: Send> Pending for Slot<R> {
    fn run_if_pending(&self) -> bool {
        Self::run_if_pending(self)
    }
}

impl<R> Slot<R> {
    fn new(job: Job<R>) -> Self {
        Self {
            job: Mutex::new(Some(job)),
            result: Mutex::new(None),
            done: Condvar::new(),
        }
    }

    /// On the helper: runs the job unless the caller took it back; whether it ran.
    fn run_if_pending(&self) -> bool {
        let job = self
            .job
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(job) = job else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(job));
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        self.done.notify_one();
        true
    }

    /// On the caller: runs the job here if the helper has not started it (`true`: taken back),
    /// else waits for it.
    fn take_back_or_wait(&self) -> (R, bool) {
        let job = self
            .job
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(job) = job {
            return (job(), true);
        }
        let mut result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match result.take() {
                Some(Ok(value)) => return (value, false),
                Some(Err(panic)) => resume_unwind(panic),
                None => {
                    result = self
                        .done
                        .wait(result)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_core_never_splits() {
        let split = TwoCore::new(1);
        let _in = split.enter();
        assert!(split.join(|| 1, || 2).is_none());
    }

    #[test]
    fn a_lone_message_splits_and_a_second_does_not() {
        let split = TwoCore::new(2);
        let first = split.enter();
        assert_eq!(split.join(|| 1, || 2), Some((1, 2)));
        let _second = split.enter();
        assert!(split.join(|| 1, || 2).is_none());
        drop(first);
    }

    #[test]
    fn a_prewoken_helper_takes_the_half_from_the_mailbox() {
        let split = TwoCore::new(2);
        split.prewake();
        // Give the helper time to start spinning.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !split.mailbox.spinning.load(Ordering::Acquire) && Instant::now() < deadline {
            thread::yield_now();
        }
        let _in = split.enter();
        let caller = thread::current().id();
        let (a, b) = split
            .join(
                || {
                    thread::sleep(Duration::from_millis(50));
                    1
                },
                move || thread::current().id() != caller,
            )
            .unwrap();
        assert_eq!(a, 1);
        assert!(b, "the spinning helper ran the offered half");
        assert_eq!(split.counts(), (1, 0));
        assert!(split.mailbox.offer().is_none());
    }

    #[test]
    fn a_panic_on_the_helper_resumes_on_the_caller() {
        let split = TwoCore::new(2);
        let _in = split.enter();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            split.join(
                || std::thread::sleep(std::time::Duration::from_millis(20)),
                || panic!("helper"),
            )
        }));
        assert!(caught.is_err());
        // The splitter still works afterwards.
        assert_eq!(split.join(|| 1, || 2), Some((1, 2)));
    }
}
