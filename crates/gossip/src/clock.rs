//! Where validation gets "now" from: the wall clock in the node, a fixed value in tests.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current unix time in seconds.
///
/// Any `Fn() -> u64` is a clock, so tests pass `|| NOW`.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the unix epoch.
    fn now(&self) -> u64;
}

impl<F: Fn() -> u64 + Send + Sync + 'static> Clock for F {
    fn now(&self) -> u64 {
        self()
    }
}

/// The system wall clock (op-node compares timestamps with `time.Now()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock before 1970 is a broken host; treat it as the epoch, which makes every block
        // look too new rather than panicking.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
