//! The gating checks on the connection hot path, against a large rule set.
//!
//! The gate holds 10,000 timed IP bans, 1,000 blocked subnets spread over every IPv4 prefix
//! length from /8 to /32 (the worst case for the prefix-length index: 25 probes for an address
//! that matches none), and 10,000 timed peer bans. Measured:
//! - `pending_inbound/*`: `handle_pending_inbound_connection` (multiaddr parsing, IP block list,
//!   subnets, IP bans, metering) for an allowed address and for addresses denied by an IP ban and
//!   by a subnet;
//! - `subnet_linear_scan_1k`: the alternative to the index, a scan over the 1,000 subnets;
//! - `is_peer_banned/*`: the peer-ban lookup, banned and not.
//!
//! Run: `cargo bench -p op-p2p-gating --bench gating`.
#![allow(clippy::unwrap_used)]

use std::{
    hint::black_box,
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
};

use criterion::Criterion;
use ipnet::{IpNet, Ipv4Net};
use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use libp2p_swarm::{ConnectionId, NetworkBehaviour};
use op_p2p_api::{Clock, MemoryGateStore, SystemClock};
use op_p2p_gating::{Behaviour, Config};

const IP_BANS: usize = 10_000;
const SUBNETS: usize = 1_000;
const PEER_BANS: usize = 10_000;

/// Deterministic xorshift, so every run benches the same rules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A random IPv4 address outside 192.0.0.0/8, where the allowed address lives.
    fn ip(&mut self) -> Ipv4Addr {
        loop {
            let ip = Ipv4Addr::from_bits(self.next() as u32);
            if ip.octets()[0] != 192 {
                return ip;
            }
        }
    }
}

struct Fixture {
    gate: Behaviour,
    subnets: Vec<IpNet>,
    banned_ip: Multiaddr,
    subnet_ip: Multiaddr,
    banned_peer: PeerId,
}

fn fixture() -> Fixture {
    // The checks never read the store (rules are in memory), so the in-memory store measures the
    // same hot path as the node's RocksDB one; filling it is just faster.
    let clock = Arc::new(SystemClock::new());
    let until = clock.unix_time() + 1_000_000;
    let mut gate =
        Behaviour::new(Arc::new(MemoryGateStore::new()), clock, Config::default()).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    let mut last_banned = Ipv4Addr::UNSPECIFIED;
    for _ in 0..IP_BANS {
        last_banned = rng.ip();
        gate.ban_ip(IpAddr::V4(last_banned), until).unwrap();
    }
    let mut subnets = Vec::with_capacity(SUBNETS);
    for i in 0..SUBNETS {
        let prefix = 8 + (i % 25) as u8;
        let net = IpNet::V4(Ipv4Net::new(rng.ip(), prefix).unwrap().trunc());
        gate.block_subnet(net).unwrap();
        subnets.push(net);
    }
    let mut banned_peer = PeerId::random();
    for _ in 0..PEER_BANS {
        banned_peer = PeerId::random();
        gate.ban_peer(banned_peer, until).unwrap();
    }
    // A host inside a /24 rule: the lookup probes the 8 longer prefix lengths before it matches.
    let IpNet::V4(slash24) = subnets[16] else {
        unreachable!("all rules are IPv4")
    };
    assert_eq!(slash24.prefix_len(), 24);
    let subnet_host = Ipv4Addr::from_bits(slash24.network().to_bits() | 7);
    Fixture {
        gate,
        subnets,
        banned_ip: format!("/ip4/{last_banned}/tcp/9222").parse().unwrap(),
        subnet_ip: format!("/ip4/{subnet_host}/tcp/9222").parse().unwrap(),
        banned_peer,
    }
}

fn benches(c: &mut Criterion) {
    let Fixture {
        mut gate,
        subnets,
        banned_ip,
        subnet_ip,
        banned_peer,
    } = fixture();
    let local: Multiaddr = "/ip4/127.0.0.1/tcp/9222".parse().unwrap();
    let allowed: Multiaddr = "/ip4/192.0.2.1/tcp/9222".parse().unwrap();
    let id = ConnectionId::new_unchecked(0);

    let mut group = c.benchmark_group("pending_inbound");
    assert!(
        gate.handle_pending_inbound_connection(id, &local, &allowed)
            .is_ok()
    );
    group.bench_function("allowed", |b| {
        b.iter(|| gate.handle_pending_inbound_connection(id, &local, black_box(&allowed)))
    });
    assert!(
        gate.handle_pending_inbound_connection(id, &local, &banned_ip)
            .is_err()
    );
    group.bench_function("denied_ip_ban", |b| {
        b.iter(|| gate.handle_pending_inbound_connection(id, &local, black_box(&banned_ip)))
    });
    assert!(
        gate.handle_pending_inbound_connection(id, &local, &subnet_ip)
            .is_err()
    );
    group.bench_function("denied_subnet", |b| {
        b.iter(|| gate.handle_pending_inbound_connection(id, &local, black_box(&subnet_ip)))
    });
    group.finish();

    let probe = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    assert!(!subnets.iter().any(|net| net.contains(&probe)));
    c.bench_function("subnet_linear_scan_1k", |b| {
        b.iter(|| subnets.iter().any(|net| net.contains(black_box(&probe))))
    });

    let mut group = c.benchmark_group("is_peer_banned");
    let unbanned = PeerId::random();
    assert!(gate.is_peer_banned(&banned_peer));
    group.bench_function("banned", |b| {
        b.iter(|| gate.is_peer_banned(black_box(&banned_peer)))
    });
    assert!(!gate.is_peer_banned(&unbanned));
    group.bench_function("not_banned", |b| {
        b.iter(|| gate.is_peer_banned(black_box(&unbanned)))
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
