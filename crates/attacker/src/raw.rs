//! Peers that speak raw streams (libp2p-stream) over the node's transport, for the kinds whose
//! bytes no well-behaved libp2p protocol implementation sends: `payload_by_number` requests
//! whose responses are never read ([`crate::sync`]) and gossipsub RPCs written by hand
//! ([`crate::control`]). Each [`RawPeer`] is one identity with its own swarm task, which dials
//! the target, redials when cut off, and counts connections.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::{Swarm, SwarmEvent};
use tokio::time::Instant;

use crate::swarm;

/// Connection counters over every raw peer of a run.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    /// Connections established.
    pub(crate) connects: AtomicU64,
    /// Connections closed (by either side).
    pub(crate) closes: AtomicU64,
    /// Dials that failed (refused by a ban, among others).
    pub(crate) dial_errors: AtomicU64,
}

impl Connections {
    pub(crate) fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("connects", self.connects.load(Ordering::Relaxed).into()),
            ("closes", self.closes.load(Ordering::Relaxed).into()),
            (
                "dial_errors",
                self.dial_errors.load(Ordering::Relaxed).into(),
            ),
        ]
    }
}

/// One identity: a swarm task and the control to open streams on it.
pub(crate) struct RawPeer {
    /// Our peer id.
    pub(crate) id: PeerId,
    /// Opens and accepts streams.
    pub(crate) control: libp2p_stream::Control,
    /// Whether a connection to the target is open now.
    pub(crate) connected: Arc<AtomicBool>,
}

impl std::fmt::Debug for RawPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPeer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl RawPeer {
    /// A fresh identity whose swarm dials `target` until `end`, redialling every `redial`
    /// while not connected; `prepare` runs on its control before the first dial (to accept
    /// inbound protocols).
    pub(crate) fn spawn(
        target: Multiaddr,
        end: Instant,
        redial: Duration,
        counters: Arc<Connections>,
        prepare: impl FnOnce(&mut libp2p_stream::Control),
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let key = Keypair::generate_secp256k1();
        let behaviour = libp2p_stream::Behaviour::new();
        let mut control = behaviour.new_control();
        prepare(&mut control);
        let id = key.public().to_peer_id();
        let swarm = Swarm::new(
            swarm::transport(&key)?,
            behaviour,
            id,
            libp2p_swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(Duration::from_secs(3600)),
        );
        let connected = Arc::new(AtomicBool::new(false));
        tokio::spawn(drive(
            swarm,
            target,
            end,
            redial,
            connected.clone(),
            counters,
        ));
        Ok(Self {
            id,
            control,
            connected,
        })
    }
}

/// The swarm task of one raw peer.
async fn drive(
    mut swarm: Swarm<libp2p_stream::Behaviour>,
    target: Multiaddr,
    end: Instant,
    redial: Duration,
    connected: Arc<AtomicBool>,
    counters: Arc<Connections>,
) {
    let _ = swarm.dial(target.clone());
    let mut tick = tokio::time::interval_at(Instant::now() + redial, redial);
    let mut open = 0usize;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(end) => return,
            _ = tick.tick() => {
                if open == 0 {
                    let _ = swarm.dial(target.clone());
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { .. } => {
                    open += 1;
                    connected.store(true, Ordering::Relaxed);
                    counters.connects.fetch_add(1, Ordering::Relaxed);
                }
                SwarmEvent::ConnectionClosed { .. } => {
                    open = open.saturating_sub(1);
                    connected.store(open > 0, Ordering::Relaxed);
                    counters.closes.fetch_add(1, Ordering::Relaxed);
                }
                SwarmEvent::OutgoingConnectionError { .. } => {
                    counters.dial_errors.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            },
        }
    }
}
