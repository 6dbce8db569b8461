//! The score book contract: where the application score comes from and where gossip score
//! snapshots go (op-node's `scorer`, `SnapshotHook` and score book, spec §3.2, §5, §6).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

/// Application scores in, gossip score snapshots out.
///
/// The node implements it on its persistent peer store (op-p2p-peerstore, RocksDB); this crate
/// does not depend on the store. [`MemoryScoreBook`] is for tests and embedding,
/// [`NoopScoreBook`] for no scores at all. [`crate::Driver::on_score_tick`] calls it every 15 s.
///
/// Called from the swarm task, so both methods must be quick (an in-memory cache in front of
/// any storage).
pub trait ScoreBook: Send + Sync + 'static {
    /// The peer's application score (op-node: 0.5·valid − 1·errors − 20·rejected req-resp
    /// results, range [−409, 5]). Pushed into gossipsub with weight 1.
    fn app_score(&self, peer: &PeerId) -> f64;

    /// Stores a snapshot of the peer's gossip score (op-node writes `gossip` in the score book
    /// every 15 s; banning acts on [`GossipScores::total`]).
    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores);
}

/// The per-topic part of a gossip score snapshot, op-node's `TopicScores` (JSON names as in the
/// score book).
///
/// rust-libp2p's gossipsub exposes only a peer's total score, not its components, so these stay
/// zero. In op-node they are zero too: it scores no topic.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicScores {
    /// P1: time in mesh.
    pub time_in_mesh: f64,
    /// P2: first message deliveries.
    pub first_message_deliveries: f64,
    /// P3: mesh message deliveries.
    pub mesh_message_deliveries: f64,
    /// P4: invalid message deliveries.
    pub invalid_message_deliveries: f64,
}

/// A gossip score snapshot, op-node's `GossipScores` (JSON names as in the score book).
///
/// Only [`Self::total`] is filled in: rust-libp2p 0.50's gossipsub reports the total and no
/// components. The components are kept so the score book's records stay op-node's shape.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GossipScores {
    /// The gossipsub score: app score, IP colocation and behaviour penalty (and, here, P4).
    pub total: f64,
    /// The blocks topics' components, summed over topics.
    pub blocks: TopicScores,
    /// P6: IP colocation factor.
    #[serde(rename = "IPColocationFactor")]
    pub ip_colocation_factor: f64,
    /// P7: behavioural penalty.
    #[serde(rename = "behavioralPenalty")]
    pub behavioural_penalty: f64,
}

/// A score book with no scores: every application score is 0 and snapshots are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopScoreBook;

impl ScoreBook for NoopScoreBook {
    fn app_score(&self, _peer: &PeerId) -> f64 {
        0.0
    }

    fn record_gossip_scores(&self, _peer: &PeerId, _scores: GossipScores) {}
}

/// A score book in memory: application scores are set by hand, snapshots are kept.
#[derive(Debug, Default)]
pub struct MemoryScoreBook {
    entries: Mutex<HashMap<PeerId, Entry>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    app: f64,
    gossip: Option<GossipScores>,
}

impl MemoryScoreBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the application score of `peer`.
    pub fn set_app_score(&self, peer: PeerId, score: f64) {
        self.lock().entry(peer).or_default().app = score;
    }

    /// The last gossip snapshot stored for `peer`.
    pub fn gossip_scores(&self, peer: &PeerId) -> Option<GossipScores> {
        self.lock().get(peer).and_then(|e| e.gossip)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Entry>> {
        // A panic elsewhere cannot leave a map of plain numbers inconsistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ScoreBook for MemoryScoreBook {
    fn app_score(&self, peer: &PeerId) -> f64 {
        self.lock().get(peer).map_or(0.0, |e| e.app)
    }

    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores) {
        self.lock().entry(*peer).or_default().gossip = Some(scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_op_nodes() {
        let scores = GossipScores {
            total: -2.5,
            ..Default::default()
        };
        let json = serde_json::to_value(scores).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "total": -2.5,
                "blocks": {
                    "timeInMesh": 0.0,
                    "firstMessageDeliveries": 0.0,
                    "meshMessageDeliveries": 0.0,
                    "invalidMessageDeliveries": 0.0
                },
                "IPColocationFactor": 0.0,
                "behavioralPenalty": 0.0
            })
        );
    }

    #[test]
    fn memory_book_round_trips() {
        let book = MemoryScoreBook::new();
        let peer = PeerId::random();
        assert_eq!(book.app_score(&peer), 0.0);
        book.set_app_score(peer, -20.0);
        assert_eq!(book.app_score(&peer), -20.0);
        assert_eq!(book.gossip_scores(&peer), None);
        let scores = GossipScores {
            total: 3.0,
            ..Default::default()
        };
        book.record_gossip_scores(&peer, scores);
        assert_eq!(book.gossip_scores(&peer), Some(scores));
        assert_eq!(NoopScoreBook.app_score(&peer), 0.0);
    }
}
