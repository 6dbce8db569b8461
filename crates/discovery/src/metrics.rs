//! Counters: what discovery found, skipped and dialled, without per-peer labels (the only
//! label is the bounded skip reason). [`register_metrics`] exposes them through the registry the
//! node passes down, read at each scrape.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use crate::{filter::SkipReason, link::Shared};

/// Discovery's counters, shared by the discv5 task and the dial behaviour; readable at any
/// time (the node's status and a future `opp2p_peerStats`).
#[derive(Debug, Default)]
pub struct DiscoveryCounters {
    accepted: AtomicU64,
    skipped: [AtomicU64; SkipReason::ALL.len()],
    dropped: AtomicU64,
    dials: AtomicU64,
    dial_failures: AtomicU64,
    denied: AtomicU64,
    connected: AtomicU64,
    table_loaded: AtomicU64,
    candidates: AtomicU64,
}

impl DiscoveryCounters {
    /// All zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that passed the filter.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Records skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped[reason.index()].load(Ordering::Relaxed)
    }

    /// Records skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        SkipReason::ALL.iter().map(|r| self.skipped(*r)).sum()
    }

    /// Accepted records dropped because the dial behaviour's channel was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Dials the dial loop started.
    pub fn dials(&self) -> u64 {
        self.dials.load(Ordering::Relaxed)
    }

    /// Dials that failed (unreachable, timed out, wrong peer).
    pub fn dial_failures(&self) -> u64 {
        self.dial_failures.load(Ordering::Relaxed)
    }

    /// Dials a gate refused (banned or blocked peers, IPs, subnets).
    pub fn denied(&self) -> u64 {
        self.denied.load(Ordering::Relaxed)
    }

    /// Distinct peers this node connected to by a discovery dial.
    pub fn connected(&self) -> u64 {
        self.connected.load(Ordering::Relaxed)
    }

    /// Records loaded from the persisted table at start.
    pub fn table_loaded(&self) -> u64 {
        self.table_loaded.load(Ordering::Relaxed)
    }

    /// Distinct peers the dial loop holds as candidates now (a gauge).
    pub fn candidates(&self) -> u64 {
        self.candidates.load(Ordering::Relaxed)
    }

    pub(crate) fn set_candidates(&self, n: usize) {
        self.candidates.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_skipped(&self, reason: SkipReason) {
        self.skipped[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_dial(&self) {
        self.dials.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_dial_failure(&self, denied: bool) {
        if denied {
            self.denied.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dial_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_table_loaded(&self, n: usize) {
        self.table_loaded.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Registers discovery's counters into `registry`, read from `shared` at each scrape (op-node
/// has no discovery metrics; the names are this project's):
/// - `p2p_discovery_records_total{result, reason}`: `accepted`/`none`, `dropped`/`channel_full`,
///   `skipped`/the [`SkipReason`];
/// - `p2p_discovery_dials_total{result}`: `started`, `failed`, `denied`, `connected`;
/// - `p2p_discovery_candidates` (gauge), `p2p_discovery_table_loaded_total`.
pub fn register_metrics(registry: &mut Registry, shared: Arc<Shared>) {
    registry.register_collector(Box::new(DiscoveryCollector(shared)));
}

/// Encodes [`DiscoveryCounters`] at scrape time.
struct DiscoveryCollector(Arc<Shared>);

impl fmt::Debug for DiscoveryCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DiscoveryCollector")
    }
}

impl Collector for DiscoveryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let c = self.0.counters();
        {
            let mut family = encoder.encode_descriptor(
                "p2p_discovery_records",
                "Discovered node records by result (accepted, skipped, dropped) and skip reason.",
                None,
                MetricType::Counter,
            )?;
            let mut rows = vec![
                ("accepted", "none", c.accepted()),
                ("dropped", "channel_full", c.dropped()),
            ];
            rows.extend(
                SkipReason::ALL
                    .iter()
                    .map(|r| ("skipped", r.as_str(), c.skipped(*r))),
            );
            for (result, reason, value) in rows {
                let labels = [("result", result), ("reason", reason)];
                ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "p2p_discovery_dials",
                "Dials of the discovery dial loop by result (started, failed, denied, connected).",
                None,
                MetricType::Counter,
            )?;
            for (result, value) in [
                ("started", c.dials()),
                ("failed", c.dial_failures()),
                ("denied", c.denied()),
                ("connected", c.connected()),
            ] {
                ConstCounter::new(value).encode(family.encode_family(&[("result", result)])?)?;
            }
        }
        ConstGauge::new(i64::try_from(c.candidates()).unwrap_or(i64::MAX)).encode(
            encoder.encode_descriptor(
                "p2p_discovery_candidates",
                "Discovered peers the dial loop holds as candidates.",
                None,
                MetricType::Gauge,
            )?,
        )?;
        ConstCounter::new(c.table_loaded()).encode(encoder.encode_descriptor(
            "p2p_discovery_table_loaded",
            "Node records loaded from the persisted discovery table at start.",
            None,
            MetricType::Counter,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode_registry;

    use super::*;

    #[test]
    fn scrape_reads_the_counters() {
        let (sink, _source) = crate::link();
        let shared = sink.shared().clone();
        let mut registry = Registry::with_prefix("op_node_default");
        register_metrics(&mut registry, shared.clone());
        shared.counters().record_accepted();
        shared.counters().record_skipped(SkipReason::OtherChain);
        shared.counters().record_dial();
        shared.counters().set_candidates(4);
        let mut text = String::new();
        encode_registry(&mut text, &registry).expect("encode");
        for line in [
            "op_node_default_p2p_discovery_records_total{result=\"accepted\",reason=\"none\"} 1",
            "op_node_default_p2p_discovery_records_total{result=\"skipped\",reason=\"other_chain\"} 1",
            "op_node_default_p2p_discovery_dials_total{result=\"started\"} 1",
            "op_node_default_p2p_discovery_candidates 4",
            "op_node_default_p2p_discovery_table_loaded_total 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
