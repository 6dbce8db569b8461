//! [`UnsuffixedCounter`]: a counter exposed under its exact name, without `_total`.
//!
//! op-node exposes four counters whose names do not end in `_total` (`p2p_dials`,
//! `p2p_accepts`, `p2p_peer_unbans`, `p2p_ip_unbans`); client_golang writes the name as given.
//! prometheus-client's `Counter` always appends `_total` to the sample, so dashboards written
//! for op-node would find nothing. This wrapper encodes its value the way a gauge is encoded
//! (no suffix) while declaring the counter type, which is the smallest way to reproduce
//! op-node's sample names with prometheus-client (no encoder option for it exists).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder},
    metrics::{MetricType, TypedMetric},
};

/// A monotonic counter written as `name value` (no `_total`), typed `counter`.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnsuffixedCounter(Arc<AtomicU64>);

impl UnsuffixedCounter {
    /// Adds one.
    #[cfg(test)]
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Raises the counter to `total` when a source keeps its own cumulative count (the gate's
    /// snapshot); never lowers it, so the counter stays monotonic.
    pub(crate) fn raise_to(&self, total: u64) {
        self.0.fetch_max(total, Ordering::Relaxed);
    }

    /// The current value.
    #[cfg(test)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl TypedMetric for UnsuffixedCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for UnsuffixedCounter {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // A gauge sample carries no suffix; the TYPE line still says counter.
        encoder.encode_gauge(&self.0.load(Ordering::Relaxed))
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::{encoding::text::encode_registry, registry::Registry};

    use super::*;

    #[test]
    fn exposed_without_total_and_typed_counter() {
        let mut registry = Registry::with_prefix("op_node_default");
        let counter = UnsuffixedCounter::default();
        registry.register("p2p_peer_unbans", "Count of peer unbans", counter.clone());
        counter.inc();
        counter.raise_to(5);
        counter.raise_to(3);
        assert_eq!(counter.get(), 5);
        let mut text = String::new();
        encode_registry(&mut text, &registry).expect("encode");
        assert!(
            text.contains("# TYPE op_node_default_p2p_peer_unbans counter\n"),
            "{text}"
        );
        assert!(
            text.contains("\nop_node_default_p2p_peer_unbans 5\n"),
            "{text}"
        );
    }
}
