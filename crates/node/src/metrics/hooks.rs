//! The protocol crates' metrics traits, implemented on the node's families: the crates stay
//! free of a metrics library and of the registry, and report through a trait the node passes
//! down ([`op_p2p_gossip::Metrics`], [`op_p2p_reqresp_sync::Metrics`]).

use std::{sync::Arc, time::Duration};

use op_p2p_gossip::{GossipCounters, Metrics as GossipMetrics, Outcome, Reason};
use op_p2p_reqresp_sync::{Metrics as SyncMetrics, Role};

use super::NodeMetrics;

/// op-node's only req-resp method.
const PAYLOAD_BY_NUMBER: &str = "payload_by_number";

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

/// The sync behaviour's metrics.
#[derive(Debug, Clone)]
pub(crate) struct SyncHook(pub(crate) NodeMetrics);

/// The `result_code` label: the code as a decimal string (bounded: 0..=255, and the client's
/// codes are already collapsed to 0..=5 by the sync crate).
const fn result_code_label(code: u8) -> &'static str {
    const CODES: [&str; 7] = ["0", "1", "2", "3", "4", "5", "other"];
    if (code as usize) < 6 {
        CODES[code as usize]
    } else {
        CODES[6]
    }
}

impl SyncMetrics for SyncHook {
    fn request(&self, role: Role, number: u64, result_code: u8, duration: Duration) {
        let labels = [
            ("p2p_role", role.as_str()),
            ("p2p_method", PAYLOAD_BY_NUMBER),
            ("result_code", result_code_label(result_code)),
        ];
        self.0.req_total.get_or_create(&labels).inc();
        self.0
            .req_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        self.0
            .payload_by_number
            .get_or_create(&[("p2p_role", role.as_str())])
            .set(i64::try_from(number).unwrap_or(i64::MAX));
    }

    fn quarantine_size(&self, size: usize) {
        self.0
            .quarantine
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_are_bounded() {
        assert_eq!(result_code_label(0), "0");
        assert_eq!(result_code_label(5), "5");
        assert_eq!(result_code_label(200), "other");
    }
}
