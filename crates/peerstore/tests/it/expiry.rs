//! Expiry, retention, decay and GC, all driven by a manual clock (no sleeping).

use std::{
    net::{IpAddr, Ipv4Addr},
    slice,
    time::Duration,
};

use op_p2p_peerstore::{
    Config, DECAY_TO_ZERO, GcReport, IdentifyInfo, Multiaddr, PeerMetadata, PeerStore,
    ReqRespEvent, ReqRespScores,
};
use tempfile::TempDir;

use crate::{clock, open, open_with, peer};

const DAY: u64 = 24 * 60 * 60;

fn addr(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

#[test]
fn addresses_expire_at_their_ttl_and_gc_prunes_them() {
    let dir = TempDir::new().unwrap();
    let clock = clock(1_000);
    let store = open(dir.path(), &clock);
    let (a, b, c) = (
        addr("/ip4/1.1.1.1/tcp/1"),
        addr("/ip4/2.2.2.2/tcp/2"),
        addr("/memory/3"),
    );
    store
        .add_addrs(&peer(1), slice::from_ref(&a), Duration::from_secs(10))
        .unwrap();
    store
        .add_addrs(&peer(1), slice::from_ref(&b), Duration::from_secs(100))
        .unwrap();
    store
        .add_addrs(&peer(2), slice::from_ref(&c), Duration::MAX)
        .unwrap();
    // Re-adding with a shorter TTL does not shorten; a zero TTL adds nothing.
    store
        .add_addrs(&peer(1), slice::from_ref(&a), Duration::from_secs(1))
        .unwrap();
    store
        .add_addrs(&peer(3), slice::from_ref(&a), Duration::ZERO)
        .unwrap();

    clock.set_unix_time(1_009);
    assert_eq!(store.addrs(&peer(1)).unwrap(), [a.clone(), b.clone()]);
    clock.set_unix_time(1_010);
    assert_eq!(store.addrs(&peer(1)).unwrap(), slice::from_ref(&b));
    assert!(store.addrs(&peer(3)).unwrap().is_empty());

    // GC drops the expired address from the record, then the record.
    let report = store.gc().unwrap();
    assert_eq!(
        (report.rewritten, report.deleted, report.pass_complete),
        (1, 0, true)
    );
    clock.set_unix_time(1_100);
    assert_eq!(store.peers_with_addrs().unwrap(), [peer(2)]);
    let report = store.gc().unwrap();
    assert_eq!((report.rewritten, report.deleted), (0, 1));
    drop(store);
    let store = open(dir.path(), &clock);
    assert!(store.addrs(&peer(1)).unwrap().is_empty());

    // `Duration::MAX` never expires; `set_addrs` replaces the expiry, zero removes.
    clock.set_unix_time(u64::MAX - 1);
    assert_eq!(store.addrs(&peer(2)).unwrap(), slice::from_ref(&c));
    clock.set_unix_time(1_000);
    store
        .set_addrs(&peer(2), slice::from_ref(&c), Duration::from_secs(5))
        .unwrap();
    clock.set_unix_time(1_005);
    assert!(store.addrs(&peer(2)).unwrap().is_empty());
    clock.set_unix_time(1_000);
    store
        .add_addrs(&peer(4), &[a.clone(), b.clone()], Duration::from_secs(50))
        .unwrap();
    store.set_addrs(&peer(4), &[a], Duration::ZERO).unwrap();
    assert_eq!(store.addrs(&peer(4)).unwrap(), [b]);
}

#[test]
fn a_ban_past_its_expiry_is_still_returned_and_gc_keeps_it_for_seven_days() {
    let dir = TempDir::new().unwrap();
    let t0 = 1_700_000_000;
    let clock = clock(t0);
    let store = open(dir.path(), &clock);
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    store.set_peer_ban(&peer(1), Some(t0 + 3_600)).unwrap();
    store.set_ip_ban(ip, Some(t0 + 3_600)).unwrap();

    // The ban's expiry has passed: the store still returns it (the gater decides), and GC
    // keeps the record, which lives 7 days after its last update.
    clock.set_unix_time(t0 + 7_200);
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), Some(t0 + 3_600));
    assert_eq!(store.ip_ban(ip).unwrap(), Some(t0 + 3_600));
    let report = store.gc().unwrap();
    assert_eq!((report.scanned, report.deleted), (2, 0));

    // Exactly 7 days after the last update the record is alive (op-node: gone once
    // last_update + 7d < now); one second later it is gone for reads and for GC.
    clock.set_unix_time(t0 + 7 * DAY);
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), Some(t0 + 3_600));
    clock.set_unix_time(t0 + 7 * DAY + 1);
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), None);
    assert_eq!(store.ip_ban(ip).unwrap(), None);
    assert!(store.peer_bans().unwrap().is_empty());
    assert!(store.ip_bans().unwrap().is_empty());
    assert_eq!(store.gc().unwrap().deleted, 2);
    drop(store);
    let store = open(dir.path(), &clock);
    clock.set_unix_time(t0);
    // Deleted on disk, not merely hidden: winding the clock back does not bring them back.
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), None);
    assert_eq!(store.ip_ban(ip).unwrap(), None);
}

#[test]
fn rewriting_a_ban_restarts_its_retention() {
    let clock = clock(0);
    let store = PeerStore::open_in_memory(Config::default(), clock.clone()).unwrap();
    store.set_peer_ban(&peer(1), Some(10)).unwrap();
    clock.set_unix_time(6 * DAY);
    store.set_peer_ban(&peer(1), Some(6 * DAY + 10)).unwrap();
    clock.set_unix_time(12 * DAY);
    assert_eq!(store.peer_ban(&peer(1)).unwrap(), Some(6 * DAY + 10));
    assert_eq!(store.gc().unwrap().deleted, 0);
}

#[test]
fn scores_of_an_unseen_peer_are_collected_after_the_retention() {
    let clock = clock(5_000);
    let store = PeerStore::open_in_memory(Config::default(), clock.clone()).unwrap();
    // op-node RetainScore at a 2 s block time: 600 slots = 1200 s.
    assert_eq!(store.config().score_retention(), Duration::from_secs(1_200));
    store
        .record_req_resp(&peer(1), ReqRespEvent::ErrorResponse)
        .unwrap();
    store
        .record_req_resp(&peer(2), ReqRespEvent::ErrorResponse)
        .unwrap();

    // Peer 2 stays connected: every slot's decay refreshes its record.
    for _ in 0..700 {
        clock.advance_secs(2);
        store.decay_app_scores(&[peer(2)]).unwrap();
    }
    // 1400 s later: peer 1 is past the retention, peer 2 is not.
    assert_eq!(store.peer_scores(&peer(1)).unwrap(), Default::default());
    let report = store.gc().unwrap();
    assert_eq!((report.scanned, report.deleted), (2, 1));
    assert_eq!(store.all_peer_scores().unwrap().len(), 1);
    assert_eq!(store.all_peer_scores().unwrap()[0].0, peer(2));

    // A record past its retention starts again from zero when next updated.
    store
        .record_req_resp(&peer(3), ReqRespEvent::ErrorResponse)
        .unwrap();
    clock.advance_secs(1_201);
    assert_eq!(
        store
            .record_req_resp(&peer(3), ReqRespEvent::ErrorResponse)
            .unwrap()
            .error_responses,
        1.0
    );
}

#[test]
fn app_scores_decay_per_slot_to_zero() {
    let store = PeerStore::open_in_memory(Config::default(), clock(1)).unwrap();
    let d = store.config().app_score_decay();
    assert_eq!(format!("{d:.5}"), "0.92612");
    assert_eq!(d, 0.01f64.powf(1.0 / 60.0));
    store
        .record_req_resp(&peer(1), ReqRespEvent::RejectedPayload)
        .unwrap();
    store
        .record_req_resp(&peer(1), ReqRespEvent::RejectedPayload)
        .unwrap();
    store
        .record_req_resp(&peer(2), ReqRespEvent::ValidResponse)
        .unwrap();

    store.decay_app_scores(&[peer(1), peer(9)]).unwrap();
    assert_eq!(
        store
            .peer_scores(&peer(1))
            .unwrap()
            .req_resp
            .rejected_payloads,
        2.0 * d
    );
    // Not connected: no decay. Unknown connected peer: still nothing stored.
    assert_eq!(
        store
            .peer_scores(&peer(2))
            .unwrap()
            .req_resp
            .valid_responses,
        1.0
    );
    assert!(
        store
            .all_peer_scores()
            .unwrap()
            .iter()
            .all(|(p, _)| *p != peer(9))
    );

    // 2·d^n stays above 0.01 up to n = 69 (2·0.01^(69/60) ≈ 0.01003) and is zeroed at n = 70.
    for _ in 1..69 {
        store.decay_app_scores(&[peer(1)]).unwrap();
    }
    let last = store
        .peer_scores(&peer(1))
        .unwrap()
        .req_resp
        .rejected_payloads;
    assert!((DECAY_TO_ZERO..0.0101).contains(&last), "{last}");
    store.decay_app_scores(&[peer(1)]).unwrap();
    assert_eq!(
        store.peer_scores(&peer(1)).unwrap().req_resp,
        ReqRespScores::default()
    );
    assert_eq!(store.app_score(&peer(1)).unwrap(), 0.0);
}

#[test]
fn app_score_counters_are_capped() {
    let store = PeerStore::open_in_memory(Config::default(), clock(1)).unwrap();
    for _ in 0..30 {
        for event in [
            ReqRespEvent::ValidResponse,
            ReqRespEvent::ErrorResponse,
            ReqRespEvent::RejectedPayload,
        ] {
            store.record_req_resp(&peer(1), event).unwrap();
        }
    }
    assert_eq!(
        store.peer_scores(&peer(1)).unwrap().req_resp,
        ReqRespScores {
            valid_responses: 10.0,
            error_responses: 9.0,
            rejected_payloads: 20.0
        }
    );
    assert_eq!(
        store.app_score(&peer(1)).unwrap(),
        0.5 * 10.0 - 9.0 - 20.0 * 20.0
    );
}

#[test]
fn peer_info_books_expire_seven_days_after_update() {
    let clock = clock(0);
    let store = PeerStore::open_in_memory(Config::default(), clock.clone()).unwrap();
    let secret = libp2p_identity::secp256k1::SecretKey::try_from_bytes([3; 32]).unwrap();
    let key: op_p2p_peerstore::PublicKey = libp2p_identity::secp256k1::Keypair::from(secret)
        .public()
        .clone()
        .into();
    let kp = key.to_peer_id();
    store.set_public_key(&kp, &key).unwrap();
    store.set_protocols(&peer(1), &["/a"]).unwrap();
    store
        .set_identify(&peer(1), &IdentifyInfo::default())
        .unwrap();
    store
        .set_metadata(
            &peer(1),
            &PeerMetadata {
                enr: "enr:x".into(),
                chain_id: 1,
            },
        )
        .unwrap();
    clock.set_unix_time(7 * DAY);
    assert!(store.public_key(&kp).unwrap().is_some());
    assert_eq!(store.gc().unwrap().deleted, 0);
    clock.set_unix_time(7 * DAY + 1);
    assert_eq!(store.public_key(&kp).unwrap(), None);
    assert!(store.protocols(&peer(1)).unwrap().is_empty());
    assert_eq!(store.identify(&peer(1)).unwrap(), None);
    assert_eq!(store.metadata(&peer(1)).unwrap(), None);
    assert_eq!(store.gc().unwrap().deleted, 4);
}

#[test]
fn gc_is_bounded_per_run_and_resumes() {
    let clock = clock(0);
    let config = Config::default().with_gc_max_deletes_per_run(10);
    let store = PeerStore::open_in_memory(config, clock.clone()).unwrap();
    for i in 0..25 {
        store.set_peer_ban(&peer(i), Some(1)).unwrap();
    }
    store.set_peer_blocked(&peer(100), true).unwrap();
    clock.set_unix_time(8 * DAY);
    for i in 25..30 {
        store.set_peer_ban(&peer(i), Some(1)).unwrap();
    }
    let runs: Vec<GcReport> = (0..3).map(|_| store.gc().unwrap()).collect();
    assert_eq!(
        runs.iter().map(|r| r.deleted).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    assert_eq!(
        runs.iter().map(|r| r.pass_complete).collect::<Vec<_>>(),
        [false, false, true]
    );
    // The first run stopped right after its 10th delete; the last resumed and saw the rest.
    assert_eq!(runs[0].scanned, 10);
    assert_eq!(runs.iter().map(|r| r.scanned).sum::<u64>(), 30);
    let mut left: Vec<_> = store
        .peer_bans()
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    left.sort();
    let mut expected: Vec<_> = (25..30).map(peer).collect();
    expected.sort();
    assert_eq!(left, expected);
    // Block lists are permanent.
    clock.set_unix_time(u64::MAX);
    store.gc().unwrap();
    assert_eq!(store.blocked_peers().unwrap(), [peer(100)]);
}

#[test]
fn gc_scan_bound_spreads_a_pass_over_runs() {
    let clock = clock(0);
    let dir = TempDir::new().unwrap();
    let store = open_with(
        dir.path(),
        Config::default().with_gc_max_scanned_per_run(7),
        &clock,
    );
    for i in 0..20 {
        store.set_peer_ban(&peer(i), Some(1)).unwrap();
    }
    let runs: Vec<GcReport> = (0..3).map(|_| store.gc().unwrap()).collect();
    assert_eq!(
        runs.iter().map(|r| r.scanned).collect::<Vec<_>>(),
        [7, 7, 6]
    );
    assert_eq!(
        runs.iter().map(|r| r.pass_complete).collect::<Vec<_>>(),
        [false, false, true]
    );
    // The next run starts a new pass from the beginning.
    assert_eq!(store.gc().unwrap().scanned, 7);
}
