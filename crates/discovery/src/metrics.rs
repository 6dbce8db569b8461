//! Counters: what discovery found, skipped and dialled, without a metrics library and without
//! per-peer labels (the only label is the bounded skip reason).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::filter::SkipReason;

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
