//! [`EventLoop`]: the one task that owns the swarm (style §3.3). It selects over swarm events,
//! validation results, commands from [`NodeHandle`](crate::handle::NodeHandle)s, and its timers:
//!
//! | timer | every | does |
//! |---|---|---|
//! | gossip score | 15 s | app scores into gossipsub, gossip score snapshots into the score book |
//! | peer monitor | 1 s | one connected peer's score to gating (ban below the threshold) and the connection manager |
//! | app-score decay | slot | op-node's per-slot decay of connected peers' req-resp scores |
//! | store GC | 2 h | the peer store's bounded GC, on a blocking thread |
//! | static redial | 250 ms | dials static peers whose backoff has passed |
//!
//! The sync behaviour (payload_by_number) needs no timer here: it schedules its own wake-ups,
//! scores peers in the peer store itself, and sends promoted payloads to the app task.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_identify as identify;
use libp2p_identity::PeerId;
use libp2p_ping as ping;
use libp2p_swarm::{
    Swarm, SwarmEvent,
    dial_opts::{DialOpts, PeerCondition},
};
use op_p2p_gossip::{Driver, SCORE_INSPECT_INTERVAL, ValidationResult};
use op_p2p_peerstore::{IdentifyInfo, PeerStore};
use op_p2p_reqresp_sync::Event as SyncEvent;
use op_p2p_types::BlockSigner;
use tokio::{
    sync::mpsc,
    time::{MissedTickBehavior, interval, interval_at},
};
use tracing::{debug, info, trace, warn};

use crate::{
    behaviour::{NodeBehaviour, NodeEvent},
    gap::{GapFiller, NoSync},
    handle::{Command, NetworkSnapshot, PublishError},
    static_peers::{STATIC_ADDR_TTL, StaticPeers},
};

/// The tracing target of the swarm task.
const TARGET: &str = "op_p2p::node";
/// op-node's peer monitor checks one connected peer per second (`checkInterval`).
pub(crate) const PEER_MONITOR_INTERVAL: Duration = Duration::from_secs(1);
/// How often static peers' redial schedule is looked at.
pub(crate) const REDIAL_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// How long addresses learnt from identify are kept in the peer store (go-libp2p's
/// `RecentlyConnectedAddrTTL`, 15 min).
pub(crate) const IDENTIFY_ADDR_TTL: Duration = Duration::from_secs(15 * 60);

/// The swarm task's state.
pub(crate) struct EventLoop {
    swarm: Swarm<NodeBehaviour>,
    driver: Driver,
    results: mpsc::Receiver<ValidationResult>,
    commands: mpsc::Receiver<Command>,
    store: PeerStore,
    signer: Option<BlockSigner>,
    statics: StaticPeers,
    /// The gap filler when req-resp sync is off; see [`crate::gap`].
    no_sync: NoSync,
    /// Where the peer monitor resumes its round.
    monitor_cursor: usize,
    slot: Duration,
    early_events: Vec<SwarmEvent<NodeEvent>>,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer_id", self.swarm.local_peer_id())
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

/// What the event loop is built from.
pub(crate) struct Parts {
    /// The swarm, already listening.
    pub(crate) swarm: Swarm<NodeBehaviour>,
    /// The gossip driver.
    pub(crate) driver: Driver,
    /// Its validation results.
    pub(crate) results: mpsc::Receiver<ValidationResult>,
    /// Commands from the handles.
    pub(crate) commands: mpsc::Receiver<Command>,
    /// The peer store.
    pub(crate) store: PeerStore,
    /// The sequencer key, in sequencer mode.
    pub(crate) signer: Option<BlockSigner>,
    /// Static peers.
    pub(crate) statics: StaticPeers,
    /// The slot (block time).
    pub(crate) slot: Duration,
    /// Swarm events that arrived while the node waited for its listen addresses.
    pub(crate) early_events: Vec<SwarmEvent<NodeEvent>>,
}

impl EventLoop {
    /// The loop over `parts`.
    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            swarm: parts.swarm,
            driver: parts.driver,
            results: parts.results,
            commands: parts.commands,
            store: parts.store,
            signer: parts.signer,
            statics: parts.statics,
            no_sync: NoSync,
            monitor_cursor: 0,
            slot: parts.slot,
            early_events: parts.early_events,
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
        let start = tokio::time::Instant::now();
        let mut score_tick = interval_at(start + SCORE_INSPECT_INTERVAL, SCORE_INSPECT_INTERVAL);
        let mut monitor = interval_at(start + PEER_MONITOR_INTERVAL, PEER_MONITOR_INTERVAL);
        let mut decay = interval_at(start + self.slot, self.slot);
        let gc_every = self.store.config().gc_interval();
        let mut gc = interval_at(start + gc_every, gc_every);
        let mut redial = interval(REDIAL_CHECK_INTERVAL);
        for timer in [
            &mut score_tick,
            &mut monitor,
            &mut decay,
            &mut gc,
            &mut redial,
        ] {
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        for event in std::mem::take(&mut self.early_events) {
            self.on_swarm_event(event);
        }
        let mut pipeline_open = true;
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                result = self.results.recv(), if pipeline_open => match result {
                    Some(result) => {
                        self.driver.on_validation_result(&mut self.swarm.behaviour_mut().gossipsub, result);
                    }
                    None => {
                        pipeline_open = false;
                        self.driver.on_pipeline_closed(&mut self.swarm.behaviour_mut().gossipsub);
                    }
                },
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        let _ = reply.send(());
                        break;
                    }
                    Some(command) => self.on_command(command),
                    None => break,
                },
                _ = score_tick.tick() => {
                    self.driver.on_score_tick(&mut self.swarm.behaviour_mut().gossipsub);
                }
                _ = monitor.tick() => self.monitor_one_peer(),
                _ = decay.tick() => self.decay_app_scores(),
                _ = gc.tick() => self.spawn_gc(),
                _ = redial.tick() => self.redial_static_peers(Instant::now()),
            }
        }
        info!(target: TARGET, "swarm task stopped");
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<NodeEvent>) {
        match event {
            SwarmEvent::Behaviour(NodeEvent::Gossipsub(event)) => {
                self.driver
                    .on_event(&mut self.swarm.behaviour_mut().gossipsub, event);
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
            } => {
                self.statics.on_connected(&peer_id);
                if num_established.get() == 1 {
                    info!(
                        target: TARGET,
                        peer = %peer_id,
                        addr = %endpoint.get_remote_address(),
                        dialer = endpoint.is_dialer(),
                        peers = self.swarm.connected_peers().count(),
                        "peer connected"
                    );
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                self.statics.on_disconnected(&peer_id, Instant::now());
                info!(
                    target: TARGET,
                    peer = %peer_id,
                    cause = cause.map(|c| c.to_string()).unwrap_or_default(),
                    peers = self.swarm.connected_peers().count(),
                    "peer disconnected"
                );
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if let Some(peer) = peer_id {
                    self.statics.on_dial_failed(&peer, Instant::now());
                }
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
    }

    fn on_identify(&self, event: identify::Event) {
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
        let store = &self.store;
        let result = store
            .set_public_key(&peer_id, &info.public_key)
            .and_then(|()| {
                store.set_identify(
                    &peer_id,
                    &IdentifyInfo {
                        agent_version: info.agent_version.clone(),
                        protocol_version: info.protocol_version.clone(),
                    },
                )
            })
            .and_then(|()| store.set_protocols(&peer_id, &info.protocols))
            .and_then(|()| store.add_addrs(&peer_id, &info.listen_addrs, IDENTIFY_ADDR_TTL));
        if let Err(error) = result {
            warn!(target: TARGET, peer = %peer_id, %error, "cannot store identify information");
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { envelope, reply } => {
                let result = match &self.signer {
                    None => Err(PublishError::NotSequencer),
                    Some(signer) => self
                        .driver
                        .publish(&mut self.swarm.behaviour_mut().gossipsub, signer, &envelope)
                        .map(|_| ())
                        .map_err(PublishError::from),
                };
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
                let until = self.store.now().saturating_add(duration.as_secs());
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gating
                    .ban_peer(peer, until)
                    .map(|()| until);
                let _ = reply.send(result);
            }
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
                .map(|p| (*p, behaviour.gossipsub.peer_score(p)))
                .collect(),
            bans: behaviour.gating.list_peer_bans(),
        }
    }

    /// op-node's peer monitor: the next connected peer's gossipsub score goes to the
    /// connection manager (trimming order) and to gating, which bans it below
    /// `p2p.ban.threshold` unless it is static.
    fn monitor_one_peer(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        if peers.is_empty() {
            return;
        }
        let peer = peers[self.monitor_cursor % peers.len()];
        self.monitor_cursor = self.monitor_cursor.wrapping_add(1);
        let behaviour = self.swarm.behaviour_mut();
        let Some(score) = behaviour.gossipsub.peer_score(&peer) else {
            return;
        };
        behaviour.conn_manager.set_score(&peer, score);
        match behaviour.gating.report_score(peer, score) {
            Ok(true) => info!(target: TARGET, %peer, score, "banned for a low score"),
            Ok(false) => {}
            Err(error) => warn!(target: TARGET, %peer, %error, "ban not persisted"),
        }
    }

    fn decay_app_scores(&self) {
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        if let Err(error) = self.store.decay_app_scores(&connected) {
            warn!(target: TARGET, %error, "application score decay failed");
        }
    }

    fn spawn_gc(&self) {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || match store.gc() {
            Ok(report) => debug!(target: TARGET, ?report, "peer store GC"),
            Err(error) => warn!(target: TARGET, %error, "peer store GC failed"),
        });
    }

    fn redial_static_peers(&mut self, now: Instant) {
        for (peer, addr) in self.statics.due(now) {
            self.dial_static(peer, addr, now);
        }
    }

    fn dial_static(&mut self, peer: PeerId, addr: Multiaddr, now: Instant) {
        if let Err(error) =
            self.store
                .add_addrs(&peer, std::slice::from_ref(&addr), STATIC_ADDR_TTL)
        {
            warn!(target: TARGET, %peer, %error, "cannot store a static peer's address");
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        match self.swarm.dial(opts) {
            Ok(()) => debug!(target: TARGET, %peer, "dialling static peer"),
            Err(error) => {
                debug!(target: TARGET, %peer, %error, "static peer dial refused");
                self.statics.on_dial_failed(&peer, now);
            }
        }
    }

    /// Marks the static peers as protected in gating (no score bans) and the connection manager
    /// (tag `static`, never trimmed).
    pub(crate) fn protect_static_peers(&mut self, peers: &HashSet<PeerId>) {
        let behaviour = self.swarm.behaviour_mut();
        for peer in peers {
            behaviour.gating.protect(*peer);
            behaviour
                .conn_manager
                .protect(*peer, op_p2p_gating::conn_manager::STATIC_TAG);
            if let Some(sync) = behaviour.sync.as_mut() {
                sync.set_static(*peer, true);
            }
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
    }
}
