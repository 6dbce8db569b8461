//! Metrics hooks: what the gossip layer counts, without a metrics library and without per-peer
//! labels (labels are bounded: outcome and reason).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use crate::verdict::{Outcome, Reason};

/// Events the gossip layer reports. Every method defaults to doing nothing.
///
/// The node implements it on its prometheus registry later; [`GossipCounters`] is a ready
/// in-memory implementation it can read from (and tests use). Labels stay bounded: outcome and
/// reason, never a peer.
pub trait Metrics: Send + Sync + 'static {
    /// One message was validated (or answered without validation: queue full, pipeline gone),
    /// taking `elapsed` from the start of validation (zero when it never started).
    fn record_validation(&self, outcome: Outcome, reason: Option<Reason>, elapsed: Duration) {
        let _ = (outcome, reason, elapsed);
    }

    /// A result was reported to gossipsub; `in_cache` is what
    /// `report_message_validation_result` returned (false: the message had already left the
    /// cache, so an accept was not relayed).
    fn record_report(&self, outcome: Outcome, in_cache: bool) {
        let _ = (outcome, in_cache);
    }

    /// An accepted block was handed to the application (`delivered`), or dropped because the
    /// application's channel was full or closed. The behaviour only emits blocks
    /// ([`Event::Block`](crate::Event::Block)); whoever forwards them to the application
    /// records this (the node's swarm task does), so each block is counted once.
    fn record_delivery(&self, delivered: bool) {
        let _ = delivered;
    }

    /// We published a block (`ok`), or gossipsub refused to.
    fn record_publish(&self, ok: bool) {
        let _ = ok;
    }
}

/// Metrics that go nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopMetrics;

impl Metrics for NoopMetrics {}

/// Upper bounds, in seconds, of the validation-duration histogram buckets (the last bucket is
/// unbounded). Full validation of a ~120 KB block takes ~0.5 ms on one core.
pub const DURATION_BUCKETS: [f64; 10] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25, 1.0,
];

/// Counters for every [`Metrics`] event, readable at any time.
#[derive(Debug, Default)]
pub struct GossipCounters {
    outcomes: [AtomicU64; Outcome::ALL.len()],
    reasons: [AtomicU64; Reason::ALL.len()],
    duration_buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_sum_nanos: AtomicU64,
    reported_not_in_cache: AtomicU64,
    delivered: AtomicU64,
    delivery_dropped: AtomicU64,
    published: AtomicU64,
    publish_failed: AtomicU64,
}

impl GossipCounters {
    /// All counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages validated with `outcome`.
    pub fn outcome(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome.index()].load(Ordering::Relaxed)
    }

    /// Messages that failed with `reason`.
    pub fn reason(&self, reason: Reason) -> u64 {
        self.reasons[reason.index()].load(Ordering::Relaxed)
    }

    /// Validation-duration histogram: the count per bucket of [`DURATION_BUCKETS`] (not
    /// cumulative), then the overflow bucket.
    pub fn duration_histogram(&self) -> Vec<u64> {
        self.duration_buckets
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Total validation time.
    pub fn duration_sum(&self) -> Duration {
        Duration::from_nanos(self.duration_sum_nanos.load(Ordering::Relaxed))
    }

    /// Results reported for messages gossipsub no longer had.
    pub fn reported_not_in_cache(&self) -> u64 {
        self.reported_not_in_cache.load(Ordering::Relaxed)
    }

    /// Accepted blocks handed to the application.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Accepted blocks dropped because the application's channel was full or closed.
    pub fn delivery_dropped(&self) -> u64 {
        self.delivery_dropped.load(Ordering::Relaxed)
    }

    /// Blocks we published.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Blocks gossipsub refused to publish.
    pub fn publish_failed(&self) -> u64 {
        self.publish_failed.load(Ordering::Relaxed)
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics for GossipCounters {
    fn record_validation(&self, outcome: Outcome, reason: Option<Reason>, elapsed: Duration) {
        bump(&self.outcomes[outcome.index()]);
        if let Some(reason) = reason {
            bump(&self.reasons[reason.index()]);
        }
        let secs = elapsed.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        bump(&self.duration_buckets[bucket]);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.duration_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn record_report(&self, _outcome: Outcome, in_cache: bool) {
        if !in_cache {
            bump(&self.reported_not_in_cache);
        }
    }

    fn record_delivery(&self, delivered: bool) {
        bump(if delivered {
            &self.delivered
        } else {
            &self.delivery_dropped
        });
    }

    fn record_publish(&self, ok: bool) {
        bump(if ok {
            &self.published
        } else {
            &self.publish_failed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_outcome_reason_and_bucket() {
        let c = GossipCounters::new();
        c.record_validation(Outcome::Accept, None, Duration::from_micros(300));
        c.record_validation(
            Outcome::Reject,
            Some(Reason::WrongSigner),
            Duration::from_secs(2),
        );
        c.record_report(Outcome::Accept, false);
        c.record_delivery(true);
        c.record_delivery(false);
        c.record_publish(true);
        assert_eq!(c.outcome(Outcome::Accept), 1);
        assert_eq!(c.outcome(Outcome::Reject), 1);
        assert_eq!(c.outcome(Outcome::Ignore), 0);
        assert_eq!(c.reason(Reason::WrongSigner), 1);
        let h = c.duration_histogram();
        assert_eq!(h[2], 1, "300 µs falls in the 0.5 ms bucket");
        assert_eq!(h[DURATION_BUCKETS.len()], 1, "2 s overflows");
        assert_eq!(c.duration_sum(), Duration::from_micros(2_000_300));
        assert_eq!(c.reported_not_in_cache(), 1);
        assert_eq!((c.delivered(), c.delivery_dropped()), (1, 1));
        assert_eq!((c.published(), c.publish_failed()), (1, 0));
    }
}
