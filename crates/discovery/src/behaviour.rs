//! op-node's dial loop (`DiscoveryProcess`'s consumer side, spec §10.2) as a
//! [`NetworkBehaviour`]: records arrive from the discv5 task through a bounded channel, are
//! stored in the peer book and kept as dial candidates, and on each connect tick below the low
//! water mark a shuffled walk over the candidates is dialled through [`ToSwarm::Dial`] by at
//! most four concurrent dials within a 30 s budget.
//!
//! A behaviour rather than a second task: the swarm task already knows every connection, and
//! dials issued as [`ToSwarm::Dial`] pass through every gate of the node's behaviour (banned and
//! blocked peers, IPs and subnets are refused by gating's `handle_pending_outbound_connection`,
//! reported back as [`DialError::Denied`], and the peer is then skipped for
//! [`DialConfig::denied_backoff`]). Gating's live state, not a second read of the
//! [`GateStore`](op_p2p_api::GateStore), decides: bans that lift on time, score bans and
//! subnets live there, and nothing on the swarm task reads a database.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use futures::{FutureExt as _, StreamExt as _};
use hashlink::LruCache;
use libp2p_core::{Endpoint, Multiaddr, transport::PortUse};
use libp2p_identity::PeerId;
use libp2p_swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, DialError, DialFailure, FromSwarm,
    NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    behaviour::ConnectionEstablished,
    dial_opts::{DialOpts, PeerCondition},
    dummy,
};
use op_p2p_api::{Clock, DISCOVERED_ADDR_TTL, PeerBook, Sleep};
use rand::seq::SliceRandom as _;
use tracing::debug;

use crate::{filter::DiscoveredPeer, link::RecordSource};

const TARGET: &str = "op_p2p::discovery::dial";

/// op-node's `connectionIntervalFast`.
pub const CONNECT_INTERVAL_FAST: Duration = Duration::from_secs(5);
/// op-node's `connectionIntervalSlow`.
pub const CONNECT_INTERVAL_SLOW: Duration = Duration::from_secs(20);
/// op-node's `connectionWorkerCount`: dials in flight at once.
pub const CONNECTION_WORKERS: usize = 4;
/// op-node's `collectiveDialTimeout`: how long one connect tick keeps starting dials.
pub const COLLECTIVE_DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// op-node's per-connect timeout.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most dial candidates kept (least recently discovered dropped first): op-node keeps
/// every address in its peerstore for 24 h; memory here is bounded.
pub const MAX_CANDIDATES: usize = 2048;
/// How long a peer a gate refused is left alone.
pub const DENIED_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// The dial loop's settings; [`DialConfig::new`] gives op-node's.
#[derive(Debug, Clone)]
pub struct DialConfig {
    /// `p2p.peers.lo`: below it the loop dials (fast intervals), at or above it it waits
    /// (slow intervals).
    pub low_water: usize,
    /// Connect tick below the low water mark.
    pub connect_interval_fast: Duration,
    /// Connect tick at or above it.
    pub connect_interval_slow: Duration,
    /// Concurrent dials.
    pub workers: usize,
    /// Budget of one connect tick.
    pub collective_timeout: Duration,
    /// How long one dial counts as in flight.
    pub dial_timeout: Duration,
    /// How many candidates are kept.
    pub max_candidates: usize,
    /// How long a refused peer is skipped.
    pub denied_backoff: Duration,
    /// How long a discovered address stays a candidate (op-node's 24 h address TTL).
    pub address_ttl: Duration,
}

impl DialConfig {
    /// op-node's dial loop for `low_water`.
    pub fn new(low_water: usize) -> Self {
        Self {
            low_water,
            connect_interval_fast: CONNECT_INTERVAL_FAST,
            connect_interval_slow: CONNECT_INTERVAL_SLOW,
            workers: CONNECTION_WORKERS,
            collective_timeout: COLLECTIVE_DIAL_TIMEOUT,
            dial_timeout: DIAL_TIMEOUT,
            max_candidates: MAX_CANDIDATES,
            denied_backoff: DENIED_BACKOFF,
            address_ttl: DISCOVERED_ADDR_TTL,
        }
    }
}

#[derive(Debug)]
struct Candidate {
    addr: Multiaddr,
    /// Clock time it was last discovered.
    seen: Duration,
    /// A gate refused it; skipped until then.
    denied_until: Option<Duration>,
}

#[derive(Debug)]
struct Round {
    queue: VecDeque<PeerId>,
    deadline: Duration,
}

/// op-node's dial loop as a behaviour: records from the discv5 task (a [`RecordSource`]) are
/// stored in the [`PeerBook`] and kept as dial candidates; on each connect tick below the low
/// water mark a shuffled walk over them is dialled through [`ToSwarm::Dial`], at most
/// [`DialConfig::workers`] at once within [`DialConfig::collective_timeout`]. Dials a gate
/// refuses ([`DialError::Denied`]) leave the peer alone for [`DialConfig::denied_backoff`], so
/// banned and blocked peers are skipped by the gates' own live state.
pub struct Behaviour {
    config: DialConfig,
    local: PeerId,
    source: RecordSource,
    source_open: bool,
    peer_book: Arc<dyn PeerBook>,
    clock: Arc<dyn Clock>,
    candidates: LruCache<PeerId, Candidate>,
    connections: HashMap<PeerId, usize>,
    /// Peers counted as found through discovery (connected by one of our dials), bounded like
    /// the candidates.
    found: LruCache<PeerId, ()>,
    in_flight: HashMap<PeerId, (ConnectionId, Duration)>,
    round: Option<Round>,
    tick: Sleep,
    to_dial: VecDeque<DialOpts>,
    waker: Option<Waker>,
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour")
            .field("config", &self.config)
            .field("candidates", &self.candidates.len())
            .field("connected", &self.connections.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Behaviour {
    /// The dial loop of `local`, fed from `source`, storing records in `peer_book`, on `clock`.
    /// The first connect tick is one fast interval after creation.
    pub fn new(
        config: DialConfig,
        local: PeerId,
        source: RecordSource,
        peer_book: Arc<dyn PeerBook>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let tick = clock.sleep_until(clock.now().saturating_add(config.connect_interval_fast));
        Self {
            candidates: LruCache::new(config.max_candidates.max(1)),
            found: LruCache::new(config.max_candidates.max(1)),
            config,
            local,
            source,
            source_open: true,
            peer_book,
            clock,
            connections: HashMap::new(),
            in_flight: HashMap::new(),
            round: None,
            tick,
            to_dial: VecDeque::new(),
            waker: None,
        }
    }

    /// Dial candidates known.
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }

    /// Connected peers (any direction, any origin).
    pub fn connected(&self) -> usize {
        self.connections.len()
    }

    /// Whether `peer` is a dial candidate.
    pub fn is_candidate(&self, peer: &PeerId) -> bool {
        self.candidates.contains_key(peer)
    }

    fn on_record(&mut self, peer: DiscoveredPeer) {
        if peer.peer_id == self.local {
            return;
        }
        self.peer_book
            .record_discovery(&peer.peer_id, peer.to_record());
        let now = self.clock.now();
        let denied_until = self
            .candidates
            .remove(&peer.peer_id)
            .and_then(|c| c.denied_until);
        self.candidates.insert(
            peer.peer_id,
            Candidate {
                addr: peer.addr,
                seen: now,
                denied_until,
            },
        );
        self.source
            .shared
            .counters()
            .set_candidates(self.candidates.len());
    }

    fn below_low_water(&self) -> bool {
        self.connections.len() < self.config.low_water
    }

    fn update_shared(&self) {
        self.source
            .shared
            .set_below_low_water(self.below_low_water());
    }

    /// op-node's connect tick: below the low water mark, a shuffled walk over the candidates.
    fn on_connect_tick(&mut self) {
        self.update_shared();
        let now = self.clock.now();
        self.expire_dials(now);
        // A walk whose queue is handed out or whose budget is spent is over (op-node's tick
        // waits for its walk; in-flight dials finish on their own).
        if self
            .round
            .as_ref()
            .is_some_and(|r| r.queue.is_empty() || now >= r.deadline)
        {
            self.round = None;
        }
        if !self.below_low_water() || self.round.is_some() {
            return;
        }
        let mut peers: Vec<PeerId> = self
            .candidates
            .iter()
            .filter(|(peer, c)| self.dialable(peer, c, now))
            .map(|(peer, _)| *peer)
            .collect();
        // `thread_rng` is a CSPRNG seeded from the OS (op-node: "securely seeded").
        peers.shuffle(&mut rand::thread_rng());
        debug!(target: TARGET, candidates = peers.len(), connected = self.connections.len(), "connect tick");
        if !peers.is_empty() {
            self.round = Some(Round {
                queue: peers.into(),
                deadline: now.saturating_add(self.config.collective_timeout),
            });
        }
    }

    fn dialable(&self, peer: &PeerId, candidate: &Candidate, now: Duration) -> bool {
        *peer != self.local
            && !self.connections.contains_key(peer)
            && !self.in_flight.contains_key(peer)
            && candidate.denied_until.is_none_or(|until| now >= until)
            && now.saturating_sub(candidate.seen) < self.config.address_ttl
    }

    /// Starts dials while a worker is free and the round's budget lasts.
    fn start_dials(&mut self) {
        let now = self.clock.now();
        self.expire_dials(now);
        while self.in_flight.len() < self.config.workers {
            let Some(round) = self.round.as_mut() else {
                return;
            };
            if now >= round.deadline {
                self.round = None;
                return;
            }
            let Some(peer) = round.queue.pop_front() else {
                self.round = None;
                return;
            };
            let Some(candidate) = self.candidates.peek(&peer) else {
                continue;
            };
            if !self.dialable(&peer, candidate, now) {
                continue;
            }
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![candidate.addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            self.in_flight.insert(peer, (opts.connection_id(), now));
            self.source.shared.counters().record_dial();
            debug!(target: TARGET, %peer, addr = %candidate.addr, "dialling discovered peer");
            self.to_dial.push_back(opts);
        }
    }

    /// A dial older than the per-dial timeout no longer holds a worker (the swarm's own dial
    /// timeout ends it too).
    fn expire_dials(&mut self, now: Duration) {
        let timeout = self.config.dial_timeout;
        self.in_flight
            .retain(|_, (_, started)| now.saturating_sub(*started) < timeout);
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                *self.connections.entry(peer_id).or_default() += 1;
                if self
                    .in_flight
                    .get(&peer_id)
                    .is_some_and(|(id, _)| *id == connection_id)
                {
                    self.in_flight.remove(&peer_id);
                    if endpoint.is_dialer() && self.found.insert(peer_id, ()).is_none() {
                        self.source.shared.counters().record_connected();
                    }
                }
                self.update_shared();
                self.wake();
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                remaining_established,
                ..
            }) => {
                if remaining_established == 0 {
                    self.connections.remove(&peer_id);
                } else if let Some(n) = self.connections.get_mut(&peer_id) {
                    *n = remaining_established;
                }
                self.update_shared();
            }
            FromSwarm::DialFailure(DialFailure {
                peer_id: Some(peer),
                connection_id,
                error,
            }) => {
                if self
                    .in_flight
                    .get(&peer)
                    .is_none_or(|(id, _)| *id != connection_id)
                {
                    return;
                }
                self.in_flight.remove(&peer);
                match error {
                    DialError::DialPeerConditionFalse(_) => {}
                    DialError::Denied { cause } => {
                        debug!(target: TARGET, %peer, %cause, "dial refused by a gate");
                        self.source.shared.counters().record_dial_failure(true);
                        let until = self.clock.now().saturating_add(self.config.denied_backoff);
                        if let Some(candidate) = self.candidates.peek_mut(&peer) {
                            candidate.denied_until = Some(until);
                        }
                    }
                    error => {
                        debug!(target: TARGET, %peer, %error, "dial failed");
                        self.source.shared.counters().record_dial_failure(false);
                    }
                }
                self.wake();
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer_id: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        libp2p_core::util::unreachable(event)
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        while self.source_open {
            match self.source.rx.poll_next_unpin(cx) {
                Poll::Ready(Some(peer)) => self.on_record(peer),
                Poll::Ready(None) => self.source_open = false,
                Poll::Pending => break,
            }
        }
        while self.tick.poll_unpin(cx).is_ready() {
            let interval = if self.below_low_water() {
                self.config.connect_interval_fast
            } else {
                self.config.connect_interval_slow
            };
            self.tick = self
                .clock
                .sleep_until(self.clock.now().saturating_add(interval));
            self.on_connect_tick();
        }
        self.start_dials();
        if let Some(opts) = self.to_dial.pop_front() {
            return Poll::Ready(ToSwarm::Dial { opts });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use libp2p_core::ConnectedPoint;
    use libp2p_identity::Keypair;
    use op_p2p_api::{ManualClock, MemoryPeerBook};

    use super::*;
    use crate::link::link;

    fn peer() -> DiscoveredPeer {
        let key = Keypair::generate_secp256k1();
        let peer_id = key.public().to_peer_id();
        DiscoveredPeer {
            peer_id,
            public_key: key.public(),
            addr: format!("/ip4/127.0.0.1/tcp/9222/p2p/{peer_id}")
                .parse()
                .unwrap(),
            enr: "enr:-test".into(),
            chain_id: 901,
        }
    }

    fn dials(b: &mut Behaviour) -> Vec<DialOpts> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let mut out = Vec::new();
        while let Poll::Ready(event) = b.poll(&mut cx) {
            match event {
                ToSwarm::Dial { opts } => out.push(opts),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    fn dialer() -> ConnectedPoint {
        ConnectedPoint::Dialer {
            address: "/ip4/127.0.0.1/tcp/9222".parse().unwrap(),
            role_override: Endpoint::Dialer,
            port_use: PortUse::New,
        }
    }

    #[test]
    fn dial_loop_is_op_nodes() {
        let clock = Arc::new(ManualClock::new(1_000));
        let book = Arc::new(MemoryPeerBook::new());
        let local = PeerId::random();
        let (mut sink, source) = link();
        let shared = sink.shared().clone();
        let mut b = Behaviour::new(
            DialConfig::new(3),
            local,
            source,
            book.clone(),
            clock.clone(),
        );

        let peers: Vec<DiscoveredPeer> = (0..6).map(|_| peer()).collect();
        for p in &peers {
            assert!(sink.offer(p.clone()));
        }
        let mut ours = peer();
        ours.peer_id = local;
        sink.offer(ours);
        // Stored at once, dialled only on the connect tick.
        assert!(dials(&mut b).is_empty());
        assert_eq!(b.candidates(), 6, "our own record is not a candidate");
        assert_eq!(shared.counters().candidates(), 6);
        let stored = book.discovery(&peers[0].peer_id).unwrap();
        assert_eq!(stored.metadata.chain_id, 901);
        assert_eq!(
            format!("{}/p2p/{}", stored.addr, peers[0].peer_id),
            peers[0].addr.to_string()
        );

        // The tick: four workers.
        clock.advance(CONNECT_INTERVAL_FAST);
        let first = dials(&mut b);
        assert_eq!(first.len(), CONNECTION_WORKERS);
        assert_eq!(shared.counters().dials(), 4);

        // A gate refuses one: its worker takes the next peer, and the refused peer rests.
        let refused = first[0].get_peer_id().unwrap();
        b.on_swarm_event(FromSwarm::DialFailure(DialFailure {
            peer_id: Some(refused),
            error: &DialError::Denied {
                cause: ConnectionDenied::new(std::io::Error::other("banned")),
            },
            connection_id: first[0].connection_id(),
        }));
        assert_eq!(shared.counters().denied(), 1);
        let second = dials(&mut b);
        assert_eq!(second.len(), 1);

        // One connects through our dial: found through discovery.
        let connected = first[1].get_peer_id().unwrap();
        b.on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
            peer_id: connected,
            connection_id: first[1].connection_id(),
            endpoint: &dialer(),
            failed_addresses: &[],
            other_established: 0,
        }));
        assert_eq!(shared.counters().connected(), 1);
        let third = dials(&mut b);
        assert_eq!(third.len(), 1, "the sixth and last candidate");
        assert!(dials(&mut b).is_empty(), "the walk is over");

        // The in-flight dials time out; the next tick walks again, skipping the connected
        // peer and the refused one.
        clock.advance(DIAL_TIMEOUT);
        let again = dials(&mut b);
        let again: Vec<PeerId> = again.iter().filter_map(DialOpts::get_peer_id).collect();
        assert_eq!(again.len(), 4, "{again:?}");
        assert!(!again.contains(&connected) && !again.contains(&refused));

        // At the low water mark (3: `connected` and two others) the loop stops dialling and
        // slows down. The walk is shuffled, so pick the two among the peers other than
        // `connected`.
        let others = peers.iter().filter(|p| p.peer_id != connected).take(2);
        for (i, p) in others.enumerate() {
            b.on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id: p.peer_id,
                connection_id: ConnectionId::new_unchecked(100 + i),
                endpoint: &dialer(),
                failed_addresses: &[],
                other_established: 0,
            }));
        }
        assert!(!shared.below_low_water());
        clock.advance(DIAL_TIMEOUT + CONNECT_INTERVAL_SLOW);
        assert!(dials(&mut b).is_empty());
    }
}
