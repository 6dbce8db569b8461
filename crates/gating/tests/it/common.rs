//! Gates, swarms and event helpers shared by the tests. Swarms come from
//! `op_p2p_api::test_utils`, the workspace's one TCP test swarm builder.

use std::{future::Future, sync::Arc, time::Duration};

use futures::StreamExt;
use libp2p_core::Multiaddr;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{ListenError, NetworkBehaviour, Swarm, SwarmEvent, dummy};
use op_p2p_api::{
    ManualClock, MemoryGateStore,
    test_utils::{spawn_listening, spawn_swarm, tcp_swarm_with_key},
};
use op_p2p_gating::{Behaviour, Config, Denied, DenyReason};

pub(crate) use op_p2p_api::test_utils::{listen_local as listen, tcp_swarm};

/// The manual clock's start in tests (unix seconds).
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

/// A gate over a fresh in-memory store on a manual clock at [`START`], with the store and the
/// clock for the test to inspect and drive.
pub(crate) fn manual_gate(config: Config) -> (Behaviour, Arc<MemoryGateStore>, ManualClock) {
    let clock = ManualClock::new(START);
    let store = Arc::new(MemoryGateStore::new());
    let gate = Behaviour::new(store.clone(), Arc::new(clock.clone()), config).unwrap();
    (gate, store, clock)
}

/// The stored ban of `peer`, if any.
pub(crate) fn stored_peer_ban(store: &MemoryGateStore, peer: &PeerId) -> Option<u64> {
    use op_p2p_api::GateStore;
    let bans = store.load().unwrap().peer_bans;
    assert!(bans.iter().filter(|(p, _)| p == peer).count() <= 1);
    bans.into_iter()
        .find(|(p, _)| p == peer)
        .map(|(_, until)| until)
}

/// A swarm with `keypair`'s identity and no protocols dials `addr` and is driven in its own
/// task for the rest of the test.
pub(crate) fn spawn_dialer(keypair: &Keypair, addr: &Multiaddr) -> PeerId {
    let mut swarm = tcp_swarm_with_key(keypair.clone(), |_| dummy::Behaviour);
    swarm.dial(addr.clone()).unwrap();
    spawn_swarm(swarm);
    keypair.public().to_peer_id()
}

/// A listening swarm with no protocols, driven in its own task; returns its address.
pub(crate) async fn spawn_listener(keypair: &Keypair) -> Multiaddr {
    let (_, addr) =
        spawn_listening(tcp_swarm_with_key(keypair.clone(), |_| dummy::Behaviour)).await;
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
