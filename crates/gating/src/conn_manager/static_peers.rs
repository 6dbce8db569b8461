//! The static peers' redial schedule (spec §8): dialled at once, redialled while disconnected
//! with a per-peer exponential backoff. Time is an argument, so the schedule is tested without
//! sleeping; [`Behaviour`](super::Behaviour) runs it on `Instant::now()`.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use libp2p_swarm::ConnectionId;

/// The first redial delay after a static peer disconnects or a dial of it fails.
pub const STATIC_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest redial delay: op-node's static-peer monitor interval (1 min).
pub const STATIC_MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Entry {
    addr: Multiaddr,
    connected: bool,
    /// Our dial in flight, by the connection id the swarm reports its failure with.
    dialing: Option<ConnectionId>,
    next_dial: Instant,
    backoff: Duration,
}

/// The static peers and their redial schedule.
#[derive(Debug, Clone, Default)]
pub(super) struct StaticPeers {
    peers: HashMap<PeerId, Entry>,
}

impl StaticPeers {
    /// Adds `peer` at `addr`, due for a dial at `now` unless `connected`. A peer added again
    /// keeps its schedule and takes the new address.
    pub(super) fn add(&mut self, peer: PeerId, addr: Multiaddr, connected: bool, now: Instant) {
        self.peers
            .entry(peer)
            .and_modify(|e| e.addr = addr.clone())
            .or_insert(Entry {
                addr,
                connected,
                dialing: None,
                next_dial: now,
                backoff: STATIC_INITIAL_BACKOFF,
            });
    }

    /// Whether `peer` is a static peer.
    pub(super) fn contains(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }

    /// The peers to dial now and their addresses; the caller dials each and reports the dial's
    /// connection id with [`Self::dialing`].
    pub(super) fn due(&self, now: Instant) -> Vec<(PeerId, Multiaddr)> {
        self.peers
            .iter()
            .filter(|(_, e)| !e.connected && e.dialing.is_none() && e.next_dial <= now)
            .map(|(peer, e)| (*peer, e.addr.clone()))
            .collect()
    }

    /// Marks `peer` as being dialled by `connection` until [`Self::on_connected`] or
    /// [`Self::on_dial_failed`].
    pub(super) fn dialing(&mut self, peer: &PeerId, connection: ConnectionId) {
        if let Some(e) = self.peers.get_mut(peer) {
            e.dialing = Some(connection);
        }
    }

    /// When the next peer that waits for its backoff is due, if any.
    pub(super) fn next_dial(&self) -> Option<Instant> {
        self.peers
            .values()
            .filter(|e| !e.connected && e.dialing.is_none())
            .map(|e| e.next_dial)
            .min()
    }

    /// A connection to `peer` was established (ours or any other).
    pub(super) fn on_connected(&mut self, peer: &PeerId) {
        if let Some(e) = self.peers.get_mut(peer) {
            e.connected = true;
            e.dialing = None;
            e.backoff = STATIC_INITIAL_BACKOFF;
        }
    }

    /// `peer`'s last connection closed at `now`.
    pub(super) fn on_disconnected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(e) = self.peers.get_mut(peer) {
            e.connected = false;
            Self::back_off(e, now);
        }
    }

    /// The dial `connection` of `peer` failed (or was refused) at `now`. Failures of dials that
    /// are not ours are ignored.
    pub(super) fn on_dial_failed(&mut self, peer: &PeerId, connection: ConnectionId, now: Instant) {
        if let Some(e) = self.peers.get_mut(peer)
            && e.dialing == Some(connection)
            && !e.connected
        {
            Self::back_off(e, now);
        }
    }

    fn back_off(e: &mut Entry, now: Instant) {
        e.dialing = None;
        e.next_dial = now + e.backoff;
        e.backoff = (e.backoff * 2).min(STATIC_MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes the due peers and marks each as dialled by a fresh connection id.
    fn dial_due(statics: &mut StaticPeers, now: Instant, next_id: &mut usize) -> Vec<ConnectionId> {
        let mut ids = Vec::new();
        for (peer, _) in statics.due(now) {
            let id = ConnectionId::new_unchecked(*next_id);
            *next_id += 1;
            statics.dialing(&peer, id);
            ids.push(id);
        }
        ids
    }

    #[test]
    fn dials_at_start_then_backs_off_exponentially_up_to_a_minute() {
        let peer = PeerId::random();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}").parse().unwrap();
        let t0 = Instant::now();
        let mut statics = StaticPeers::default();
        statics.add(peer, addr.clone(), false, t0);
        assert_eq!(statics.due(t0), vec![(peer, addr)]);
        let mut next_id = 0;
        let mut dial = dial_due(&mut statics, t0, &mut next_id)[0];
        assert!(statics.due(t0).is_empty(), "already dialling");
        assert_eq!(statics.next_dial(), None, "nothing waits while dialling");

        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            statics.on_dial_failed(&peer, dial, now);
            let mut wait = Duration::ZERO;
            while statics.due(now + wait).is_empty() {
                wait += Duration::from_millis(500);
            }
            assert_eq!(statics.next_dial(), Some(now + wait));
            delays.push(wait.as_secs());
            now += wait;
            dial = dial_due(&mut statics, now, &mut next_id)[0];
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);

        statics.on_connected(&peer);
        assert!(
            statics.due(now + STATIC_MAX_BACKOFF).is_empty(),
            "connected"
        );
        statics.on_disconnected(&peer, now);
        assert!(statics.due(now).is_empty());
        assert_eq!(
            statics.due(now + STATIC_INITIAL_BACKOFF).len(),
            1,
            "backoff reset"
        );
    }

    #[test]
    fn failures_of_other_dials_do_not_back_off() {
        let peer = PeerId::random();
        let t0 = Instant::now();
        let mut statics = StaticPeers::default();
        statics.add(peer, "/ip4/127.0.0.1/tcp/1".parse().unwrap(), false, t0);
        let mut next_id = 0;
        let ours = dial_due(&mut statics, t0, &mut next_id)[0];
        // Another behaviour's dial of the same peer failing leaves ours in flight.
        statics.on_dial_failed(&peer, ConnectionId::new_unchecked(99), t0);
        assert!(statics.due(t0 + STATIC_MAX_BACKOFF).is_empty());
        // Connected by another route: our dial's later failure changes nothing.
        statics.on_connected(&peer);
        statics.on_dial_failed(&peer, ours, t0);
        assert!(statics.due(t0 + STATIC_MAX_BACKOFF).is_empty());

        // A peer connected when added is not dialled.
        let other = PeerId::random();
        statics.add(other, "/ip4/127.0.0.1/tcp/2".parse().unwrap(), true, t0);
        assert!(statics.due(t0).is_empty());
        assert!(statics.contains(&other));
    }
}
