//! Swarm construction and event helpers shared by the tests.

use std::{future::Future, sync::Arc, time::Duration};

use futures::StreamExt;
use libp2p_core::{Multiaddr, Transport, upgrade::Version};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{ListenError, NetworkBehaviour, Swarm, SwarmEvent, dummy};
use op_p2p_gating::{Denied, DenyReason};
use op_p2p_peerstore::{Config as StoreConfig, ManualClock, PeerStore};

/// The peer-store clock's start in tests (unix seconds).
pub(crate) const START: u64 = 1_700_000_000;

/// Every test's overall limit; the tests await events and never sleep.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `test` under [`TEST_TIMEOUT`], with logs if `RUST_LOG` is set.
pub(crate) async fn timeout<F: Future>(test: F) -> F::Output {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test timed out")
}

/// A swarm on TCP + noise + yamux that keeps idle connections for a minute.
pub(crate) fn swarm<B: NetworkBehaviour>(keypair: &Keypair, behaviour: B) -> Swarm<B> {
    let transport = libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::default())
        .upgrade(Version::V1)
        .authenticate(libp2p_noise::Config::new(keypair).unwrap())
        .multiplex(libp2p_yamux::Config::default())
        .boxed();
    Swarm::new(
        transport,
        behaviour,
        keypair.public().to_peer_id(),
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(60)),
    )
}

/// Listens on an ephemeral loopback port and returns the address once it is bound.
pub(crate) async fn listen<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> Multiaddr {
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return address;
        }
    }
}

/// A peer store on a manual clock at [`START`].
pub(crate) fn manual_store() -> (PeerStore, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START));
    let store = PeerStore::open_in_memory(StoreConfig::default(), clock.clone()).unwrap();
    (store, clock)
}

/// A swarm with `keypair`'s identity and no protocols dials `addr` and is driven in its own
/// task for the rest of the test.
pub(crate) fn spawn_dialer(keypair: &Keypair, addr: &Multiaddr) -> PeerId {
    let mut swarm = swarm(keypair, dummy::Behaviour);
    swarm.dial(addr.clone()).unwrap();
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    keypair.public().to_peer_id()
}

/// A listening swarm with no protocols, driven in its own task; returns its address.
pub(crate) async fn spawn_listener(keypair: &Keypair) -> Multiaddr {
    let mut swarm = swarm(keypair, dummy::Behaviour);
    let addr = listen(&mut swarm).await;
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    addr
}

/// How the node's inbound connection from a peer ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Inbound {
    /// Established with this peer.
    Established(PeerId),
    /// Refused by the gate; the peer id is known only once the handshake completed.
    Denied(Option<PeerId>, DenyReason),
}

/// Drives `node` until an inbound connection is established or refused by the gate.
pub(crate) async fn next_inbound<B: NetworkBehaviour>(node: &mut Swarm<B>) -> Inbound {
    loop {
        match node.select_next_some().await {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } if endpoint.is_listener() => return Inbound::Established(peer_id),
            SwarmEvent::IncomingConnectionError {
                peer_id,
                error: ListenError::Denied { cause },
                ..
            } => {
                let denied = cause.downcast::<Denied>().unwrap();
                return Inbound::Denied(peer_id, denied.reason);
            }
            _ => {}
        }
    }
}

/// Drives `node` until its connection to `peer` closes.
pub(crate) async fn closed<B: NetworkBehaviour>(node: &mut Swarm<B>, peer: PeerId) {
    loop {
        if let SwarmEvent::ConnectionClosed { peer_id, .. } = node.select_next_some().await
            && peer_id == peer
        {
            return;
        }
    }
}
