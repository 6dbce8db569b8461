//! Block lists and bans enforced on real connections.

use std::net::{IpAddr, Ipv4Addr};

use libp2p_identity::Keypair;
use libp2p_swarm::DialError;
use op_p2p_api::GateStore;
use op_p2p_gating::{Config, Denied, DenyReason, Metrics};

use crate::common::{
    Inbound, START, closed, listen, manual_gate, next_inbound, spawn_dialer, spawn_listener,
    stored_peer_ban, tcp_swarm, timeout,
};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn blocked_peer_inbound_is_refused() {
    timeout(async {
        let (gate, _, _) = manual_gate(Config::default());
        let mut node = tcp_swarm(|_| gate);
        let addr = listen(&mut node).await;
        let blocked = Keypair::generate_secp256k1();
        node.behaviour_mut()
            .block_peer(blocked.public().to_peer_id())
            .unwrap();

        let peer = spawn_dialer(&blocked, &addr);
        // Refused once authenticated: the IP is fine, the peer is not.
        assert_eq!(
            next_inbound(&mut node).await,
            Inbound::Denied(Some(peer), DenyReason::PeerBlocked(peer))
        );
        assert!(!node.is_connected(&peer));

        // Another peer from the same IP is let in.
        let other = spawn_dialer(&Keypair::generate_secp256k1(), &addr);
        assert_eq!(next_inbound(&mut node).await, Inbound::Established(other));
        assert_eq!(
            node.behaviour().metrics(),
            Metrics {
                accepts_allowed: 3,
                accepts_denied: 1,
                ..Metrics::default()
            }
        );
    })
    .await;
}

#[tokio::test]
async fn blocked_subnet_refuses_both_directions() {
    timeout(async {
        let (gate, _, _) = manual_gate(Config::default());
        let mut a = tcp_swarm(|_| gate);
        let a_addr = listen(&mut a).await;
        let b_key = Keypair::generate_secp256k1();
        let b_addr = spawn_listener(&b_key).await;
        let subnet = "127.0.0.0/8".parse().unwrap();
        a.behaviour_mut().block_subnet(subnet).unwrap();
        let expected = DenyReason::SubnetBlocked {
            ip: LOOPBACK,
            subnet,
        };

        // A cannot dial B: refused before any packet is sent.
        let Err(DialError::Denied { cause }) = a.dial(b_addr) else {
            panic!("dial to a blocked subnet was not denied");
        };
        assert_eq!(cause.downcast::<Denied>().unwrap().reason, expected);

        // B's dial to A is refused on the remote address alone, before the handshake: the
        // peer id is not known yet.
        spawn_dialer(&b_key, &a_addr);
        assert_eq!(next_inbound(&mut a).await, Inbound::Denied(None, expected));
        assert_eq!(
            a.behaviour().metrics(),
            Metrics {
                dials_denied: 1,
                accepts_denied: 1,
                ..Metrics::default()
            }
        );
    })
    .await;
}

#[tokio::test]
async fn banning_a_connected_peer_disconnects_it() {
    timeout(async {
        let (gate, store, _) = manual_gate(Config::default());
        let mut node = tcp_swarm(|_| gate);
        let addr = listen(&mut node).await;

        let key = Keypair::generate_secp256k1();
        let peer = spawn_dialer(&key, &addr);
        assert_eq!(next_inbound(&mut node).await, Inbound::Established(peer));
        node.behaviour_mut().ban_peer(peer, START + 3600).unwrap();
        closed(&mut node, peer).await;
        assert!(!node.is_connected(&peer));
        assert_eq!(stored_peer_ban(&store, &peer), Some(START + 3600));

        // It cannot come back while banned.
        spawn_dialer(&key, &addr);
        assert_eq!(
            next_inbound(&mut node).await,
            Inbound::Denied(
                Some(peer),
                DenyReason::PeerBanned {
                    peer,
                    until: START + 3600
                }
            )
        );

        // An IP ban closes connections from that IP.
        let other = spawn_dialer(&Keypair::generate_secp256k1(), &addr);
        assert_eq!(next_inbound(&mut node).await, Inbound::Established(other));
        node.behaviour_mut().ban_ip(LOOPBACK, START + 60).unwrap();
        closed(&mut node, other).await;
        assert_eq!(store.load().unwrap().ip_bans, vec![(LOOPBACK, START + 60)]);
    })
    .await;
}

#[tokio::test]
async fn ban_expires_and_the_peer_connects_again() {
    timeout(async {
        let (gate, store, clock) = manual_gate(Config::default());
        let mut node = tcp_swarm(|_| gate);
        let addr = listen(&mut node).await;
        let key = Keypair::generate_secp256k1();
        let peer = key.public().to_peer_id();
        node.behaviour_mut().ban_peer(peer, START + 100).unwrap();

        spawn_dialer(&key, &addr);
        assert!(matches!(
            next_inbound(&mut node).await,
            Inbound::Denied(_, DenyReason::PeerBanned { .. })
        ));
        assert_eq!(node.behaviour().metrics().peer_unbans, 0);

        // The injected clock, not wall time, decides expiry.
        clock.set_unix_time(START + 100);
        spawn_dialer(&key, &addr);
        assert_eq!(next_inbound(&mut node).await, Inbound::Established(peer));
        assert_eq!(node.behaviour().metrics().peer_unbans, 1);
        assert_eq!(stored_peer_ban(&store, &peer), None);
        assert!(!node.behaviour().is_peer_banned(&peer));
    })
    .await;
}
