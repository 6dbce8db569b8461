//! The peer book contract: what the node learns about peers from identify and from its own
//! configuration (go-libp2p's address, key and protocol books, spec §6).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use libp2p_core::Multiaddr;
use libp2p_identity::{PeerId, PublicKey};

use crate::info::{IdentifyInfo, PeerMetadata};

/// What one identify exchange told us about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyRecord {
    /// The peer's public key.
    pub public_key: PublicKey,
    /// Its agent and protocol versions.
    pub info: IdentifyInfo,
    /// The protocols it supports.
    pub protocols: Vec<String>,
    /// The addresses it listens on.
    pub listen_addrs: Vec<Multiaddr>,
}

/// What discovery learned about a peer from its ENR (op-node's `DiscoveryProcess` stores all
/// three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryRecord {
    /// The peer's public key (the ENR's secp256k1 key as a libp2p key).
    pub public_key: PublicKey,
    /// Its TCP address from the ENR (`/ip4|ip6/…/tcp/…`, without `/p2p/`, like the listen
    /// addresses identify reports).
    pub addr: Multiaddr,
    /// op-node's metadata: the ENR text and the chain id of its `opstack` entry.
    pub metadata: PeerMetadata,
}

/// How long an address found by discovery is kept (op-node's `discoveredAddrTTL`, 24 h).
pub const DISCOVERED_ADDR_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long addresses learnt from identify are kept (go-libp2p's `RecentlyConnectedAddrTTL`,
/// 15 min).
pub const IDENTIFY_ADDR_TTL: Duration = Duration::from_secs(15 * 60);

/// Address, key, protocol and identify books.
///
/// Called from the swarm task on every identify exchange, so, as for
/// [`ScoreBook`](crate::ScoreBook), nothing may wait: an implementation queues the write (the
/// RocksDB book applies it on its own thread) or keeps it in memory. A record that cannot be
/// queued is dropped and logged; the next identify exchange brings it again.
pub trait PeerBook: Send + Sync + 'static {
    /// Stores an identify exchange: the key, the agent, the protocols, and the listen addresses
    /// for [`IDENTIFY_ADDR_TTL`].
    fn record_identify(&self, peer: &PeerId, record: IdentifyRecord);

    /// Adds addresses for `peer`, kept for `ttl`.
    fn add_addrs(&self, peer: &PeerId, addrs: &[Multiaddr], ttl: Duration);

    /// Stores a record discovery accepted: the key, the address for [`DISCOVERED_ADDR_TTL`],
    /// and the metadata (op-node's metadata book). The default keeps only the address, for
    /// books without key or metadata storage.
    fn record_discovery(&self, peer: &PeerId, record: DiscoveryRecord) {
        self.add_addrs(
            peer,
            std::slice::from_ref(&record.addr),
            DISCOVERED_ADDR_TTL,
        );
    }
}

/// The books in memory, with no expiry: for tests and embedders that do not persist peers.
#[derive(Debug, Default)]
pub struct MemoryPeerBook {
    peers: Mutex<HashMap<PeerId, MemoryEntry>>,
}

#[derive(Debug, Default, Clone)]
struct MemoryEntry {
    identify: Option<IdentifyRecord>,
    discovery: Option<DiscoveryRecord>,
    addrs: Vec<Multiaddr>,
}

/// The most addresses kept per peer, so a peer announcing thousands costs a bounded amount.
const MAX_ADDRS: usize = 64;

impl MemoryPeerBook {
    /// Empty books.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last identify record of `peer`.
    pub fn identify(&self, peer: &PeerId) -> Option<IdentifyRecord> {
        self.lock().get(peer).and_then(|e| e.identify.clone())
    }

    /// The last discovery record of `peer`.
    pub fn discovery(&self, peer: &PeerId) -> Option<DiscoveryRecord> {
        self.lock().get(peer).and_then(|e| e.discovery.clone())
    }

    /// The addresses known for `peer`.
    pub fn addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.lock()
            .get(peer)
            .map(|e| e.addrs.clone())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, MemoryEntry>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn merge(into: &mut Vec<Multiaddr>, addrs: &[Multiaddr]) {
    for addr in addrs {
        if into.len() >= MAX_ADDRS {
            break;
        }
        if !into.contains(addr) {
            into.push(addr.clone());
        }
    }
}

impl PeerBook for MemoryPeerBook {
    fn record_identify(&self, peer: &PeerId, record: IdentifyRecord) {
        let mut peers = self.lock();
        let entry = peers.entry(*peer).or_default();
        merge(&mut entry.addrs, &record.listen_addrs);
        entry.identify = Some(record);
    }

    fn add_addrs(&self, peer: &PeerId, addrs: &[Multiaddr], _ttl: Duration) {
        merge(&mut self.lock().entry(*peer).or_default().addrs, addrs);
    }

    fn record_discovery(&self, peer: &PeerId, record: DiscoveryRecord) {
        let mut peers = self.lock();
        let entry = peers.entry(*peer).or_default();
        merge(&mut entry.addrs, std::slice::from_ref(&record.addr));
        entry.discovery = Some(record);
    }
}

#[cfg(test)]
mod tests {
    use libp2p_identity::Keypair;

    use super::*;

    #[test]
    fn memory_book_keeps_identify_and_bounded_addresses() {
        let key = Keypair::generate_secp256k1();
        let peer = key.public().to_peer_id();
        let book = MemoryPeerBook::new();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9222".parse().unwrap();
        let record = IdentifyRecord {
            public_key: key.public(),
            info: IdentifyInfo {
                agent_version: "optimism".into(),
                protocol_version: "ipfs/0.1.0".into(),
            },
            protocols: vec!["/meshsub/1.1.0".into()],
            listen_addrs: vec![addr.clone()],
        };
        book.record_identify(&peer, record.clone());
        assert_eq!(book.identify(&peer), Some(record));
        let many: Vec<Multiaddr> = (0..200u16)
            .map(|port| format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap())
            .collect();
        book.add_addrs(&peer, &many, Duration::from_secs(60));
        assert_eq!(book.addrs(&peer).len(), MAX_ADDRS);
        assert_eq!(book.addrs(&peer)[0], addr);
    }

    #[test]
    fn memory_book_keeps_discovery_records() {
        let key = Keypair::generate_secp256k1();
        let peer = key.public().to_peer_id();
        let book = MemoryPeerBook::new();
        let addr: Multiaddr = format!("/ip4/10.0.0.1/tcp/9222/p2p/{peer}")
            .parse()
            .unwrap();
        let record = DiscoveryRecord {
            public_key: key.public(),
            addr: addr.clone(),
            metadata: PeerMetadata {
                enr: "enr:-abc".into(),
                chain_id: 10,
            },
        };
        book.record_discovery(&peer, record.clone());
        assert_eq!(book.discovery(&peer), Some(record));
        assert_eq!(book.addrs(&peer), vec![addr]);
    }
}
