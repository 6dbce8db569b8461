//! Prometheus metrics (spec §13): op-node's `op_node_default_*` families with op-node's names,
//! types, labels and buckets, plus this node's own under `op_node_default_p2p_*` names op-node
//! does not use. Every family is listed, with what moves it, in the crate README.
//!
//! One private [`Registry`] per node (no global registry, as op-node), passed down at start:
//! the sync crate registers its own families (`op_p2p_reqresp_sync::PrometheusMetrics`), the
//! discovery crate a collector over its counters (`op_p2p_discovery::register_metrics`), and
//! [`NodeMetrics`] the rest. The pieces that move the node's families get a clone of
//! [`NodeMetrics`] (every handle is an `Arc` inside):
//! - the gossip behaviour through its metrics trait ([`hooks`]);
//! - the transport, which counts streams and bytes ([`transport`]);
//! - the swarm task, which samples peers, gate counters, scores and sizes ([`sampler`]);
//! - the app task, which records received payloads and gaps.
//!
//! The registry is always built (the cost is a few atomics per event); the HTTP server
//! ([`server`]) runs only with `--metrics.enabled`.
//!
//! Labels are bounded: no label carries a peer id, an address or a hash.

mod hooks;
pub(crate) mod sampler;
pub(crate) mod server;
pub(crate) mod transport;
mod unsuffixed;

use std::{
    sync::atomic::AtomicU64,
    time::{SystemTime, UNIX_EPOCH},
};

use op_p2p_types::ExecutionPayloadEnvelope;
use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

pub(crate) use self::{hooks::GossipHook, unsuffixed::UnsuffixedCounter};
use crate::payload_store::Origin;

/// op-node's namespace: `op_node_<procName>` with the CLI's procName `default`.
pub(crate) const NAMESPACE: &str = "op_node_default";

/// op-node's peer score histogram buckets (`peer_scores`).
pub(crate) const PEER_SCORE_BUCKETS: [f64; 18] = [
    -100.0, -40.0, -20.0, -10.0, -5.0, -2.0, -1.0, -0.5, -0.05, 0.0, 0.05, 0.5, 1.0, 2.0, 5.0,
    10.0, 20.0, 40.0,
];
/// Propagation delay buckets, in seconds: block timestamps have whole-second resolution and a
/// healthy network delivers within the slot.
pub(crate) const PROPAGATION_BUCKETS: [f64; 10] =
    [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0];

/// Label sets: fixed keys, bounded `'static` values.
type Label1 = [(&'static str, &'static str); 1];
type Label2 = [(&'static str, &'static str); 2];
/// A gauge holding a float (timestamps, refs, hashes truncated to floats).
type FloatGauge = Gauge<f64, AtomicU64>;
/// A histogram family built with fixed buckets.
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The `refs_*` labels of the received payload (`RecordRef("l2", "received_payload", …)`).
const RECEIVED_PAYLOAD: Label2 = [("layer", "l2"), ("type", "received_payload")];

/// Every metric family of the node. Cloning shares them.
#[derive(Debug, Clone)]
pub(crate) struct NodeMetrics {
    // ---- op-node's (§13) ----------------------------------------------------------------
    pub(crate) peer_count: Gauge,
    pub(crate) stream_count: Gauge,
    pub(crate) gossip_events: Family<Label1, Counter>,
    pub(crate) bandwidth: Family<Label1, Gauge>,
    pub(crate) peer_unbans: UnsuffixedCounter,
    pub(crate) ip_unbans: UnsuffixedCounter,
    pub(crate) dials: Family<Label1, UnsuffixedCounter>,
    pub(crate) accepts: Family<Label1, UnsuffixedCounter>,
    pub(crate) peer_scores: HistogramFamily<Label1>,
    pub(crate) unsafe_payloads: Counter,
    pub(crate) last_unsafe_payload_unix: FloatGauge,
    pub(crate) refs_number: Family<Label2, FloatGauge>,
    pub(crate) refs_time: Family<Label2, FloatGauge>,
    pub(crate) refs_hash: Family<Label2, FloatGauge>,
    pub(crate) refs_latency: Family<Label2, FloatGauge>,
    // ---- this node's ----------------------------------------------------------------------
    pub(crate) validations: Family<Label2, Counter>,
    pub(crate) validation_duration: HistogramFamily<[(&'static str, &'static str); 0]>,
    pub(crate) validation_pending: Gauge,
    pub(crate) deliveries: Family<Label1, Counter>,
    pub(crate) publishes: Family<Label1, Counter>,
    pub(crate) propagation: HistogramFamily<Label1>,
    pub(crate) sync_gap: Gauge,
    pub(crate) store_size: Gauge,
}

fn peer_score_histogram() -> Histogram {
    Histogram::new(PEER_SCORE_BUCKETS)
}

fn validation_histogram() -> Histogram {
    Histogram::new(op_p2p_gossip::DURATION_BUCKETS)
}

fn propagation_histogram() -> Histogram {
    Histogram::new(PROPAGATION_BUCKETS)
}

impl NodeMetrics {
    /// Creates the node's families and registers them into `registry` (made with
    /// [`NAMESPACE`] as its prefix; the protocol crates register theirs into the same one).
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self::families();
        metrics.register_into(registry);
        metrics
    }

    /// Every family, empty, histograms with their buckets.
    fn families() -> Self {
        Self {
            peer_count: Gauge::default(),
            stream_count: Gauge::default(),
            gossip_events: Family::default(),
            bandwidth: Family::default(),
            peer_unbans: UnsuffixedCounter::default(),
            ip_unbans: UnsuffixedCounter::default(),
            dials: Family::default(),
            accepts: Family::default(),
            peer_scores: Family::new_with_constructor(peer_score_histogram as fn() -> Histogram),
            unsafe_payloads: Counter::default(),
            last_unsafe_payload_unix: FloatGauge::default(),
            refs_number: Family::default(),
            refs_time: Family::default(),
            refs_hash: Family::default(),
            refs_latency: Family::default(),
            validations: Family::default(),
            validation_duration: Family::new_with_constructor(validation_histogram),
            validation_pending: Gauge::default(),
            deliveries: Family::default(),
            publishes: Family::default(),
            propagation: Family::new_with_constructor(propagation_histogram),
            sync_gap: Gauge::default(),
            store_size: Gauge::default(),
        }
    }

    /// Registers every family. Counters whose op-node name ends in `_total` are registered
    /// without it (prometheus-client appends it to the sample, so the samples carry op-node's
    /// names); op-node's counters without `_total` are [`UnsuffixedCounter`]s. HELP strings
    /// are op-node's (prometheus-client adds a final period).
    fn register_into(&self, r: &mut Registry) {
        r.register(
            "p2p_peer_count",
            "Count of currently connected p2p peers",
            self.peer_count.clone(),
        );
        r.register(
            "p2p_stream_count",
            "Count of currently connected p2p streams",
            self.stream_count.clone(),
        );
        r.register(
            "p2p_gossip_events",
            "Count of gossip events by type",
            self.gossip_events.clone(),
        );
        r.register(
            "p2p_bandwidth_bytes_total",
            "P2P bandwidth by direction",
            self.bandwidth.clone(),
        );
        r.register(
            "p2p_peer_unbans",
            "Count of peer unbans",
            self.peer_unbans.clone(),
        );
        r.register(
            "p2p_ip_unbans",
            "Count of IP unbans",
            self.ip_unbans.clone(),
        );
        r.register(
            "p2p_dials",
            "Count of outgoing dial attempts, with label to filter to allowed attempts",
            self.dials.clone(),
        );
        r.register(
            "p2p_accepts",
            "Count of incoming dial attempts to accept, with label to filter to allowed attempts",
            self.accepts.clone(),
        );
        r.register(
            "peer_scores",
            "Histogram of currently connected peer scores",
            self.peer_scores.clone(),
        );
        r.register(
            "unsafe_payloads",
            "Count of unsafe payloads events",
            self.unsafe_payloads.clone(),
        );
        r.register(
            "last_unsafe_payloads_unix",
            "Timestamp of last unsafe payloads event",
            self.last_unsafe_payload_unix.clone(),
        );
        r.register(
            "refs_number",
            "Gauge representing the different L1/L2 reference block numbers",
            self.refs_number.clone(),
        );
        r.register(
            "refs_time",
            "Gauge representing the different L1/L2 reference block timestamps",
            self.refs_time.clone(),
        );
        r.register(
            "refs_hash",
            "Gauge representing the different L1/L2 reference block hashes truncated to float values",
            self.refs_hash.clone(),
        );
        r.register(
            "refs_latency",
            "Gauge representing the different L1/L2 reference block timestamps minus current time, in seconds",
            self.refs_latency.clone(),
        );

        r.register(
            "p2p_gossip_validations",
            "Gossip messages validated, by outcome (accept, ignore, reject) and reason (none for accepted)",
            self.validations.clone(),
        );
        r.register(
            "p2p_gossip_validation_duration_seconds",
            "Time from the start of a gossip message's validation to its verdict",
            self.validation_duration.clone(),
        );
        r.register(
            "p2p_gossip_validation_pending",
            "Gossip messages waiting for a validation verdict (the pipeline's queue and workers)",
            self.validation_pending.clone(),
        );
        r.register(
            "p2p_gossip_deliveries",
            "Accepted gossip blocks handed to the application (delivered) or dropped because its channel was full (dropped)",
            self.deliveries.clone(),
        );
        r.register(
            "p2p_gossip_publishes",
            "Blocks this node published (ok) or gossipsub refused to publish (failed)",
            self.publishes.clone(),
        );
        r.register(
            "p2p_block_propagation_seconds",
            "Time from a received block's timestamp to its acceptance by this node, by source (gossip, sync)",
            self.propagation.clone(),
        );
        r.register(
            "p2p_sync_gap_blocks",
            "Blocks missing between the unsafe head and the lowest stored block above it (0: no gap)",
            self.sync_gap.clone(),
        );
        r.register(
            "p2p_store_size_bytes",
            "Size on disk of the node's RocksDB database (0 in memory)",
            self.store_size.clone(),
        );
    }

    /// op-node's `RecordReceivedUnsafePayload` and `RecordRef("l2", "received_payload", …)`
    /// for a payload received from the network (gossip or sync; never our own), plus our
    /// propagation delay. `new` is whether the payload was not stored before (op-node sets the
    /// latency only the first time it sees a hash).
    pub(crate) fn received_payload(
        &self,
        envelope: &ExecutionPayloadEnvelope,
        origin: Origin,
        new: bool,
    ) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let payload = &envelope.execution_payload;
        self.unsafe_payloads.inc();
        self.last_unsafe_payload_unix.set(now);
        // Precision loss is op-node's too: the gauges are float64.
        #[allow(clippy::cast_precision_loss)]
        {
            self.refs_number
                .get_or_create(&RECEIVED_PAYLOAD)
                .set(payload.block_number as f64);
            if payload.timestamp != 0 {
                self.refs_time
                    .get_or_create(&RECEIVED_PAYLOAD)
                    .set(payload.timestamp as f64);
            }
            let mut low = [0u8; 8];
            low.copy_from_slice(&payload.block_hash.as_slice()[..8]);
            self.refs_hash
                .get_or_create(&RECEIVED_PAYLOAD)
                .set(u64::from_le_bytes(low) as f64);
            if new {
                let delay = now - payload.timestamp as f64;
                self.refs_latency
                    .get_or_create(&RECEIVED_PAYLOAD)
                    .set(-delay);
                self.propagation
                    .get_or_create(&[("source", origin.as_str())])
                    .observe(delay);
            }
        }
    }

    /// The gap below the lowest stored block above the head, in blocks (0: none).
    pub(crate) fn set_gap(&self, missing: u64) {
        self.sync_gap
            .set(i64::try_from(missing).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode_registry;

    use super::*;

    #[test]
    fn samples_carry_op_node_names() {
        let mut registry = Registry::with_prefix(NAMESPACE);
        let m = NodeMetrics::register(&mut registry);
        m.gossip_events
            .get_or_create(&[("type", "DELIVER_MESSAGE")])
            .inc();
        m.dials.get_or_create(&[("allow", "true")]).raise_to(2);
        m.unsafe_payloads.inc();
        m.bandwidth.get_or_create(&[("direction", "in")]).set(7);
        m.peer_scores
            .get_or_create(&[("type", "total")])
            .observe(-3.0);
        let mut text = String::new();
        encode_registry(&mut text, &registry).expect("encode");
        for line in [
            "op_node_default_p2p_gossip_events_total{type=\"DELIVER_MESSAGE\"} 1",
            "op_node_default_p2p_dials{allow=\"true\"} 2",
            "op_node_default_unsafe_payloads_total 1",
            "op_node_default_peer_scores_bucket{le=\"-2.0\",type=\"total\"} 1",
            "op_node_default_peer_scores_bucket{le=\"-5.0\",type=\"total\"} 0",
            "# TYPE op_node_default_p2p_bandwidth_bytes_total gauge",
            "# TYPE op_node_default_last_unsafe_payloads_unix gauge",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("_total_total"), "{text}");
        // As client_golang, a labelled family with no child is left out.
        assert!(!text.contains("refs_number"), "{text}");
    }
}
