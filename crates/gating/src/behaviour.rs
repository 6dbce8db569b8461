//! The gating behaviour: block lists, timed bans, the minimum-score gate and metering on every
//! connection hook, with the rules held in memory and persisted through a [`GateStore`]; and
//! op-node's peer monitor, which bans on the scores of a [`ScoreBook`].

use std::{
    collections::{HashMap, HashSet, VecDeque, hash_map::Entry},
    convert::Infallible,
    fmt,
    net::IpAddr,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use ipnet::IpNet;
use libp2p_core::{Endpoint, Multiaddr, transport::PortUse};
use libp2p_identity::PeerId;
use libp2p_swarm::{
    CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};
use op_p2p_api::{Clock, GateStore, ScoreBook};
use tracing::{debug, info, warn};

use crate::{
    Config, Denied, DenyReason, Error, Metrics,
    ip::{ip_of, normalize_ip, normalize_subnet},
    subnets::SubnetSet,
    ticker::Ticker,
};

/// How often [`Behaviour`] lifts expired bans that no connection attempt has checked. Expiry is
/// decided by the clock's wall time; this only bounds how long an expired record lingers.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// How often the peer monitor ([`Behaviour::with_score_book`]) checks one connected peer:
/// op-node's `checkInterval`.
pub const PEER_MONITOR_INTERVAL: Duration = Duration::from_secs(1);

/// How many peers' last reported scores the minimum-score gate remembers. Past this, a new score
/// evicts a disconnected peer's (which then counts as unknown, 0), so memory stays bounded
/// whatever the score source reports.
pub const MAX_TRACKED_SCORES: usize = 10_000;

/// The tracing target of this crate's gating decisions.
const TARGET: &str = "op_p2p::gating";

/// Connection gating as a [`NetworkBehaviour`]: op-node's `Metered(Expiry(Basic))` gater chain
/// (spec §7), applied to inbound and outbound connections alike.
///
/// Place it first in the node's `#[derive(NetworkBehaviour)]` struct: the derived hooks stop at
/// the first behaviour that denies, so nothing after it sees a refused connection.
///
/// | hook | checks |
/// |---|---|
/// | pending inbound | remote IP: blocked IP, blocked subnet, IP ban |
/// | established inbound | peer: blocked, banned, score ≥ minimum; remote IP again |
/// | pending outbound | peer (if known): blocked, banned, score; every candidate address's IP |
/// | established outbound | peer: blocked, banned, score; the dialled address's IP |
///
/// All rules live in memory (loaded from the [`GateStore`] at construction), so no check reads
/// storage; changes through this type's methods are written through to the store, so they
/// survive restarts when the store does (`op-p2p-peerstore`'s RocksDB store; a
/// [`MemoryGateStore`](op_p2p_api::MemoryGateStore) forgets them). The store must not be changed
/// behind the behaviour's back while it runs.
///
/// Time comes from the injected [`Clock`]: its wall clock decides ban expiry, its monotonic
/// clock drives the sweep and the peer monitor (a [`ManualClock`](op_p2p_api::ManualClock)
/// drives them in tests; the behaviour keeps up to three sleeps pending on it).
///
/// Blocking or banning a peer or address that is connected closes its connections.
pub struct Behaviour {
    store: Arc<dyn GateStore>,
    clock: Arc<dyn Clock>,
    config: Config,
    blocked_peers: HashSet<PeerId>,
    blocked_ips: HashSet<IpAddr>,
    blocked_subnets: SubnetSet,
    /// Timed bans, unix seconds at which each lifts.
    peer_bans: HashMap<PeerId, u64>,
    ip_bans: HashMap<IpAddr, u64>,
    /// A lower bound on the earliest ban expiry, so sweeps without work cost one comparison.
    next_expiry: Option<u64>,
    protected: HashSet<PeerId>,
    scores: HashMap<PeerId, f64>,
    /// Inbound connections in their handshake, with their remote IP, and their count per IP
    /// ([`Config::with_max_pending_inbound_per_ip`]).
    pending_inbound: HashMap<ConnectionId, IpAddr>,
    pending_per_ip: HashMap<IpAddr, usize>,
    /// Established connections and the remote IP of each, to close on a new block or ban.
    connections: HashMap<PeerId, Vec<(ConnectionId, Option<IpAddr>)>>,
    to_close: VecDeque<Close>,
    metrics: Metrics,
    sweep_timer: Ticker,
    monitor: Option<Monitor>,
    waker: Option<Waker>,
}

impl fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Behaviour")
            .field("clock", &self.clock)
            .field("config", &self.config)
            .field("blocked_peers", &self.blocked_peers.len())
            .field("blocked_ips", &self.blocked_ips.len())
            .field("blocked_subnets", &self.blocked_subnets.len())
            .field("peer_bans", &self.peer_bans.len())
            .field("ip_bans", &self.ip_bans.len())
            .field("protected", &self.protected.len())
            .field("connected_peers", &self.connections.len())
            .field("metrics", &self.metrics)
            .field("monitor", &self.monitor)
            .finish_non_exhaustive()
    }
}

/// op-node's peer monitor and per-slot application-score decay, on a [`ScoreBook`].
struct Monitor {
    book: Arc<dyn ScoreBook>,
    /// The peers still to check in this round (op-node's `peerList`): refilled with every
    /// connected peer when empty, so each connected peer is checked once per round.
    round: VecDeque<PeerId>,
    /// Connected peers seen below the graylist cut-off's threshold, with the clock's monotonic
    /// time of the first such check ([`Config::with_graylist_cutoff`]).
    graylisted: HashMap<PeerId, Duration>,
    check_timer: Ticker,
    /// `None` when the slot is zero: no decay.
    decay_timer: Option<Ticker>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("round", &self.round.len())
            .field("graylisted", &self.graylisted.len())
            .field("check_timer", &self.check_timer)
            .field("decay_timer", &self.decay_timer)
            .finish_non_exhaustive()
    }
}

/// A queued [`ToSwarm::CloseConnection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Peer(PeerId),
    Connection(PeerId, ConnectionId),
}

impl Behaviour {
    /// Loads the block lists and timed bans from `store` ([`GateStore::load`]) and starts gating
    /// with them; `clock` decides ban expiry (unix seconds) and drives the timers.
    pub fn new(
        store: Arc<dyn GateStore>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<Self, Error> {
        let rules = store.load()?;
        let blocked_peers: HashSet<PeerId> = rules.blocked_peers.into_iter().collect();
        let blocked_ips: HashSet<IpAddr> =
            rules.blocked_ips.into_iter().map(normalize_ip).collect();
        let mut blocked_subnets = SubnetSet::default();
        for net in rules.blocked_subnets {
            blocked_subnets.insert(normalize_subnet(net));
        }
        let peer_bans: HashMap<PeerId, u64> = rules.peer_bans.into_iter().collect();
        let mut ip_bans: HashMap<IpAddr, u64> = HashMap::new();
        for (ip, until) in rules.ip_bans {
            let entry = ip_bans.entry(normalize_ip(ip)).or_insert(until);
            *entry = (*entry).max(until);
        }
        let next_expiry = peer_bans.values().chain(ip_bans.values()).copied().min();
        info!(
            target: TARGET,
            blocked_peers = blocked_peers.len(),
            blocked_ips = blocked_ips.len(),
            blocked_subnets = blocked_subnets.len(),
            peer_bans = peer_bans.len(),
            ip_bans = ip_bans.len(),
            "loaded gating rules"
        );
        let sweep_timer = Ticker::new(clock.as_ref(), SWEEP_INTERVAL);
        Ok(Self {
            store,
            clock,
            config,
            blocked_peers,
            blocked_ips,
            blocked_subnets,
            peer_bans,
            ip_bans,
            next_expiry,
            protected: HashSet::new(),
            scores: HashMap::new(),
            pending_inbound: HashMap::new(),
            pending_per_ip: HashMap::new(),
            connections: HashMap::new(),
            to_close: VecDeque::new(),
            metrics: Metrics::default(),
            sweep_timer,
            monitor: None,
            waker: None,
        })
    }

    /// Turns on op-node's peer monitor over `book`:
    ///
    /// - every [`PEER_MONITOR_INTERVAL`] the next connected peer (round robin: each connected
    ///   peer once per round, op-node's `checkInterval`) has its [`ScoreBook::peer_score`] fed to
    ///   [`report_score`](Self::report_score), which bans it below the ban threshold unless it
    ///   is protected and records the score for the minimum-score gate;
    /// - every `slot` (the rollup's block time) [`ScoreBook::decay_app_scores`] decays the
    ///   application scores of the connected peers, op-node's per-slot decay. A zero `slot`
    ///   turns decay off.
    pub fn with_score_book(mut self, book: Arc<dyn ScoreBook>, slot: Duration) -> Self {
        let clock = self.clock.as_ref();
        self.monitor = Some(Monitor {
            book,
            round: VecDeque::new(),
            graylisted: HashMap::new(),
            check_timer: Ticker::new(clock, PEER_MONITOR_INTERVAL),
            decay_timer: (!slot.is_zero()).then(|| Ticker::new(clock, slot)),
        });
        self
    }

    /// The clock's wall time, unix seconds: what ban expiries ([`ban_peer`](Self::ban_peer)'s
    /// `until`) are compared with.
    pub fn now(&self) -> u64 {
        self.clock.unix_time()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A snapshot of the gating counters.
    pub fn metrics(&self) -> Metrics {
        self.metrics
    }

    // ---- timed bans -------------------------------------------------------------------------

    /// Bans `peer` until `until` (unix seconds, [`now`](Self::now)'s clock) and closes its
    /// connections; replaces any earlier ban of the peer (op-node's `BanPeer`).
    ///
    /// The ban is in force even if persisting it fails ([`Error::Store`]).
    pub fn ban_peer(&mut self, peer: PeerId, until: u64) -> Result<(), Error> {
        self.peer_bans.insert(peer, until);
        self.note_expiry(until);
        if self.clock.unix_time() < until {
            info!(target: TARGET, %peer, until, "banning peer");
            self.close_peer(peer);
        }
        self.store.set_peer_ban(&peer, Some(until))?;
        Ok(())
    }

    /// Lifts `peer`'s timed ban, if any. On a store error the ban stays in force.
    pub fn unban_peer(&mut self, peer: &PeerId) -> Result<(), Error> {
        self.store.set_peer_ban(peer, None)?;
        self.peer_bans.remove(peer);
        Ok(())
    }

    /// Bans `ip` until `until` (unix seconds) and closes connections from it (op-node's `BanIP`).
    /// IPv4-mapped IPv6 addresses are banned as their IPv4 form.
    ///
    /// The ban is in force even if persisting it fails ([`Error::Store`]).
    pub fn ban_ip(&mut self, ip: IpAddr, until: u64) -> Result<(), Error> {
        let ip = normalize_ip(ip);
        self.ip_bans.insert(ip, until);
        self.note_expiry(until);
        if self.clock.unix_time() < until {
            info!(target: TARGET, %ip, until, "banning IP");
            self.close_ips(|remote| remote == ip);
        }
        self.store.set_ip_ban(ip, Some(until))?;
        Ok(())
    }

    /// Lifts `ip`'s timed ban, if any. On a store error the ban stays in force.
    pub fn unban_ip(&mut self, ip: IpAddr) -> Result<(), Error> {
        let ip = normalize_ip(ip);
        self.store.set_ip_ban(ip, None)?;
        self.ip_bans.remove(&ip);
        Ok(())
    }

    /// Whether `peer` has a timed ban in force now.
    pub fn is_peer_banned(&self, peer: &PeerId) -> bool {
        self.peer_bans
            .get(peer)
            .is_some_and(|until| self.clock.unix_time() < *until)
    }

    /// Whether `ip` has a timed ban in force now.
    pub fn is_ip_banned(&self, ip: IpAddr) -> bool {
        self.ip_bans
            .get(&normalize_ip(ip))
            .is_some_and(|until| self.clock.unix_time() < *until)
    }

    /// The timed peer bans in force, with the unix second each lifts.
    pub fn list_peer_bans(&self) -> Vec<(PeerId, u64)> {
        let now = self.clock.unix_time();
        self.peer_bans
            .iter()
            .filter(|(_, until)| now < **until)
            .map(|(peer, until)| (*peer, *until))
            .collect()
    }

    /// The timed IP bans in force, with the unix second each lifts.
    pub fn list_ip_bans(&self) -> Vec<(IpAddr, u64)> {
        let now = self.clock.unix_time();
        self.ip_bans
            .iter()
            .filter(|(_, until)| now < **until)
            .map(|(ip, until)| (*ip, *until))
            .collect()
    }

    /// Lifts every expired ban: removes it from the peer store and counts it in
    /// [`Metrics::peer_unbans`] / [`Metrics::ip_unbans`]. [`poll`](NetworkBehaviour::poll) calls
    /// this every [`SWEEP_INTERVAL`]; connection checks lift the bans they meet on their own.
    /// A ban whose removal fails stays (and keeps denying) until a later sweep succeeds.
    pub fn sweep_expired(&mut self) {
        let now = self.clock.unix_time();
        if self.next_expiry.is_none_or(|next| now < next) {
            return;
        }
        let peers: Vec<PeerId> = self
            .peer_bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in peers {
            // A failed lift is logged and retried on the next sweep; nothing else to do here.
            let _ = self.lift_peer_ban(peer);
        }
        let ips: Vec<IpAddr> = self
            .ip_bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in ips {
            let _ = self.lift_ip_ban(ip);
        }
        self.next_expiry = self
            .peer_bans
            .values()
            .chain(self.ip_bans.values())
            .copied()
            .min();
    }

    // ---- permanent block lists --------------------------------------------------------------

    /// Blocks `peer` permanently and closes its connections.
    ///
    /// The block is in force even if persisting it fails ([`Error::Store`]).
    pub fn block_peer(&mut self, peer: PeerId) -> Result<(), Error> {
        info!(target: TARGET, %peer, "blocking peer");
        self.blocked_peers.insert(peer);
        self.close_peer(peer);
        self.store.set_peer_blocked(&peer, true)?;
        Ok(())
    }

    /// Unblocks `peer` and, as op-node's `UnblockPeer` does, lifts its timed ban too and counts
    /// an unban ([`Metrics::peer_unbans`], on every call, blocked or not, as op-node's
    /// `ExpiryConnectionGater`). On a store error whatever was not yet removed from the store
    /// stays in force and nothing is counted.
    pub fn unblock_peer(&mut self, peer: &PeerId) -> Result<(), Error> {
        self.store.set_peer_blocked(peer, false)?;
        self.blocked_peers.remove(peer);
        self.store.set_peer_ban(peer, None)?;
        self.peer_bans.remove(peer);
        self.metrics.peer_unbans += 1;
        Ok(())
    }

    /// Blocks `ip` permanently and closes connections from it. IPv4-mapped IPv6 addresses are
    /// blocked as their IPv4 form.
    ///
    /// The block is in force even if persisting it fails ([`Error::Store`]).
    pub fn block_ip(&mut self, ip: IpAddr) -> Result<(), Error> {
        let ip = normalize_ip(ip);
        info!(target: TARGET, %ip, "blocking IP");
        self.blocked_ips.insert(ip);
        self.close_ips(|remote| remote == ip);
        self.store.set_ip_blocked(ip, true)?;
        Ok(())
    }

    /// Unblocks `ip`. On a store error it stays blocked.
    pub fn unblock_ip(&mut self, ip: IpAddr) -> Result<(), Error> {
        let ip = normalize_ip(ip);
        self.store.set_ip_blocked(ip, false)?;
        self.blocked_ips.remove(&ip);
        Ok(())
    }

    /// Blocks every IP in `subnet` permanently and closes connections from them. Host bits are
    /// cleared (`10.1.2.3/8` is `10.0.0.0/8`) and IPv4-mapped IPv6 subnets of prefix ≥ 96 become
    /// the IPv4 subnet they denote.
    ///
    /// The block is in force even if persisting it fails ([`Error::Store`]).
    pub fn block_subnet(&mut self, subnet: IpNet) -> Result<(), Error> {
        let subnet = normalize_subnet(subnet);
        info!(target: TARGET, %subnet, "blocking subnet");
        self.blocked_subnets.insert(subnet);
        self.close_ips(|remote| subnet.contains(&remote));
        self.store.set_subnet_blocked(subnet, true)?;
        Ok(())
    }

    /// Unblocks `subnet` (normalized as in [`block_subnet`](Self::block_subnet)). On a store
    /// error it stays blocked.
    pub fn unblock_subnet(&mut self, subnet: IpNet) -> Result<(), Error> {
        let subnet = normalize_subnet(subnet);
        self.store.set_subnet_blocked(subnet, false)?;
        self.blocked_subnets.remove(subnet);
        Ok(())
    }

    /// Whether `peer` is on the permanent block list.
    pub fn is_peer_blocked(&self, peer: &PeerId) -> bool {
        self.blocked_peers.contains(peer)
    }

    /// Whether `ip` is blocked, by itself or by a subnet.
    pub fn is_ip_blocked(&self, ip: IpAddr) -> bool {
        let ip = normalize_ip(ip);
        self.blocked_ips.contains(&ip) || self.blocked_subnets.matching(ip).is_some()
    }

    /// Whether a dial to `addr` would pass the IP rules (block lists and bans in force).
    /// Addresses without an IP (`/dns4/…`) pass: their IP is checked once connected.
    ///
    /// rust-libp2p dials every address in the `DialOpts`, and a behaviour can only add
    /// addresses, never remove one, so [`Behaviour`] refuses a dial if *any* of its addresses is
    /// denied. Callers with several addresses for a peer (op-node's `InterceptAddrDial` judges
    /// each on its own) filter them with this first.
    pub fn is_address_allowed(&self, addr: &Multiaddr) -> bool {
        ip_of(addr).is_none_or(|ip| !self.is_ip_blocked(ip) && !self.is_ip_banned(ip))
    }

    /// The permanently blocked peers.
    pub fn list_blocked_peers(&self) -> Vec<PeerId> {
        self.blocked_peers.iter().copied().collect()
    }

    /// The permanently blocked IPs.
    pub fn list_blocked_ips(&self) -> Vec<IpAddr> {
        self.blocked_ips.iter().copied().collect()
    }

    /// The permanently blocked subnets.
    pub fn list_blocked_subnets(&self) -> Vec<IpNet> {
        self.blocked_subnets.iter().collect()
    }

    // ---- scores and protection --------------------------------------------------------------

    /// Protects `peer` from score-driven bans and from the minimum-score gate (op-node never
    /// bans its static peers). Explicit blocks and bans still apply.
    pub fn protect(&mut self, peer: PeerId) {
        self.protected.insert(peer);
    }

    /// Removes `peer`'s protection.
    pub fn unprotect(&mut self, peer: &PeerId) {
        self.protected.remove(peer);
    }

    /// Whether `peer` is protected.
    pub fn is_protected(&self, peer: &PeerId) -> bool {
        self.protected.contains(peer)
    }

    /// Records `peer`'s current score (the gossipsub total, as op-node's peer monitor reads it)
    /// for the minimum-score gate and, as the monitor does, bans the peer for the configured
    /// duration and disconnects it when banning is on, the peer is not protected, its score is
    /// below the threshold and it is not already banned. Returns whether it was banned now.
    ///
    /// The peer monitor ([`with_score_book`](Self::with_score_book)) calls this once a second;
    /// it is public for callers with a score source of their own.
    ///
    /// The ban is in force even if persisting it fails ([`Error::Store`]).
    pub fn report_score(&mut self, peer: PeerId, score: f64) -> Result<bool, Error> {
        self.remember_score(peer, score);
        if !self.config.ban_peers() || self.protected.contains(&peer) || self.is_peer_banned(&peer)
        {
            return Ok(false);
        }
        if score < self.config.ban_threshold() {
            let until = self.misbehaviour_ban_until();
            info!(
                target: TARGET,
                %peer, score, threshold = self.config.ban_threshold(), until,
                "score below ban threshold"
            );
            self.ban_peer(peer, until)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Bans `peer` for the configured duration for misbehaviour a protocol detected outside the
    /// score (gossip's flood cut-off), on the same terms as a low score: only when banning is
    /// on, the peer is not protected and not already banned. Returns whether it was banned now.
    ///
    /// The ban is in force even if persisting it fails ([`Error::Store`]).
    pub fn report_misbehaviour(&mut self, peer: PeerId, what: &str) -> Result<bool, Error> {
        if !self.config.ban_peers() || self.protected.contains(&peer) || self.is_peer_banned(&peer)
        {
            return Ok(false);
        }
        let until = self.misbehaviour_ban_until();
        info!(target: TARGET, %peer, what, until, "banned for misbehaviour");
        self.ban_peer(peer, until)?;
        Ok(true)
    }

    /// When a ban for misbehaviour (a low score, a graylisted peer staying on, a protocol's
    /// report) that starts now ends: the configured ban duration from now.
    fn misbehaviour_ban_until(&self) -> u64 {
        self.clock
            .unix_time()
            .saturating_add(self.config.ban_duration().as_secs())
    }

    /// Counts an inbound connection in its handshake against its IP's bound, or refuses it.
    fn admit_pending_inbound(
        &mut self,
        connection: ConnectionId,
        remote_addr: &Multiaddr,
    ) -> Result<(), DenyReason> {
        let (Some(max), Some(ip)) = (self.config.max_pending_inbound_per_ip(), ip_of(remote_addr))
        else {
            return Ok(());
        };
        let pending = self.pending_per_ip.entry(ip).or_default();
        if *pending >= max {
            return Err(DenyReason::TooManyPendingInbound {
                ip,
                pending: *pending,
            });
        }
        *pending += 1;
        self.pending_inbound.insert(connection, ip);
        Ok(())
    }

    /// An inbound connection's handshake ended (established, failed or denied).
    fn end_pending_inbound(&mut self, connection: ConnectionId) {
        let Some(ip) = self.pending_inbound.remove(&connection) else {
            return;
        };
        if let Entry::Occupied(mut entry) = self.pending_per_ip.entry(ip) {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }

    /// The peer monitor's step: checks the next connected peer of the round.
    fn monitor_next_peer(&mut self) {
        let Some(monitor) = self.monitor.as_mut() else {
            return;
        };
        if monitor.round.is_empty() {
            monitor.round.extend(self.connections.keys().copied());
        }
        // A peer that disconnected since the round began is skipped (op-node's `IsConnected`).
        let Some(peer) = monitor.round.pop_front() else {
            return;
        };
        if !self.connections.contains_key(&peer) {
            return;
        }
        let score = monitor.book.peer_score(&peer);
        match self.report_score(peer, score) {
            Ok(true) => info!(target: TARGET, %peer, score, "peer monitor: banned for a low score"),
            Ok(false) => {}
            Err(error) => warn!(target: TARGET, %peer, %error, "peer monitor: ban not persisted"),
        }
    }

    /// The graylist cut-off ([`Config::with_graylist_cutoff`]): reads every connected peer's score
    /// (a map lookup each, once a second) and bans the unprotected ones that have been below the
    /// threshold for the grace period. Unlike op-node's one-peer-a-second round, every peer is
    /// checked each time: a graylisted peer costs bandwidth every second it stays connected.
    fn cut_off_graylisted(&mut self) {
        let Some(cutoff) = self.config.graylist_cutoff() else {
            return;
        };
        let Some(monitor) = self.monitor.as_mut() else {
            return;
        };
        let now = self.clock.now();
        let connections = &self.connections;
        monitor
            .graylisted
            .retain(|peer, _| connections.contains_key(peer));
        let mut due = Vec::new();
        for peer in self.connections.keys() {
            if self.protected.contains(peer) {
                continue;
            }
            let score = monitor.book.peer_score(peer);
            if score >= cutoff.threshold {
                monitor.graylisted.remove(peer);
                continue;
            }
            let since = *monitor.graylisted.entry(*peer).or_insert(now);
            if now.saturating_sub(since) >= cutoff.grace {
                due.push((*peer, score));
            }
        }
        for (peer, score) in due {
            if !self.config.ban_peers() || self.is_peer_banned(&peer) {
                continue;
            }
            let until = self.misbehaviour_ban_until();
            info!(
                target: TARGET,
                %peer, score, threshold = cutoff.threshold, grace = ?cutoff.grace, until,
                "peer monitor: banned for staying below the graylist threshold"
            );
            if let Err(error) = self.ban_peer(peer, until) {
                warn!(target: TARGET, %peer, %error, "peer monitor: ban not persisted");
            }
        }
    }

    /// One slot of application-score decay for the connected peers.
    fn decay_app_scores(&self) {
        if let Some(monitor) = &self.monitor {
            let connected: Vec<PeerId> = self.connections.keys().copied().collect();
            monitor.book.decay_app_scores(&connected);
        }
    }

    fn remember_score(&mut self, peer: PeerId, score: f64) {
        if self.scores.len() >= MAX_TRACKED_SCORES && !self.scores.contains_key(&peer) {
            let evict = self
                .scores
                .keys()
                .find(|p| !self.connections.contains_key(p))
                .copied();
            if let Some(evict) = evict {
                self.scores.remove(&evict);
            }
        }
        self.scores.insert(peer, score);
    }

    // ---- checks -----------------------------------------------------------------------------

    fn check_peer(&mut self, peer: &PeerId) -> Result<(), DenyReason> {
        if self.blocked_peers.contains(peer) {
            return Err(DenyReason::PeerBlocked(*peer));
        }
        let Some(&until) = self.peer_bans.get(peer) else {
            return Ok(());
        };
        if self.clock.unix_time() < until {
            return Err(DenyReason::PeerBanned { peer: *peer, until });
        }
        self.lift_peer_ban(*peer)
    }

    fn check_ip(&mut self, ip: IpAddr) -> Result<(), DenyReason> {
        if self.blocked_ips.contains(&ip) {
            return Err(DenyReason::IpBlocked(ip));
        }
        if let Some(subnet) = self.blocked_subnets.matching(ip) {
            return Err(DenyReason::SubnetBlocked { ip, subnet });
        }
        let Some(&until) = self.ip_bans.get(&ip) else {
            return Ok(());
        };
        if self.clock.unix_time() < until {
            return Err(DenyReason::IpBanned { ip, until });
        }
        self.lift_ip_ban(ip)
    }

    fn check_addr(&mut self, addr: &Multiaddr) -> Result<(), DenyReason> {
        ip_of(addr).map_or(Ok(()), |ip| self.check_ip(ip))
    }

    fn check_score(&self, peer: &PeerId) -> Result<(), DenyReason> {
        let Some(min) = self.config.min_score() else {
            return Ok(());
        };
        if self.protected.contains(peer) {
            return Ok(());
        }
        let score = self.scores.get(peer).copied().unwrap_or(0.0);
        if score < min {
            return Err(DenyReason::ScoreTooLow {
                peer: *peer,
                score,
                min,
            });
        }
        Ok(())
    }

    /// Lifts an expired peer ban: deletes the record, then forgets it and counts the unban.
    fn lift_peer_ban(&mut self, peer: PeerId) -> Result<(), DenyReason> {
        match self.store.set_peer_ban(&peer, None) {
            Ok(()) => {
                self.peer_bans.remove(&peer);
                self.metrics.peer_unbans += 1;
                info!(target: TARGET, %peer, "peer ban expired, unbanned");
                Ok(())
            }
            Err(error) => {
                warn!(target: TARGET, %peer, %error, "failed to lift expired peer ban");
                Err(DenyReason::BanStore)
            }
        }
    }

    /// Lifts an expired IP ban: deletes the record, then forgets it and counts the unban.
    fn lift_ip_ban(&mut self, ip: IpAddr) -> Result<(), DenyReason> {
        match self.store.set_ip_ban(ip, None) {
            Ok(()) => {
                self.ip_bans.remove(&ip);
                self.metrics.ip_unbans += 1;
                info!(target: TARGET, %ip, "IP ban expired, unbanned");
                Ok(())
            }
            Err(error) => {
                warn!(target: TARGET, %ip, %error, "failed to lift expired IP ban");
                Err(DenyReason::BanStore)
            }
        }
    }

    fn record_dial(&mut self, result: Result<(), DenyReason>) -> Result<(), ConnectionDenied> {
        match result {
            Ok(()) => {
                self.metrics.dials_allowed += 1;
                Ok(())
            }
            Err(reason) => {
                self.metrics.dials_denied += 1;
                debug!(target: TARGET, %reason, "outbound connection denied");
                Err(ConnectionDenied::new(Denied { reason }))
            }
        }
    }

    fn record_accept(&mut self, result: Result<(), DenyReason>) -> Result<(), ConnectionDenied> {
        match result {
            Ok(()) => {
                self.metrics.accepts_allowed += 1;
                Ok(())
            }
            Err(reason) => {
                self.metrics.accepts_denied += 1;
                debug!(target: TARGET, %reason, "inbound connection denied");
                Err(ConnectionDenied::new(Denied { reason }))
            }
        }
    }

    fn check_established(&mut self, peer: &PeerId, remote: &Multiaddr) -> Result<(), DenyReason> {
        self.check_peer(peer)?;
        self.check_addr(remote)?;
        self.check_score(peer)
    }

    // ---- closing ----------------------------------------------------------------------------

    fn note_expiry(&mut self, until: u64) {
        self.next_expiry = Some(self.next_expiry.map_or(until, |next| next.min(until)));
    }

    fn close_peer(&mut self, peer: PeerId) {
        if self.connections.contains_key(&peer) {
            self.queue_close(Close::Peer(peer));
        }
    }

    fn close_ips(&mut self, matches: impl Fn(IpAddr) -> bool) {
        let closes: Vec<Close> = self
            .connections
            .iter()
            .flat_map(|(peer, connections)| {
                connections
                    .iter()
                    .filter(|(_, ip)| ip.is_some_and(&matches))
                    .map(|(id, _)| Close::Connection(*peer, *id))
            })
            .collect();
        for close in closes {
            self.queue_close(close);
        }
    }

    fn queue_close(&mut self, close: Close) {
        if !self.to_close.contains(&close) {
            self.to_close.push_back(close);
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let result = self
            .check_addr(remote_addr)
            .and_then(|()| self.admit_pending_inbound(connection_id, remote_addr));
        self.record_accept(result)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.end_pending_inbound(connection_id);
        let result = self.check_established(&peer, remote_addr);
        self.record_accept(result)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        let mut result = Ok(());
        if let Some(peer) = maybe_peer {
            result = self
                .check_peer(&peer)
                .and_then(|()| self.check_score(&peer));
        }
        // Every address given is dialled (a behaviour cannot remove one), so one denied address
        // denies the dial; see `is_address_allowed`.
        for addr in addresses {
            if result.is_err() {
                break;
            }
            result = self.check_addr(addr);
        }
        self.record_dial(result)?;
        Ok(Vec::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let result = self.check_established(&peer, addr);
        self.record_dial(result)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match event {
            FromSwarm::ConnectionEstablished(established) => {
                let ip = ip_of(established.endpoint.get_remote_address());
                self.connections
                    .entry(established.peer_id)
                    .or_default()
                    .push((established.connection_id, ip));
            }
            // A handshake that failed or timed out, or a connection another behaviour denied.
            FromSwarm::ListenFailure(failure) => self.end_pending_inbound(failure.connection_id),
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                if let Entry::Occupied(mut entry) = self.connections.entry(peer_id) {
                    entry.get_mut().retain(|(id, _)| *id != connection_id);
                    if entry.get().is_empty() {
                        entry.remove();
                    }
                }
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

    #[tracing::instrument(level = "trace", name = "gating::Behaviour::poll", skip(self, cx))]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        while self
            .sweep_timer
            .poll_tick(self.clock.as_ref(), cx)
            .is_ready()
        {
            self.sweep_expired();
        }
        if let Some(monitor) = self.monitor.as_mut() {
            let clock = self.clock.as_ref();
            let mut checks = 0;
            while monitor.check_timer.poll_tick(clock, cx).is_ready() {
                checks += 1;
            }
            let mut decays = 0;
            if let Some(decay_timer) = monitor.decay_timer.as_mut() {
                while decay_timer.poll_tick(clock, cx).is_ready() {
                    decays += 1;
                }
            }
            for _ in 0..checks {
                self.monitor_next_peer();
            }
            if checks > 0 {
                self.cut_off_graylisted();
            }
            for _ in 0..decays {
                self.decay_app_scores();
            }
        }
        if let Some(close) = self.to_close.pop_front() {
            let (peer_id, connection) = match close {
                Close::Peer(peer) => (peer, CloseConnection::All),
                Close::Connection(peer, id) => (peer, CloseConnection::One(id)),
            };
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection,
            });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
