//! The connection manager trimming a node with real TCP peers.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent, dummy};
use op_p2p_api::test_utils::{spawn_swarm, tcp_swarm_with_key};
use op_p2p_gating::conn_manager::{self, STATIC_INITIAL_BACKOFF, STATIC_TAG};

use crate::common::{listen, manual_gate, spawn_dialer, tcp_swarm, timeout};

/// The node's behaviour as the node crate composes it: the gate first, then the manager.
#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
struct Node {
    gating: op_p2p_gating::Behaviour,
    conn_manager: conn_manager::Behaviour,
}

fn node(config: conn_manager::Config) -> Swarm<Node> {
    let (gating, _, _) = manual_gate(op_p2p_gating::Config::default());
    tcp_swarm(|_| Node {
        gating,
        conn_manager: conn_manager::Behaviour::new(config).unwrap(),
    })
}

async fn established(node: &mut Swarm<Node>) -> PeerId {
    loop {
        if let SwarmEvent::ConnectionEstablished { peer_id, .. } = node.select_next_some().await {
            return peer_id;
        }
    }
}

/// 40 peers connect to a node with water marks 20/30. Trimming takes the node back to 20,
/// keeping the 5 protected peers and the 15 best-scored, closing the 20 with the lowest score.
///
/// The peers connect within the (default, 30 s) grace period, so nothing is trimmed while they
/// arrive; the test then runs the trim as of the end of the grace period. With a zero grace
/// period the node would trim at the 31st connection and end anywhere between 20 and 29
/// depending on arrival order (`trims_on_connect_with_zero_grace` covers that path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_peers_are_trimmed_to_low_water_keeping_protected_ones() {
    timeout(async {
        let mut node = node(conn_manager::Config::default());
        let addr = listen(&mut node).await;
        let keys: Vec<Keypair> = (0..40).map(|_| Keypair::generate_secp256k1()).collect();
        let ids: Vec<PeerId> = keys.iter().map(|k| k.public().to_peer_id()).collect();
        let protected: HashSet<PeerId> = ids[..5].iter().copied().collect();
        let favoured: HashSet<PeerId> = ids[5..20].iter().copied().collect();
        for peer in &protected {
            node.behaviour_mut().conn_manager.protect(*peer, STATIC_TAG);
        }

        for key in &keys {
            spawn_dialer(key, &addr);
        }
        let mut connected = HashSet::new();
        while connected.len() < 40 {
            connected.insert(established(&mut node).await);
        }
        assert_eq!(node.connected_peers().count(), 40);
        let manager = &mut node.behaviour_mut().conn_manager;
        assert_eq!(manager.connected_peers(), 40);
        for peer in &favoured {
            manager.set_score(peer, 10.0);
        }

        let grace_over = Instant::now() + conn_manager::DEFAULT_GRACE_PERIOD;
        assert_eq!(manager.trim_at(grace_over), 20);
        while node.connected_peers().count() > 20 {
            let SwarmEvent::ConnectionClosed { peer_id, .. } = node.select_next_some().await else {
                continue;
            };
            assert!(
                !protected.contains(&peer_id) && !favoured.contains(&peer_id),
                "closed a peer that should stay"
            );
        }
        let remaining: HashSet<PeerId> = node.connected_peers().copied().collect();
        let expected: HashSet<PeerId> = protected.union(&favoured).copied().collect();
        assert_eq!(remaining, expected);
        assert_eq!(node.behaviour().conn_manager.connected_peers(), 20);
    })
    .await;
}

/// With no grace period, the connection that takes the node over high water triggers the trim.
#[tokio::test]
async fn trims_on_connect_with_zero_grace() {
    timeout(async {
        let mut node = node(
            conn_manager::Config::default()
                .with_low_water(1)
                .with_high_water(2)
                .with_grace_period(Duration::ZERO),
        );
        let addr = listen(&mut node).await;
        let mut peers = Vec::new();
        for _ in 0..3 {
            // One at a time, so the age order is known.
            let peer = spawn_dialer(&Keypair::generate_secp256k1(), &addr);
            assert_eq!(established(&mut node).await, peer);
            peers.push(peer);
        }
        // 3 > 2: down to 1, oldest first (all scores are 0).
        let mut closed = HashSet::new();
        while closed.len() < 2 {
            if let SwarmEvent::ConnectionClosed { peer_id, .. } = node.select_next_some().await {
                closed.insert(peer_id);
            }
        }
        assert_eq!(closed, HashSet::from([peers[0], peers[1]]));
        assert_eq!(
            node.connected_peers().copied().collect::<Vec<_>>(),
            vec![peers[2]]
        );
    })
    .await;
}

/// A static peer is dialled as soon as it is added, and redialled, after the first backoff,
/// when the peer closes the connection.
#[tokio::test]
async fn static_peer_is_dialled_and_redialled_after_disconnect() {
    timeout(async {
        // The static peer closes its first connection from the node, then keeps the next.
        let key = Keypair::generate_secp256k1();
        let static_id = key.public().to_peer_id();
        let mut remote = tcp_swarm_with_key(key, |_| dummy::Behaviour);
        let addr = listen(&mut remote).await;
        let mut node = node(conn_manager::Config::default());
        let node_id = *node.local_peer_id();
        tokio::spawn(async move {
            let mut hung_up = false;
            loop {
                if let SwarmEvent::ConnectionEstablished { peer_id, .. } =
                    remote.select_next_some().await
                    && peer_id == node_id
                    && !hung_up
                {
                    hung_up = true;
                    remote.disconnect_peer_id(peer_id).unwrap();
                }
            }
        });

        node.behaviour_mut()
            .conn_manager
            .add_static_peer(static_id, addr);
        assert!(node.behaviour().conn_manager.is_protected(&static_id));

        let mut established = 0;
        let mut closed_at: Option<Instant> = None;
        while established < 2 {
            match node.select_next_some().await {
                SwarmEvent::ConnectionEstablished {
                    peer_id, endpoint, ..
                } => {
                    assert_eq!(peer_id, static_id);
                    assert!(endpoint.is_dialer(), "the node dialled");
                    established += 1;
                    if established == 2 {
                        // Measured from when the test saw the close, a moment after the
                        // manager started the backoff: allow that moment.
                        let waited = closed_at.expect("closed before the redial").elapsed();
                        assert!(
                            waited >= STATIC_INITIAL_BACKOFF - Duration::from_millis(50),
                            "redialled after {waited:?}"
                        );
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, .. } => {
                    assert_eq!(peer_id, static_id);
                    assert_eq!(established, 1);
                    closed_at = Some(Instant::now());
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    panic!("dial failed: {error}")
                }
                _ => {}
            }
        }
        assert!(node.is_connected(&static_id));
        assert!(node.behaviour().conn_manager.is_connected(&static_id));
    })
    .await;
}

/// A static peer that is down is dialled again with backoff until it comes up.
#[tokio::test]
async fn static_peer_is_redialled_after_failed_dials() {
    timeout(async {
        // Find a free port, then leave it closed for the first dials.
        let key = Keypair::generate_secp256k1();
        let static_id = key.public().to_peer_id();
        let addr = {
            let mut probe = tcp_swarm(|_| dummy::Behaviour);
            listen(&mut probe).await
        };
        let mut node = node(conn_manager::Config::default());
        node.behaviour_mut()
            .conn_manager
            .add_static_peer(static_id, addr.clone());

        // Two failed dials: at once, then after the first backoff.
        let mut failures = 0;
        while failures < 2 {
            if let SwarmEvent::OutgoingConnectionError { peer_id, .. } =
                node.select_next_some().await
            {
                assert_eq!(peer_id, Some(static_id));
                failures += 1;
            }
        }
        // The peer comes up on that address; the next redial (2 s later) connects.
        let mut remote = tcp_swarm_with_key(key, |_| dummy::Behaviour);
        remote.listen_on(addr).unwrap();
        spawn_swarm(remote);
        loop {
            match node.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    assert_eq!(peer_id, static_id);
                    break;
                }
                SwarmEvent::OutgoingConnectionError { peer_id, .. } => {
                    // A redial raced the listener's start; the next one follows.
                    assert_eq!(peer_id, Some(static_id));
                }
                _ => {}
            }
        }
    })
    .await;
}
