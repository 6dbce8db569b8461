//! The peer monitor on real connections: it bans a connected peer whose score in the book is
//! below the threshold and disconnects it, and spares a protected one.

use std::sync::{Arc, Mutex};

use futures::{StreamExt, channel::mpsc};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::SwarmEvent;
use op_p2p_api::{Clock, GossipScores, MemoryScoreBook, ReqRespEvent, ScoreBook};
use op_p2p_gating::{Config, DEFAULT_BAN_DURATION, DenyReason};

use crate::common::{
    Inbound, listen, manual_gate, next_inbound, spawn_dialer, stored_peer_ban, tcp_swarm, timeout,
};

/// A [`MemoryScoreBook`] that reports every score read to the test, so the test knows when the
/// monitor has looked at a peer.
#[derive(Debug)]
struct ObservedBook {
    inner: MemoryScoreBook,
    reads: Mutex<mpsc::Sender<PeerId>>,
}

impl ScoreBook for ObservedBook {
    fn app_score(&self, peer: &PeerId) -> f64 {
        self.inner.app_score(peer)
    }

    fn peer_score(&self, peer: &PeerId) -> f64 {
        // Bounded: the test consumes every read before it advances the clock again.
        let _ = self.reads.lock().unwrap().try_send(*peer);
        self.inner.peer_score(peer)
    }

    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores) {
        self.inner.record_gossip_scores(peer, scores);
    }

    fn record_req_resp(&self, peer: &PeerId, event: ReqRespEvent) {
        self.inner.record_req_resp(peer, event);
    }

    fn decay_app_scores(&self, connected: &[PeerId]) {
        self.inner.decay_app_scores(connected);
    }
}

fn total(total: f64) -> GossipScores {
    GossipScores {
        total,
        ..GossipScores::default()
    }
}

#[tokio::test]
async fn monitor_bans_low_scored_peer_and_spares_protected_one() {
    timeout(async {
        let (reads_tx, mut reads) = mpsc::channel(16);
        let book = Arc::new(ObservedBook {
            inner: MemoryScoreBook::new(),
            reads: Mutex::new(reads_tx),
        });
        let (gate, store, clock) = manual_gate(Config::default());
        let gate = gate.with_score_book(book.clone(), std::time::Duration::from_secs(2));
        let mut node = tcp_swarm(|_| gate);
        let addr = listen(&mut node).await;

        let low_key = Keypair::generate_secp256k1();
        let low = spawn_dialer(&low_key, &addr);
        assert_eq!(next_inbound(&mut node).await, Inbound::Established(low));
        let protected = spawn_dialer(&Keypair::generate_secp256k1(), &addr);
        assert_eq!(
            next_inbound(&mut node).await,
            Inbound::Established(protected)
        );
        node.behaviour_mut().protect(protected);
        book.record_gossip_scores(&low, total(-150.0));
        book.record_gossip_scores(&protected, total(-500.0));

        // One second of the manual clock per check; drive the node until the monitor has read
        // both peers (one round), noting when it read the low one.
        let mut low_read_at = None;
        let mut protected_read = false;
        let mut low_closed = false;
        while low_read_at.is_none() || !protected_read {
            clock.advance_secs(1);
            let read = loop {
                tokio::select! {
                    event = node.select_next_some() => {
                        if let SwarmEvent::ConnectionClosed { peer_id, .. } = event {
                            assert_eq!(peer_id, low, "only the low peer is disconnected");
                            low_closed = true;
                        }
                    }
                    read = reads.next() => break read.unwrap(),
                }
            };
            if read == low {
                low_read_at = Some(clock.unix_time());
            } else {
                assert_eq!(read, protected);
                protected_read = true;
            }
        }
        while !low_closed {
            if let SwarmEvent::ConnectionClosed { peer_id, .. } = node.select_next_some().await {
                assert_eq!(peer_id, low, "only the low peer is disconnected");
                low_closed = true;
            }
        }

        let until = low_read_at.unwrap() + DEFAULT_BAN_DURATION.as_secs();
        assert_eq!(node.behaviour().list_peer_bans(), vec![(low, until)]);
        assert_eq!(stored_peer_ban(&store, &low), Some(until));
        assert!(!node.is_connected(&low));
        assert!(node.is_connected(&protected));
        assert!(!node.behaviour().is_peer_banned(&protected));
        assert_eq!(stored_peer_ban(&store, &protected), None);

        // The banned peer cannot come back.
        spawn_dialer(&low_key, &addr);
        assert_eq!(
            next_inbound(&mut node).await,
            Inbound::Denied(Some(low), DenyReason::PeerBanned { peer: low, until })
        );
    })
    .await;
}
