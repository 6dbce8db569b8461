//! A periodic timer on the injected [`Clock`], polled from a behaviour's `poll`.

use std::{
    fmt,
    task::{Context, Poll},
    time::Duration,
};

use futures::FutureExt;
use op_p2p_api::{Clock, Sleep};

/// Fires every `period` of the clock's monotonic time. It is re-armed from when it fired, so
/// ticks missed while the swarm was not polled are not caught up (tokio's
/// `MissedTickBehavior::Delay`, as the node's timers were).
///
/// Runtime-agnostic: [`SystemClock`](op_p2p_api::SystemClock) sleeps on a `futures-timer`
/// `Delay`, and a [`ManualClock`](op_p2p_api::ManualClock) fires it when a test advances time.
pub(crate) struct Ticker {
    period: Duration,
    sleep: Sleep,
}

impl Ticker {
    /// A ticker whose first tick is one `period` from now. `period` must be non-zero.
    pub(crate) fn new(clock: &dyn Clock, period: Duration) -> Self {
        debug_assert!(!period.is_zero(), "a zero period would tick forever");
        Self {
            period,
            sleep: clock.sleep_until(clock.now().saturating_add(period)),
        }
    }

    /// Ready once per elapsed period; re-arms itself. Poll until `Pending` so the waker is
    /// registered with the new deadline.
    pub(crate) fn poll_tick(&mut self, clock: &dyn Clock, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.poll_unpin(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = clock.sleep_until(clock.now().saturating_add(self.period));
        Poll::Ready(())
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}
