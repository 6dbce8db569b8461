//! [`EventLoop`]: the one task that owns the swarm (style §3.3). It selects over swarm events
//! and commands from [`NodeHandle`](crate::handle::NodeHandle)s, and nothing else: every timer
//! lives in the behaviour that needs it (gossip's score inspection, gating's peer monitor and
//! score decay, the connection manager's static-peer redial, sync's deadlines), and the peer
//! store's writes and GC run on its own writer thread. What is left here is wiring: accepted
//! blocks go to the app task, identify records to the peer book, and commands to behaviours.

use std::sync::Arc;

use futures::StreamExt as _;
use libp2p_identify as identify;
use libp2p_ping as ping;
use libp2p_swarm::{Swarm, SwarmEvent};
use op_p2p_api::{IdentifyInfo, IdentifyRecord, PeerBook, UnsafePayload};
use op_p2p_gossip::{Event as GossipEvent, GossipCounters, Metrics as _};
use op_p2p_reqresp_sync::Event as SyncEvent;
use tokio::sync::mpsc;
use tracing::{debug, info, trace, warn};

use crate::{
    behaviour::{NodeBehaviour, NodeEvent},
    gap::{GapFiller, NoSync},
    handle::{Command, NetworkSnapshot, PublishError},
    metrics::sampler::{SAMPLE_INTERVAL, Sampler},
    wall_clock::now_us,
};

/// The tracing target of the swarm task.
const TARGET: &str = "op_p2p::node";

/// The swarm task's state.
pub(crate) struct EventLoop {
    swarm: Swarm<NodeBehaviour>,
    commands: mpsc::Receiver<Command>,
    /// Accepted gossip blocks, to the app task (bounded; a full channel drops and counts).
    deliveries: mpsc::Sender<UnsafePayload>,
    gossip: Arc<GossipCounters>,
    peer_book: Arc<dyn PeerBook>,
    /// The gap filler when req-resp sync is off; see [`crate::gap`].
    no_sync: NoSync,
    early_events: Vec<SwarmEvent<NodeEvent>>,
    /// Samples the metrics read from the swarm's state.
    sampler: Sampler,
    /// The `opp2p_*` RPC's state on this task.
    rpc: crate::rpc::SwarmSide,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer_id", self.swarm.local_peer_id())
            .finish_non_exhaustive()
    }
}

/// What the event loop is built from.
pub(crate) struct Parts {
    /// The swarm, already listening.
    pub(crate) swarm: Swarm<NodeBehaviour>,
    /// Commands from the handles.
    pub(crate) commands: mpsc::Receiver<Command>,
    /// Where accepted gossip blocks go.
    pub(crate) deliveries: mpsc::Sender<UnsafePayload>,
    /// The gossip counters (deliveries handed over or dropped).
    pub(crate) gossip: Arc<GossipCounters>,
    /// Where identify records go.
    pub(crate) peer_book: Arc<dyn PeerBook>,
    /// Swarm events that arrived while the node waited for its listen addresses.
    pub(crate) early_events: Vec<SwarmEvent<NodeEvent>>,
    /// The metrics sampler.
    pub(crate) sampler: Sampler,
}

impl EventLoop {
    /// The loop over `parts`.
    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            swarm: parts.swarm,
            commands: parts.commands,
            deliveries: parts.deliveries,
            gossip: parts.gossip,
            peer_book: parts.peer_book,
            no_sync: NoSync,
            early_events: parts.early_events,
            sampler: parts.sampler,
            rpc: crate::rpc::SwarmSide::default(),
        }
    }

    /// The filler the gap trigger's ranges go to: the sync behaviour in the swarm, or
    /// [`NoSync`] when `p2p.sync.req-resp` is off.
    fn gap_filler(&mut self) -> &mut dyn GapFiller {
        match self.swarm.behaviour_mut().sync.as_mut() {
            Some(sync) => sync,
            None => &mut self.no_sync,
        }
    }

    /// Runs until a [`Command::Shutdown`] or until every handle is dropped.
    pub(crate) async fn run(mut self) {
        for event in std::mem::take(&mut self.early_events) {
            self.on_swarm_event(event);
        }
        let mut sample_tick = tokio::time::interval(SAMPLE_INTERVAL);
        sample_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => {
                    if self.on_swarm_event(event) {
                        // The app task was just woken, into this worker's LIFO slot (tokio
                        // runs a task woken by the running one next on the same worker, and
                        // nothing steals it from there): it would wait until this loop ran out
                        // of ready events, ~0.65 ms p50 on the devnet. Yielding lets it store
                        // the block now; the forward was already handed to gossipsub.
                        tokio::task::yield_now().await;
                    }
                }
                _ = sample_tick.tick() => self.sampler.sample(&self.swarm),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        let _ = reply.send(());
                        break;
                    }
                    Some(command) => self.on_command(command),
                    None => break,
                },
            }
        }
        info!(target: TARGET, "swarm task stopped");
    }

    /// Handles one swarm event; whether it handed a block to the app task.
    fn on_swarm_event(&mut self, event: SwarmEvent<NodeEvent>) -> bool {
        self.rpc.observe(&event);
        match event {
            SwarmEvent::Behaviour(NodeEvent::Gossip(GossipEvent::Block(payload))) => {
                // The app task may be busy; the swarm task never waits for it. A dropped block
                // is counted and recovered by the gap check.
                let number = payload.envelope.execution_payload.block_number;
                let delivered = self.deliveries.try_send(*payload).is_ok();
                debug!(target: TARGET, number, delivered, "gossip block to the app task");
                if !delivered {
                    warn!(target: TARGET, "app channel full or closed; gossip block dropped");
                }
                self.gossip.record_delivery(delivered);
                return delivered;
            }
            SwarmEvent::Behaviour(NodeEvent::Gossip(GossipEvent::FloodCutOff {
                peer,
                refusals,
            })) => {
                // Gossip already closes its connections; the ban keeps it from coming back.
                let gating = &mut self.swarm.behaviour_mut().gating;
                match gating.report_misbehaviour(peer, "gossip flood") {
                    Ok(banned) => {
                        warn!(target: TARGET, %peer, refusals, banned, "gossip flood cut off")
                    }
                    Err(error) => {
                        warn!(target: TARGET, %peer, %error, "gossip flood ban not persisted")
                    }
                }
            }
            SwarmEvent::Behaviour(NodeEvent::Gossip(event)) => {
                trace!(target: TARGET, ?event, "gossip");
            }
            SwarmEvent::Behaviour(NodeEvent::Identify(event)) => self.on_identify(*event),
            SwarmEvent::Behaviour(NodeEvent::Sync(event)) => on_sync_event(&event),
            SwarmEvent::Behaviour(NodeEvent::Ping(ping::Event { peer, result, .. })) => {
                match result {
                    Ok(rtt) => trace!(target: TARGET, %peer, ?rtt, "ping"),
                    Err(error) => debug!(target: TARGET, %peer, %error, "ping failed"),
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } if num_established.get() == 1 => {
                info!(
                    target: TARGET,
                    peer = %peer_id,
                    addr = %endpoint.get_remote_address(),
                    dialer = endpoint.is_dialer(),
                    peers = self.swarm.connected_peers().count(),
                    "peer connected"
                );
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                info!(
                    target: TARGET,
                    peer = %peer_id,
                    cause = cause.map(|c| c.to_string()).unwrap_or_default(),
                    peers = self.swarm.connected_peers().count(),
                    "peer disconnected"
                );
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(target: TARGET, peer = ?peer_id, %error, "dial failed");
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                debug!(target: TARGET, addr = %send_back_addr, %error, "inbound connection failed");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(target: TARGET, %address, "listening");
            }
            SwarmEvent::ListenerError { error, .. } => {
                warn!(target: TARGET, %error, "listener error");
            }
            other => trace!(target: TARGET, event = ?other, "swarm event"),
        }
        false
    }

    /// Hands an identify exchange to the peer book (which queues the writes off this task) and
    /// the peer's protocols to the sync client, which asks only peers that serve
    /// payload_by_number.
    fn on_identify(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else {
            return;
        };
        debug!(
            target: TARGET,
            peer = %peer_id,
            agent = %info.agent_version,
            protocols = info.protocols.len(),
            "identified"
        );
        if let Some(sync) = self.swarm.behaviour_mut().sync.as_mut() {
            sync.set_peer_protocols(peer_id, &info.protocols);
        }
        self.peer_book.record_identify(
            &peer_id,
            IdentifyRecord {
                public_key: info.public_key,
                info: IdentifyInfo {
                    agent_version: info.agent_version,
                    protocol_version: info.protocol_version,
                },
                protocols: info.protocols.iter().map(ToString::to_string).collect(),
                listen_addrs: info.listen_addrs,
            },
        );
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish {
                envelope,
                signature,
                reply,
            } => {
                let handed_over = now_us();
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .publish_signed(&envelope, &signature)
                    .map(|_| handed_over)
                    .map_err(PublishError::from);
                debug!(
                    target: TARGET,
                    number = envelope.execution_payload.block_number,
                    ok = result.is_ok(),
                    "block handed to gossipsub"
                );
                let _ = reply.send(result);
            }
            Command::RequestRange { start, end, reply } => {
                let _ = reply.send(self.gap_filler().request_range(start, end));
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::BanPeer {
                peer,
                duration,
                reply,
            } => {
                let gating = &mut self.swarm.behaviour_mut().gating;
                let until = gating.now().saturating_add(duration.as_secs());
                let _ = reply.send(gating.ban_peer(peer, until).map(|()| until));
            }
            Command::Rpc(request) => self.rpc.handle(&mut self.swarm, request),
            Command::Shutdown { reply } => {
                // Handled in `run`; answered here only if it ever arrives another way.
                let _ = reply.send(());
            }
        }
    }

    fn snapshot(&self) -> NetworkSnapshot {
        let behaviour = self.swarm.behaviour();
        NetworkSnapshot {
            listen_addrs: self.swarm.listeners().cloned().collect(),
            peers: self
                .swarm
                .connected_peers()
                .map(|p| (*p, behaviour.gossip.peer_score(p)))
                .collect(),
            bans: behaviour.gating.list_peer_bans(),
            sync_peers: behaviour
                .sync
                .as_ref()
                .map_or(0, op_p2p_reqresp_sync::Behaviour::sync_peers),
        }
    }
}

/// The sync behaviour has already acted on its events (scored the peer, queued the payload);
/// they are logged.
fn on_sync_event(event: &SyncEvent) {
    match event {
        SyncEvent::Served { peer, number, code } => {
            debug!(target: TARGET, %peer, ?number, ?code, "served payload_by_number");
        }
        SyncEvent::Response {
            peer,
            number,
            result: Ok(hash),
        } => debug!(target: TARGET, %peer, number, %hash, "payload_by_number response"),
        SyncEvent::Response {
            peer,
            number,
            result: Err(error),
        } => debug!(target: TARGET, %peer, number, %error, "payload_by_number request failed"),
        SyncEvent::RangeCancelled { peer, number } => {
            info!(target: TARGET, %peer, number, "peer does not have a block: range cancelled");
        }
        SyncEvent::Promoted { peer, number, hash } => {
            debug!(target: TARGET, %peer, number, %hash, "synced block promoted");
        }
        SyncEvent::Rejected { peer, number, hash } => {
            warn!(target: TARGET, %peer, number, %hash, "synced block rejected");
        }
        SyncEvent::NotServing { peer } => {
            info!(target: TARGET, %peer, "peer does not serve payload_by_number: not asked for blocks, not scored for it");
        }
    }
}
