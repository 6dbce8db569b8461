//! Injected time: every expiry, decay and GC decision reads the store's [`Clock`].

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// Seconds since the Unix epoch; all expiry, decay and GC time in the store is this.
///
/// The store never reads the system time itself, so tests drive expiry with a [`ManualClock`]
/// instead of sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time, in whole seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The wall clock ([`SystemTime`]); what a running node uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock set before 1970 reads as the epoch: records then look fresh rather than
        // making every read fail.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now`.
    pub fn new(now: u64) -> Self {
        Self {
            now: AtomicU64::new(now),
        }
    }

    /// Sets the time to `now` (it may go backwards).
    pub fn set(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`, saturating at `u64::MAX`.
    pub fn advance(&self, secs: u64) {
        // `fetch_update` with a closure that always returns `Some` cannot fail.
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(secs))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now(), 100);
        clock.advance(5);
        assert_eq!(clock.now(), 105);
        clock.set(7);
        assert_eq!(clock.now(), 7);
        clock.advance(u64::MAX);
        assert_eq!(clock.now(), u64::MAX);
        assert_eq!(ManualClock::default().now(), 0);
    }

    #[test]
    fn system_clock_is_after_2020() {
        // 2020-01-01T00:00:00Z: a sanity bound, not a timing assertion.
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
