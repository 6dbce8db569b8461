//! The score book contract: where the application score comes from and where gossip score
//! snapshots and request-response outcomes go (op-node's `scorer`, `SnapshotHook` and score
//! book, spec §3.2, §5, §6).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use libp2p_identity::PeerId;

use crate::scores::{GossipScores, PeerScores, ReqRespEvent};

/// Peer scores as the protocol behaviours read and report them.
///
/// - gossip pushes [`app_score`](Self::app_score) into gossipsub and stores
///   [`record_gossip_scores`](Self::record_gossip_scores) every 15 s;
/// - sync reports each exchange's outcome with [`record_req_resp`](Self::record_req_resp);
/// - gating's peer monitor bans on [`peer_score`](Self::peer_score), decays the application
///   scores of connected peers once a slot ([`decay_app_scores`](Self::decay_app_scores)), and
///   the connection manager trims the lowest scores first.
///
/// # On the swarm task
/// Every method is called from a behaviour, on the task that drives the swarm, so none may
/// wait: reads come from memory, and writes are queued and applied elsewhere (the RocksDB book in
/// `op-p2p-peerstore` keeps the scores in memory and writes them back on its own thread). A
/// write that cannot be queued is dropped and logged: a score is advice, and the next event or
/// snapshot restores it.
pub trait ScoreBook: Send + Sync + 'static {
    /// The peer's application score (op-node: 0.5·valid − 1·errors − 20·rejected req-resp
    /// results, range [−409, 5]). Pushed into gossipsub with weight 1.
    fn app_score(&self, peer: &PeerId) -> f64;

    /// The peer's last stored gossip score total, 0 for a peer without a snapshot: what
    /// op-node's peer monitor bans on.
    fn peer_score(&self, peer: &PeerId) -> f64;

    /// Stores a snapshot of the peer's gossip score.
    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores);

    /// Counts one request-response outcome in the peer's application score.
    fn record_req_resp(&self, peer: &PeerId, event: ReqRespEvent);

    /// One slot of op-node's application-score decay for the `connected` peers.
    fn decay_app_scores(&self, connected: &[PeerId]);
}

/// A score book with no scores: every score is 0 and every record is dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopScoreBook;

impl ScoreBook for NoopScoreBook {
    fn app_score(&self, _peer: &PeerId) -> f64 {
        0.0
    }

    fn peer_score(&self, _peer: &PeerId) -> f64 {
        0.0
    }

    fn record_gossip_scores(&self, _peer: &PeerId, _scores: GossipScores) {}

    fn record_req_resp(&self, _peer: &PeerId, _event: ReqRespEvent) {}

    fn decay_app_scores(&self, _connected: &[PeerId]) {}
}

/// A score book in memory, with op-node's caps and decay: for tests and for embedders that keep
/// no scores across restarts. Application scores can also be set by hand.
#[derive(Debug)]
pub struct MemoryScoreBook {
    decay: f64,
    entries: Mutex<HashMap<PeerId, Entry>>,
    app_overrides: Mutex<HashMap<PeerId, f64>>,
}

impl Default for MemoryScoreBook {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryScoreBook {
    /// An empty book decaying application scores by op-node's per-slot factor (ten epochs of
    /// six slots to 1 %, ≈ 0.926119 whatever the slot length; [`crate::score_decay`]).
    pub fn new() -> Self {
        let slot = std::time::Duration::from_secs(1);
        let ten_epochs =
            slot * crate::scores::SLOTS_PER_EPOCH * crate::scores::APP_SCORE_DECAY_EPOCHS;
        Self::with_decay(crate::scores::score_decay(ten_epochs, slot))
    }

    /// An empty book decaying application scores by `factor` per slot.
    pub fn with_decay(factor: f64) -> Self {
        Self {
            decay: factor,
            entries: Mutex::default(),
            app_overrides: Mutex::default(),
        }
    }

    /// Sets the application score of `peer` by hand; it then ignores recorded outcomes.
    pub fn set_app_score(&self, peer: PeerId, score: f64) {
        lock(&self.app_overrides).insert(peer, score);
    }

    /// The last gossip snapshot stored for `peer`.
    pub fn gossip_scores(&self, peer: &PeerId) -> Option<GossipScores> {
        lock(&self.entries).get(peer).and_then(|e| e.gossip)
    }

    /// Whether no peer has a score entry.
    pub fn is_empty(&self) -> bool {
        lock(&self.entries).is_empty()
    }

    /// Everything the book holds for `peer` (zeros when nothing).
    pub fn peer_scores(&self, peer: &PeerId) -> PeerScores {
        lock(&self.entries)
            .get(peer)
            .map(|e| PeerScores {
                gossip: e.gossip.unwrap_or_default(),
                req_resp: e.req_resp,
            })
            .unwrap_or_default()
    }
}

/// One peer's scores; `gossip` is `None` until a snapshot is recorded (a recorded snapshot of
/// zeros is still one).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    req_resp: crate::scores::ReqRespScores,
    gossip: Option<GossipScores>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a map of plain numbers inconsistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScoreBook for MemoryScoreBook {
    fn app_score(&self, peer: &PeerId) -> f64 {
        if let Some(score) = lock(&self.app_overrides).get(peer) {
            return *score;
        }
        lock(&self.entries)
            .get(peer)
            .map_or(0.0, |e| e.req_resp.app_score())
    }

    fn peer_score(&self, peer: &PeerId) -> f64 {
        lock(&self.entries)
            .get(peer)
            .and_then(|e| e.gossip)
            .map_or(0.0, |g| g.total)
    }

    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores) {
        lock(&self.entries).entry(*peer).or_default().gossip = Some(scores);
    }

    fn record_req_resp(&self, peer: &PeerId, event: ReqRespEvent) {
        lock(&self.entries)
            .entry(*peer)
            .or_default()
            .req_resp
            .record(event);
    }

    fn decay_app_scores(&self, connected: &[PeerId]) {
        let mut entries = lock(&self.entries);
        for peer in connected {
            if let Some(entry) = entries.get_mut(peer) {
                entry.req_resp.decay(self.decay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_book_counts_caps_and_decays() {
        let book = MemoryScoreBook::new();
        let peer = PeerId::random();
        assert_eq!(book.app_score(&peer), 0.0);
        book.record_req_resp(&peer, ReqRespEvent::RejectedPayload);
        assert_eq!(book.app_score(&peer), -20.0);
        book.decay_app_scores(&[peer]);
        let decayed = book.app_score(&peer);
        assert!(decayed > -20.0 && decayed < -18.0, "{decayed}");
        assert_eq!(book.gossip_scores(&peer), None);
        let scores = GossipScores {
            total: 3.0,
            ..Default::default()
        };
        book.record_gossip_scores(&peer, scores);
        assert_eq!(book.gossip_scores(&peer), Some(scores));
        // A snapshot of zeros is a snapshot too.
        let other = PeerId::random();
        book.record_gossip_scores(&other, GossipScores::default());
        assert_eq!(book.gossip_scores(&other), Some(GossipScores::default()));
        assert_eq!(book.peer_score(&peer), 3.0);
        book.set_app_score(peer, 4.0);
        assert_eq!(book.app_score(&peer), 4.0);
        assert_eq!(NoopScoreBook.app_score(&peer), 0.0);
    }
}
