//! The peer store's write and read paths on a real (temporary directory) RocksDB store, with
//! the default durability (write-ahead log, no fsync).
//!
//! - `set_peer_ban`: one ban write (what the ban monitor does).
//! - `peer_ban_hit` / `peer_ban_miss`: a ban lookup, as the gater does per connection.
//! - `record_req_resp`: a score read-modify-write (one per sync response).
//! - `set_gossip_scores`: the 15 s score snapshot write, per peer.
//! - `add_addrs` / `addrs`: an address book write of two addresses and a read.
//!
//! Run: `cargo bench -p op-p2p-peerstore --bench peerstore` (or `cargo xtask bench peerstore`).

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use op_p2p_peerstore::{
    Config, GossipScores, ManualClock, Multiaddr, PeerId, PeerStore, ReqRespEvent,
};

/// Peers in the store while benching: a busy node's population.
const PEERS: u64 = 1_000;

fn peer(i: u64) -> PeerId {
    let mut bytes = vec![0x12, 0x20];
    bytes.extend_from_slice(&[0xab; 24]);
    bytes.extend_from_slice(&i.to_be_bytes());
    PeerId::from_bytes(&bytes).expect("valid sha256 multihash")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let store = PeerStore::open(dir.path(), Config::default(), clock).expect("open");
    let peers: Vec<PeerId> = (0..PEERS).map(peer).collect();
    let addrs: Vec<Multiaddr> = ["/ip4/10.1.2.3/tcp/9222", "/ip4/10.1.2.3/udp/9222/quic-v1"]
        .iter()
        .map(|a| a.parse().expect("valid multiaddr"))
        .collect();
    for p in &peers {
        store.set_peer_ban(p, Some(1_700_003_600)).expect("ban");
        store
            .add_addrs(p, &addrs, Duration::from_secs(3600))
            .expect("addrs");
        store
            .record_req_resp(p, ReqRespEvent::ValidResponse)
            .expect("score");
    }
    let unknown = peer(PEERS + 1);

    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) % peers.len();
        &peers[i]
    };
    c.bench_function("set_peer_ban", |b| {
        b.iter(|| {
            store
                .set_peer_ban(next(), Some(black_box(1_700_007_200)))
                .expect("ban")
        })
    });
    c.bench_function("peer_ban_hit", |b| {
        b.iter(|| store.peer_ban(next()).expect("lookup"))
    });
    c.bench_function("peer_ban_miss", |b| {
        b.iter(|| store.peer_ban(&unknown).expect("lookup"))
    });
    c.bench_function("record_req_resp", |b| {
        b.iter(|| {
            store
                .record_req_resp(next(), ReqRespEvent::ErrorResponse)
                .expect("score")
        })
    });
    let gossip = GossipScores {
        total: -3.5,
        ip_colocation_factor: 1.0,
        ..Default::default()
    };
    c.bench_function("set_gossip_scores", |b| {
        b.iter(|| {
            store
                .set_gossip_scores(next(), black_box(&gossip))
                .expect("score")
        })
    });
    c.bench_function("add_addrs", |b| {
        b.iter(|| {
            store
                .add_addrs(next(), &addrs, Duration::from_secs(7200))
                .expect("addrs")
        })
    });
    c.bench_function("addrs", |b| b.iter(|| store.addrs(next()).expect("addrs")));
}

criterion_group!(benches, bench);
criterion_main!(benches);
