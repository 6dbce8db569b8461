//! [`TwoCore`]: runs the two halves of a large message's verification on two cores when a core
//! is spare, from whatever thread validation runs on.
//!
//! Why not `rayon::join` on the global pool: the pipeline calls the validator on tokio's
//! blocking pool, outside any rayon pool. From there `rayon::join` injects the whole join into
//! the pool and blocks; a sleeping worker must wake to take it and a second one to steal the
//! other half, and on two vCPUs the second wake-up often came after the first worker had done
//! both halves (measured: workers busy 0.84× and 0.07× of the wall time, the join slower than
//! one thread). Here one half is offered to a helper thread the validator owns ([`Half`]) and
//! the calling thread runs the other; if the helper has not started its half by the time the
//! caller is done, the caller takes it back and runs it too. So one wake-up at most, and never
//! slower than one thread by more than the hand-off (a boxed closure and a futex wake).
//!
//! Waking a sleeping thread on an idle vCPU took from 45 µs to over 1 ms on this project's
//! 2-vCPU machine, as long as a large message's half, so two things hide it:
//! - [`TwoCore::prewake`]: as a large message arrives, before its id is computed, a helper is
//!   woken and spins (up to [`PREWAKE_SPIN`]) for a half, keeping its core awake;
//! - the half is offered *before* the thread that validates exists: the pipeline offers a large
//!   message's signature half as it hands the message to a blocking thread
//!   (`Validate::prepare`), so the spinning helper is busy with it before the blocking thread
//!   wakes, and that thread then takes the other core. (An earlier version offered the half only
//!   once the blocking thread had started; the spinner and that thread then often shared one
//!   core while the other sat idle, and the split gained nothing at 485 KB.)
//!
//! Oversubscription: each validation in flight is counted, and a half is offered only while
//! the validations in flight, the message's own included, leave a spare core for it
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

/// How long a helper woken ahead of a large message ([`TwoCore::prewake`]) spins for a half
/// before going back to sleep: longer than the message id and the hand-off to the pipeline
/// usually take (0.5 ms for the id of a 485 KB message).
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
    /// Halves offered, and how many of those the caller took back (the helper had not started
    /// in time), for benches and diagnostics.
    splits: AtomicU64,
    taken_back: Arc<AtomicU64>,
    /// Where an offer goes for a helper already awake and spinning.
    mailbox: Arc<Mailbox>,
}

/// A job handed to a spinning helper, type-erased.
type Offered = Box<dyn FnOnce() + Send>;

/// The hand-over point between an offer and a helper woken ahead of it.
#[derive(Default)]
struct Mailbox {
    /// A helper is spinning here.
    spinning: AtomicBool,
    offer: Mutex<Option<Offered>>,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("spinning", &self.spinning)
            .finish_non_exhaustive()
    }
}

impl Mailbox {
    fn offer(&self) -> std::sync::MutexGuard<'_, Option<Offered>> {
        // Only whole jobs are put and taken; a panic elsewhere leaves it consistent.
        self.offer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// On a helper: spins until a job is offered (and runs it) or [`PREWAKE_SPIN`] passes.
    fn spin(&self) {
        let deadline = Instant::now() + PREWAKE_SPIN;
        loop {
            if let Some(job) = self.offer().take() {
                self.spinning.store(false, Ordering::Release);
                job();
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            // If it shares a core with the thread about to make the offer, let that run.
            thread::yield_now();
        }
        self.spinning.store(false, Ordering::Release);
        // An offer made just as the spin ended is run, not left behind.
        if let Some(job) = self.offer().take() {
            job();
        }
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
            taken_back: Arc::default(),
            mailbox: Arc::default(),
        }
    }

    /// Wakes a helper ahead of a large message about to be validated (the behaviour calls
    /// this as the message arrives, before its id is computed), so the helper's wake-up
    /// overlaps the id and the hand-offs instead of following them. The helper spins for an
    /// offer up to [`PREWAKE_SPIN`]. Nothing when no core would be spare for the message or a
    /// helper is already spinning.
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

    /// A splitter for the cores this process may use.
    pub(crate) fn for_this_machine() -> Self {
        Self::new(thread::available_parallelism().map_or(1, usize::from))
    }

    /// The cores this splitter may use.
    pub(crate) const fn cores(&self) -> usize {
        self.cores
    }

    /// Halves offered so far, and how many of them the calling thread took back because no
    /// helper had started them in time.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.splits.load(Ordering::Relaxed),
            self.taken_back.load(Ordering::Relaxed),
        )
    }

    /// Counts one validation in flight until the guard drops.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Offers `there` to a helper thread when `extra` more validations (0 from inside one that
    /// [`Self::enter`]ed, 1 for a message about to be validated) still leave a core spare for
    /// it; else `None` and nothing runs.
    pub(crate) fn offer<R: Send + 'static>(
        &self,
        extra: usize,
        there: impl FnOnce() -> R + Send + 'static,
    ) -> Option<Half<R>> {
        let in_flight = self.in_flight.load(Ordering::Relaxed).saturating_add(extra);
        if self.cores < 2 || in_flight.saturating_mul(2) > self.cores {
            return None;
        }
        let helpers = self.helpers()?;
        let slot = Arc::new(Slot::new(Box::new(there)));
        let offered = Arc::clone(&slot);
        let job: Offered = Box::new(move || offered.run_if_pending());
        let mut mailbox = self.mailbox.offer();
        if self.mailbox.spinning.load(Ordering::Acquire) && mailbox.is_none() {
            // A spinning helper takes it (or, if it stops spinning right now, runs it after).
            *mailbox = Some(job);
        } else {
            drop(mailbox);
            helpers.spawn(job);
        }
        self.splits.fetch_add(1, Ordering::Relaxed);
        Some(Half {
            slot,
            taken_back: Arc::clone(&self.taken_back),
        })
    }

    /// Runs `here` on this thread and `there` on a helper when a core is spare, else `None`
    /// (the caller then runs its own sequential path). `there` is taken back and run here if
    /// no helper has started it when `here` is done. A panic in `there` resumes here. (The
    /// validator offers and joins separately, to claim halves offered ahead.)
    #[cfg(test)]
    fn join<A, B, RA, RB>(&self, here: A, there: B) -> Option<(RA, RB)>
    where
        A: FnOnce() -> RA,
        B: FnOnce() -> RB + Send + 'static,
        RB: Send + 'static,
    {
        let half = self.offer(0, there)?;
        let a = here();
        Some((a, half.join()))
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
}

/// A job offered to a helper thread, and its result: whoever comes first runs it. Dropped
/// unjoined, a job not yet started is withdrawn (the helper skips it).
#[derive(Debug)]
pub(crate) struct Half<R> {
    slot: Arc<Slot<R>>,
    taken_back: Arc<AtomicU64>,
}

impl<R> Half<R> {
    /// The job's result: run here if no helper has started it, else waited for. A panic on
    /// the helper resumes here.
    pub(crate) fn join(self) -> R {
        let (result, taken_back) = self.slot.take_back_or_wait();
        if taken_back {
            self.taken_back.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

impl<R> Drop for Half<R> {
    fn drop(&mut self) {
        // Withdraws a job nobody started; a no-op after `join`.
        drop(
            self.slot
                .job
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

/// A job and its result, shared by the caller and the helper.
struct Slot<R> {
    job: Mutex<Option<Job<R>>>,
    result: Mutex<Option<thread::Result<R>>>,
    done: Condvar,
}

impl<R> std::fmt::Debug for Slot<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
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

    /// On the helper: runs the job unless the caller took it back or withdrew it.
    fn run_if_pending(&self) {
        let job = self
            .job
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(job) = job else {
            return;
        };
        let result = catch_unwind(AssertUnwindSafe(job));
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        self.done.notify_one();
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
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn one_core_never_splits() {
        let split = TwoCore::new(1);
        let _in = split.enter();
        assert!(split.join(|| 1, || 2).is_none());
        assert!(split.offer(1, || 2).is_none());
    }

    #[test]
    fn a_lone_message_splits_and_a_second_does_not() {
        let split = TwoCore::new(2);
        let first = split.enter();
        assert_eq!(split.join(|| 1, || 2), Some((1, 2)));
        // Ahead of a second validation, no core is spare.
        assert!(split.offer(1, || 2).is_none());
        let _second = split.enter();
        assert!(split.join(|| 1, || 2).is_none());
        drop(first);
    }

    #[test]
    fn a_half_offered_ahead_runs_on_the_helper() {
        let split = TwoCore::new(2);
        let caller = thread::current().id();
        let half = split
            .offer(1, move || thread::current().id() != caller)
            .unwrap();
        // Give the helper time to take it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while half.slot.job.lock().unwrap().is_some() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let _in = split.enter();
        assert!(half.join(), "the helper ran the offered half");
        assert_eq!(split.counts(), (1, 0));
    }

    #[test]
    fn a_prewoken_helper_takes_the_offer_from_the_mailbox() {
        let split = TwoCore::new(2);
        split.prewake();
        let deadline = Instant::now() + Duration::from_secs(5);
        // The helper is spinning once the mailbox is the way offers go and nothing is queued.
        while Instant::now() < deadline && !split.mailbox.spinning.load(Ordering::Acquire) {
            thread::yield_now();
        }
        let caller = thread::current().id();
        let half = split
            .offer(1, move || thread::current().id() != caller)
            .unwrap();
        let _in = split.enter();
        thread::sleep(Duration::from_millis(20));
        assert!(half.join(), "the spinning helper ran the offered half");
        assert!(split.mailbox.offer().is_none());
        assert_eq!(split.counts(), (1, 0));
    }

    #[test]
    fn a_dropped_half_is_withdrawn() {
        let split = TwoCore::new(2);
        let ran = Arc::new(AtomicUsize::new(0));
        // Keep the one helper busy so the second offer is still queued when dropped.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = split
            .offer(1, move || {
                let _ = wait.recv_timeout(Duration::from_secs(5));
            })
            .unwrap();
        let counter = Arc::clone(&ran);
        let queued = split
            .offer(1, move || {
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        drop(queued);
        release.send(()).unwrap();
        busy.join();
        // The helper has reached the withdrawn job by now or will skip it.
        thread::sleep(Duration::from_millis(20));
        assert_eq!(ran.load(Ordering::Relaxed), 0);
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
