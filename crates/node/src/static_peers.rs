//! Static peers (spec §8): dialled at start, redialled while disconnected.
//!
//! op-node redials every disconnected static peer once a minute (`monitorStaticPeers`, fixed
//! interval). Here each peer has its own exponential backoff from [`INITIAL_BACKOFF`] to
//! [`MAX_BACKOFF`] (op-node's minute): a peer that restarts is back within a second or two
//! instead of up to a minute, and a peer that stays down is still tried only once a minute.
//! The backoff resets once a connection is established. Time is an argument, so the schedule
//! is tested without sleeping.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;

use crate::config::StaticPeer;

/// The first redial delay after a static peer disconnects or a dial fails.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest redial delay: op-node's static-peer monitor interval.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long op-node keeps a static peer's address in the peer store (7 days).
pub(crate) const STATIC_ADDR_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Debug, Clone)]
struct Entry {
    addr: Multiaddr,
    connected: bool,
    dialing: bool,
    next_dial: Instant,
    backoff: Duration,
}

/// The static peers and their redial schedule.
#[derive(Debug, Clone, Default)]
pub(crate) struct StaticPeers {
    peers: HashMap<PeerId, Entry>,
}

impl StaticPeers {
    /// Static peers, all due for a dial at `now`.
    pub(crate) fn new(peers: &[StaticPeer], now: Instant) -> Self {
        Self {
            peers: peers
                .iter()
                .map(|p| {
                    (
                        p.peer,
                        Entry {
                            addr: p.addr.clone(),
                            connected: false,
                            dialing: false,
                            next_dial: now,
                            backoff: INITIAL_BACKOFF,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The peers to dial now; each is marked as dialling until [`Self::on_connected`] or
    /// [`Self::on_dial_failed`].
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(PeerId, Multiaddr)> {
        self.peers
            .iter_mut()
            .filter(|(_, e)| !e.connected && !e.dialing && e.next_dial <= now)
            .map(|(peer, e)| {
                e.dialing = true;
                (*peer, e.addr.clone())
            })
            .collect()
    }

    /// A connection to `peer` was established.
    pub(crate) fn on_connected(&mut self, peer: &PeerId) {
        if let Some(e) = self.peers.get_mut(peer) {
            e.connected = true;
            e.dialing = false;
            e.backoff = INITIAL_BACKOFF;
        }
    }

    /// `peer`'s last connection closed at `now`.
    pub(crate) fn on_disconnected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(e) = self.peers.get_mut(peer) {
            e.connected = false;
            Self::back_off(e, now);
        }
    }

    /// A dial of `peer` failed (or was refused) at `now`.
    pub(crate) fn on_dial_failed(&mut self, peer: &PeerId, now: Instant) {
        if let Some(e) = self.peers.get_mut(peer)
            && !e.connected
        {
            Self::back_off(e, now);
        }
    }

    fn back_off(e: &mut Entry, now: Instant) {
        e.dialing = false;
        e.next_dial = now + e.backoff;
        e.backoff = (e.backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_at_start_then_backs_off_exponentially_up_to_a_minute() {
        let peer = PeerId::random();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}").parse().unwrap();
        let t0 = Instant::now();
        let mut statics = StaticPeers::new(&[StaticPeer { peer, addr }], t0);
        assert_eq!(statics.due(t0).len(), 1);
        assert!(statics.due(t0).is_empty(), "already dialling");

        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            statics.on_dial_failed(&peer, now);
            let mut wait = Duration::ZERO;
            while statics.due(now + wait).is_empty() {
                wait += Duration::from_millis(500);
            }
            delays.push(wait.as_secs());
            now += wait;
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);

        statics.on_connected(&peer);
        assert!(statics.due(now + MAX_BACKOFF).is_empty(), "connected");
        statics.on_disconnected(&peer, now);
        assert!(statics.due(now).is_empty());
        assert_eq!(statics.due(now + INITIAL_BACKOFF).len(), 1, "backoff reset");
    }
}
