//! [`Books`]: the RocksDB store behind `op-p2p-api`'s traits, shaped for the swarm task: reads
//! from memory, writes queued to one writer thread, and the store's timers (GC) on that thread.

use std::{
    net::IpAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError},
    },
    time::{Duration, Instant},
};

use hashlink::LruCache;
use ipnet::IpNet;
use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use op_p2p_api::{
    DISCOVERED_ADDR_TTL, DiscoveryRecord, GateRules, GateStore, GossipScores, IDENTIFY_ADDR_TTL,
    IdentifyRecord, PeerBook, PeerScores, ReqRespEvent, ScoreBook,
};
use tracing::{debug, warn};

use crate::{error::Error, store::PeerStore};

/// How many writes may wait for the writer thread. Past this, score and identify records are
/// dropped (and counted): the next snapshot or exchange brings them again.
pub const BOOKS_QUEUE: usize = 4096;

/// How many peers' scores are kept in memory. A peer beyond this reads as neutral (0) until its
/// next scored event; the store keeps every record for its retention either way.
const CACHED_PEERS: usize = 10_000;

const TARGET: &str = "op_p2p::peerstore";

/// The peer store as the protocol behaviours use it: [`ScoreBook`], [`PeerBook`] and
/// [`GateStore`] over one [`PeerStore`].
///
/// - Scores are read from an in-memory cache (loaded at start, updated on every record), so
///   gossipsub's application score and the peer monitor never touch RocksDB.
/// - Score snapshots, request-response outcomes, decay and identify records are queued
///   ([`BOOKS_QUEUE`]) to one writer thread that applies them in order; a full queue drops the
///   record and counts it ([`Books::dropped`]).
/// - Gate rules are written at once ([`GateStore`]'s contract: a ban is stored when the call
///   returns); a RocksDB write into the write-ahead log takes ~1.5 µs.
/// - The writer thread also runs the store's bounded GC every
///   [`Config::gc_interval`](crate::Config::gc_interval).
///
/// [`Books::flush`] waits until every queued write is applied and flushes RocksDB: the node's
/// clean-shutdown step, followed by [`Books::close`] to stop the writer. Dropping the last clone
/// stops the writer after it has drained, without waiting for it.
#[derive(Debug, Clone)]
pub struct Books {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: PeerStore,
    scores: Mutex<LruCache<PeerId, PeerScores>>,
    queue: SyncSender<Op>,
    dropped: AtomicU64,
    /// The writer thread, until [`Books::close`] joins it.
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

enum Op {
    Gossip(PeerId, GossipScores),
    ReqResp(PeerId, ReqRespEvent),
    Decay(Vec<PeerId>),
    Identify(PeerId, Box<IdentifyRecord>),
    Addrs(PeerId, Vec<Multiaddr>, Duration),
    Discovery(PeerId, Box<DiscoveryRecord>),
    Flush(SyncSender<()>),
    Stop,
}

/// A [`Books`] reference that does not keep the books open ([`Books::downgrade`]).
#[derive(Debug, Clone)]
pub struct WeakBooks {
    inner: std::sync::Weak<Inner>,
}

impl WeakBooks {
    /// The books, while some [`Books`] still holds them.
    pub fn upgrade(&self) -> Option<Books> {
        self.inner.upgrade().map(|inner| Books { inner })
    }
}

impl Books {
    /// The books over `store`: loads the retained scores into memory and starts the writer
    /// thread.
    pub fn new(store: PeerStore) -> Result<Self, Error> {
        let mut cache = LruCache::new(CACHED_PEERS);
        for (peer, scores) in store.all_peer_scores()? {
            cache.insert(peer, scores);
        }
        let (queue, ops) = mpsc::sync_channel(BOOKS_QUEUE);
        let writer_store = store.clone();
        // Dropping the last `Books` drops the sender, so the thread drains the queue and ends; a
        // drop must not wait for it: `Books::flush` and `Books::close` are the steps that wait.
        let writer = std::thread::Builder::new()
            .name("op-p2p-peerstore".into())
            .spawn(move || write_loop(&writer_store, &ops))
            .map_err(Error::Thread)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                scores: Mutex::new(cache),
                queue,
                dropped: AtomicU64::new(0),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// The store underneath, for the node's own reads (status, operator RPC) off the swarm task.
    pub fn store(&self) -> &PeerStore {
        &self.inner.store
    }

    /// Stops the writer thread after every write queued before this call and waits for it, so
    /// its copy of the store is dropped when this returns. Blocks: call it off the swarm task,
    /// after [`flush`](Self::flush), as the last step of a shutdown. Later writes are dropped
    /// (and counted).
    ///
    /// Why: RocksDB closes when the last copy of the store drops. Left to the detached writer,
    /// that can happen while the process is exiting, racing C++ static destructors (an abort,
    /// `pthread lock: Invalid argument`, seen in about 1 % of clean node shutdowns); after
    /// `close` the caller's own copies are the last, dropped before the process exits.
    pub fn close(&self) {
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(writer) = writer else { return };
        if self.inner.queue.send(Op::Stop).is_ok() {
            let _ = writer.join();
        }
    }

    /// A reference that does not keep the books open: for long-lived readers (the operator
    /// RPC) that must not hold the store past the node's shutdown, where the last clone's drop
    /// closes RocksDB and that must happen before the process exits.
    pub fn downgrade(&self) -> WeakBooks {
        WeakBooks {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The scores held in memory, for the node's status: every peer scored since start or
    /// loaded from the store (at most 10,000).
    pub fn peer_scores(&self) -> Vec<(PeerId, PeerScores)> {
        self.scores().iter().map(|(p, s)| (*p, *s)).collect()
    }

    /// Records dropped because the writer was [`BOOKS_QUEUE`] writes behind, or stopped
    /// ([`close`](Self::close)).
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every write queued before this call is applied, then flushes RocksDB's
    /// memtables to disk. Blocks: call it off the swarm task (at shutdown).
    pub fn flush(&self) -> Result<(), Error> {
        let (ack, done) = mpsc::sync_channel(1);
        if self.inner.queue.send(Op::Flush(ack)).is_ok() {
            // The writer answers after everything queued before the flush.
            let _ = done.recv();
        }
        self.inner.store.flush()
    }

    fn enqueue(&self, op: Op) {
        match self.inner.queue.try_send(op) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    warn!(target: TARGET, dropped, "peer store writer behind; records dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                debug!(target: TARGET, "peer store writer stopped; record dropped");
            }
        }
    }

    fn scores(&self) -> std::sync::MutexGuard<'_, LruCache<PeerId, PeerScores>> {
        // Plain numbers: consistent after any panic.
        self.inner
            .scores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, peer: &PeerId, f: impl FnOnce(&mut PeerScores)) {
        let mut scores = self.scores();
        match scores.get_mut(peer) {
            Some(entry) => f(entry),
            None => {
                let mut entry = PeerScores::default();
                f(&mut entry);
                scores.insert(*peer, entry);
            }
        }
    }
}

fn write_loop(store: &PeerStore, ops: &Receiver<Op>) {
    let gc_every = store.config().gc_interval();
    let mut next_gc = Instant::now() + gc_every;
    loop {
        let wait = next_gc.saturating_duration_since(Instant::now());
        match ops.recv_timeout(wait) {
            Ok(Op::Stop) => break,
            Ok(op) => apply(store, op),
            Err(RecvTimeoutError::Timeout) => {
                match store.gc() {
                    Ok(report) => debug!(target: TARGET, ?report, "peer store GC"),
                    Err(error) => warn!(target: TARGET, %error, "peer store GC failed"),
                }
                next_gc = Instant::now() + gc_every;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

fn apply(store: &PeerStore, op: Op) {
    let (what, result) = match op {
        Op::Gossip(peer, scores) => ("gossip scores", store.set_gossip_scores(&peer, &scores)),
        Op::ReqResp(peer, event) => (
            "req-resp score",
            store.record_req_resp(&peer, event).map(drop),
        ),
        Op::Decay(peers) => ("score decay", store.decay_app_scores(&peers)),
        Op::Identify(peer, record) => (
            "identify",
            store
                .set_public_key(&peer, &record.public_key)
                .and_then(|()| store.set_identify(&peer, &record.info))
                .and_then(|()| store.set_protocols(&peer, &record.protocols))
                .and_then(|()| store.add_addrs(&peer, &record.listen_addrs, IDENTIFY_ADDR_TTL)),
        ),
        Op::Addrs(peer, addrs, ttl) => ("addresses", store.add_addrs(&peer, &addrs, ttl)),
        Op::Discovery(peer, record) => (
            "discovery record",
            store
                .set_public_key(&peer, &record.public_key)
                .and_then(|()| store.set_metadata(&peer, &record.metadata))
                .and_then(|()| {
                    store.add_addrs(
                        &peer,
                        std::slice::from_ref(&record.addr),
                        DISCOVERED_ADDR_TTL,
                    )
                }),
        ),
        Op::Flush(ack) => {
            let _ = ack.send(());
            return;
        }
        // `write_loop` stops on it before applying.
        Op::Stop => return,
    };
    if let Err(error) = result {
        warn!(target: TARGET, %error, "cannot store {what}");
    }
}

impl ScoreBook for Books {
    fn app_score(&self, peer: &PeerId) -> f64 {
        self.scores()
            .get(peer)
            .map_or(0.0, |s| s.req_resp.app_score())
    }

    fn peer_score(&self, peer: &PeerId) -> f64 {
        self.scores().get(peer).map_or(0.0, |s| s.gossip.total)
    }

    fn record_gossip_scores(&self, peer: &PeerId, scores: GossipScores) {
        self.update(peer, |s| s.gossip = scores);
        self.enqueue(Op::Gossip(*peer, scores));
    }

    fn record_req_resp(&self, peer: &PeerId, event: ReqRespEvent) {
        self.update(peer, |s| s.req_resp.record(event));
        self.enqueue(Op::ReqResp(*peer, event));
    }

    fn decay_app_scores(&self, connected: &[PeerId]) {
        let factor = self.inner.store.config().app_score_decay();
        {
            let mut scores = self.scores();
            for peer in connected {
                if let Some(entry) = scores.get_mut(peer) {
                    entry.req_resp.decay(factor);
                }
            }
        }
        self.enqueue(Op::Decay(connected.to_vec()));
    }
}

impl PeerBook for Books {
    fn record_identify(&self, peer: &PeerId, record: IdentifyRecord) {
        self.enqueue(Op::Identify(*peer, Box::new(record)));
    }

    fn add_addrs(&self, peer: &PeerId, addrs: &[Multiaddr], ttl: Duration) {
        self.enqueue(Op::Addrs(*peer, addrs.to_vec(), ttl));
    }

    fn record_discovery(&self, peer: &PeerId, record: DiscoveryRecord) {
        self.enqueue(Op::Discovery(*peer, Box::new(record)));
    }
}

impl GateStore for Books {
    fn load(&self) -> Result<GateRules, op_p2p_api::Error> {
        self.inner.store.load()
    }

    fn set_peer_ban(&self, peer: &PeerId, expiry: Option<u64>) -> Result<(), op_p2p_api::Error> {
        GateStore::set_peer_ban(&self.inner.store, peer, expiry)
    }

    fn set_ip_ban(&self, ip: IpAddr, expiry: Option<u64>) -> Result<(), op_p2p_api::Error> {
        GateStore::set_ip_ban(&self.inner.store, ip, expiry)
    }

    fn set_peer_blocked(&self, peer: &PeerId, blocked: bool) -> Result<(), op_p2p_api::Error> {
        GateStore::set_peer_blocked(&self.inner.store, peer, blocked)
    }

    fn set_ip_blocked(&self, ip: IpAddr, blocked: bool) -> Result<(), op_p2p_api::Error> {
        GateStore::set_ip_blocked(&self.inner.store, ip, blocked)
    }

    fn set_subnet_blocked(&self, subnet: IpNet, blocked: bool) -> Result<(), op_p2p_api::Error> {
        GateStore::set_subnet_blocked(&self.inner.store, subnet, blocked)
    }
}

/// The block lists and bans of the store, written through at once (see [`GateStore`]).
impl GateStore for PeerStore {
    fn load(&self) -> Result<GateRules, op_p2p_api::Error> {
        let load = || -> Result<GateRules, Error> {
            Ok(GateRules {
                blocked_peers: self.blocked_peers()?,
                blocked_ips: self.blocked_ips()?,
                blocked_subnets: self.blocked_subnets()?,
                peer_bans: self.peer_bans()?,
                ip_bans: self.ip_bans()?,
            })
        };
        load().map_err(op_p2p_api::Error::storage)
    }

    fn set_peer_ban(&self, peer: &PeerId, expiry: Option<u64>) -> Result<(), op_p2p_api::Error> {
        Self::set_peer_ban(self, peer, expiry).map_err(op_p2p_api::Error::storage)
    }

    fn set_ip_ban(&self, ip: IpAddr, expiry: Option<u64>) -> Result<(), op_p2p_api::Error> {
        Self::set_ip_ban(self, ip, expiry).map_err(op_p2p_api::Error::storage)
    }

    fn set_peer_blocked(&self, peer: &PeerId, blocked: bool) -> Result<(), op_p2p_api::Error> {
        Self::set_peer_blocked(self, peer, blocked).map_err(op_p2p_api::Error::storage)
    }

    fn set_ip_blocked(&self, ip: IpAddr, blocked: bool) -> Result<(), op_p2p_api::Error> {
        Self::set_ip_blocked(self, ip, blocked).map_err(op_p2p_api::Error::storage)
    }

    fn set_subnet_blocked(&self, subnet: IpNet, blocked: bool) -> Result<(), op_p2p_api::Error> {
        Self::set_subnet_blocked(self, subnet, blocked).map_err(op_p2p_api::Error::storage)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use op_p2p_api::{IdentifyInfo, ManualClock};

    use super::*;
    use crate::Config;

    fn books() -> Books {
        let store = PeerStore::open_in_memory(Config::default(), Arc::new(ManualClock::new(1_000)))
            .unwrap();
        Books::new(store).unwrap()
    }

    #[test]
    fn close_applies_what_was_queued_and_stops_the_writer() {
        let books = books();
        let peer = PeerId::random();
        books.record_req_resp(&peer, ReqRespEvent::ValidResponse);
        books.close();
        // Applied before the writer stopped.
        assert_eq!(
            books
                .store()
                .peer_scores(&peer)
                .unwrap()
                .req_resp
                .valid_responses,
            1.0
        );
        // Later writes are dropped and counted; a second close is a no-op.
        books.record_req_resp(&peer, ReqRespEvent::ValidResponse);
        assert_eq!(books.dropped(), 1);
        books.close();
    }

    #[test]
    fn a_weak_reference_does_not_keep_the_books() {
        let books = books();
        let weak = books.downgrade();
        assert!(weak.upgrade().is_some());
        drop(books);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn scores_are_read_from_memory_and_written_back() {
        let books = books();
        let peer = PeerId::random();
        books.record_req_resp(&peer, ReqRespEvent::RejectedPayload);
        assert_eq!(books.app_score(&peer), -20.0);
        books.record_gossip_scores(
            &peer,
            GossipScores {
                total: -7.5,
                ..Default::default()
            },
        );
        assert_eq!(books.peer_score(&peer), -7.5);
        books.flush().unwrap();
        let stored = books.store().peer_scores(&peer).unwrap();
        assert_eq!(stored.req_resp.app_score(), -20.0);
        assert_eq!(stored.gossip.total, -7.5);
        books.decay_app_scores(&[peer]);
        books.flush().unwrap();
        assert_eq!(
            books.store().app_score(&peer).unwrap(),
            books.app_score(&peer)
        );
        assert!(books.app_score(&peer) > -20.0);
    }

    #[test]
    fn scores_survive_a_reopen_through_the_cache_load() {
        let books = books();
        let peer = PeerId::random();
        books.record_req_resp(&peer, ReqRespEvent::ErrorResponse);
        books.flush().unwrap();
        let again = Books::new(books.store().clone()).unwrap();
        assert_eq!(again.app_score(&peer), -1.0);
    }

    #[test]
    fn identify_is_written_off_the_caller() {
        let books = books();
        let key = libp2p_identity::Keypair::generate_secp256k1();
        let peer = key.public().to_peer_id();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9222".parse().unwrap();
        books.record_identify(
            &peer,
            IdentifyRecord {
                public_key: key.public(),
                info: IdentifyInfo {
                    agent_version: "optimism".into(),
                    protocol_version: "ipfs/0.1.0".into(),
                },
                protocols: vec!["/meshsub/1.1.0".into()],
                listen_addrs: vec![addr.clone()],
            },
        );
        books.flush().unwrap();
        let store = books.store();
        assert_eq!(store.public_key(&peer).unwrap(), Some(key.public()));
        assert_eq!(store.protocols(&peer).unwrap(), ["/meshsub/1.1.0"]);
        assert_eq!(store.addrs(&peer).unwrap(), [addr]);
        assert_eq!(
            store.identify(&peer).unwrap().unwrap().agent_version,
            "optimism"
        );
    }

    #[test]
    fn discovery_records_store_key_address_and_metadata() {
        let books = books();
        let key = libp2p_identity::Keypair::generate_secp256k1();
        let peer = key.public().to_peer_id();
        let addr: Multiaddr = "/ip4/10.0.0.1/tcp/9222".parse().unwrap();
        let metadata = op_p2p_api::PeerMetadata {
            enr: "enr:-J24…".into(),
            chain_id: 8453,
        };
        books.record_discovery(
            &peer,
            DiscoveryRecord {
                public_key: key.public(),
                addr: addr.clone(),
                metadata: metadata.clone(),
            },
        );
        books.flush().unwrap();
        let store = books.store();
        assert_eq!(store.public_key(&peer).unwrap(), Some(key.public()));
        assert_eq!(store.addrs(&peer).unwrap(), [addr]);
        assert_eq!(store.metadata(&peer).unwrap(), Some(metadata));
    }

    #[test]
    fn gate_rules_round_trip_through_the_trait() {
        let books = books();
        let peer = PeerId::random();
        GateStore::set_peer_ban(&books, &peer, Some(5_000)).unwrap();
        GateStore::set_subnet_blocked(&books, "10.0.0.0/8".parse().unwrap(), true).unwrap();
        let rules = books.load().unwrap();
        assert_eq!(rules.peer_bans, [(peer, 5_000)]);
        assert_eq!(
            rules.blocked_subnets,
            ["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
    }
}
