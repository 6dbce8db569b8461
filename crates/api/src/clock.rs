//! Injected time: the one clock every op-p2p crate reads. Rate limits and stream deadlines use
//! its monotonic time, ban expiry, score decay, GC and the gossip timestamp window its wall
//! clock, so tests drive all of them by hand with a [`ManualClock`] instead of sleeping.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// A future that completes at a [`Clock`] deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A time source: monotonic time for durations and deadlines, wall-clock seconds for what is
/// compared with block timestamps and stored expiries.
///
/// Monotonic time ([`now`](Clock::now)) drives token buckets and stream deadlines; wall-clock
/// time ([`unix_time`](Clock::unix_time)) decides which block numbers a server may already have
/// (op-node's `TargetBlockNumber(now)`), the gossip timestamp window, ban expiry and score
/// retention. Implementations must be cheap and non-blocking: every behaviour reads the clock
/// on the swarm task.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Monotonic time since an arbitrary origin fixed when the clock was made.
    fn now(&self) -> Duration;

    /// Wall-clock seconds since the Unix epoch.
    fn unix_time(&self) -> u64;

    /// A future that completes once [`now`](Clock::now) has reached `deadline`.
    fn sleep_until(&self, deadline: Duration) -> Sleep;
}

/// The real clock: [`Instant`] for monotonic time, [`SystemTime`] for the wall clock, and
/// `futures-timer` for sleeping (no runtime dependency).
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn unix_time(&self) -> u64 {
        // A clock set before 1970 reads as the epoch, which is before any genesis: the server
        // then answers "invalid request", as op-node does before genesis time.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn sleep_until(&self, deadline: Duration) -> Sleep {
        Box::pin(futures_timer::Delay::new(
            deadline.saturating_sub(self.now()),
        ))
    }
}

/// A clock that moves only when told to; for tests and benches.
///
/// [`advance`](ManualClock::advance) wakes every pending [`Sleep`], which re-checks its
/// deadline, so a swarm driven by this clock reacts to the test's steps without real waiting.
/// Cloning shares the clock.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: Duration,
    /// The wall clock read `unix_origin` when the monotonic clock read `unix_origin_at`.
    unix_origin: u64,
    unix_origin_at: Duration,
    next_sleeper: u64,
    sleepers: HashMap<u64, Waker>,
    /// Tasks waiting in [`ManualClock::wait_for_sleepers`].
    watchers: Vec<Waker>,
}

impl ManualClock {
    /// A clock at monotonic time zero whose wall clock reads `unix_time`.
    pub fn new(unix_time: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ManualState {
                now: Duration::ZERO,
                unix_origin: unix_time,
                unix_origin_at: Duration::ZERO,
                next_sleeper: 0,
                sleepers: HashMap::new(),
                watchers: Vec::new(),
            })),
        }
    }

    /// Moves time forward by `secs` seconds (both clocks) and wakes every sleeper.
    pub fn advance_secs(&self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }

    /// Sets the wall clock to `unix_time` (it may go backwards, as a host's clock can); the
    /// monotonic clock does not move.
    pub fn set_unix_time(&self, unix_time: u64) {
        let mut state = self.state();
        state.unix_origin = unix_time;
        state.unix_origin_at = state.now;
    }

    /// Moves time forward by `by` (both clocks) and wakes every sleeper.
    pub fn advance(&self, by: Duration) {
        let wakers: Vec<Waker> = {
            let mut state = self.state();
            state.now = state.now.saturating_add(by);
            state.sleepers.values().cloned().collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// How many sleeps are pending: deadlines some task is waiting on.
    pub fn sleepers(&self) -> usize {
        self.state().sleepers.len()
    }

    /// Completes once at least `n` sleeps are pending, so a test can advance time exactly when
    /// a deadline is armed (a stream read has started, a throttled request is scheduled) instead
    /// of guessing.
    pub fn wait_for_sleepers(&self, n: usize) -> impl Future<Output = ()> + Send + 'static {
        let clock = self.clone();
        std::future::poll_fn(move |cx| {
            let mut state = clock.state();
            if state.sleepers.len() >= n {
                Poll::Ready(())
            } else {
                state.watchers.push(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // The state stays consistent across a panic (every update is a single assignment).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    /// A clock at the epoch.
    fn default() -> Self {
        Self::new(0)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.state().now
    }

    fn unix_time(&self) -> u64 {
        let state = self.state();
        let elapsed = state.now.saturating_sub(state.unix_origin_at);
        state.unix_origin.saturating_add(elapsed.as_secs())
    }

    fn sleep_until(&self, deadline: Duration) -> Sleep {
        let id = {
            let mut state = self.state();
            state.next_sleeper += 1;
            state.next_sleeper
        };
        Box::pin(ManualSleep {
            clock: self.clone(),
            deadline,
            id,
        })
    }
}

/// A [`ManualClock`] sleeper: registered by id while pending, so memory stays bounded by the
/// number of live sleepers however often they are polled.
struct ManualSleep {
    clock: ManualClock,
    deadline: Duration,
    id: u64,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let watchers = {
            let mut state = self.clock.state();
            if state.now >= self.deadline {
                state.sleepers.remove(&self.id);
                return Poll::Ready(());
            }
            if state.sleepers.insert(self.id, cx.waker().clone()).is_some() {
                return Poll::Pending;
            }
            std::mem::take(&mut state.watchers)
        };
        for watcher in watchers {
            watcher.wake();
        }
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        self.clock.state().sleepers.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now(), Duration::ZERO);
        assert_eq!(clock.unix_time(), 1_000);
        clock.advance(Duration::from_millis(2_500));
        assert_eq!(clock.now(), Duration::from_millis(2_500));
        assert_eq!(clock.unix_time(), 1_002);
    }

    #[test]
    fn manual_wall_clock_can_be_set_back_and_forth() {
        let clock = ManualClock::new(100);
        clock.advance_secs(5);
        assert_eq!(clock.unix_time(), 105);
        clock.set_unix_time(7);
        assert_eq!(clock.unix_time(), 7);
        assert_eq!(clock.now(), Duration::from_secs(5));
        clock.advance_secs(3);
        assert_eq!(clock.unix_time(), 10);
        clock.set_unix_time(u64::MAX);
        clock.advance_secs(1);
        assert_eq!(clock.unix_time(), u64::MAX);
        assert_eq!(ManualClock::default().unix_time(), 0);
    }

    #[test]
    fn manual_sleep_completes_at_its_deadline() {
        let clock = ManualClock::new(0);
        let mut sleep = clock.sleep_until(Duration::from_secs(10));
        assert!((&mut sleep).now_or_never().is_none());
        clock.advance(Duration::from_secs(9));
        assert!((&mut sleep).now_or_never().is_none());
        clock.advance(Duration::from_secs(1));
        assert!(sleep.now_or_never().is_some());
        assert!(clock.state().sleepers.is_empty());
    }

    #[test]
    fn dropped_sleepers_are_forgotten() {
        let clock = ManualClock::new(0);
        let mut sleep = clock.sleep_until(Duration::from_secs(1));
        assert!((&mut sleep).now_or_never().is_none());
        assert_eq!(clock.state().sleepers.len(), 1);
        drop(sleep);
        assert!(clock.state().sleepers.is_empty());
    }

    #[test]
    fn system_clock_is_monotonic_and_after_2020() {
        let clock = SystemClock::new();
        let a = clock.now();
        assert!(clock.now() >= a);
        // 2020-01-01T00:00:00Z: a sanity bound, not a timing assertion.
        assert!(clock.unix_time() > 1_577_836_800);
    }
}
