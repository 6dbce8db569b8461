//! [`Behaviour`]: block gossip as one [`NetworkBehaviour`]. It wraps op-node's gossipsub router,
//! sends every message to the validation pipeline off the swarm task, answers gossipsub once per
//! message, keeps gossip and application scores in step with the [`ScoreBook`], publishes, and
//! emits [`Event`]s. An embedder composes it with `#[derive(NetworkBehaviour)]` and writes no
//! gossip code in its swarm loop.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::FutureExt as _;
use futures_timer::Delay;
use libp2p_core::{Endpoint, Multiaddr, transport::PortUse};
use libp2p_gossipsub::{self as gossipsub, MessageId};
use libp2p_identity::PeerId;
use libp2p_swarm::{
    CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use op_p2p_api::{Clock, GossipScores, NoopScoreBook, ScoreBook, SystemClock, UnsafePayload};
use op_p2p_types::{BlockRef, BlockSigner, ExecutionPayloadEnvelope, RollupConfig, SIGNATURE_LEN};
use tokio::sync::mpsc;

use crate::{
    colocation::IpColocation,
    config::Config,
    decompressed::Decompressed,
    error::Error,
    flood_guard::FloodGuard,
    graylist_watch::{GRAYLIST_WATCH_INTERVAL, GraylistWatch},
    metrics::{Metrics, NoopMetrics},
    peer_score::{
        GRAYLIST_THRESHOLD, IP_COLOCATION_FACTOR_THRESHOLD, IP_COLOCATION_FACTOR_WEIGHT,
        ScoringMode,
    },
    pipeline::{ValidationPipeline, ValidationRequest, ValidationResult},
    publisher::Publisher,
    router::{Gossipsub, new_gossipsub_keeping},
    signer::UnsafeBlockSigner,
    validator::{Validate as _, Validator},
    verdict::{Outcome, Reason},
};

#[cfg(test)]
mod tests;

/// What block gossip reports to the swarm.
#[derive(Debug)]
pub enum Event {
    /// A block passed validation: gossipsub relays it, and the application should take it.
    /// (Boxed: a payload is large next to the other events.)
    Block(Box<UnsafePayload>),
    /// A block of ours went out ([`Behaviour::publish`]).
    Published {
        /// Its gossipsub message id.
        message_id: MessageId,
        /// The block.
        block: BlockRef,
    },
    /// A message's validation result was reported to gossipsub (one per message received).
    Validated(Reported),
    /// `peer` kept sending while [`Config::validation_queue_per_peer`] of its messages were
    /// waiting: `refusals` of them were refused within [`Config::flood_cutoff`]'s window, a
    /// rate no honest peer reaches ([`crate::FloodCutoff`]). Its connections are being closed;
    /// the application should ban it, or it can reconnect and start again.
    FloodCutOff {
        /// The flooding peer.
        peer: PeerId,
        /// Its refusals within the window.
        refusals: u32,
    },
    /// Any other gossipsub event (subscriptions, peers without gossipsub, slow peers), after
    /// this behaviour has acted on it.
    Gossipsub(gossipsub::Event),
}

/// What was reported to gossipsub for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The message.
    pub message_id: MessageId,
    /// The peer that forwarded it.
    pub source: PeerId,
    /// op-node's outcome ([`Reason::outcome`]).
    pub outcome: Outcome,
    /// What gossipsub was told ([`Reason::reported`]): a reject blamed on our own state goes
    /// to gossipsub as an ignore, costing the peer no score.
    pub reported: Outcome,
    /// Why it was not accepted.
    pub reason: Option<Reason>,
    /// Whether gossipsub still had the message (`report_message_validation_result`'s answer);
    /// an accepted message no longer cached was not relayed.
    pub in_cache: bool,
}

/// What the behaviour reads and reports besides the network: time, scores, metrics.
///
/// The defaults are the system clock, no score book ([`NoopScoreBook`]) and no metrics.
#[derive(Clone)]
pub struct Services {
    /// Where validation reads "now" (unix seconds; op-node compares with `time.Now()`).
    pub clock: Arc<dyn Clock>,
    /// Application scores in, gossip score snapshots out, every
    /// [`Config::score_inspect_interval`].
    pub score_book: Arc<dyn ScoreBook>,
    /// Validation outcomes, reports, deliveries and publishes.
    pub metrics: Arc<dyn Metrics>,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock::new()),
            score_book: Arc::new(NoopScoreBook),
            metrics: Arc::new(NoopMetrics),
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// Block gossip as op-node runs it, as one [`NetworkBehaviour`].
///
/// ```text
///  network ─▶ gossipsub ──Message──▶ try_submit ─▶ ValidationPipeline (bounded, off the task)
///                 ▲                                        │
///                 └── report_message_validation_result ◀───┘ result ─▶ Event::Block
/// ```
///
/// - Every message goes to the [`ValidationPipeline`] (bounded queue and concurrency, timeout,
///   panic isolation); a full queue ignores it at once ([`Reason::QueueFull`]). Exactly one
///   result per message is reported to gossipsub, and each is emitted as [`Event::Validated`].
/// - An accepted block is emitted as [`Event::Block`]. Our own blocks never come back: gossipsub
///   does not hand a node its own publications, and a copy relayed back to us falls in the 65 s
///   seen cache (op-node filters them with `FilterSelf`).
/// - Every [`Config::score_inspect_interval`] (op-node's 15 s), and when a peer subscribes, the
///   peer's application score goes from the [`ScoreBook`] into gossipsub, and its gossip score
///   back into the book as a snapshot (op-node's score inspector); gating's peer monitor bans on
///   those snapshots. Between inspections, the live score of a peer below the graylist
///   threshold goes into the book every second (the graylist watch), so gating's graylist
///   cut-off sees a graylisting within a second, not up to 15 s later or never.
///
/// Nothing here blocks the swarm task: validation runs on tokio's blocking pool, and the score
/// book's contract is to answer from memory. The pipeline is spawned on the tokio runtime
/// current at [`Behaviour::new`].
pub struct Behaviour {
    gossipsub: Gossipsub,
    /// Messages the id function decompressed, taken when they go to validation.
    decompressed: Decompressed,
    pipeline: ValidationPipeline,
    results: mpsc::Receiver<ValidationResult>,
    pipeline_open: bool,
    /// Messages sent for validation and not answered yet: at most the queue size.
    pending: HashMap<MessageId, PeerId>,
    /// [`Self::pending`] counted per forwarding peer.
    pending_per_peer: HashMap<PeerId, usize>,
    /// The bound on [`Self::pending`].
    queue_size: usize,
    /// The bound on [`Self::pending_per_peer`].
    queue_per_peer: usize,
    /// Counts refusals by that bound and picks the peers to cut off; `None` when off.
    flood_guard: Option<FloodGuard>,
    /// Peers cut off for flooding whose connections are still to be closed.
    cut_off: VecDeque<PeerId>,
    /// Monotonic time for [`Self::flood_guard`].
    clock: Arc<dyn Clock>,
    /// op-node's P6 over gossipsub peers, fed into the application score; `None` when scoring
    /// is off.
    colocation: Option<IpColocation>,
    publisher: Publisher,
    score_book: Arc<dyn ScoreBook>,
    metrics: Arc<dyn Metrics>,
    score_interval: Duration,
    score_timer: Delay,
    /// Graylisted peers whose live score goes into the book between inspections; `None` when
    /// scoring is off.
    graylist_watch: Option<GraylistWatch>,
    graylist_timer: Delay,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour")
            .field("pending", &self.pending.len())
            .field("publisher", &self.publisher)
            .finish_non_exhaustive()
    }
}

impl Behaviour {
    /// Gossip for `rollup`'s chain with `config`, expecting blocks signed by `signer` (rotate it
    /// at run time through a clone), with the clock, score book and metrics of `services`.
    ///
    /// Must be called inside a tokio runtime with its time driver: the validation pipeline is
    /// spawned on it.
    pub fn new(
        config: &Config,
        rollup: RollupConfig,
        signer: UnsafeBlockSigner,
        services: Services,
    ) -> Result<Self, Error> {
        let validator = Arc::new(Validator::new(
            rollup.clone(),
            signer,
            config.timestamp_threshold,
        ));
        // A large message wakes the validator's helper core as soon as it arrives, before its
        // id is even computed: on a 2-vCPU VM a sleeping core took up to a millisecond to wake.
        let early = Arc::clone(&validator);
        let decompressed = Decompressed::with_arrival_hook(move |len| early.arriving(len));
        let gossipsub = new_gossipsub_keeping(config, &rollup, &decompressed)?;
        let (pipeline, results) = ValidationPipeline::spawn(
            validator,
            Arc::clone(&services.clock),
            Arc::clone(&services.metrics),
            config,
        );
        let mut this = Self::from_parts(
            gossipsub,
            pipeline,
            results,
            Publisher::new(rollup),
            services,
            config,
        );
        this.decompressed = decompressed;
        Ok(this)
    }

    fn from_parts(
        gossipsub: Gossipsub,
        pipeline: ValidationPipeline,
        results: mpsc::Receiver<ValidationResult>,
        publisher: Publisher,
        services: Services,
        config: &Config,
    ) -> Self {
        let score_interval = config.score_inspect_interval;
        let colocation = (config.scoring != ScoringMode::None).then(|| {
            IpColocation::new(
                IP_COLOCATION_FACTOR_THRESHOLD,
                IP_COLOCATION_FACTOR_WEIGHT,
                config.ip_colocation_whitelist.iter().copied(),
            )
            .count_loopback(config.ip_colocation_count_loopback)
        });
        Self {
            gossipsub,
            decompressed: Decompressed::default(),
            pipeline,
            results,
            pipeline_open: true,
            pending: HashMap::new(),
            pending_per_peer: HashMap::new(),
            queue_size: config.validation_queue_size.max(1),
            queue_per_peer: config.validation_queue_per_peer.max(1),
            flood_guard: config.flood_cutoff.map(FloodGuard::new),
            cut_off: VecDeque::new(),
            clock: services.clock,
            colocation,
            publisher,
            score_book: services.score_book,
            metrics: services.metrics,
            score_interval,
            score_timer: Delay::new(score_interval),
            graylist_watch: (config.scoring != ScoringMode::None)
                .then(|| GraylistWatch::new(GRAYLIST_THRESHOLD)),
            graylist_timer: Delay::new(GRAYLIST_WATCH_INTERVAL),
            events: VecDeque::new(),
        }
    }

    /// The gossipsub router underneath (peer scores, mesh and topic queries).
    pub fn gossipsub(&self) -> &Gossipsub {
        &self.gossipsub
    }

    /// The gossipsub router underneath, mutably (raw publishes in tests and tools).
    pub fn gossipsub_mut(&mut self) -> &mut Gossipsub {
        &mut self.gossipsub
    }

    /// The peer's gossipsub score, `None` when scoring is off.
    pub fn peer_score(&self, peer: &PeerId) -> Option<f64> {
        self.gossipsub.peer_score(peer)
    }

    /// Messages waiting for a validation result.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The peer's IP colocation factor as op-node's score snapshot has it (the surplus of
    /// gossipsub peers over 10 at its addresses; 0 when scoring is off). Its score carries
    /// `−35 · Σ surplus²` of it.
    pub fn ip_colocation_factor(&self, peer: &PeerId) -> f64 {
        self.colocation.as_ref().map_or(0.0, |c| c.factor(peer))
    }

    /// Signs `envelope` with the sequencer key `signer` and publishes it on its scheduled topic.
    pub fn publish(
        &mut self,
        signer: &BlockSigner,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<MessageId, Error> {
        let result = self
            .publisher
            .publish(&mut self.gossipsub, signer, envelope);
        self.on_published(result, envelope)
    }

    /// Publishes an already-signed `envelope` (op-conductor, a remote signer) unchanged on its
    /// scheduled topic.
    pub fn publish_signed(
        &mut self,
        envelope: &ExecutionPayloadEnvelope,
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<MessageId, Error> {
        let result = self
            .publisher
            .publish_signed(&mut self.gossipsub, envelope, signature);
        self.on_published(result, envelope)
    }

    /// Runs the score inspection now instead of at the next tick.
    pub fn inspect_scores(&mut self) {
        self.on_score_tick();
    }

    fn on_published(
        &mut self,
        result: Result<MessageId, Error>,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<MessageId, Error> {
        self.metrics.record_publish(result.is_ok());
        if let Ok(message_id) = &result {
            self.events.push_back(Event::Published {
                message_id: message_id.clone(),
                block: BlockRef::of(envelope),
            });
        }
        result
    }

    /// A gossipsub event: a message goes to the pipeline (or is ignored at once if the
    /// pipeline cannot take it); a subscribing peer gets its application score at once.
    fn on_gossipsub_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                if self.pending.contains_key(&message_id) {
                    // gossipsub hands each id over once; the pending request will answer it.
                    tracing::warn!(target: "gossip", %message_id, "message id already pending validation");
                    return;
                }
                tracing::debug!(target: "gossip::hop", %message_id, peer = %propagation_source, bytes = message.data.len(), "received");
                let queued = self
                    .pending_per_peer
                    .get(&propagation_source)
                    .copied()
                    .unwrap_or(0);
                let refused = if queued >= self.queue_per_peer {
                    Some(Reason::PeerBusy)
                } else if self.pending.len() >= self.queue_size {
                    Some(Reason::QueueFull)
                } else {
                    None
                };
                if let Some(reason) = refused {
                    // Dropped before any work: the id function already decompressed it.
                    self.decompressed.take(&message_id);
                    self.metrics
                        .record_validation(reason.outcome(), Some(reason), Duration::ZERO);
                    self.report(message_id, propagation_source, Some(reason));
                    if reason == Reason::PeerBusy {
                        self.on_peer_busy(propagation_source);
                    }
                    return;
                }
                let request = ValidationRequest {
                    decompressed: self.decompressed.take(&message_id),
                    message_id: message_id.clone(),
                    source: propagation_source,
                    topic: message.topic,
                    data: message.data,
                };
                match self.pipeline.try_submit(request) {
                    Ok(()) => {
                        self.pending.insert(message_id, propagation_source);
                        *self.pending_per_peer.entry(propagation_source).or_default() += 1;
                    }
                    Err(reason) => {
                        self.metrics.record_validation(
                            reason.outcome(),
                            Some(reason),
                            Duration::ZERO,
                        );
                        self.report(message_id, propagation_source, Some(reason));
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                // Subscribing proves it speaks gossipsub (normally known already from the
                // protocol it negotiated).
                self.identify_gossipsub(peer_id, true);
                let score = self.push_app_score(&peer_id);
                tracing::trace!(target: "gossip", peer = %peer_id, %topic, score, "peer subscribed");
                self.events
                    .push_back(Event::Gossipsub(gossipsub::Event::Subscribed {
                        peer_id,
                        topic,
                    }));
            }
            other => {
                tracing::trace!(target: "gossip", event = ?other, "gossipsub event");
                self.events.push_back(Event::Gossipsub(other));
            }
        }
    }

    /// Reports a validation result and emits an accepted block. A result whose message is not
    /// pending (already answered) is dropped.
    fn on_validation_result(&mut self, result: ValidationResult) {
        if let Some(source) = self.pending.remove(&result.message_id) {
            self.release(source);
        } else {
            tracing::warn!(
                target: "gossip",
                message_id = %result.message_id,
                "validation result for a message not pending; dropped"
            );
            return;
        }
        self.report(result.message_id, result.source, result.reason);
        if let (Outcome::Accept, Some(envelope)) = (result.outcome, result.envelope) {
            self.events.push_back(Event::Block(Box::new(UnsafePayload {
                peer: result.source,
                envelope,
            })));
        }
    }

    /// Answers every pending message with ignore ([`Reason::PipelineClosed`]) once the
    /// pipeline has stopped, so no message goes unanswered.
    fn on_pipeline_closed(&mut self) {
        let pending: Vec<_> = self.pending.drain().collect();
        self.pending_per_peer.clear();
        for (message_id, source) in pending {
            let reason = Reason::PipelineClosed;
            self.metrics
                .record_validation(reason.outcome(), Some(reason), Duration::ZERO);
            self.report(message_id, source, Some(reason));
        }
    }

    /// op-node's score inspection: for every gossipsub peer, the application score from the
    /// book into gossipsub, then a snapshot of its gossip score into the book. Nothing when
    /// scoring is off.
    fn on_score_tick(&mut self) {
        let peers: Vec<PeerId> = self.gossipsub.all_peers().map(|(peer, _)| *peer).collect();
        for peer in peers {
            self.push_app_score(&peer);
            let Some(total) = self.gossipsub.peer_score(&peer) else {
                return;
            };
            self.record_gossip_scores(&peer, total);
        }
    }

    /// The graylist watch: the live gossip score of every peer below the graylist threshold
    /// (and of one that just left it) into the book, once a second.
    fn on_graylist_tick(&mut self) {
        let Some(watch) = &mut self.graylist_watch else {
            return;
        };
        let gossipsub = &self.gossipsub;
        let due = watch.due(gossipsub.all_peers().map(|(peer, _)| *peer), |peer| {
            gossipsub.peer_score(peer).unwrap_or(0.0)
        });
        for (peer, total) in due {
            self.record_gossip_scores(&peer, total);
        }
    }

    /// Writes `peer`'s gossip score snapshot, with `total` as its live score, into the book.
    fn record_gossip_scores(&self, peer: &PeerId, total: f64) {
        let scores = GossipScores {
            total,
            ip_colocation_factor: self.ip_colocation_factor(peer),
            ..GossipScores::default()
        };
        self.score_book.record_gossip_scores(peer, scores);
    }

    /// One answer less outstanding for `source`.
    fn release(&mut self, source: PeerId) {
        if let Some(count) = self.pending_per_peer.get_mut(&source) {
            *count -= 1;
            if *count == 0 {
                self.pending_per_peer.remove(&source);
            }
        }
    }

    /// Pushes `peer`'s application score into gossipsub: the score book's, plus op-node's P6
    /// term over gossipsub peers ([`IpColocation`]). Returns the score pushed.
    fn push_app_score(&mut self, peer: &PeerId) -> f64 {
        let p6 = self.colocation.as_ref().map_or(0.0, |c| c.penalty(peer));
        let score = self.score_book.app_score(peer) + p6;
        self.gossipsub.set_application_score(peer, score);
        score
    }

    /// Re-pushes the application score of every peer whose P6 may have changed.
    fn on_colocation_change(&mut self, affected: std::collections::HashSet<PeerId>) {
        for peer in affected {
            self.push_app_score(&peer);
        }
    }

    /// Counts `peer` in P6 once it is known to speak gossipsub: `proven` (it subscribed), or
    /// gossipsub reports a gossipsub protocol for it. (`PeerKind` is not exported by
    /// libp2p-gossipsub 0.50; its `Display` names every gossipsub version "Gossipsub v1.x", and
    /// `Floodsub` is also what gossipsub keeps for a peer that turned out not to support the
    /// protocol at all. The P6 tests fail if that changes.)
    fn identify_gossipsub(&mut self, peer: PeerId, proven: bool) {
        let Some(colocation) = &self.colocation else {
            return;
        };
        if colocation.is_gossipsub(&peer) || !colocation.is_connected(&peer) {
            return;
        }
        let speaks = proven
            || self
                .gossipsub
                .peer_protocol()
                .any(|(p, kind)| *p == peer && kind.as_ref().starts_with("Gossipsub"));
        if speaks && let Some(colocation) = &mut self.colocation {
            let affected = colocation.gossipsub_identified(peer);
            self.on_colocation_change(affected);
        }
    }

    /// Counts a per-peer bound refusal; a peer reaching the flood cut-off is disconnected and
    /// reported.
    fn on_peer_busy(&mut self, peer: PeerId) {
        let Some(guard) = &mut self.flood_guard else {
            return;
        };
        let Some(refusals) = guard.refused(peer, self.clock.now()) else {
            return;
        };
        tracing::warn!(target: "gossip", %peer, refusals, "peer keeps overflowing its validation bound: cut off for flooding");
        self.cut_off.push_back(peer);
        self.events.push_back(Event::FloodCutOff { peer, refusals });
    }

    fn report(&mut self, message_id: MessageId, source: PeerId, reason: Option<Reason>) {
        let outcome = reason.map_or(Outcome::Accept, Reason::outcome);
        let reported = reason.map_or(Outcome::Accept, Reason::reported);
        let in_cache =
            self.gossipsub
                .report_message_validation_result(&message_id, &source, reported.into());
        if !in_cache {
            tracing::debug!(target: "gossip", %message_id, %outcome, "validated message no longer in gossipsub's cache");
        }
        if reported != outcome {
            tracing::debug!(target: "gossip", %message_id, peer = %source, ?reason, "reject blamed on local state: reported as ignore, no score cost");
        }
        tracing::debug!(target: "gossip::hop", %message_id, %outcome, "reported (an accepted message is forwarded)");
        self.metrics.record_report(reported, in_cache);
        self.events.push_back(Event::Validated(Reported {
            message_id,
            source,
            outcome,
            reported,
            reason,
            in_cache,
        }));
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = THandler<Gossipsub>;
    type ToSwarm = Event;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.gossipsub
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.gossipsub.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.gossipsub.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.gossipsub.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        self.gossipsub.on_swarm_event(event);
        if let (FromSwarm::ConnectionClosed(e), Some(guard)) = (&event, &mut self.flood_guard)
            && e.remaining_established == 0
        {
            guard.forget(&e.peer_id);
        }
        let Some(colocation) = &mut self.colocation else {
            return;
        };
        let affected = match event {
            FromSwarm::ConnectionEstablished(e) => colocation.connection_established(
                e.peer_id,
                e.connection_id,
                e.endpoint.get_remote_address(),
            ),
            FromSwarm::ConnectionClosed(e) => colocation.connection_closed(e.connection_id),
            FromSwarm::AddressChange(e) => {
                colocation.address_changed(e.connection_id, e.new.get_remote_address())
            }
            _ => return,
        };
        self.on_colocation_change(affected);
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.gossipsub
            .on_connection_handler_event(peer, connection_id, event);
        // The first handler event of a connection names the protocol it negotiated; a peer
        // already counted costs one set lookup here.
        self.identify_gossipsub(peer, false);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Event, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(ToSwarm::GenerateEvent(event));
            }
            if let Some(peer_id) = self.cut_off.pop_front() {
                return Poll::Ready(ToSwarm::CloseConnection {
                    peer_id,
                    connection: CloseConnection::All,
                });
            }
            if self.pipeline_open {
                match self.results.poll_recv(cx) {
                    Poll::Ready(Some(result)) => {
                        self.on_validation_result(result);
                        continue;
                    }
                    Poll::Ready(None) => {
                        self.pipeline_open = false;
                        self.on_pipeline_closed();
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            if self.score_timer.poll_unpin(cx).is_ready() {
                self.score_timer.reset(self.score_interval);
                self.on_score_tick();
                continue;
            }
            if self.graylist_timer.poll_unpin(cx).is_ready() {
                self.graylist_timer.reset(GRAYLIST_WATCH_INTERVAL);
                self.on_graylist_tick();
                continue;
            }
            match self.gossipsub.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(event)) => self.on_gossipsub_event(event),
                Poll::Ready(other) => return Poll::Ready(other.map_out(Event::Gossipsub)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
