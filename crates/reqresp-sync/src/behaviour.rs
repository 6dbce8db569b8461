//! The sync [`NetworkBehaviour`]: request-response with the [`Codec`], plus the server and client
//! state it drives from its `poll`, all on the swarm task and all on the injected clock.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use futures::FutureExt;
use libp2p_core::{Endpoint, Multiaddr, transport::PortUse};
use libp2p_identity::PeerId;
use libp2p_request_response::{
    self as request_response, InboundFailure, Message, OutboundFailure, ProtocolSupport,
};
use libp2p_swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, StreamProtocol,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use op_p2p_api::{Clock, ScoreBook, Sleep};
use op_p2p_types::{
    BlockRef, RollupConfig, payload_by_number_protocol_id, payload_by_number_protocol_id_with_slash,
};
use tracing::debug;

use crate::{
    TARGET,
    client::{Client, PayloadSink},
    codec::{Codec, Response},
    config::{Config, STREAM_BACKSTOP_TIMEOUT},
    error::{CodecError, Error, RequestFailure},
    event::Event,
    metrics::{Metrics, NoMetrics, Role},
    server::{Answer, Server},
    source::{NoSource, PayloadSource},
};

/// `payload_by_number` sync as one [`NetworkBehaviour`]: op-node's server and client
/// (spec §4) on a request-response [`Codec`].
///
/// The node's swarm task owns it (style §3.3): the application calls
/// [`request_range`](Self::request_range) and [`set_static`](Self::set_static) on the swarm task
/// (from its command loop), verified payloads leave through the bounded [`PayloadSink`], and peer
/// outcomes go straight to the [`ScoreBook`] (which answers from memory and queues its writes). Nothing here blocks: every wait (rate
/// limits, deadlines, the source) is a scheduled wake-up or a future polled from
/// [`poll`](NetworkBehaviour::poll).
pub struct Behaviour<S = NoSource> {
    inner: request_response::Behaviour<Codec>,
    protocol: StreamProtocol,
    clock: Arc<dyn Clock>,
    metrics: Box<dyn Metrics>,
    server: Option<Server<S>>,
    client: Client,
    /// Established connections per peer; a peer's loop lives while it has one.
    connections: HashMap<PeerId, usize>,
    events: VecDeque<Event>,
    answers: Vec<Answer>,
    timer: Option<(Duration, Sleep)>,
    waker: Option<Waker>,
}

impl<S> std::fmt::Debug for Behaviour<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour")
            .field("protocol", &self.protocol)
            .field("server", &self.server.as_ref().map(|_| "enabled"))
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl<S: PayloadSource> Behaviour<S> {
    /// Sync for `rollup`'s chain: a client that feeds `sink` and scores peers in `scores`, and,
    /// given a `source`, a server. All time is read from `clock`.
    pub fn new(
        config: Config,
        rollup: RollupConfig,
        scores: Arc<dyn ScoreBook>,
        sink: PayloadSink,
        source: Option<S>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        rollup.validate()?;
        let rollup = Arc::new(rollup);
        let protocol = protocol_id(payload_by_number_protocol_id(rollup.l2_chain_id))?;
        let serving = source.is_some();
        let mut protocols = vec![(
            protocol.clone(),
            if serving {
                ProtocolSupport::Full
            } else {
                ProtocolSupport::Outbound
            },
        )];
        if serving && config.answer_with_slash {
            protocols.push((
                protocol_id(payload_by_number_protocol_id_with_slash(rollup.l2_chain_id))?,
                ProtocolSupport::Inbound,
            ));
        }
        let codec = Codec::new(rollup.clone(), &config, clock.clone());
        let inner = request_response::Behaviour::with_codec(
            codec,
            protocols,
            request_response::Config::default()
                .with_request_timeout(STREAM_BACKSTOP_TIMEOUT)
                .with_max_concurrent_streams(config.max_concurrent_streams),
        );
        let server = source
            .map(|source| Server::new(Arc::new(source), rollup.clone(), clock.clone(), &config));
        Ok(Self {
            inner,
            protocol,
            clock,
            metrics: Box::new(NoMetrics),
            server,
            client: Client::new(&config, scores, sink),
            connections: HashMap::new(),
            events: VecDeque::new(),
            answers: Vec::new(),
            timer: None,
            waker: None,
        })
    }

    /// Reports measurements to `metrics` instead of nowhere.
    pub fn with_metrics(mut self, metrics: impl Metrics) -> Self {
        self.metrics = Box::new(metrics);
        self
    }

    /// The protocol id requests go out on (op-node's, without a trailing slash).
    pub fn protocol(&self) -> &StreamProtocol {
        &self.protocol
    }

    /// op-node's `RequestL2Range(start, end)`: fetch the blocks strictly between `start` (the
    /// unsafe head) and `end` (the lowest payload in the unsafe queue, whose hash and parent hash
    /// become trusted), walking down from `end − 1` (spec §4.3). Non-blocking: numbers are queued
    /// until the queue ([`REQUEST_QUEUE_SIZE`](crate::REQUEST_QUEUE_SIZE)) is full, and the
    /// driver asks again on its next gap check. Returns how many numbers were queued.
    ///
    /// Fails with [`Error::RangeTooOld`] if `start` is older than
    /// [`MAX_RANGE_AGE`](crate::MAX_RANGE_AGE).
    pub fn request_range(&mut self, start: BlockRef, end: BlockRef) -> Result<usize, Error> {
        let queued = self.client.request_range(
            start,
            end,
            self.clock.unix_time(),
            &mut self.events,
            &*self.metrics,
        )?;
        self.wake();
        Ok(queued)
    }

    /// Marks `peer` as static (or not). With [`Config::with_only_static`] only static peers are
    /// sent requests; op-node's static peers are the ones it was configured to keep connected.
    pub fn set_static(&mut self, peer: PeerId, is_static: bool) {
        self.client.set_static(peer, is_static, self.clock.now());
        self.wake();
    }

    /// Whether `peer` is marked static.
    pub fn is_static(&self, peer: &PeerId) -> bool {
        self.client.is_static(peer)
    }

    /// What identify reported `peer` speaks: a connected peer whose protocols lack
    /// [`protocol`](Self::protocol) is not sent requests (and emits [`Event::NotServing`]); one
    /// whose protocols include it is asked again. Peers are asked before identify arrives: a
    /// peer that turns out not to serve refuses the first request, which then costs it nothing
    /// and goes to another peer (see [`RequestFailure::UnsupportedProtocols`]).
    pub fn set_peer_protocols<'a>(
        &mut self,
        peer: PeerId,
        protocols: impl IntoIterator<Item = &'a StreamProtocol>,
    ) {
        let serves = protocols.into_iter().any(|p| *p == self.protocol);
        if self.client.set_serving(peer, serves, self.clock.now()) {
            debug!(target: TARGET, %peer, "identify: peer does not serve payload_by_number; not asking it");
            self.events.push_back(Event::NotServing { peer });
        }
        self.wake();
    }

    /// Whether the connected `peer` is known not to serve payload_by_number.
    pub fn is_not_serving(&self, peer: &PeerId) -> bool {
        self.client.is_not_serving(peer)
    }

    /// Connected peers the client sends requests to (not those known not to serve
    /// payload_by_number, nor non-static ones with [`Config::with_only_static`]).
    pub fn sync_peers(&self) -> usize {
        self.client.sync_peers()
    }

    /// Block numbers queued for a free peer.
    pub fn queued_requests(&self) -> usize {
        self.client.queued()
    }

    /// Payloads in quarantine.
    pub fn quarantined(&self) -> usize {
        self.client.quarantined()
    }

    /// Inbound requests admitted and not yet answered (0 without a server).
    pub fn pending_inbound(&self) -> usize {
        self.server.as_ref().map_or(0, Server::pending)
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn answer(&mut self, answer: Answer) {
        let code = answer.response.code();
        let duration = self.clock.now().saturating_sub(answer.arrived);
        self.metrics.request(
            Role::Server,
            answer.number.unwrap_or(0),
            code.as_u8(),
            duration,
        );
        if self
            .inner
            .send_response(answer.channel, answer.response)
            .is_err()
        {
            debug!(target: TARGET, peer = %answer.peer, "inbound stream closed before the answer");
        }
        self.events.push_back(Event::Served {
            peer: answer.peer,
            number: answer.number,
            code,
        });
    }

    fn on_inner_event(&mut self, event: request_response::Event<crate::Request, Response>) {
        let now = self.clock.now();
        match event {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                if let Some(server) = &mut self.server
                    && let Some(answer) = server.on_request(peer, request, channel)
                {
                    self.answer(answer);
                }
            }
            request_response::Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => match response {
                Response::Payload { envelope, .. } => self.client.on_payload(
                    request_id,
                    *envelope,
                    now,
                    &mut self.events,
                    &*self.metrics,
                ),
                Response::Error(code) => self.client.on_failure(
                    request_id,
                    RequestFailure::Code(code),
                    now,
                    &mut self.events,
                    &*self.metrics,
                ),
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                let failure = match error {
                    OutboundFailure::DialFailure => RequestFailure::DialFailure,
                    OutboundFailure::Timeout => RequestFailure::Timeout,
                    OutboundFailure::ConnectionClosed => RequestFailure::ConnectionClosed,
                    OutboundFailure::UnsupportedProtocols => RequestFailure::UnsupportedProtocols,
                    OutboundFailure::Io(e) => match CodecError::from_io(e) {
                        Ok(codec) => RequestFailure::Codec(codec),
                        Err(io) => RequestFailure::Io(io),
                    },
                };
                self.client
                    .on_failure(request_id, failure, now, &mut self.events, &*self.metrics);
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                // Before a request is read (the stream broke) or after the answer was handed
                // over (the write failed or timed out); the request itself was already answered
                // or never existed. op-node counts neither against the peer.
                if !matches!(error, InboundFailure::ResponseOmission) {
                    debug!(target: TARGET, %peer, %error, "inbound sync stream failed");
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Runs everything that is due: scheduled server steps, peer loops, dispatching queued
    /// numbers to ready peers. Returns whether anything was sent.
    fn run_due(&mut self) -> bool {
        let now = self.clock.now();
        if let Some(server) = &mut self.server {
            server.run_due(&mut self.answers);
        }
        for answer in std::mem::take(&mut self.answers) {
            self.answer(answer);
        }
        self.client.run_due(now);
        let mut sent = false;
        while let Some((peer, number)) = self.client.next_dispatch() {
            let id = self
                .inner
                .send_request(&peer, crate::Request::Number(number));
            self.client.dispatched(peer, id, now);
            sent = true;
        }
        sent
    }

    fn next_wake(&self) -> Option<Duration> {
        let server = self.server.as_ref().and_then(Server::next_wake);
        match (server, self.client.next_wake()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn protocol_id(id: String) -> Result<StreamProtocol, Error> {
    StreamProtocol::try_from_owned(id).map_err(|e| Error::ProtocolId(e.to_string()))
}

impl<S: PayloadSource> NetworkBehaviour for Behaviour<S> {
    type ConnectionHandler =
        <request_response::Behaviour<Codec> as NetworkBehaviour>::ConnectionHandler;
    type ToSwarm = Event;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_inbound_connection(
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
        self.inner.handle_pending_outbound_connection(
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
        self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match &event {
            FromSwarm::ConnectionEstablished(established) => {
                let count = self.connections.entry(established.peer_id).or_default();
                *count += 1;
                if *count == 1 {
                    self.client
                        .peer_connected(established.peer_id, self.clock.now());
                    self.wake();
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                remaining_established,
                ..
            }) => {
                if *remaining_established == 0 {
                    self.connections.remove(peer_id);
                    self.client.peer_disconnected(peer_id);
                } else if let Some(count) = self.connections.get_mut(peer_id) {
                    *count = *remaining_established;
                }
            }
            _ => {}
        }
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(peer_id, connection_id, event);
    }

    #[tracing::instrument(level = "trace", name = "NetworkBehaviour::poll", skip(self, cx))]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Event, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(ToSwarm::GenerateEvent(event));
            }
            match self.inner.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(event)) => {
                    self.on_inner_event(event);
                    continue;
                }
                Poll::Ready(other) => {
                    return Poll::Ready(
                        other.map_out(|_| unreachable!("GenerateEvent is handled above")),
                    );
                }
                Poll::Pending => {}
            }
            if let Some(server) = &mut self.server
                && let Poll::Ready(answer) = server.poll_fetches(cx)
            {
                self.answer(answer);
                continue;
            }
            if self.run_due() {
                continue;
            }
            self.client
                .poll_promotions(cx, &mut self.events, &*self.metrics);
            if !self.events.is_empty() {
                continue;
            }
            // Sleep until the next scheduled step, re-arming the timer when it moved.
            let Some(next) = self.next_wake() else {
                self.timer = None;
                break;
            };
            if self.timer.as_ref().is_none_or(|(at, _)| *at != next) {
                self.timer = Some((next, self.clock.sleep_until(next)));
            }
            if let Some((_, sleep)) = &mut self.timer
                && sleep.poll_unpin(cx).is_ready()
            {
                self.timer = None;
                continue;
            }
            break;
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
