//! [`Sampler`]: the metrics read from state rather than from events, sampled on the swarm task
//! (which owns the swarm) once a second: connections, the gate's counters, the validation
//! queue; every 10 s bandwidth and the database size (op-node samples
//! bandwidth every 10 s); every 15 s the scores of the connected peers (op-node's
//! `peerScoreInspectFrequency`). Each step is a handful of atomic loads, except the score
//! histogram (one pass over the connected peers) and the database size (a stat of its files).

use std::{collections::HashSet, path::PathBuf, time::Duration};

use libp2p_swarm::Swarm;
use op_p2p_api::PeerScores;
use op_p2p_peerstore::Books;

use super::{NodeMetrics, transport::Meter};
use crate::behaviour::NodeBehaviour;

/// How often [`Sampler::sample`] runs.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Samples between two bandwidth and database-size readings (10 s).
const SLOW_EVERY: u64 = 10;
/// Samples between two score histograms (15 s).
const SCORES_EVERY: u64 = 15;

/// The sampler's sources.
pub(crate) struct Sampler {
    metrics: NodeMetrics,
    meter: Meter,
    books: Books,
    store_path: Option<PathBuf>,
    ticks: u64,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("ticks", &self.ticks)
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// A sampler over these sources; `store_path` is the database directory (`None` in
    /// memory).
    pub(crate) fn new(
        metrics: NodeMetrics,
        meter: Meter,
        books: Books,
        store_path: Option<PathBuf>,
    ) -> Self {
        Self {
            metrics,
            meter,
            books,
            store_path,
            ticks: 0,
        }
    }

    /// One sample; called every [`SAMPLE_INTERVAL`] by the swarm task.
    pub(crate) fn sample(&mut self, swarm: &Swarm<NodeBehaviour>) {
        let m = &self.metrics;
        // op-node counts connections (its notifiee fires per connection), not peers.
        let connections = swarm.network_info().connection_counters().num_established();
        m.peer_count.set(i64::from(connections));

        let behaviour = swarm.behaviour();
        let gate = behaviour.gating.metrics();
        m.dials
            .get_or_create(&[("allow", "true")])
            .raise_to(gate.dials_allowed);
        m.dials
            .get_or_create(&[("allow", "false")])
            .raise_to(gate.dials_denied);
        m.accepts
            .get_or_create(&[("allow", "true")])
            .raise_to(gate.accepts_allowed);
        m.accepts
            .get_or_create(&[("allow", "false")])
            .raise_to(gate.accepts_denied);
        m.peer_unbans.raise_to(gate.peer_unbans);
        m.ip_unbans.raise_to(gate.ip_unbans);
        m.validation_pending
            .set(i64::try_from(behaviour.gossip.pending()).unwrap_or(i64::MAX));

        if self.ticks.is_multiple_of(SLOW_EVERY) {
            let (bytes_in, bytes_out) = self.meter.totals();
            m.bandwidth
                .get_or_create(&[("direction", "in")])
                .set(i64::try_from(bytes_in).unwrap_or(i64::MAX));
            m.bandwidth
                .get_or_create(&[("direction", "out")])
                .set(i64::try_from(bytes_out).unwrap_or(i64::MAX));
            if let Some(path) = &self.store_path {
                m.store_size
                    .set(i64::try_from(dir_size(path)).unwrap_or(i64::MAX));
            }
        }
        if self.ticks % SCORES_EVERY == SCORES_EVERY - 1 {
            let connected: HashSet<_> = swarm.connected_peers().collect();
            for (peer, scores) in self.books.peer_scores() {
                if connected.contains(&peer) {
                    self.observe_scores(&scores);
                }
            }
        }
        self.ticks += 1;
    }

    /// op-node's `SetPeerScores`: each of the ten components of one connected peer.
    fn observe_scores(&self, s: &PeerScores) {
        let blocks = &s.gossip.blocks;
        let components = [
            ("total", s.gossip.total),
            ("ipColocation", s.gossip.ip_colocation_factor),
            ("behavioralPenalty", s.gossip.behavioural_penalty),
            ("blocksFirstMessage", blocks.first_message_deliveries),
            ("blocksTimeInMesh", blocks.time_in_mesh),
            ("blocksMessageDeliveries", blocks.mesh_message_deliveries),
            (
                "blocksInvalidMessageDeliveries",
                blocks.invalid_message_deliveries,
            ),
            ("reqRespValidResponses", s.req_resp.valid_responses),
            ("reqRespErrorResponses", s.req_resp.error_responses),
            ("reqRespRejectedPayloads", s.req_resp.rejected_payloads),
        ];
        for (kind, value) in components {
            self.metrics
                .peer_scores
                .get_or_create(&[("type", kind)])
                .observe(value);
        }
    }
}

/// The bytes of the files under `path` (RocksDB keeps one flat directory, plus nothing deeper
/// than one level in practice; subdirectories are summed too). Unreadable entries count 0.
fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}
