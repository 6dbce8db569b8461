//! The score book (op-node `scoreBook`): gossip score snapshots and the request-response
//! application scores, with retention and per-slot decay.

use libp2p_identity::PeerId;
use op_p2p_api::{GossipScores, PeerScores, ReqRespEvent, ReqRespScores};
use rocksdb::WriteBatch;

use crate::{
    error::Error,
    keys::{decode_peer_key, peer_key},
    records::{Record, ScoreRecord},
    schema::Book,
    store::{PeerStore, retained},
};

impl PeerStore {
    /// The scores of `peer`: zeros if it has none, or none updated within the score retention
    /// (op-node reads unknown scores as zeros).
    pub fn peer_scores(&self, peer: &PeerId) -> Result<PeerScores, Error> {
        Ok(self
            .live_scores(&peer_key(peer), self.now())?
            .map(|r| r.scores)
            .unwrap_or_default())
    }

    /// The stored gossip total of `peer` (0.0 if unknown): op-node's `GetPeerScore`, what
    /// banning compares with the threshold.
    pub fn peer_score(&self, peer: &PeerId) -> Result<f64, Error> {
        Ok(self.peer_scores(peer)?.gossip.total)
    }

    /// The application score of `peer`: `0.5·valid − errors − 20·rejected`
    /// ([`ReqRespScores::app_score`]); what the node hands gossipsub as `AppSpecificScore`.
    pub fn app_score(&self, peer: &PeerId) -> Result<f64, Error> {
        Ok(self.peer_scores(peer)?.req_resp.app_score())
    }

    /// Every peer with scores updated within the retention, with its scores.
    pub fn all_peer_scores(&self) -> Result<Vec<(PeerId, PeerScores)>, Error> {
        let now = self.now();
        let retention = self.config().score_retention();
        self.scan(Book::Scores, decode_peer_key, |peer, r: ScoreRecord| {
            retained(r.last_update, retention, now).then_some((peer, r.scores))
        })
    }

    /// Stores the gossip score snapshot of `peer` (op-node's score-inspector `SnapshotHook`,
    /// every 15 s), keeping its application scores.
    pub fn set_gossip_scores(&self, peer: &PeerId, gossip: &GossipScores) -> Result<(), Error> {
        self.update_scores(peer, |scores| scores.gossip = *gossip)
            .map(|_| ())
    }

    /// Counts a request-response outcome for `peer`: the matching counter becomes
    /// `min(x + 1, cap)`. Returns the updated application scores.
    pub fn record_req_resp(
        &self,
        peer: &PeerId,
        event: ReqRespEvent,
    ) -> Result<ReqRespScores, Error> {
        self.update_scores(peer, |scores| scores.req_resp.record(event))
            .map(|s| s.req_resp)
    }

    /// One slot of application-score decay for the connected peers (op-node's `decayScores`,
    /// run every slot): each counter is multiplied by
    /// [`Config::app_score_decay`](crate::Config::app_score_decay) (≈ 0.92612) and zeroed
    /// below 0.01. Peers not listed do not decay, as in op-node.
    ///
    /// As op-node, the write refreshes each record's last update, so a peer's scores are
    /// retained while it stays connected and expire a retention period after it leaves. A
    /// connected peer with no scores stays without a record (op-node would write zeros; both
    /// read back as zeros). All updates are one atomic write.
    pub fn decay_app_scores(&self, connected: &[PeerId]) -> Result<(), Error> {
        let factor = self.config().app_score_decay();
        let cf = self.cf(Book::Scores)?;
        let _guard = self.write_guard();
        let now = self.now();
        let mut batch = WriteBatch::default();
        for peer in connected {
            let key = peer_key(peer);
            if let Some(mut record) = self.live_scores(&key, now)? {
                record.scores.req_resp.decay(factor);
                record.last_update = now;
                batch.put_cf(cf, &key, record.encode());
            }
        }
        self.write_batch(batch)
    }

    /// The score record under `key`, unless it is past the retention.
    fn live_scores(&self, key: &[u8], now: u64) -> Result<Option<ScoreRecord>, Error> {
        let retention = self.config().score_retention();
        Ok(self
            .get::<ScoreRecord>(Book::Scores, key)?
            .filter(|r| retained(r.last_update, retention, now)))
    }

    /// Read-modify-write of one peer's scores under the write lock (op-node `SetScore`): a
    /// record past its retention starts again from zeros, and the write sets its last update.
    fn update_scores(
        &self,
        peer: &PeerId,
        apply: impl FnOnce(&mut PeerScores),
    ) -> Result<PeerScores, Error> {
        let key = peer_key(peer);
        let _guard = self.write_guard();
        let now = self.now();
        let mut record = self.live_scores(&key, now)?.unwrap_or_default();
        apply(&mut record.scores);
        record.last_update = now;
        self.put_record(Book::Scores, &key, &record)?;
        Ok(record.scores)
    }
}
