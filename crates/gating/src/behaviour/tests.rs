//! Unit tests of the gating rules through the behaviour's connection hooks.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use libp2p_core::ConnectedPoint;
use libp2p_swarm::behaviour::ConnectionEstablished;
use op_p2p_api::{
    GateRules, GossipScores, ManualClock, MemoryGateStore, MemoryScoreBook, ReqRespEvent,
};

use super::*;
use crate::DEFAULT_BAN_DURATION;

const START: u64 = 1_700_000_000;

fn gate(config: Config) -> (Behaviour, Arc<MemoryGateStore>, ManualClock) {
    let clock = ManualClock::new(START);
    let store = Arc::new(MemoryGateStore::new());
    let b = Behaviour::new(store.clone(), Arc::new(clock.clone()), config).unwrap();
    (b, store, clock)
}

/// What the store holds.
fn stored(store: &MemoryGateStore) -> GateRules {
    store.load().unwrap()
}

/// The stored ban of `peer`.
fn stored_peer_ban(store: &MemoryGateStore, peer: &PeerId) -> Option<u64> {
    let bans = stored(store).peer_bans;
    assert!(bans.iter().filter(|(p, _)| p == peer).count() <= 1);
    bans.into_iter()
        .find(|(p, _)| p == peer)
        .map(|(_, until)| until)
}

/// The stored ban of `ip`.
fn stored_ip_ban(store: &MemoryGateStore, ip: IpAddr) -> Option<u64> {
    let bans = stored(store).ip_bans;
    assert!(bans.iter().filter(|(i, _)| *i == ip).count() <= 1);
    bans.into_iter()
        .find(|(i, _)| *i == ip)
        .map(|(_, until)| until)
}

fn addr(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn local() -> Multiaddr {
    addr("/ip4/127.0.0.1/tcp/9222")
}

fn reason(denied: ConnectionDenied) -> DenyReason {
    denied.downcast::<Denied>().unwrap().reason
}

fn inbound(b: &mut Behaviour, remote: &str) -> Result<(), DenyReason> {
    b.handle_pending_inbound_connection(ConnectionId::new_unchecked(0), &local(), &addr(remote))
        .map_err(reason)
}

fn established_in(b: &mut Behaviour, peer: PeerId, remote: &str) -> Result<(), DenyReason> {
    b.handle_established_inbound_connection(
        ConnectionId::new_unchecked(0),
        peer,
        &local(),
        &addr(remote),
    )
    .map(|_| ())
    .map_err(reason)
}

fn dial(b: &mut Behaviour, peer: Option<PeerId>, addrs: &[&str]) -> Result<(), DenyReason> {
    let addrs: Vec<Multiaddr> = addrs.iter().map(|a| addr(a)).collect();
    b.handle_pending_outbound_connection(
        ConnectionId::new_unchecked(0),
        peer,
        &addrs,
        Endpoint::Dialer,
    )
    .map(|extra| assert!(extra.is_empty()))
    .map_err(reason)
}

fn established_out(b: &mut Behaviour, peer: PeerId, remote: &str) -> Result<(), DenyReason> {
    b.handle_established_outbound_connection(
        ConnectionId::new_unchecked(0),
        peer,
        &addr(remote),
        Endpoint::Dialer,
        PortUse::New,
    )
    .map(|_| ())
    .map_err(reason)
}

fn connect(b: &mut Behaviour, peer: PeerId, id: usize, remote: &str) {
    let endpoint = ConnectedPoint::Listener {
        local_addr: local(),
        send_back_addr: addr(remote),
    };
    b.on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
        peer_id: peer,
        connection_id: ConnectionId::new_unchecked(id),
        endpoint: &endpoint,
        failed_addresses: &[],
        other_established: 0,
    }));
}

fn disconnect(b: &mut Behaviour, peer: PeerId, id: usize) {
    let endpoint = ConnectedPoint::Listener {
        local_addr: local(),
        send_back_addr: addr("/ip4/192.0.2.1/tcp/1"),
    };
    b.on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
        peer_id: peer,
        connection_id: ConnectionId::new_unchecked(id),
        endpoint: &endpoint,
        cause: None,
        remaining_established: 0,
    }));
}

fn closes(b: &mut Behaviour) -> Vec<(PeerId, Option<ConnectionId>)> {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut out = Vec::new();
    while let Poll::Ready(event) = b.poll(&mut cx) {
        match event {
            ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::All,
            } => out.push((peer_id, None)),
            ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(id),
            } => out.push((peer_id, Some(id))),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[test]
fn blocked_ip_and_subnet_refuse_inbound() {
    let (mut b, _, _) = gate(Config::default());
    b.block_ip(ip("192.0.2.7")).unwrap();
    b.block_subnet("198.51.100.0/24".parse().unwrap()).unwrap();
    assert_eq!(
        inbound(&mut b, "/ip4/192.0.2.7/tcp/1"),
        Err(DenyReason::IpBlocked(ip("192.0.2.7")))
    );
    assert_eq!(
        inbound(&mut b, "/ip4/198.51.100.200/tcp/1"),
        Err(DenyReason::SubnetBlocked {
            ip: ip("198.51.100.200"),
            subnet: "198.51.100.0/24".parse().unwrap()
        })
    );
    assert_eq!(inbound(&mut b, "/ip4/192.0.2.8/tcp/1"), Ok(()));
    assert_eq!(inbound(&mut b, "/ip4/198.51.101.1/tcp/1"), Ok(()));
    // Addresses without an IP cannot be judged by IP rules.
    assert_eq!(inbound(&mut b, "/dns4/example.com/tcp/1"), Ok(()));

    b.unblock_subnet("198.51.100.9/24".parse().unwrap())
        .unwrap();
    assert_eq!(inbound(&mut b, "/ip4/198.51.100.200/tcp/1"), Ok(()));
}

#[test]
fn ipv4_mapped_ipv6_is_the_same_address() {
    let (mut b, store, _) = gate(Config::default());
    // Blocked in mapped form, refused in both forms, stored and listed as IPv4.
    b.block_ip(ip("::ffff:192.0.2.7")).unwrap();
    let blocked = Err(DenyReason::IpBlocked(ip("192.0.2.7")));
    assert_eq!(inbound(&mut b, "/ip4/192.0.2.7/tcp/1"), blocked);
    assert_eq!(inbound(&mut b, "/ip6/::ffff:192.0.2.7/tcp/1"), blocked);
    assert_eq!(b.list_blocked_ips(), vec![ip("192.0.2.7")]);
    assert_eq!(stored(&store).blocked_ips, vec![ip("192.0.2.7")]);

    // A mapped subnet is the IPv4 subnet it denotes.
    b.block_subnet("::ffff:10.0.0.0/104".parse().unwrap())
        .unwrap();
    assert_eq!(
        b.list_blocked_subnets(),
        vec!["10.0.0.0/8".parse().unwrap()]
    );
    assert!(matches!(
        inbound(&mut b, "/ip4/10.20.30.40/tcp/1"),
        Err(DenyReason::SubnetBlocked { .. })
    ));
    assert!(matches!(
        inbound(&mut b, "/ip6/::ffff:10.20.30.40/tcp/1"),
        Err(DenyReason::SubnetBlocked { .. })
    ));

    // An IPv4 ban covers the mapped form of the address.
    b.ban_ip(ip("203.0.113.1"), START + 60).unwrap();
    assert_eq!(
        inbound(&mut b, "/ip6/::ffff:203.0.113.1/tcp/1"),
        Err(DenyReason::IpBanned {
            ip: ip("203.0.113.1"),
            until: START + 60
        })
    );
    assert!(b.is_ip_banned(ip("::ffff:203.0.113.1")));
    // A native IPv6 address is not confused with anything.
    assert_eq!(inbound(&mut b, "/ip6/2001:db8::1/tcp/1"), Ok(()));
}

#[test]
fn peer_rules_apply_to_both_directions() {
    let (mut b, _, _) = gate(Config::default());
    let blocked = PeerId::random();
    let banned = PeerId::random();
    let fine = PeerId::random();
    b.block_peer(blocked).unwrap();
    b.ban_peer(banned, START + 10).unwrap();
    let remote = "/ip4/192.0.2.1/tcp/1";
    for peer in [blocked, banned] {
        assert!(established_in(&mut b, peer, remote).is_err());
        assert!(established_out(&mut b, peer, remote).is_err());
        assert!(dial(&mut b, Some(peer), &[remote]).is_err());
    }
    assert_eq!(
        dial(&mut b, Some(banned), &[]),
        Err(DenyReason::PeerBanned {
            peer: banned,
            until: START + 10
        })
    );
    assert_eq!(established_in(&mut b, fine, remote), Ok(()));
    assert_eq!(established_out(&mut b, fine, remote), Ok(()));
    assert_eq!(dial(&mut b, Some(fine), &[remote]), Ok(()));
    assert!(b.is_peer_blocked(&blocked));
    assert!(b.is_peer_banned(&banned));
}

#[test]
fn dial_is_refused_if_any_address_is_denied() {
    let (mut b, _, _) = gate(Config::default());
    b.block_subnet("10.0.0.0/8".parse().unwrap()).unwrap();
    let good = "/ip4/192.0.2.1/tcp/1";
    let bad = "/ip4/10.1.1.1/tcp/1";
    assert!(b.is_address_allowed(&addr(good)));
    assert!(!b.is_address_allowed(&addr(bad)));
    assert!(matches!(
        dial(&mut b, None, &[good, bad]),
        Err(DenyReason::SubnetBlocked { .. })
    ));
    assert!(matches!(
        dial(&mut b, None, &[bad]),
        Err(DenyReason::SubnetBlocked { .. })
    ));
    assert_eq!(
        dial(&mut b, None, &[good, "/dns4/example.com/tcp/1"]),
        Ok(())
    );
    // The address actually connected to is checked once established.
    assert!(matches!(
        established_out(&mut b, PeerId::random(), bad),
        Err(DenyReason::SubnetBlocked { .. })
    ));
}

#[test]
fn min_score_gate() {
    let config = Config::default().with_min_score(Some(-10.0));
    let (mut b, _, _) = gate(config);
    let remote = "/ip4/192.0.2.1/tcp/1";
    let unknown = PeerId::random();
    let good = PeerId::random();
    let bad = PeerId::random();
    let protected = PeerId::random();
    b.report_score(good, 3.0).unwrap();
    // Below the minimum but above the ban threshold: gated, not banned.
    assert!(!b.report_score(bad, -10.5).unwrap());
    assert!(!b.report_score(protected, -50.0).unwrap());
    b.protect(protected);

    // Unknown peers count as 0, like op-node's unknown score.
    assert_eq!(established_in(&mut b, unknown, remote), Ok(()));
    assert_eq!(established_in(&mut b, good, remote), Ok(()));
    assert_eq!(dial(&mut b, Some(good), &[remote]), Ok(()));
    let too_low = Err(DenyReason::ScoreTooLow {
        peer: bad,
        score: -10.5,
        min: -10.0,
    });
    assert_eq!(established_in(&mut b, bad, remote), too_low);
    assert_eq!(established_out(&mut b, bad, remote), too_low);
    assert_eq!(dial(&mut b, Some(bad), &[remote]), too_low);
    // The score does not matter before the peer is known.
    assert_eq!(inbound(&mut b, remote), Ok(()));
    assert_eq!(established_in(&mut b, protected, remote), Ok(()));
    assert!(!b.is_peer_banned(&bad));

    // A better score lets the peer in again.
    b.report_score(bad, -9.0).unwrap();
    assert_eq!(established_in(&mut b, bad, remote), Ok(()));

    // A positive minimum refuses unknown peers.
    let (mut strict, _, _) = gate(Config::default().with_min_score(Some(1.0)));
    assert!(matches!(
        established_in(&mut strict, unknown, remote),
        Err(DenyReason::ScoreTooLow { score: 0.0, .. })
    ));
}

#[test]
fn min_score_gate_is_off_by_default() {
    let (mut b, _, _) = gate(Config::default().with_ban_peers(false));
    let peer = PeerId::random();
    b.report_score(peer, -1000.0).unwrap();
    assert_eq!(established_in(&mut b, peer, "/ip4/192.0.2.1/tcp/1"), Ok(()));
}

#[test]
fn score_below_threshold_bans_and_disconnects() {
    let (mut b, store, _) = gate(Config::default());
    let low = PeerId::random();
    let protected = PeerId::random();
    let borderline = PeerId::random();
    connect(&mut b, low, 1, "/ip4/192.0.2.1/tcp/1");
    connect(&mut b, protected, 2, "/ip4/192.0.2.2/tcp/1");
    b.protect(protected);

    assert!(
        !b.report_score(borderline, -100.0).unwrap(),
        "threshold is strict"
    );
    assert!(!b.report_score(protected, -500.0).unwrap());
    assert!(b.report_score(low, -100.5).unwrap());
    // Already banned: not banned again (the ban is not extended).
    assert!(!b.report_score(low, -200.0).unwrap());

    let until = START + DEFAULT_BAN_DURATION.as_secs();
    assert!(b.is_peer_banned(&low));
    assert_eq!(stored_peer_ban(&store, &low), Some(until));
    assert_eq!(b.list_peer_bans(), vec![(low, until)]);
    assert!(!b.is_peer_banned(&protected));
    assert!(!b.is_peer_banned(&borderline));
    assert_eq!(stored_peer_ban(&store, &protected), None);
    assert_eq!(closes(&mut b), vec![(low, None)]);

    // With banning off, nothing is banned.
    let (mut off, _, _) = gate(Config::default().with_ban_peers(false));
    assert!(!off.report_score(low, -1000.0).unwrap());
    assert!(!off.is_peer_banned(&low));
}

#[test]
fn blocking_closes_matching_connections_only() {
    let (mut b, _, _) = gate(Config::default());
    let a = PeerId::random();
    let c = PeerId::random();
    connect(&mut b, a, 1, "/ip4/10.0.0.1/tcp/1");
    connect(&mut b, a, 2, "/ip4/192.0.2.1/tcp/1");
    connect(&mut b, c, 3, "/ip4/10.9.9.9/tcp/1");
    assert!(closes(&mut b).is_empty());

    b.block_subnet("10.0.0.0/8".parse().unwrap()).unwrap();
    let mut closed = closes(&mut b);
    closed.sort_by_key(|(_, id)| id.map(|id| format!("{id}")));
    let mut expected = vec![
        (a, Some(ConnectionId::new_unchecked(1))),
        (c, Some(ConnectionId::new_unchecked(3))),
    ];
    expected.sort_by_key(|(_, id)| id.map(|id| format!("{id}")));
    assert_eq!(closed, expected);

    b.block_peer(a).unwrap();
    assert_eq!(closes(&mut b), vec![(a, None)]);
    // A peer that is not connected has nothing to close.
    b.block_peer(PeerId::random()).unwrap();
    assert!(closes(&mut b).is_empty());
}

#[test]
fn expired_bans_lift_when_checked() {
    let (mut b, store, clock) = gate(Config::default());
    let peer = PeerId::random();
    let remote = "/ip4/192.0.2.1/tcp/1";
    b.ban_peer(peer, START + 10).unwrap();
    b.ban_ip(ip("192.0.2.9"), START + 20).unwrap();
    clock.advance_secs(9);
    assert!(established_in(&mut b, peer, remote).is_err());
    clock.advance_secs(1);
    assert!(!b.is_peer_banned(&peer));
    assert_eq!(established_in(&mut b, peer, remote), Ok(()));
    assert_eq!(stored_peer_ban(&store, &peer), None);
    assert_eq!(b.metrics().peer_unbans, 1);
    assert_eq!(b.metrics().ip_unbans, 0);

    clock.advance_secs(10);
    assert_eq!(inbound(&mut b, "/ip4/192.0.2.9/tcp/1"), Ok(()));
    assert_eq!(stored_ip_ban(&store, ip("192.0.2.9")), None);
    assert_eq!(b.metrics().ip_unbans, 1);
    // Lifting happens once.
    assert_eq!(inbound(&mut b, "/ip4/192.0.2.9/tcp/1"), Ok(()));
    assert_eq!(b.metrics().ip_unbans, 1);
}

#[test]
fn sweep_lifts_unchecked_bans() {
    let (mut b, store, clock) = gate(Config::default());
    let (p1, p2) = (PeerId::random(), PeerId::random());
    b.ban_peer(p1, START + 5).unwrap();
    b.ban_peer(p2, START + 50).unwrap();
    b.ban_ip(ip("192.0.2.1"), START + 5).unwrap();
    b.sweep_expired();
    assert_eq!(b.metrics(), Metrics::default());

    clock.advance_secs(5);
    b.sweep_expired();
    assert_eq!(b.metrics().peer_unbans, 1);
    assert_eq!(b.metrics().ip_unbans, 1);
    assert_eq!(stored_peer_ban(&store, &p1), None);
    assert_eq!(stored_peer_ban(&store, &p2), Some(START + 50));
    assert_eq!(stored_ip_ban(&store, ip("192.0.2.1")), None);
    assert_eq!(b.list_peer_bans(), vec![(p2, START + 50)]);
    assert!(b.list_ip_bans().is_empty());
}

#[test]
fn bans_loaded_from_the_store_expire_too() {
    let clock = ManualClock::new(START);
    let store = Arc::new(MemoryGateStore::new());
    let peer = PeerId::random();
    store.set_peer_ban(&peer, Some(START + 5)).unwrap();
    store.set_ip_ban(ip("192.0.2.1"), Some(START - 1)).unwrap();
    let mut b = Behaviour::new(store.clone(), Arc::new(clock.clone()), Config::default()).unwrap();
    assert!(b.is_peer_banned(&peer));
    assert!(!b.is_ip_banned(ip("192.0.2.1")));
    b.sweep_expired();
    assert_eq!(b.metrics().ip_unbans, 1);
    assert_eq!(stored_ip_ban(&store, ip("192.0.2.1")), None);
    clock.advance_secs(5);
    b.sweep_expired();
    assert_eq!(b.metrics().peer_unbans, 1);
    assert!(stored(&store).peer_bans.is_empty());
}

#[test]
fn unblock_peer_clears_its_ban() {
    let (mut b, store, _) = gate(Config::default());
    let peer = PeerId::random();
    b.block_peer(peer).unwrap();
    b.ban_peer(peer, START + 100).unwrap();
    b.unblock_peer(&peer).unwrap();
    assert_eq!(
        b.metrics().peer_unbans,
        1,
        "counted as op-node's UnblockPeer"
    );
    assert!(!b.is_peer_blocked(&peer));
    assert!(!b.is_peer_banned(&peer));
    assert!(stored(&store).blocked_peers.is_empty());
    assert_eq!(stored_peer_ban(&store, &peer), None);
    assert_eq!(established_in(&mut b, peer, "/ip4/192.0.2.1/tcp/1"), Ok(()));
}

#[test]
fn metrics_count_every_decision() {
    let (mut b, _, _) = gate(Config::default());
    let blocked = PeerId::random();
    let fine = PeerId::random();
    b.block_peer(blocked).unwrap();
    b.block_ip(ip("192.0.2.66")).unwrap();
    let ok = "/ip4/192.0.2.1/tcp/1";
    let bad = "/ip4/192.0.2.66/tcp/1";

    inbound(&mut b, ok).unwrap();
    inbound(&mut b, bad).unwrap_err();
    inbound(&mut b, bad).unwrap_err();
    established_in(&mut b, fine, ok).unwrap();
    established_in(&mut b, blocked, ok).unwrap_err();

    dial(&mut b, Some(fine), &[ok]).unwrap();
    dial(&mut b, None, &[ok]).unwrap();
    dial(&mut b, Some(blocked), &[ok]).unwrap_err();
    established_out(&mut b, fine, ok).unwrap();
    established_out(&mut b, fine, bad).unwrap_err();

    assert_eq!(
        b.metrics(),
        Metrics {
            dials_allowed: 3,
            dials_denied: 2,
            accepts_allowed: 2,
            accepts_denied: 3,
            peer_unbans: 0,
            ip_unbans: 0,
        }
    );
}

#[test]
fn rules_are_loaded_at_construction() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let store: Arc<dyn GateStore> = Arc::new(MemoryGateStore::new());
    let peer = PeerId::random();
    {
        let mut b = Behaviour::new(store.clone(), clock.clone(), Config::default()).unwrap();
        b.block_peer(peer).unwrap();
        b.block_ip(ip("192.0.2.1")).unwrap();
        b.block_subnet("2001:db8::/32".parse().unwrap()).unwrap();
        b.ban_ip(ip("192.0.2.2"), START + 60).unwrap();
    }
    let mut b = Behaviour::new(store, clock, Config::default()).unwrap();
    assert_eq!(b.list_blocked_peers(), vec![peer]);
    assert_eq!(b.list_blocked_ips(), vec![ip("192.0.2.1")]);
    assert_eq!(
        b.list_blocked_subnets(),
        vec!["2001:db8::/32".parse().unwrap()]
    );
    assert_eq!(b.list_ip_bans(), vec![(ip("192.0.2.2"), START + 60)]);
    assert!(inbound(&mut b, "/ip6/2001:db8::5/tcp/1").is_err());
    assert!(inbound(&mut b, "/ip4/192.0.2.2/tcp/1").is_err());
}

/// A gate store whose writes fail while `failing` is set.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryGateStore,
    failing: Mutex<bool>,
}

impl FlakyStore {
    fn fail(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    fn check(&self) -> Result<(), op_p2p_api::Error> {
        if *self.failing.lock().unwrap() {
            return Err(op_p2p_api::Error::storage(std::io::Error::other(
                "disk full",
            )));
        }
        Ok(())
    }
}

impl GateStore for FlakyStore {
    fn load(&self) -> Result<GateRules, op_p2p_api::Error> {
        self.inner.load()
    }

    fn set_peer_ban(&self, peer: &PeerId, expiry: Option<u64>) -> Result<(), op_p2p_api::Error> {
        self.check()?;
        self.inner.set_peer_ban(peer, expiry)
    }

    fn set_ip_ban(&self, ip: IpAddr, expiry: Option<u64>) -> Result<(), op_p2p_api::Error> {
        self.check()?;
        self.inner.set_ip_ban(ip, expiry)
    }

    fn set_peer_blocked(&self, peer: &PeerId, blocked: bool) -> Result<(), op_p2p_api::Error> {
        self.check()?;
        self.inner.set_peer_blocked(peer, blocked)
    }

    fn set_ip_blocked(&self, ip: IpAddr, blocked: bool) -> Result<(), op_p2p_api::Error> {
        self.check()?;
        self.inner.set_ip_blocked(ip, blocked)
    }

    fn set_subnet_blocked(&self, subnet: IpNet, blocked: bool) -> Result<(), op_p2p_api::Error> {
        self.check()?;
        self.inner.set_subnet_blocked(subnet, blocked)
    }
}

#[test]
fn store_failures_fail_closed() {
    let clock = ManualClock::new(START);
    let store = Arc::new(FlakyStore::default());
    let mut b = Behaviour::new(store.clone(), Arc::new(clock.clone()), Config::default()).unwrap();
    let peer = PeerId::random();
    let remote = "/ip4/192.0.2.1/tcp/1";
    store.fail(true);
    // Not persisted, but in force.
    assert!(matches!(b.ban_peer(peer, START + 10), Err(Error::Store(_))));
    assert!(b.is_peer_banned(&peer));
    assert!(matches!(b.block_ip(ip("192.0.2.9")), Err(Error::Store(_))));
    assert!(inbound(&mut b, "/ip4/192.0.2.9/tcp/1").is_err());
    // An unban that cannot be persisted changes nothing.
    assert!(matches!(b.unban_peer(&peer), Err(Error::Store(_))));
    assert!(b.is_peer_banned(&peer));
    // An expired ban whose deletion fails keeps denying, without counting an unban.
    clock.advance_secs(10);
    assert_eq!(
        established_in(&mut b, peer, remote),
        Err(DenyReason::BanStore)
    );
    b.sweep_expired();
    assert_eq!(b.metrics().peer_unbans, 0);
    store.fail(false);
    b.sweep_expired();
    assert_eq!(b.metrics().peer_unbans, 1);
    assert_eq!(established_in(&mut b, peer, remote), Ok(()));
}

/// A score book that records which peers the monitor read, over a [`MemoryScoreBook`].
#[derive(Default)]
struct RecordingBook {
    inner: MemoryScoreBook,
    reads: Mutex<Vec<PeerId>>,
    decays: Mutex<Vec<Vec<PeerId>>>,
}

impl RecordingBook {
    fn reads(&self) -> Vec<PeerId> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

impl ScoreBook for RecordingBook {
    fn app_score(&self, peer: &PeerId) -> f64 {
        self.inner.app_score(peer)
    }

    fn peer_score(&self, peer: &PeerId) -> f64 {
        self.reads.lock().unwrap().push(*peer);
        self.inner.peer_score(peer)
    }

    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores) {
        self.inner.record_gossip_scores(peer, scores);
    }

    fn record_req_resp(&self, peer: &PeerId, event: ReqRespEvent) {
        self.inner.record_req_resp(peer, event);
    }

    fn decay_app_scores(&self, connected: &[PeerId]) {
        let mut sorted = connected.to_vec();
        sorted.sort();
        self.decays.lock().unwrap().push(sorted);
        self.inner.decay_app_scores(connected);
    }
}

fn gossip_total(total: f64) -> GossipScores {
    GossipScores {
        total,
        ..GossipScores::default()
    }
}

#[test]
fn monitor_checks_one_connected_peer_per_second_round_robin() {
    let (b, store, clock) = gate(Config::default());
    let book = Arc::new(RecordingBook::default());
    let mut b = b.with_score_book(book.clone(), Duration::from_secs(60));
    let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
    for (i, peer) in peers.iter().enumerate() {
        connect(&mut b, *peer, i, &format!("/ip4/192.0.2.{}/tcp/1", i + 1));
    }
    book.record_gossip_scores(&peers[2], gossip_total(-150.0));
    assert!(closes(&mut b).is_empty());
    assert!(book.reads().is_empty(), "nothing before the first second");

    // One peer a second; each once per round.
    let mut round = Vec::new();
    for _ in 0..3 {
        clock.advance_secs(1);
        let _ = closes(&mut b);
        round.extend(book.reads());
    }
    round.sort();
    let mut expected = peers.clone();
    expected.sort();
    assert_eq!(round, expected);
    // The low one was banned when its turn came, at that second's time.
    let (banned, until) = b.list_peer_bans()[0];
    assert_eq!(banned, peers[2]);
    assert!((START + 1..=START + 3).contains(&(until - DEFAULT_BAN_DURATION.as_secs())));
    assert_eq!(stored_peer_ban(&store, &peers[2]), Some(until));

    // The banned peer's connection closes: the next round is the two others.
    disconnect(&mut b, peers[2], 2);
    clock.advance_secs(1);
    let _ = closes(&mut b);
    let first = book.reads();
    assert_eq!(first.len(), 1);
    let other = match peers.iter().position(|p| *p == first[0]) {
        Some(0) => 1,
        Some(1) => 0,
        _ => panic!("read a peer that is not connected"),
    };
    // A peer that disconnects mid-round is skipped when its turn comes (op-node's
    // `IsConnected` check): that second reads nothing.
    disconnect(&mut b, peers[other], other);
    clock.advance_secs(1);
    let _ = closes(&mut b);
    assert!(book.reads().is_empty(), "the disconnected peer is skipped");
    clock.advance_secs(1);
    let _ = closes(&mut b);
    assert_eq!(book.reads(), first, "a new round of the one peer left");
}

#[test]
fn monitor_spares_protected_peers_and_feeds_the_min_score_gate() {
    let (b, _, clock) = gate(Config::default().with_min_score(Some(-10.0)));
    let book = Arc::new(MemoryScoreBook::new());
    let mut b = b.with_score_book(book.clone(), Duration::ZERO);
    let protected = PeerId::random();
    b.protect(protected);
    connect(&mut b, protected, 1, "/ip4/192.0.2.1/tcp/1");
    book.record_gossip_scores(&protected, gossip_total(-500.0));
    clock.advance_secs(1);
    assert!(closes(&mut b).is_empty());
    assert!(!b.is_peer_banned(&protected));

    // Not protected, between the ban threshold and the minimum: gated, not banned.
    b.unprotect(&protected);
    book.record_gossip_scores(&protected, gossip_total(-50.0));
    clock.advance_secs(1);
    assert!(closes(&mut b).is_empty());
    assert!(!b.is_peer_banned(&protected));
    assert_eq!(
        established_in(&mut b, protected, "/ip4/192.0.2.1/tcp/1"),
        Err(DenyReason::ScoreTooLow {
            peer: protected,
            score: -50.0,
            min: -10.0
        })
    );
}

#[test]
fn decay_runs_once_a_slot_over_connected_peers() {
    let (b, _, clock) = gate(Config::default());
    let book = Arc::new(RecordingBook::default());
    let mut b = b.with_score_book(book.clone(), Duration::from_secs(2));
    let (p1, p2, gone) = (PeerId::random(), PeerId::random(), PeerId::random());
    connect(&mut b, p1, 1, "/ip4/192.0.2.1/tcp/1");
    connect(&mut b, p2, 2, "/ip4/192.0.2.2/tcp/1");
    for peer in [p1, p2, gone] {
        book.record_req_resp(&peer, ReqRespEvent::RejectedPayload);
        assert_eq!(book.app_score(&peer), -20.0);
    }
    let mut connected = vec![p1, p2];
    connected.sort();
    // One rejected payload decayed `slots` times by the book's factor, computed apart.
    let decayed = |slots: usize| {
        let reference = MemoryScoreBook::new();
        let probe = PeerId::random();
        reference.record_req_resp(&probe, ReqRespEvent::RejectedPayload);
        for _ in 0..slots {
            reference.decay_app_scores(&[probe]);
        }
        reference.app_score(&probe)
    };

    let _ = closes(&mut b);
    clock.advance_secs(1);
    let _ = closes(&mut b);
    assert!(book.decays.lock().unwrap().is_empty(), "not a slot yet");
    clock.advance_secs(1);
    let _ = closes(&mut b);
    assert_eq!(*book.decays.lock().unwrap(), vec![connected.clone()]);
    assert_eq!(book.app_score(&p1), decayed(1));
    assert!(book.app_score(&p1) > -20.0);
    assert_eq!(book.app_score(&p2), decayed(1));
    assert_eq!(
        book.app_score(&gone),
        -20.0,
        "disconnected peers do not decay"
    );

    clock.advance_secs(2);
    let _ = closes(&mut b);
    assert_eq!(book.app_score(&p1), decayed(2));
    assert_eq!(book.decays.lock().unwrap().len(), 2);

    // Missed slots are not caught up: a long pause is one decay, as the node's timers did.
    clock.advance_secs(10);
    let _ = closes(&mut b);
    assert_eq!(book.decays.lock().unwrap().len(), 3);
    assert_eq!(book.app_score(&p1), decayed(3));
}

#[test]
fn now_is_the_clocks_unix_time() {
    let (b, _, clock) = gate(Config::default());
    assert_eq!(b.now(), START);
    clock.advance_secs(7);
    assert_eq!(b.now(), START + 7);
}

#[test]
fn behaviours_can_move_to_the_swarm_task() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Behaviour>();
    assert_send::<crate::conn_manager::Behaviour>();
}

#[test]
fn graylist_cutoff_bans_peers_that_stay_graylisted() {
    let config = Config::default().with_graylist_cutoff(-40.0, Duration::from_secs(2));
    let (b, store, clock) = gate(config);
    let book = Arc::new(MemoryScoreBook::new());
    let mut b = b.with_score_book(book.clone(), Duration::ZERO);
    // Many peers: the op-node round would reach the graylisted one only after seconds.
    let peers: Vec<PeerId> = (0..8).map(|_| PeerId::random()).collect();
    for (i, peer) in peers.iter().enumerate() {
        connect(&mut b, *peer, i, &format!("/ip4/192.0.2.{}/tcp/1", i + 1));
    }
    let (graylisted, recovers, protected) = (peers[5], peers[6], peers[7]);
    b.protect(protected);
    for peer in [graylisted, recovers, protected] {
        // Between the ban threshold (−100) and the graylist threshold: never banned by op-node.
        book.record_gossip_scores(&peer, gossip_total(-98.0));
    }
    book.record_gossip_scores(&peers[0], gossip_total(-39.0));

    clock.advance_secs(1);
    assert!(
        closes(&mut b).is_empty(),
        "first seen below: the grace starts"
    );
    book.record_gossip_scores(&recovers, gossip_total(-30.0));
    clock.advance_secs(1);
    assert!(
        closes(&mut b).is_empty(),
        "one second of the two-second grace"
    );
    clock.advance_secs(1);
    assert_eq!(closes(&mut b), vec![(graylisted, None)]);
    assert!(b.is_peer_banned(&graylisted));
    let until = stored_peer_ban(&store, &graylisted).unwrap();
    assert_eq!(until, START + 3 + DEFAULT_BAN_DURATION.as_secs());
    for peer in [recovers, protected, peers[0]] {
        assert!(!b.is_peer_banned(&peer));
    }

    // Back below after recovering: a fresh grace, not the old first sighting.
    book.record_gossip_scores(&recovers, gossip_total(-50.0));
    disconnect(&mut b, graylisted, 5);
    clock.advance_secs(1);
    assert!(closes(&mut b).is_empty());
    clock.advance_secs(2);
    assert_eq!(closes(&mut b), vec![(recovers, None)]);
}

#[test]
fn graylist_cutoff_is_off_by_default_and_with_ban_peers_off() {
    for config in [
        Config::default(),
        Config::default()
            .with_ban_peers(false)
            .with_graylist_cutoff(-40.0, Duration::ZERO),
    ] {
        let (b, _, clock) = gate(config);
        let book = Arc::new(MemoryScoreBook::new());
        let mut b = b.with_score_book(book.clone(), Duration::ZERO);
        let peer = PeerId::random();
        connect(&mut b, peer, 1, "/ip4/192.0.2.1/tcp/1");
        book.record_gossip_scores(&peer, gossip_total(-98.0));
        for _ in 0..5 {
            clock.advance_secs(1);
            assert!(closes(&mut b).is_empty());
        }
        assert!(!b.is_peer_banned(&peer));
    }
}

#[test]
fn pending_inbound_handshakes_are_bounded_per_ip() {
    let (mut b, _, _) = gate(Config::default().with_max_pending_inbound_per_ip(Some(2)));
    let pending = |b: &mut Behaviour, id: usize, remote: &str| {
        b.handle_pending_inbound_connection(
            ConnectionId::new_unchecked(id),
            &local(),
            &addr(remote),
        )
        .map_err(reason)
    };
    let flood = "/ip4/192.0.2.1/tcp/1";
    assert_eq!(pending(&mut b, 1, flood), Ok(()));
    assert_eq!(pending(&mut b, 2, flood), Ok(()));
    assert_eq!(
        pending(&mut b, 3, flood),
        Err(DenyReason::TooManyPendingInbound {
            ip: ip("192.0.2.1"),
            pending: 2
        })
    );
    // Another host is not affected.
    assert_eq!(pending(&mut b, 4, "/ip4/192.0.2.2/tcp/1"), Ok(()));
    assert_eq!(b.metrics().accepts_denied, 1);

    // A handshake that fails frees its slot…
    let error = libp2p_swarm::ListenError::Aborted;
    b.on_swarm_event(FromSwarm::ListenFailure(
        libp2p_swarm::behaviour::ListenFailure {
            local_addr: &local(),
            send_back_addr: &addr(flood),
            error: &error,
            connection_id: ConnectionId::new_unchecked(1),
            peer_id: None,
        },
    ));
    assert_eq!(pending(&mut b, 5, flood), Ok(()));
    assert!(pending(&mut b, 6, flood).is_err());
    // …and so does one that completes.
    b.handle_established_inbound_connection(
        ConnectionId::new_unchecked(2),
        PeerId::random(),
        &local(),
        &addr(flood),
    )
    .unwrap();
    assert_eq!(pending(&mut b, 7, flood), Ok(()));

    // Off by default.
    let (mut open, _, _) = gate(Config::default());
    for id in 0..100 {
        assert_eq!(pending(&mut open, id, flood), Ok(()));
    }
}

/// Misbehaviour reported by a protocol bans on the same terms as a low score: for the
/// configured duration, persisted, never a protected peer, never with banning off.
#[test]
fn reported_misbehaviour_bans_like_a_low_score() {
    let (mut b, store, _) = gate(Config::default());
    let (flooder, protected) = (PeerId::random(), PeerId::random());
    b.protect(protected);
    assert!(b.report_misbehaviour(flooder, "gossip flood").unwrap());
    assert!(b.is_peer_banned(&flooder));
    let until = START + b.config().ban_duration().as_secs();
    assert!(stored(&store).peer_bans.contains(&(flooder, until)));
    assert!(
        !b.report_misbehaviour(flooder, "again").unwrap(),
        "already banned"
    );
    assert!(!b.report_misbehaviour(protected, "gossip flood").unwrap());
    assert!(!b.is_peer_banned(&protected));

    let (mut off, _, _) = gate(Config::default().with_ban_peers(false));
    assert!(!off.report_misbehaviour(flooder, "gossip flood").unwrap());
    assert!(!off.is_peer_banned(&flooder));
}
