//! The RPC's part of the swarm task: [`Request`]s arrive as
//! [`Command::Rpc`](crate::handle::Command::Rpc) and are answered at once from in-memory state
//! (the gating and connection-manager behaviours, gossipsub's subscriptions, and what
//! [`SwarmSide`] learns from swarm events: connection directions, ping latency, dial outcomes).
//! Nothing here touches RocksDB except the gating behaviour's write-through of a block-list change
//! (one WAL write, as every ban already does on this task); the peer-store reads of `opp2p_peers`
//! happen on the RPC side, off this task.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    time::Duration,
};

use ipnet::IpNet;
use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use libp2p_swarm::{
    ConnectionId, Swarm, SwarmEvent,
    dial_opts::{DialOpts, PeerCondition},
};
use op_p2p_gating::conn_manager::API_PROTECTED_TAG;
use op_p2p_types::BlocksTopic;
use tokio::sync::oneshot;

use super::types::{CONNECTED, DIR_INBOUND, DIR_OUTBOUND, DIR_UNKNOWN, NOT_CONNECTED};
use crate::behaviour::{NodeBehaviour, NodeEvent};

/// Dials started by `opp2p_connectPeer` still waiting for their outcome. Past this a connect is
/// refused rather than tracked: the RPC server's connection limit bounds callers anyway.
pub(crate) const MAX_PENDING_CONNECTS: usize = 64;
/// The weight of a new ping sample in the latency average: go-libp2p's `LatencyEWMASmoothing`.
const LATENCY_SMOOTHING: f64 = 0.1;

/// The outcome of an `opp2p_*` effect: `Err` carries op-node's error message.
pub(crate) type Outcome = Result<(), String>;

/// What the RPC asks of the swarm task.
#[derive(Debug)]
pub(crate) enum Request {
    /// The network state for `opp2p_self`, `opp2p_peers` and `opp2p_peerStats`: every
    /// connected peer and each of `also` (peers the peer store knows).
    View {
        /// Peers to describe besides the connected ones.
        also: Vec<PeerId>,
        /// The view.
        reply: oneshot::Sender<NetworkView>,
    },
    /// A block-list or protection change.
    Change {
        /// What to change.
        change: Change,
        /// Done, or why not.
        reply: oneshot::Sender<Outcome>,
    },
    /// `opp2p_connectPeer`: dial `peer` at `addr`. Answered at once with a receiver of the
    /// dial's outcome (the RPC side waits for it up to op-node's 30 s).
    Connect {
        /// The peer.
        peer: PeerId,
        /// Its address, without `/p2p`.
        addr: Multiaddr,
        /// The dial's outcome, or why no dial started.
        reply: oneshot::Sender<Result<oneshot::Receiver<Outcome>, String>>,
    },
    /// `opp2p_disconnectPeer`: close every connection and unblock the peer (the RPC side then
    /// forgets its addresses in the peer store).
    Disconnect {
        /// The peer.
        peer: PeerId,
        /// Done, or why not.
        reply: oneshot::Sender<Outcome>,
    },
}

/// A block-list or protection change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// `opp2p_blockPeer`.
    BlockPeer(PeerId),
    /// `opp2p_unblockPeer` (also lifts a timed ban).
    UnblockPeer(PeerId),
    /// `opp2p_blockAddr`.
    BlockAddr(IpAddr),
    /// `opp2p_unblockAddr`.
    UnblockAddr(IpAddr),
    /// `opp2p_blockSubnet`.
    BlockSubnet(IpNet),
    /// `opp2p_unblockSubnet`.
    UnblockSubnet(IpNet),
    /// `opp2p_protectPeer`: the connection manager's `api-protected` tag.
    Protect(PeerId),
    /// `opp2p_unprotectPeer`.
    Unprotect(PeerId),
}

/// The in-memory network state one RPC call needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkView {
    /// Our peer id.
    pub(crate) local_peer_id: Option<PeerId>,
    /// Where we listen.
    pub(crate) listen_addrs: Vec<Multiaddr>,
    /// The connected peers and the `also` peers.
    pub(crate) peers: Vec<PeerView>,
    /// Subscribers of the blocks topics v1..v4.
    pub(crate) topic_peers: [usize; 4],
    /// Connected peers.
    pub(crate) connected: usize,
    /// Permanently blocked peers, IPs and subnets.
    pub(crate) blocked_peers: Vec<PeerId>,
    /// Permanently blocked IPs.
    pub(crate) blocked_ips: Vec<IpAddr>,
    /// Permanently blocked subnets.
    pub(crate) blocked_subnets: Vec<IpNet>,
}

/// One peer as the swarm task sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PeerView {
    /// The peer.
    pub(crate) peer: PeerId,
    /// go-libp2p's connectedness.
    pub(crate) connectedness: u8,
    /// The first connection's direction.
    pub(crate) direction: u8,
    /// Protected under any tag.
    pub(crate) protected: bool,
    /// Ping EWMA, nanoseconds.
    pub(crate) latency_ns: u64,
    /// Subscribed to a blocks topic.
    pub(crate) gossip_blocks: bool,
}

/// The RPC's state on the swarm task.
#[derive(Debug, Default)]
pub(crate) struct SwarmSide {
    /// Each connected peer's connections in the order they were established, with whether
    /// we dialled.
    connections: HashMap<PeerId, Vec<(ConnectionId, bool)>>,
    /// Ping round trips, go-libp2p's EWMA, seconds.
    latency: HashMap<PeerId, f64>,
    /// Dials of `opp2p_connectPeer` waiting for their outcome.
    pending: HashMap<ConnectionId, oneshot::Sender<Outcome>>,
}

impl SwarmSide {
    /// Learns from a swarm event before the event loop handles it.
    pub(crate) fn observe(&mut self, event: &SwarmEvent<NodeEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                self.connections
                    .entry(*peer_id)
                    .or_default()
                    .push((*connection_id, endpoint.is_dialer()));
                if let Some(reply) = self.pending.remove(connection_id) {
                    let _ = reply.send(Ok(()));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                ..
            } => {
                if let Some(list) = self.connections.get_mut(peer_id) {
                    list.retain(|(id, _)| id != connection_id);
                    if list.is_empty() {
                        self.connections.remove(peer_id);
                        self.latency.remove(peer_id);
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending.remove(connection_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            SwarmEvent::Behaviour(NodeEvent::Ping(libp2p_ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => self.record_rtt(*peer, *rtt),
            _ => {}
        }
    }

    fn record_rtt(&mut self, peer: PeerId, rtt: Duration) {
        let sample = rtt.as_secs_f64();
        self.latency
            .entry(peer)
            .and_modify(|avg| *avg = (1.0 - LATENCY_SMOOTHING) * *avg + LATENCY_SMOOTHING * sample)
            .or_insert(sample);
    }

    /// Answers `request` from the swarm's state; never waits.
    pub(crate) fn handle(&mut self, swarm: &mut Swarm<NodeBehaviour>, request: Request) {
        match request {
            Request::View { also, reply } => {
                let _ = reply.send(self.view(swarm, also));
            }
            Request::Change { change, reply } => {
                let _ = reply.send(apply(swarm.behaviour_mut(), change));
            }
            Request::Connect { peer, addr, reply } => {
                let _ = reply.send(self.connect(swarm, peer, addr));
            }
            Request::Disconnect { peer, reply } => {
                // Nothing to close is not an error (go-libp2p's `ClosePeer`).
                let _ = swarm.disconnect_peer_id(peer);
                self.latency.remove(&peer);
                let result = swarm
                    .behaviour_mut()
                    .gating
                    .unblock_peer(&peer)
                    .map_err(|e| format!("closed peer but failed to unblock: {e}"));
                let _ = reply.send(result);
            }
        }
    }

    fn connect(
        &mut self,
        swarm: &mut Swarm<NodeBehaviour>,
        peer: PeerId,
        addr: Multiaddr,
    ) -> Result<oneshot::Receiver<Outcome>, String> {
        let (tx, rx) = oneshot::channel();
        if swarm.is_connected(&peer) {
            // go-libp2p's `Connect` returns at once for a connected peer.
            let _ = tx.send(Ok(()));
            return Ok(rx);
        }
        self.pending.retain(|_, reply| !reply.is_closed());
        if self.pending.len() >= MAX_PENDING_CONNECTS {
            return Err(format!(
                "too many connects in flight (at most {MAX_PENDING_CONNECTS})"
            ));
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        let id = opts.connection_id();
        swarm
            .dial(opts)
            .map_err(|e| format!("failed to dial: {e}"))?;
        self.pending.insert(id, tx);
        Ok(rx)
    }

    fn view(&self, swarm: &Swarm<NodeBehaviour>, also: Vec<PeerId>) -> NetworkView {
        let behaviour = swarm.behaviour();
        let mut topic_peers = [0usize; 4];
        let mut gossip_peers = HashSet::new();
        for (peer, topics) in behaviour.gossip.gossipsub().all_peers() {
            let mut any = false;
            for topic in topics {
                if let Ok(blocks) = topic.as_str().parse::<BlocksTopic>() {
                    if let Some(count) =
                        topic_peers.get_mut(usize::from(blocks.version.topic_index()))
                    {
                        *count += 1;
                    }
                    any = true;
                }
            }
            if any {
                gossip_peers.insert(*peer);
            }
        }
        let mut seen = HashSet::new();
        let peers = swarm
            .connected_peers()
            .copied()
            .chain(also)
            .filter(|peer| seen.insert(*peer))
            .map(|peer| {
                let first = self
                    .connections
                    .get(&peer)
                    .and_then(|list| list.first())
                    .map(|(_, dialer)| *dialer);
                PeerView {
                    peer,
                    connectedness: if swarm.is_connected(&peer) {
                        CONNECTED
                    } else {
                        NOT_CONNECTED
                    },
                    direction: match first {
                        None => DIR_UNKNOWN,
                        Some(true) => DIR_OUTBOUND,
                        Some(false) => DIR_INBOUND,
                    },
                    protected: behaviour.conn_manager.is_protected(&peer),
                    latency_ns: self.latency.get(&peer).map_or(0, |secs| {
                        u64::try_from(Duration::from_secs_f64(*secs).as_nanos()).unwrap_or(u64::MAX)
                    }),
                    gossip_blocks: gossip_peers.contains(&peer),
                }
            })
            .collect();
        NetworkView {
            local_peer_id: Some(*swarm.local_peer_id()),
            listen_addrs: swarm.listeners().cloned().collect(),
            peers,
            topic_peers,
            connected: swarm.connected_peers().count(),
            blocked_peers: behaviour.gating.list_blocked_peers(),
            blocked_ips: behaviour.gating.list_blocked_ips(),
            blocked_subnets: behaviour.gating.list_blocked_subnets(),
        }
    }
}

/// Applies a block-list or protection change. Blocking closes the live connections it covers
/// (the gating behaviour does), which op-node's basic gater does not: issue 12 asks for it.
fn apply(behaviour: &mut NodeBehaviour, change: Change) -> Outcome {
    let gating = &mut behaviour.gating;
    let result = match change {
        Change::BlockPeer(peer) => gating.block_peer(peer),
        Change::UnblockPeer(peer) => gating.unblock_peer(&peer),
        Change::BlockAddr(ip) => gating.block_ip(ip),
        Change::UnblockAddr(ip) => gating.unblock_ip(ip),
        Change::BlockSubnet(net) => gating.block_subnet(net),
        Change::UnblockSubnet(net) => gating.unblock_subnet(net),
        Change::Protect(peer) => {
            behaviour.conn_manager.protect(peer, API_PROTECTED_TAG);
            Ok(())
        }
        Change::Unprotect(peer) => {
            behaviour.conn_manager.unprotect(&peer, API_PROTECTED_TAG);
            Ok(())
        }
    };
    result.map_err(|e| e.to_string())
}
