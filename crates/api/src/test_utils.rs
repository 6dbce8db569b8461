//! Real swarms for the workspace's tests and benches (feature `test-utils`): TCP on tokio,
//! noise, yamux, the transport stack the node runs, on 127.0.0.1.
//!
//! Loopback TCP rather than libp2p-swarm-test's memory transport, because gating's IP rules and
//! the connection manager need real addresses and real connection events. One builder for every
//! crate, so the protocol crates' tests connect the way the node does.
//!
//! ```
//! use libp2p_swarm::dummy;
//! use op_p2p_api::test_utils::{connect, spawn_listening, tcp_swarm};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (peer, addr) = spawn_listening(tcp_swarm(|_| dummy::Behaviour)).await;
//! let mut dialer = tcp_swarm(|_| dummy::Behaviour);
//! connect(&mut dialer, peer, addr).await;
//! assert!(dialer.is_connected(&peer));
//! # }
//! ```

use std::time::Duration;

use futures::StreamExt;
use libp2p_core::{Multiaddr, Transport, upgrade::Version};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent};

/// How long a connection without active streams is kept: longer than any test, so only the test
/// (or a behaviour under test) closes connections.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Inbound streams negotiated at once per connection. libp2p's default of 128 would drop part of
/// a burst of a few hundred requests before the behaviour under test sees it.
pub const MAX_NEGOTIATING_INBOUND_STREAMS: usize = 512;

/// A swarm with a new secp256k1 identity (the key type op-node uses) on TCP + noise + yamux,
/// executing connection tasks on tokio; `behaviour` is built from the swarm's key.
///
/// Must be called within a tokio runtime.
pub fn tcp_swarm<B: NetworkBehaviour>(behaviour: impl FnOnce(&Keypair) -> B) -> Swarm<B> {
    tcp_swarm_with_key(Keypair::generate_secp256k1(), behaviour)
}

/// [`tcp_swarm`] with a given identity, for a test that needs the peer id before the swarm
/// exists, or another key type.
pub fn tcp_swarm_with_key<B: NetworkBehaviour>(
    keypair: Keypair,
    behaviour: impl FnOnce(&Keypair) -> B,
) -> Swarm<B> {
    let transport = libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::default())
        .upgrade(Version::V1)
        .authenticate(
            libp2p_noise::Config::new(&keypair).expect("a noise key signed by a valid keypair"),
        )
        .multiplex(libp2p_yamux::Config::default())
        .boxed();
    let behaviour = behaviour(&keypair);
    Swarm::new(
        transport,
        behaviour,
        keypair.public().to_peer_id(),
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT)
            .with_max_negotiating_inbound_streams(MAX_NEGOTIATING_INBOUND_STREAMS),
    )
}

/// Listens on an ephemeral port of 127.0.0.1 and returns the address once it is bound. Other
/// events that arrive meanwhile are dropped.
pub async fn listen_local<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> Multiaddr {
    let any_port: Multiaddr = "/ip4/127.0.0.1/tcp/0"
        .parse()
        .expect("a valid multiaddr literal");
    swarm.listen_on(any_port).expect("TCP listens on loopback");
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return address;
        }
    }
}

/// Drives `swarm` in its own tokio task, dropping its events, until the runtime shuts down.
pub fn spawn_swarm<B>(mut swarm: Swarm<B>)
where
    B: NetworkBehaviour + Send + 'static,
    B::ToSwarm: Send,
{
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
}

/// [`listen_local`], then [`spawn_swarm`]: a peer that only has to be there. Returns its peer id
/// and address.
pub async fn spawn_listening<B>(mut swarm: Swarm<B>) -> (PeerId, Multiaddr)
where
    B: NetworkBehaviour + Send + 'static,
    B::ToSwarm: Send,
{
    let addr = listen_local(&mut swarm).await;
    let peer = *swarm.local_peer_id();
    spawn_swarm(swarm);
    (peer, addr)
}

/// Dials `addr` and drives `swarm` until a connection to `peer` is established. Other events
/// that arrive meanwhile are dropped; the caller bounds the wait (a test's overall timeout).
pub async fn connect<B: NetworkBehaviour>(swarm: &mut Swarm<B>, peer: PeerId, addr: Multiaddr) {
    swarm.dial(addr).expect("the dial is accepted");
    loop {
        if let SwarmEvent::ConnectionEstablished { peer_id, .. } = swarm.select_next_some().await
            && peer_id == peer
        {
            return;
        }
    }
}
