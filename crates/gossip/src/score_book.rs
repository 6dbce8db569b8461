//! The score book contract: where the application score comes from and where gossip score
//! snapshots go (op-node's `scorer`, `SnapshotHook` and score book, spec §3.2, §5, §6).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use libp2p_identity::PeerId;
use op_p2p_peerstore::{GossipScores, PeerStore};
use tracing::warn;

/// Application scores in, gossip score snapshots out.
///
/// [`PeerStore`] implements it on RocksDB (the node's score book, which survives restarts);
/// [`MemoryScoreBook`] is for tests and embedding, [`NoopScoreBook`] for no scores at all. [`crate::Driver::on_score_tick`] calls it every 15 s.
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

/// The persistent score book: application scores from the request-response counters, gossip
/// snapshots written back so banning and restarts see them. A store error cannot be returned to
/// gossipsub's scoring, so it is logged and the peer scored neutrally (0) for this round.
impl ScoreBook for PeerStore {
    fn app_score(&self, peer: &PeerId) -> f64 {
        Self::app_score(self, peer).unwrap_or_else(|error| {
            warn!(target: "op_p2p::gossip", %peer, %error, "reading the application score");
            0.0
        })
    }

    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores) {
        if let Err(error) = self.set_gossip_scores(peer, &scores) {
            warn!(target: "op_p2p::gossip", %peer, %error, "storing the gossip score snapshot");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use op_p2p_peerstore::{Config, ManualClock, ReqRespEvent};

    use super::*;

    #[test]
    fn peer_store_supplies_app_scores_and_keeps_snapshots() {
        let store = PeerStore::open_in_memory(Config::default(), Arc::new(ManualClock::new(1_000)))
            .unwrap();
        let peer = PeerId::random();
        assert_eq!(ScoreBook::app_score(&store, &peer), 0.0);
        store
            .record_req_resp(&peer, ReqRespEvent::RejectedPayload)
            .unwrap();
        assert_eq!(ScoreBook::app_score(&store, &peer), -20.0);
        store.record_gossip_scores(
            &peer,
            GossipScores {
                total: -7.5,
                ..Default::default()
            },
        );
        assert_eq!(store.peer_score(&peer).unwrap(), -7.5);
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
