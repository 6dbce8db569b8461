//! The wall clock, where the node needs it: receive times in the status, and block times (a
//! block's timestamp is a wall-clock second) turned into timer deadlines.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Unix microseconds now (0 on a clock before 1970): receive and publish times, fine enough
/// to take a loopback hop (well under a millisecond) apart.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Unix milliseconds now (0 on a clock before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The tokio instant at which the wall clock reads `unix_secs`; now, if that has passed.
pub(crate) fn instant_at_unix(unix_secs: u64) -> Instant {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Instant::now() + Duration::from_secs(unix_secs).saturating_sub(now)
}
