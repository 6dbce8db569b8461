//! The connection-manager behaviour: tracks established peers, their scores and protections,
//! closes the least valuable ones when the node has too many, and keeps the static peers
//! connected.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    convert::Infallible,
    fmt,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use futures::FutureExt;
use futures_timer::Delay;
use libp2p_core::{Endpoint, Multiaddr, transport::PortUse};
use libp2p_identity::PeerId;
use libp2p_swarm::{
    CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, DialFailure, FromSwarm,
    NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    behaviour::ConnectionEstablished,
    dial_opts::{DialOpts, PeerCondition},
    dummy,
};
use op_p2p_api::ScoreBook;
use tracing::{debug, info};

use super::{Config, static_peers::StaticPeers};
use crate::Error;

/// The protection tag op-node gives its static peers (`p2p.static`).
pub const STATIC_TAG: &str = "static";
/// The protection tag op-node's `opp2p_protectPeer` RPC uses.
pub const API_PROTECTED_TAG: &str = "api-protected";
/// How often the peer count is re-checked without a new connection, so peers whose grace period
/// ran out get trimmed: op-node's connection-manager silence period (1 min), which is go-libp2p's
/// background trim interval.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(60);

/// The tracing target of the connection manager.
const TARGET: &str = "op_p2p::gating::conn_manager";

/// The connection manager as a [`NetworkBehaviour`] with a dummy handler. See the
/// [module docs](super).
///
/// A peer counts as connected from [`FromSwarm::ConnectionEstablished`] (a behaviour after this
/// one can still deny the connection before that) until its last connection closes. Trimming is
/// checked when a peer connects and every [`TRIM_INTERVAL`]; [`trim_at`](Self::trim_at) runs it
/// with an explicit time (grace periods are measured on [`Instant`]).
///
/// Static peers ([`add_static_peer`](Self::add_static_peer)) are dialled through
/// [`ToSwarm::Dial`] from [`poll`](NetworkBehaviour::poll), on `futures-timer` timers.
pub struct Behaviour {
    config: Config,
    /// Where trimming reads scores, if attached.
    book: Option<Arc<dyn ScoreBook>>,
    peers: HashMap<PeerId, Peer>,
    /// Protection tags per peer; a peer with any tag is never trimmed. Kept for peers that are
    /// not connected (static peers are protected before they are dialled).
    protected: HashMap<PeerId, HashSet<String>>,
    /// Connected peers chosen for trimming whose connections have not closed yet: not counted
    /// and not chosen again.
    closing: HashSet<PeerId>,
    to_close: VecDeque<PeerId>,
    /// Counts connections that made a peer connected, to order peers by age without ties.
    next_seq: u64,
    tick: Delay,
    statics: StaticPeers,
    to_dial: VecDeque<DialOpts>,
    /// The static-peer redial timer and the instant it is set for.
    redial: Option<(Instant, Delay)>,
    waker: Option<Waker>,
}

impl fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Behaviour")
            .field("config", &self.config)
            .field("score_book", &self.book.is_some())
            .field("peers", &self.peers)
            .field("protected", &self.protected)
            .field("closing", &self.closing)
            .field("statics", &self.statics)
            .finish_non_exhaustive()
    }
}

/// A connected peer.
#[derive(Debug)]
struct Peer {
    connections: usize,
    /// When its current run of connections began; the grace period counts from here.
    since: Instant,
    /// Its place in the order peers connected in: lower is older.
    seq: u64,
    /// The score given with [`Behaviour::set_score`], which wins over the score book's.
    score: Option<f64>,
}

impl Behaviour {
    /// A connection manager with `config`'s water marks; they must be non-zero with
    /// low ≤ high (op-node's `Config.Check`).
    pub fn new(config: Config) -> Result<Self, Error> {
        if config.low_water() == 0 || config.low_water() > config.high_water() {
            return Err(Error::InvalidWaterMarks {
                low: config.low_water(),
                high: config.high_water(),
            });
        }
        Ok(Self {
            config,
            book: None,
            peers: HashMap::new(),
            protected: HashMap::new(),
            closing: HashSet::new(),
            to_close: VecDeque::new(),
            next_seq: 0,
            tick: Delay::new(TRIM_INTERVAL),
            statics: StaticPeers::default(),
            to_dial: VecDeque::new(),
            redial: None,
            waker: None,
        })
    }

    /// Trims by the scores in `book`: each candidate's [`ScoreBook::peer_score`] (the last
    /// gossip score snapshot, what op-node's connection manager is tagged with) is read at trim
    /// time. A score given with [`set_score`](Self::set_score) still wins for its peer.
    pub fn with_score_book(mut self, book: Arc<dyn ScoreBook>) -> Self {
        self.book = Some(book);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Protects `peer` under `tag` (e.g. [`STATIC_TAG`]): it is never trimmed while it has any
    /// tag.
    pub fn protect(&mut self, peer: PeerId, tag: impl Into<String>) {
        self.protected.entry(peer).or_default().insert(tag.into());
    }

    /// Removes `peer`'s protection under `tag`; returns whether it is still protected by another
    /// tag (go-libp2p's `Unprotect`).
    pub fn unprotect(&mut self, peer: &PeerId, tag: &str) -> bool {
        let Some(tags) = self.protected.get_mut(peer) else {
            return false;
        };
        tags.remove(tag);
        if tags.is_empty() {
            self.protected.remove(peer);
            return false;
        }
        true
    }

    /// Whether `peer` is protected under any tag.
    pub fn is_protected(&self, peer: &PeerId) -> bool {
        self.protected.contains_key(peer)
    }

    /// Sets a connected peer's score (the gossipsub total); lower scores are trimmed first.
    /// Scores of peers that are not connected are ignored: a peer starts without one on
    /// connecting, and then counts with its score in the [score book](Self::with_score_book), or
    /// 0 without a book. A score set here wins over the book's until the peer disconnects.
    pub fn set_score(&mut self, peer: &PeerId, score: f64) {
        if let Some(info) = self.peers.get_mut(peer) {
            info.score = Some(score);
        }
    }

    /// Adds a static peer (op-node's `p2p.static`): protects it under [`STATIC_TAG`], dials it
    /// at `addr` at once, and redials it whenever it is disconnected or a dial of it fails,
    /// after a backoff of [`STATIC_INITIAL_BACKOFF`](super::STATIC_INITIAL_BACKOFF) doubling up
    /// to [`STATIC_MAX_BACKOFF`](super::STATIC_MAX_BACKOFF), reset once it connects. Adding a
    /// peer again replaces its address.
    ///
    /// Dials use [`PeerCondition::DisconnectedAndNotDialing`], so a peer already connected or
    /// being dialled by someone else is not dialled twice (the refused dial backs off like a
    /// failed one). Gating's protection from score bans is separate
    /// ([`crate::Behaviour::protect`]).
    pub fn add_static_peer(&mut self, peer: PeerId, addr: Multiaddr) {
        self.protect(peer, STATIC_TAG);
        let connected = self.peers.contains_key(&peer);
        self.statics.add(peer, addr, connected, Instant::now());
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Whether `peer` was added with [`add_static_peer`](Self::add_static_peer).
    pub fn is_static(&self, peer: &PeerId) -> bool {
        self.statics.contains(peer)
    }

    /// The number of connected peers, not counting those being trimmed.
    pub fn connected_peers(&self) -> usize {
        self.peers.len() - self.closing.len()
    }

    /// Whether `peer` is connected and not being trimmed.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer) && !self.closing.contains(peer)
    }

    /// [`trim_at`](Self::trim_at) now.
    pub fn trim(&mut self) -> usize {
        self.trim_at(Instant::now())
    }

    /// If more than the high water mark of peers are connected at `now`, chooses peers to close
    /// down to the low water mark: unprotected peers past their grace period, lowest score
    /// first, then the longest connected. Fewer are closed if not enough peers qualify. Returns
    /// how many peers were chosen; their connections close through
    /// [`poll`](NetworkBehaviour::poll).
    pub fn trim_at(&mut self, now: Instant) -> usize {
        let connected = self.connected_peers();
        if connected <= self.config.high_water() {
            return 0;
        }
        let excess = connected - self.config.low_water();
        let grace = self.config.grace_period();
        let book = self.book.as_deref();
        let mut candidates: Vec<(PeerId, f64, u64)> = self
            .peers
            .iter()
            .filter(|(peer, info)| {
                !self.closing.contains(peer)
                    && !self.protected.contains_key(peer)
                    && now.saturating_duration_since(info.since) >= grace
            })
            .map(|(peer, info)| {
                let score = info
                    .score
                    .unwrap_or_else(|| book.map_or(0.0, |book| book.peer_score(peer)));
                (*peer, score, info.seq)
            })
            .collect();
        candidates
            .sort_by(|(_, a, a_seq), (_, b, b_seq)| a.total_cmp(b).then_with(|| a_seq.cmp(b_seq)));
        let victims: Vec<PeerId> = candidates
            .into_iter()
            .take(excess)
            .map(|(peer, _, _)| peer)
            .collect();
        if victims.is_empty() {
            debug!(target: TARGET, connected, "too many peers, but none can be trimmed yet");
            return 0;
        }
        info!(
            target: TARGET,
            connected,
            low_water = self.config.low_water(),
            high_water = self.config.high_water(),
            trimming = victims.len(),
            "too many peers, trimming"
        );
        for peer in &victims {
            debug!(target: TARGET, %peer, "trimming peer");
            self.closing.insert(*peer);
            self.to_close.push_back(*peer);
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
        victims.len()
    }

    fn on_connection_established(&mut self, peer: PeerId) {
        self.statics.on_connected(&peer);
        let seq = self.next_seq;
        let info = self.peers.entry(peer).or_insert_with(|| Peer {
            connections: 0,
            since: Instant::now(),
            seq,
            score: None,
        });
        if info.connections == 0 {
            self.next_seq += 1;
        }
        info.connections += 1;
        self.trim();
    }

    fn on_connection_closed(&mut self, peer: PeerId) {
        let Some(info) = self.peers.get_mut(&peer) else {
            return;
        };
        info.connections = info.connections.saturating_sub(1);
        if info.connections == 0 {
            self.peers.remove(&peer);
            self.closing.remove(&peer);
            if self.statics.contains(&peer) {
                debug!(target: TARGET, %peer, "static peer disconnected, redialling after backoff");
                self.statics.on_disconnected(&peer, Instant::now());
            }
        }
    }

    /// Queues dials of the static peers that are due and arms the redial timer for the next one.
    fn poll_statics(&mut self, cx: &mut Context<'_>) {
        loop {
            let now = Instant::now();
            for (peer, addr) in self.statics.due(now) {
                let opts = DialOpts::peer_id(peer)
                    .addresses(vec![addr])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                self.statics.dialing(&peer, opts.connection_id());
                debug!(target: TARGET, %peer, "dialling static peer");
                self.to_dial.push_back(opts);
            }
            let Some(at) = self.statics.next_dial() else {
                self.redial = None;
                return;
            };
            let timer = match &mut self.redial {
                Some((armed_at, timer)) if *armed_at == at => timer,
                redial => {
                    &mut redial
                        .insert((at, Delay::new(at.saturating_duration_since(now))))
                        .1
                }
            };
            if timer.poll_unpin(cx).is_pending() {
                return;
            }
            // Fired: the peer is due now (or within the timer's granularity); look again.
            self.redial = None;
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
            FromSwarm::ConnectionEstablished(ConnectionEstablished { peer_id, .. }) => {
                self.on_connection_established(peer_id);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { peer_id, .. }) => {
                self.on_connection_closed(peer_id);
            }
            FromSwarm::DialFailure(DialFailure {
                peer_id: Some(peer),
                connection_id,
                error,
            }) if self.statics.contains(&peer) => {
                debug!(target: TARGET, %peer, %error, "static peer dial failed");
                self.statics
                    .on_dial_failed(&peer, connection_id, Instant::now());
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

    #[tracing::instrument(
        level = "trace",
        name = "conn_manager::Behaviour::poll",
        skip(self, cx)
    )]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        while self.tick.poll_unpin(cx).is_ready() {
            self.tick.reset(TRIM_INTERVAL);
            self.trim();
        }
        if let Some(peer_id) = self.to_close.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::All,
            });
        }
        self.poll_statics(cx);
        if let Some(opts) = self.to_dial.pop_front() {
            return Poll::Ready(ToSwarm::Dial { opts });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};

    use libp2p_core::ConnectedPoint;

    use super::*;

    fn manager(low: usize, high: usize, grace: Duration) -> Behaviour {
        Behaviour::new(
            Config::default()
                .with_low_water(low)
                .with_high_water(high)
                .with_grace_period(grace),
        )
        .unwrap()
    }

    fn endpoint() -> ConnectedPoint {
        ConnectedPoint::Listener {
            local_addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
            send_back_addr: "/ip4/127.0.0.1/tcp/2".parse().unwrap(),
        }
    }

    fn connect(m: &mut Behaviour, peer: PeerId, id: usize) {
        m.on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
            peer_id: peer,
            connection_id: ConnectionId::new_unchecked(id),
            endpoint: &endpoint(),
            failed_addresses: &[],
            other_established: 0,
        }));
    }

    fn disconnect(m: &mut Behaviour, peer: PeerId, id: usize) {
        m.on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
            peer_id: peer,
            connection_id: ConnectionId::new_unchecked(id),
            endpoint: &endpoint(),
            cause: None,
            remaining_established: 0,
        }));
    }

    fn closes(m: &mut Behaviour) -> Vec<PeerId> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let mut out = Vec::new();
        while let Poll::Ready(event) = m.poll(&mut cx) {
            match event {
                ToSwarm::CloseConnection {
                    peer_id,
                    connection: CloseConnection::All,
                } => out.push(peer_id),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    #[test]
    fn water_marks_are_validated() {
        let err = |low, high| {
            Behaviour::new(Config::default().with_low_water(low).with_high_water(high)).unwrap_err()
        };
        assert!(matches!(
            err(0, 5),
            Error::InvalidWaterMarks { low: 0, high: 5 }
        ));
        assert!(matches!(
            err(6, 5),
            Error::InvalidWaterMarks { low: 6, high: 5 }
        ));
        assert!(Behaviour::new(Config::default().with_low_water(5).with_high_water(5)).is_ok());
        let defaults = Config::default();
        assert_eq!(
            (
                defaults.low_water(),
                defaults.high_water(),
                defaults.grace_period()
            ),
            (20, 30, Duration::from_secs(30))
        );
    }

    #[test]
    fn trims_to_low_water_past_high_water() {
        let mut m = manager(2, 4, Duration::ZERO);
        let peers: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
        for (i, peer) in peers.iter().take(4).enumerate() {
            connect(&mut m, *peer, i);
        }
        assert!(closes(&mut m).is_empty(), "at high water, nothing to trim");
        connect(&mut m, peers[4], 4);
        // Equal scores: the longest connected go first.
        assert_eq!(closes(&mut m), peers[..3].to_vec());
        assert_eq!(m.connected_peers(), 2);
        assert!(!m.is_connected(&peers[0]));
        // Closing peers are not chosen twice.
        assert_eq!(m.trim(), 0);
        for (i, peer) in peers.iter().take(3).enumerate() {
            disconnect(&mut m, *peer, i);
        }
        assert_eq!(m.connected_peers(), 2);
    }

    #[test]
    fn protected_peers_are_never_trimmed() {
        let mut m = manager(2, 3, Duration::ZERO);
        let peers: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
        m.protect(peers[0], STATIC_TAG);
        m.protect(peers[1], API_PROTECTED_TAG);
        m.protect(peers[1], STATIC_TAG);
        for (i, peer) in peers.iter().enumerate() {
            connect(&mut m, *peer, i);
        }
        // 4 > 3: down to 2, taking only unprotected peers.
        assert_eq!(closes(&mut m), vec![peers[2], peers[3]]);
        assert!(m.is_connected(&peers[0]) && m.is_connected(&peers[1]));

        // With nothing left to take, it stays above high water rather than touch protection.
        let extra = PeerId::random();
        m.protect(extra, STATIC_TAG);
        for (i, peer) in peers.iter().enumerate().skip(2) {
            disconnect(&mut m, *peer, i);
        }
        connect(&mut m, extra, 9);
        let more = PeerId::random();
        m.protect(more, STATIC_TAG);
        connect(&mut m, more, 10);
        assert_eq!(m.connected_peers(), 4);
        assert!(closes(&mut m).is_empty());
    }

    #[test]
    fn lowest_score_first() {
        let mut m = manager(1, 2, Duration::ZERO);
        let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
        connect(&mut m, peers[0], 0);
        connect(&mut m, peers[1], 1);
        m.set_score(&peers[0], 5.0);
        m.set_score(&peers[1], -5.0);
        connect(&mut m, peers[2], 2);
        // peer 1 (-5.0), then peer 2 (0.0) go; peer 0 (5.0), the oldest, stays.
        assert_eq!(closes(&mut m), vec![peers[1], peers[2]]);
        assert!(m.is_connected(&peers[0]));
    }

    #[test]
    fn scores_come_from_the_book_unless_set() {
        let book = Arc::new(op_p2p_api::MemoryScoreBook::new());
        let mut m = manager(1, 2, Duration::ZERO).with_score_book(book.clone());
        let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
        let total = |total| op_p2p_api::GossipScores {
            total,
            ..Default::default()
        };
        connect(&mut m, peers[0], 0);
        connect(&mut m, peers[1], 1);
        // Read at trim time: these land after the peers connected.
        book.record_gossip_scores(&peers[0], total(-5.0));
        book.record_gossip_scores(&peers[1], total(5.0));
        book.record_gossip_scores(&peers[2], total(-1.0));
        // A score set by hand wins over the book's.
        m.set_score(&peers[1], -10.0);
        connect(&mut m, peers[2], 2);
        // peer 1 (-10, set), then peer 0 (-5, book) go; peer 2 (-1, book) stays.
        assert_eq!(closes(&mut m), vec![peers[1], peers[0]]);
        assert!(m.is_connected(&peers[2]));
    }

    #[test]
    fn static_peers_are_protected_and_dialled_at_once() {
        let mut m = manager(1, 2, Duration::ZERO);
        let peer = PeerId::random();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9222".parse().unwrap();
        m.add_static_peer(peer, addr);
        assert!(m.is_protected(&peer) && m.is_static(&peer));
        assert!(
            m.unprotect(&peer, API_PROTECTED_TAG),
            "still protected as static"
        );
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let Poll::Ready(ToSwarm::Dial { opts }) = m.poll(&mut cx) else {
            panic!("no dial");
        };
        assert_eq!(opts.get_peer_id(), Some(peer));
        assert!(m.poll(&mut cx).is_pending(), "one dial at a time");

        // The dial fails: nothing until the backoff has passed.
        m.on_swarm_event(FromSwarm::DialFailure(DialFailure {
            peer_id: Some(peer),
            error: &libp2p_swarm::DialError::Aborted,
            connection_id: opts.connection_id(),
        }));
        assert!(m.poll(&mut cx).is_pending());
        // Connected by the peer's own dial: never dialled while connected.
        connect(&mut m, peer, 7);
        assert!(m.poll(&mut cx).is_pending());
        assert!(m.is_connected(&peer));
    }

    #[test]
    fn grace_period_spares_new_peers() {
        let mut m = manager(1, 2, Duration::from_secs(30));
        let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
        for (i, peer) in peers.iter().enumerate() {
            connect(&mut m, *peer, i);
        }
        assert!(closes(&mut m).is_empty(), "everyone is in grace");
        assert_eq!(m.connected_peers(), 3);
        assert_eq!(m.trim_at(Instant::now() + Duration::from_secs(30)), 2);
        assert_eq!(closes(&mut m).len(), 2);
    }

    #[test]
    fn unprotect_reports_remaining_tags() {
        let mut m = manager(1, 2, Duration::ZERO);
        let peer = PeerId::random();
        m.protect(peer, STATIC_TAG);
        m.protect(peer, API_PROTECTED_TAG);
        assert!(m.unprotect(&peer, STATIC_TAG));
        assert!(m.is_protected(&peer));
        assert!(!m.unprotect(&peer, API_PROTECTED_TAG));
        assert!(!m.is_protected(&peer));
        assert!(!m.unprotect(&peer, API_PROTECTED_TAG));
    }

    #[test]
    fn a_peer_counts_once_across_connections() {
        let mut m = manager(1, 1, Duration::ZERO);
        let peer = PeerId::random();
        connect(&mut m, peer, 0);
        connect(&mut m, peer, 1);
        assert_eq!(m.connected_peers(), 1);
        assert!(closes(&mut m).is_empty());
        m.on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
            peer_id: peer,
            connection_id: ConnectionId::new_unchecked(0),
            endpoint: &endpoint(),
            cause: None,
            remaining_established: 1,
        }));
        assert!(m.is_connected(&peer));
        disconnect(&mut m, peer, 1);
        assert!(!m.is_connected(&peer));
        assert_eq!(m.connected_peers(), 0);
    }
}
