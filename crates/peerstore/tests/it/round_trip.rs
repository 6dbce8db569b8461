//! Every book survives closing and reopening the store; the in-memory store works and writes
//! nothing to disk.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
    thread,
    time::Duration,
};

use op_p2p_peerstore::{
    Config, GossipScores, IdentifyInfo, ManualClock, Multiaddr, PeerMetadata, PeerStore, PublicKey,
    ReqRespEvent, ReqRespScores,
};
use tempfile::TempDir;

use crate::{clock, open, peer};

fn secp_key(seed: u8) -> PublicKey {
    let secret = libp2p_identity::secp256k1::SecretKey::try_from_bytes([seed; 32]).unwrap();
    libp2p_identity::secp256k1::Keypair::from(secret)
        .public()
        .clone()
        .into()
}

fn addr(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

/// Writes one of everything.
fn fill(store: &PeerStore) {
    let p = peer(1);
    store
        .add_addrs(
            &p,
            &[
                addr("/ip4/1.2.3.4/tcp/9222"),
                addr("/ip6/::1/udp/9222/quic-v1"),
            ],
            Duration::from_secs(3600),
        )
        .unwrap();
    let key = secp_key(7);
    store.set_public_key(&key.to_peer_id(), &key).unwrap();
    store
        .set_protocols(
            &p,
            &[
                "/meshsub/1.1.0",
                "/opstack/req/payload_by_number/10/0",
                "/meshsub/1.1.0",
            ],
        )
        .unwrap();
    store
        .set_identify(
            &p,
            &IdentifyInfo {
                agent_version: "optimism".into(),
                protocol_version: "ipfs/0.1.0".into(),
            },
        )
        .unwrap();
    store
        .set_metadata(
            &p,
            &PeerMetadata {
                enr: "enr:-abc".into(),
                chain_id: 10,
            },
        )
        .unwrap();
    store
        .set_gossip_scores(
            &p,
            &GossipScores {
                total: -12.5,
                ip_colocation_factor: 1.5,
                behavioural_penalty: 2.0,
                ..Default::default()
            },
        )
        .unwrap();
    store
        .record_req_resp(&p, ReqRespEvent::ValidResponse)
        .unwrap();
    store
        .record_req_resp(&p, ReqRespEvent::RejectedPayload)
        .unwrap();
    store.set_peer_ban(&peer(2), Some(5_000)).unwrap();
    store
        .set_ip_ban(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), Some(6_000))
        .unwrap();
    store
        .set_ip_ban(IpAddr::V6(Ipv6Addr::LOCALHOST), Some(7_000))
        .unwrap();
    store.set_peer_blocked(&peer(3), true).unwrap();
    store
        .set_ip_blocked(
            IpAddr::V6(Ipv4Addr::new(192, 168, 1, 1).to_ipv6_mapped()),
            true,
        )
        .unwrap();
    store
        .set_subnet_blocked("10.0.0.0/8".parse().unwrap(), true)
        .unwrap();
    store
        .set_subnet_blocked("2001:db8::/32".parse().unwrap(), true)
        .unwrap();
}

/// Reads everything [`fill`] wrote.
fn check(store: &PeerStore) {
    let p = peer(1);
    assert_eq!(
        store.addrs(&p).unwrap(),
        [
            addr("/ip4/1.2.3.4/tcp/9222"),
            addr("/ip6/::1/udp/9222/quic-v1")
        ]
    );
    assert_eq!(store.peers_with_addrs().unwrap(), [p]);
    let key = secp_key(7);
    assert_eq!(store.public_key(&key.to_peer_id()).unwrap(), Some(key));
    assert_eq!(
        store.protocols(&p).unwrap(),
        ["/meshsub/1.1.0", "/opstack/req/payload_by_number/10/0"]
    );
    assert_eq!(
        store.identify(&p).unwrap(),
        Some(IdentifyInfo {
            agent_version: "optimism".into(),
            protocol_version: "ipfs/0.1.0".into()
        })
    );
    assert_eq!(
        store.metadata(&p).unwrap(),
        Some(PeerMetadata {
            enr: "enr:-abc".into(),
            chain_id: 10
        })
    );
    let scores = store.peer_scores(&p).unwrap();
    assert_eq!(
        scores.gossip,
        GossipScores {
            total: -12.5,
            ip_colocation_factor: 1.5,
            behavioural_penalty: 2.0,
            ..Default::default()
        }
    );
    assert_eq!(
        scores.req_resp,
        ReqRespScores {
            valid_responses: 1.0,
            error_responses: 0.0,
            rejected_payloads: 1.0
        }
    );
    assert_eq!(store.peer_score(&p).unwrap(), -12.5);
    assert_eq!(store.app_score(&p).unwrap(), 0.5 - 20.0);
    assert_eq!(store.all_peer_scores().unwrap(), [(p, scores)]);
    assert_eq!(store.peer_ban(&peer(2)).unwrap(), Some(5_000));
    assert_eq!(store.peer_bans().unwrap(), [(peer(2), 5_000)]);
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(store.ip_ban(v4).unwrap(), Some(6_000));
    // Looked up through its IPv4-mapped form too.
    assert_eq!(
        store
            .ip_ban(IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()))
            .unwrap(),
        Some(6_000)
    );
    let mut ip_bans = store.ip_bans().unwrap();
    ip_bans.sort();
    assert_eq!(
        ip_bans,
        [(v4, 6_000), (IpAddr::V6(Ipv6Addr::LOCALHOST), 7_000)]
    );
    assert_eq!(store.blocked_peers().unwrap(), [peer(3)]);
    assert_eq!(
        store.blocked_ips().unwrap(),
        [IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))]
    );
    let mut subnets = store.blocked_subnets().unwrap();
    subnets.sort();
    assert_eq!(
        subnets,
        [
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap()
        ]
    );
    assert_eq!(store.decode_failures(), 0);
}

#[test]
fn every_book_survives_close_and_reopen() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    {
        let store = open(dir.path(), &clock);
        fill(&store);
        check(&store);
    }
    // Reopened twice: the second open reads what the first reopen left.
    for _ in 0..2 {
        let store = open(dir.path(), &clock);
        check(&store);
    }
}

#[test]
fn removals_survive_reopen() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    {
        let store = open(dir.path(), &clock);
        fill(&store);
        store.set_peer_ban(&peer(2), None).unwrap();
        store
            .set_ip_ban(
                IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()),
                None,
            )
            .unwrap();
        store.set_peer_blocked(&peer(3), false).unwrap();
        store
            .set_ip_blocked(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)), false)
            .unwrap();
        // Host bits are irrelevant: the entry is the network.
        store
            .set_subnet_blocked("10.9.8.7/8".parse().unwrap(), false)
            .unwrap();
        store.set_protocols::<&str>(&peer(1), &[]).unwrap();
        store.clear_addrs(&peer(1)).unwrap();
    }
    let store = open(dir.path(), &clock);
    assert_eq!(store.peer_ban(&peer(2)).unwrap(), None);
    assert_eq!(
        store.ip_bans().unwrap(),
        [(IpAddr::V6(Ipv6Addr::LOCALHOST), 7_000)]
    );
    assert!(store.blocked_peers().unwrap().is_empty());
    assert!(store.blocked_ips().unwrap().is_empty());
    assert_eq!(
        store.blocked_subnets().unwrap(),
        ["2001:db8::/32".parse().unwrap()]
    );
    assert!(store.protocols(&peer(1)).unwrap().is_empty());
    assert!(store.addrs(&peer(1)).unwrap().is_empty());
}

#[test]
fn in_memory_store_holds_every_book_and_touches_no_disk() {
    let clock = clock(1_000);
    let store = PeerStore::open_in_memory(Config::default(), clock.clone()).unwrap();
    fill(&store);
    check(&store);
    // A second in-memory store is a separate database.
    let other = PeerStore::open_in_memory(Config::default(), clock).unwrap();
    assert!(other.peer_bans().unwrap().is_empty());
    // The in-memory store is rooted at the temp directory of its private filesystem; nothing
    // reached the real one.
    for file in ["CURRENT", "LOCK", "IDENTITY"] {
        let path = std::env::temp_dir().join(file);
        assert!(!path.exists(), "{} exists on disk", path.display());
    }
}

#[test]
fn a_second_open_of_the_same_directory_fails() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    let _store = open(dir.path(), &clock);
    let err = PeerStore::open(dir.path(), Config::default(), clock).unwrap_err();
    assert!(matches!(err, op_p2p_peerstore::Error::RocksDb(_)), "{err}");
}

#[test]
fn key_for_another_peer_is_refused() {
    let store = PeerStore::open_in_memory(Config::default(), clock(1)).unwrap();
    let key = secp_key(9);
    let err = store.set_public_key(&peer(1), &key).unwrap_err();
    assert!(
        matches!(err, op_p2p_peerstore::Error::KeyMismatch { .. }),
        "{err}"
    );
    assert_eq!(store.public_key(&peer(1)).unwrap(), None);
}

#[test]
fn oversized_values_are_refused() {
    let store = PeerStore::open_in_memory(Config::default(), clock(1)).unwrap();
    let many: Vec<String> = (0..=op_p2p_peerstore::MAX_PROTOCOLS_PER_PEER)
        .map(|i| format!("/p/{i}"))
        .collect();
    assert!(store.set_protocols(&peer(1), &many).is_err());
    let long = "x".repeat(op_p2p_peerstore::MAX_TEXT_LEN + 1);
    assert!(
        store
            .set_metadata(
                &peer(1),
                &PeerMetadata {
                    enr: long,
                    chain_id: 1
                }
            )
            .is_err()
    );
    assert_eq!(store.metadata(&peer(1)).unwrap(), None);
    // Past the per-peer cap the soonest-expiring addresses go; nothing fails.
    let addrs: Vec<Multiaddr> = (0..100).map(|i| addr(&format!("/memory/{i}"))).collect();
    store
        .add_addrs(&peer(1), &addrs[..50], Duration::from_secs(10))
        .unwrap();
    store
        .add_addrs(&peer(1), &addrs[50..], Duration::from_secs(20))
        .unwrap();
    let kept = store.addrs(&peer(1)).unwrap();
    assert_eq!(kept.len(), op_p2p_peerstore::MAX_ADDRS_PER_PEER);
    assert!(addrs[50..].iter().all(|a| kept.contains(a)));
}

#[test]
fn concurrent_score_updates_are_not_lost() {
    let store =
        PeerStore::open_in_memory(Config::default(), Arc::new(ManualClock::new(1))).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            thread::spawn(move || {
                for _ in 0..5 {
                    store
                        .record_req_resp(&peer(1), ReqRespEvent::RejectedPayload)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // 20 increments, each a read-modify-write: exactly the cap, none lost.
    assert_eq!(
        store
            .peer_scores(&peer(1))
            .unwrap()
            .req_resp
            .rejected_payloads,
        20.0
    );
}
