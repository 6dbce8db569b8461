//! The gossip crate's metrics trait ([`op_p2p_gossip::Metrics`]) implemented on the node's
//! families, alongside the in-memory [`GossipCounters`] the status file reads. (The gossip
//! crate reports through the trait rather than registering families itself: its pipeline is
//! being reworked on another branch, and the trait is the seam both sides keep.)

use std::{sync::Arc, time::Duration};

use op_p2p_gossip::{GossipCounters, Metrics as GossipMetrics, Outcome, Reason};

use super::NodeMetrics;

/// The gossip behaviour's metrics: the in-memory [`GossipCounters`] the status file reads, and
/// the Prometheus families.
#[derive(Debug, Clone)]
pub(crate) struct GossipHook {
    /// The counters the status file and the tests read.
    pub(crate) counters: Arc<GossipCounters>,
    /// The families.
    pub(crate) metrics: NodeMetrics,
}

/// The `type` of op-node's `p2p_gossip_events_total` a verdict is traced as: pubsub traces
/// an accepted message as `DELIVER_MESSAGE` and a rejected or ignored one as
/// `REJECT_MESSAGE`.
const fn gossip_event(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Accept => "DELIVER_MESSAGE",
        Outcome::Ignore | Outcome::Reject => "REJECT_MESSAGE",
    }
}

impl GossipMetrics for GossipHook {
    fn record_validation(&self, outcome: Outcome, reason: Option<Reason>, elapsed: Duration) {
        self.counters.record_validation(outcome, reason, elapsed);
        let m = &self.metrics;
        m.validations
            .get_or_create(&[
                ("outcome", outcome.as_str()),
                ("reason", reason.map_or("none", Reason::as_str)),
            ])
            .inc();
        m.validation_duration
            .get_or_create(&[])
            .observe(elapsed.as_secs_f64());
        m.gossip_events
            .get_or_create(&[("type", gossip_event(outcome))])
            .inc();
    }

    fn record_report(&self, outcome: Outcome, in_cache: bool) {
        self.counters.record_report(outcome, in_cache);
    }

    fn record_delivery(&self, delivered: bool) {
        self.counters.record_delivery(delivered);
        let result = if delivered { "delivered" } else { "dropped" };
        self.metrics
            .deliveries
            .get_or_create(&[("result", result)])
            .inc();
    }

    fn record_publish(&self, ok: bool) {
        self.counters.record_publish(ok);
        self.metrics
            .publishes
            .get_or_create(&[("result", if ok { "ok" } else { "failed" })])
            .inc();
        if ok {
            self.metrics
                .gossip_events
                .get_or_create(&[("type", "PUBLISH_MESSAGE")])
                .inc();
        }
    }
}
