//! [`IpColocation`]: the IP-colocation penalty (P6) as go-libp2p-pubsub computes it, over the
//! peers that speak gossipsub only.
//!
//! rust-libp2p's gossipsub (0.50, `peer_score.rs`) adds a peer's IP in `add_ip` on *every*
//! established connection, whatever protocols the peer speaks; go-libp2p-pubsub, which op-node
//! runs, tracks the IPs of a peer from `AddPeer`, which it calls only once the peer has opened a
//! pubsub stream, and skips loopback addresses ("loopback is used for unit testing") and
//! limited (relayed) connections. With rust-libp2p's count, 20 identities at one IP speaking
//! only `payload_by_number` pushed the honest gossip peers at that IP to about −4,200 (measured,
//! issue 13 §1b). So gossipsub's own P6 is off (weight 0, [`crate::peer_score_params`]) and this
//! tracker computes op-node's: the behaviour feeds it connections and the peers gossipsub
//! identified as speaking gossipsub, and adds `weight · P6` to each peer's application score
//! (gossipsub's P5, weight 1), so the total is op-node's `app + (−35)·P6 + (−16)·P7`.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv6Addr},
};

use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::PeerId;
use libp2p_swarm::ConnectionId;

/// go-libp2p-pubsub's P6 over gossipsub peers.
///
/// Counted per address as go's `getIPs`: an IPv4 address; an IPv6 address and also its /64
/// subnet. Loopback addresses are not counted (unless [`Self::count_loopback`]), and
/// whitelisted ones are tracked but never penalised, as go's `IPColocationFactorWhitelist`.
#[derive(Debug)]
pub struct IpColocation {
    threshold: f64,
    weight: f64,
    whitelist: HashSet<IpAddr>,
    count_loopback: bool,
    /// Every open connection's peer and remote IP (`None`: not an IP address).
    connections: HashMap<ConnectionId, (PeerId, Option<IpAddr>)>,
    /// Connected peers identified as speaking gossipsub.
    gossipsub: HashSet<PeerId>,
    /// The addresses each gossipsub peer is counted at.
    counted_at: HashMap<PeerId, Vec<IpAddr>>,
    /// The gossipsub peers counted at each address.
    peers_at: HashMap<IpAddr, HashSet<PeerId>>,
}

impl IpColocation {
    /// A tracker with op-node's `threshold` (10) and `weight` (−35), exempting `whitelist`.
    pub fn new(threshold: f64, weight: f64, whitelist: impl IntoIterator<Item = IpAddr>) -> Self {
        Self {
            threshold,
            weight,
            whitelist: whitelist.into_iter().collect(),
            count_loopback: false,
            connections: HashMap::new(),
            gossipsub: HashSet::new(),
            counted_at: HashMap::new(),
            peers_at: HashMap::new(),
        }
    }

    /// The same tracker counting loopback addresses too (for tests on 127.0.0.1).
    #[must_use]
    pub const fn count_loopback(mut self, on: bool) -> Self {
        self.count_loopback = on;
        self
    }

    /// A connection to `peer` from (or to) `remote` opened. Returns the peers whose P6 may have
    /// changed.
    pub fn connection_established(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        remote: &Multiaddr,
    ) -> HashSet<PeerId> {
        self.connections.insert(connection, (peer, ip_of(remote)));
        self.recount(peer)
    }

    /// A connection closed. Returns the peers whose P6 may have changed.
    pub fn connection_closed(&mut self, connection: ConnectionId) -> HashSet<PeerId> {
        let Some((peer, _)) = self.connections.remove(&connection) else {
            return HashSet::new();
        };
        if !self.connections.values().any(|(p, _)| *p == peer) {
            // Its last connection: go's `RemovePeer` drops its addresses.
            self.gossipsub.remove(&peer);
        }
        self.recount(peer)
    }

    /// A connection's remote address changed. Returns the peers whose P6 may have changed.
    pub fn address_changed(
        &mut self,
        connection: ConnectionId,
        remote: &Multiaddr,
    ) -> HashSet<PeerId> {
        let Some(entry) = self.connections.get_mut(&connection) else {
            return HashSet::new();
        };
        entry.1 = ip_of(remote);
        let peer = entry.0;
        self.recount(peer)
    }

    /// `peer` was found to speak gossipsub (it negotiated a gossipsub protocol, or subscribed).
    /// Returns the peers whose P6 may have changed (none if it was known, or is not connected).
    pub fn gossipsub_identified(&mut self, peer: PeerId) -> HashSet<PeerId> {
        if !self.is_connected(&peer) || !self.gossipsub.insert(peer) {
            return HashSet::new();
        }
        self.recount(peer)
    }

    /// Whether `peer` is known to speak gossipsub.
    pub fn is_gossipsub(&self, peer: &PeerId) -> bool {
        self.gossipsub.contains(peer)
    }

    /// Whether `peer` has an open connection.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connections.values().any(|(p, _)| p == peer)
    }

    /// The colocation factor of `peer` as go-libp2p-pubsub's score snapshot reports it: the
    /// surplus of gossipsub peers over the threshold, summed over the peer's addresses.
    pub fn factor(&self, peer: &PeerId) -> f64 {
        self.surpluses(peer).sum()
    }

    /// The P6 term of `peer`'s score: `weight · Σ surplus²` (0 or negative).
    pub fn penalty(&self, peer: &PeerId) -> f64 {
        let p6: f64 = self.surpluses(peer).map(|s| s * s).sum();
        if p6 == 0.0 { 0.0 } else { self.weight * p6 }
    }

    fn surpluses(&self, peer: &PeerId) -> impl Iterator<Item = f64> + '_ {
        self.counted_at
            .get(peer)
            .into_iter()
            .flatten()
            .filter(|ip| !self.whitelist.contains(ip))
            .filter_map(|ip| {
                let peers = self.peers_at.get(ip).map_or(0, HashSet::len) as f64;
                (peers > self.threshold).then_some(peers - self.threshold)
            })
    }

    /// Recomputes the addresses `peer` is counted at; returns it and every peer sharing an
    /// address it was or is counted at.
    fn recount(&mut self, peer: PeerId) -> HashSet<PeerId> {
        let new: Vec<IpAddr> = if self.gossipsub.contains(&peer) {
            let mut ips: Vec<IpAddr> = self
                .connections
                .values()
                .filter(|(p, _)| *p == peer)
                .filter_map(|(_, ip)| *ip)
                .filter(|ip| self.count_loopback || !ip.is_loopback())
                .flat_map(counted_addresses)
                .collect();
            ips.sort_unstable();
            ips.dedup();
            ips
        } else {
            Vec::new()
        };
        let old = self.counted_at.remove(&peer).unwrap_or_default();
        let mut affected = HashSet::from([peer]);
        for ip in &old {
            if let Some(peers) = self.peers_at.get_mut(ip) {
                peers.remove(&peer);
                affected.extend(peers.iter().copied());
                if peers.is_empty() {
                    self.peers_at.remove(ip);
                }
            }
        }
        for ip in &new {
            let peers = self.peers_at.entry(*ip).or_default();
            affected.extend(peers.iter().copied());
            peers.insert(peer);
        }
        if !new.is_empty() {
            self.counted_at.insert(peer, new);
        }
        affected
    }
}

/// The IP of a connection's remote address, if it has one.
fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|protocol| match protocol {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

/// What go's `getIPs` counts for one address: an IPv4 address; an IPv6 address and its /64.
fn counted_addresses(ip: IpAddr) -> Vec<IpAddr> {
    match ip {
        IpAddr::V4(_) => vec![ip],
        IpAddr::V6(v6) => {
            let subnet = Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
            vec![ip, IpAddr::V6(subnet)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str) -> Multiaddr {
        format!("/ip4/{ip}/tcp/1").parse().unwrap()
    }

    /// `n` peers connected from `ip`, each on its own connection; `gossip` of them speak
    /// gossipsub.
    fn peers(c: &mut IpColocation, ip: &str, n: usize, gossip: usize) -> Vec<PeerId> {
        (0..n)
            .map(|i| {
                let peer = PeerId::random();
                c.connection_established(peer, ConnectionId::new_unchecked(rand_id()), &addr(ip));
                if i < gossip {
                    c.gossipsub_identified(peer);
                }
                peer
            })
            .collect()
    }

    fn rand_id() -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn only_gossipsub_peers_count() {
        let mut c = IpColocation::new(10.0, -35.0, []);
        let all = peers(&mut c, "10.0.0.1", 23, 3);
        // 20 peers that never speak gossipsub: the 3 that do are alone at the address.
        for peer in &all {
            assert_eq!(c.penalty(peer), 0.0);
        }
        // 12 gossipsub peers at one address: surplus 2, P6 4, penalty −140, for each of them.
        let crowd = peers(&mut c, "10.0.0.2", 12, 12);
        assert_eq!(c.factor(&crowd[0]), 2.0);
        assert_eq!(c.penalty(&crowd[0]), -140.0);
        // One of them leaves: 11, surplus 1.
        let closing = c
            .connections
            .iter()
            .find(|(_, (p, _))| *p == crowd[0])
            .map(|(id, _)| *id)
            .unwrap();
        let affected = c.connection_closed(closing);
        assert!(affected.contains(&crowd[1]) && affected.len() == 12);
        assert_eq!(c.penalty(&crowd[0]), 0.0);
        assert_eq!(c.penalty(&crowd[1]), -35.0);
    }

    #[test]
    fn loopback_is_skipped_unless_asked_and_the_whitelist_exempts() {
        let mut c = IpColocation::new(10.0, -35.0, []);
        let local = peers(&mut c, "127.0.0.1", 15, 15);
        assert_eq!(c.penalty(&local[0]), 0.0);
        let mut c = IpColocation::new(10.0, -35.0, []).count_loopback(true);
        let local = peers(&mut c, "127.0.0.1", 15, 15);
        assert_eq!(c.penalty(&local[0]), -35.0 * 25.0);
        let nat: IpAddr = "10.0.0.9".parse().unwrap();
        let mut c = IpColocation::new(10.0, -35.0, [nat]);
        let behind = peers(&mut c, "10.0.0.9", 15, 15);
        assert_eq!(c.penalty(&behind[0]), 0.0);
    }

    #[test]
    fn ipv6_counts_the_address_and_its_64() {
        let mut c = IpColocation::new(1.0, -35.0, []);
        let a = PeerId::random();
        let b = PeerId::random();
        let ip6 = |s: &str| -> Multiaddr { format!("/ip6/{s}/tcp/1").parse().unwrap() };
        c.connection_established(a, ConnectionId::new_unchecked(1), &ip6("2001:db8::1"));
        c.connection_established(b, ConnectionId::new_unchecked(2), &ip6("2001:db8::2"));
        c.gossipsub_identified(a);
        c.gossipsub_identified(b);
        // Different addresses, same /64: 2 peers there, surplus 1 over a threshold of 1.
        assert_eq!(c.factor(&a), 1.0);
        assert_eq!(c.penalty(&b), -35.0);
    }

    #[test]
    fn unknown_or_disconnected_peers_are_not_counted() {
        let mut c = IpColocation::new(0.0, -35.0, []);
        let stranger = PeerId::random();
        assert!(c.gossipsub_identified(stranger).is_empty());
        assert!(!c.is_gossipsub(&stranger));
        let p = peers(&mut c, "10.0.0.3", 1, 1)[0];
        assert_eq!(c.penalty(&p), -35.0);
        assert!(
            c.connection_closed(ConnectionId::new_unchecked(usize::MAX))
                .is_empty()
        );
    }
}
