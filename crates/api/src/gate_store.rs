//! The gate store contract: where connection gating's block lists and timed bans persist
//! (go-libp2p conngater's datastore and op-node's ban books, spec §6, §7).

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{Mutex, PoisonError},
};

use ipnet::IpNet;
use libp2p_identity::PeerId;

use crate::error::Error;

/// Everything gating loads at start: permanent block lists and timed bans (unix seconds at
/// which each lifts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateRules {
    /// Blocked peers.
    pub blocked_peers: Vec<PeerId>,
    /// Blocked IP addresses.
    pub blocked_ips: Vec<IpAddr>,
    /// Blocked subnets.
    pub blocked_subnets: Vec<IpNet>,
    /// Timed peer bans and their expiry.
    pub peer_bans: Vec<(PeerId, u64)>,
    /// Timed IP bans and their expiry.
    pub ip_bans: Vec<(IpAddr, u64)>,
}

/// Persistence for gating's rules.
///
/// Gating holds every rule in memory and decides connections from there; this trait is read once
/// ([`load`](Self::load)) and written when a rule changes. Those writes are rare (an operator's
/// block, a ban for a low score, an expired ban lifted) and each must be stored when the call
/// returns, so the caller's "banned" survives a crash a moment later. They are made on the swarm
/// task: an implementation must finish promptly without waiting on the network or on an fsync
/// per write (the RocksDB store's write into its write-ahead log takes ~1.5 µs).
pub trait GateStore: Send + Sync + 'static {
    /// Every stored rule.
    fn load(&self) -> Result<GateRules, Error>;

    /// Bans `peer` until `expiry` (unix seconds), or lifts its ban (`None`).
    fn set_peer_ban(&self, peer: &PeerId, expiry: Option<u64>) -> Result<(), Error>;

    /// Bans `ip` until `expiry`, or lifts its ban (`None`).
    fn set_ip_ban(&self, ip: IpAddr, expiry: Option<u64>) -> Result<(), Error>;

    /// Adds `peer` to the block list, or removes it.
    fn set_peer_blocked(&self, peer: &PeerId, blocked: bool) -> Result<(), Error>;

    /// Adds `ip` to the block list, or removes it.
    fn set_ip_blocked(&self, ip: IpAddr, blocked: bool) -> Result<(), Error>;

    /// Adds `subnet` to the block list, or removes it.
    fn set_subnet_blocked(&self, subnet: IpNet, blocked: bool) -> Result<(), Error>;
}

/// Gating rules in memory: for tests and embedders whose bans need not survive a restart.
#[derive(Debug, Default)]
pub struct MemoryGateStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    blocked_peers: HashSet<PeerId>,
    blocked_ips: HashSet<IpAddr>,
    blocked_subnets: HashSet<IpNet>,
    peer_bans: HashMap<PeerId, u64>,
    ip_bans: HashMap<IpAddr, u64>,
}

impl MemoryGateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update is one insert or remove: consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn set<K: std::hash::Hash + Eq>(set: &mut HashSet<K>, key: K, present: bool) {
    if present {
        set.insert(key);
    } else {
        set.remove(&key);
    }
}

fn set_expiry<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K, expiry: Option<u64>) {
    match expiry {
        Some(expiry) => {
            map.insert(key, expiry);
        }
        None => {
            map.remove(&key);
        }
    }
}

impl GateStore for MemoryGateStore {
    fn load(&self) -> Result<GateRules, Error> {
        let state = self.state();
        Ok(GateRules {
            blocked_peers: state.blocked_peers.iter().copied().collect(),
            blocked_ips: state.blocked_ips.iter().copied().collect(),
            blocked_subnets: state.blocked_subnets.iter().copied().collect(),
            peer_bans: state.peer_bans.iter().map(|(p, e)| (*p, *e)).collect(),
            ip_bans: state.ip_bans.iter().map(|(i, e)| (*i, *e)).collect(),
        })
    }

    fn set_peer_ban(&self, peer: &PeerId, expiry: Option<u64>) -> Result<(), Error> {
        set_expiry(&mut self.state().peer_bans, *peer, expiry);
        Ok(())
    }

    fn set_ip_ban(&self, ip: IpAddr, expiry: Option<u64>) -> Result<(), Error> {
        set_expiry(&mut self.state().ip_bans, ip, expiry);
        Ok(())
    }

    fn set_peer_blocked(&self, peer: &PeerId, blocked: bool) -> Result<(), Error> {
        set(&mut self.state().blocked_peers, *peer, blocked);
        Ok(())
    }

    fn set_ip_blocked(&self, ip: IpAddr, blocked: bool) -> Result<(), Error> {
        set(&mut self.state().blocked_ips, ip, blocked);
        Ok(())
    }

    fn set_subnet_blocked(&self, subnet: IpNet, blocked: bool) -> Result<(), Error> {
        set(&mut self.state().blocked_subnets, subnet, blocked);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trips_every_rule() {
        let store = MemoryGateStore::new();
        let peer = PeerId::random();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let net: IpNet = "198.51.100.0/24".parse().unwrap();
        store.set_peer_ban(&peer, Some(10)).unwrap();
        store.set_ip_ban(ip, Some(20)).unwrap();
        store.set_peer_blocked(&peer, true).unwrap();
        store.set_ip_blocked(ip, true).unwrap();
        store.set_subnet_blocked(net, true).unwrap();
        let rules = store.load().unwrap();
        assert_eq!(rules.peer_bans, [(peer, 10)]);
        assert_eq!(rules.ip_bans, [(ip, 20)]);
        assert_eq!(rules.blocked_peers, [peer]);
        assert_eq!(rules.blocked_ips, [ip]);
        assert_eq!(rules.blocked_subnets, [net]);
        store.set_peer_ban(&peer, None).unwrap();
        store.set_ip_ban(ip, None).unwrap();
        store.set_peer_blocked(&peer, false).unwrap();
        store.set_ip_blocked(ip, false).unwrap();
        store.set_subnet_blocked(net, false).unwrap();
        assert_eq!(store.load().unwrap(), GateRules::default());
    }
}
