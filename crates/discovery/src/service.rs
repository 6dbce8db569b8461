//! The discv5 service: its own tokio task (discv5 runs its own tasks and wants an async
//! caller), feeding accepted records to the dial behaviour through a bounded channel, and a
//! cloneable [`DiscoveryHandle`] for the node (local ENR, table entries, shutdown).
//!
//! What the task does, after op-node's `DiscoveryProcess` producer (spec §10.2):
//! - at start: loads the persisted table and the bootnodes into discv5 (enode bootnodes are
//!   resolved and asked for their record in the background);
//! - [`TABLE_KICKOFF_DELAY`](crate::TABLE_KICKOFF_DELAY) after start: every record of the table
//!   that passes the filter goes to the dial loop;
//! - every discover tick (5 s while the node is below `p2p.peers.lo`, else 20 s): one more
//!   filtered record from random-target lookups (a lookup runs whenever the buffer is empty;
//!   records the dial loop has not had yet are handed out before ones it has);
//! - `p2p.netrestrict`: records other nodes tell us about outside the allowed networks are
//!   removed from the discv5 table as they appear and never dialled;
//! - every [`TABLE_SAVE_INTERVAL`](crate::TABLE_SAVE_INTERVAL) and at shutdown: the table is
//!   saved to its store on a blocking thread.

use std::{
    collections::{HashSet, VecDeque},
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use discv5::{Discv5, Enr, Event, ListenConfig, QueryError, RequestError};
use enr::NodeId;
use futures::{Future, StreamExt as _, stream::FuturesUnordered};
use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::Keypair;
use op_p2p_api::DiscoveryTableStore;
use tokio::{
    net::UdpSocket,
    sync::{mpsc, oneshot},
    time::{Instant, sleep_until},
};
use tracing::{debug, info, warn};

use crate::{
    bootnode::{Bootnode, Enode},
    config::Config,
    error::Error,
    filter::{DiscoveredPeer, RecordFilter, within_netrestrict},
    key,
    link::{RecordSink, Shared},
    local_enr::build_local_enr,
};

const TARGET: &str = "op_p2p::discovery";
/// Records kept from lookups for the next discover ticks.
const LOOKUP_BUFFER: usize = 64;
/// Nodes remembered as already handed to the dial loop, so lookup results it has not seen yet
/// go first.
const OFFERED_MEMORY: usize = 4096;
/// Handle commands waiting for the task.
const COMMAND_CHANNEL_SIZE: usize = 16;
/// How long an enode bootnode's host-name resolution and record request may take.
const BOOTNODE_TIMEOUT: Duration = Duration::from_secs(30);

type Lookup = Pin<Box<dyn Future<Output = Result<Vec<Enr>, QueryError>> + Send>>;
type EnrRequest = Pin<Box<dyn Future<Output = (Enode, Result<Enr, RequestError>)> + Send>>;

enum Command {
    LocalEnr(oneshot::Sender<Enr>),
    Table(oneshot::Sender<Vec<Enr>>),
    Shutdown(oneshot::Sender<()>),
}

/// The node's end of the discovery service. Cheap to clone; every call waits only for the
/// discv5 task, never for the network.
#[derive(Debug, Clone)]
pub struct DiscoveryHandle {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    local_enr: Enr,
    udp: SocketAddr,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LocalEnr(_) => "LocalEnr",
            Self::Table(_) => "Table",
            Self::Shutdown(_) => "Shutdown",
        })
    }
}

impl DiscoveryHandle {
    /// The local record as it was at start (`opp2p_self`'s ENR; see
    /// [`local_enr`](Self::local_enr) for the current one).
    pub fn initial_enr(&self) -> &Enr {
        &self.local_enr
    }

    /// The UDP address discv5 is bound to.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }

    /// The shared counters and state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The current local record (discv5 updates its IP and port from what peers observe).
    pub async fn local_enr(&self) -> Option<Enr> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::LocalEnr(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Every record in the discv5 table (a future `opp2p_discoveryTable`).
    pub async fn table(&self) -> Option<Vec<Enr>> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Table(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Saves the table and stops discv5. Returns once both are done (or the task is gone).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The discv5 service.
#[derive(Debug)]
pub struct Discovery;

impl Discovery {
    /// Binds UDP, builds and signs the local ENR with the node key, starts discv5, loads the
    /// persisted table and the bootnodes, and spawns the service task on the current tokio
    /// runtime. Accepted records go into `sink`.
    pub async fn start(
        config: Config,
        keypair: &Keypair,
        table: Arc<dyn DiscoveryTableStore>,
        sink: RecordSink,
    ) -> Result<DiscoveryHandle, Error> {
        let enr_key = key::enr_key(keypair)?;
        let bind = SocketAddr::new(config.listen_ip, config.listen_udp);
        let socket = UdpSocket::bind(bind)
            .await
            .map_err(|source| Error::Bind { addr: bind, source })?;
        let udp = socket
            .local_addr()
            .map_err(|source| Error::Bind { addr: bind, source })?;
        let local_enr = build_local_enr(&enr_key, &config, udp.port())?;
        let socket = Arc::new(socket);
        let listen = match udp.ip() {
            IpAddr::V4(_) => ListenConfig::FromSockets {
                ipv4: Some(socket),
                ipv6: None,
            },
            IpAddr::V6(_) => ListenConfig::FromSockets {
                ipv4: None,
                ipv6: Some(socket),
            },
        };
        let mut builder = discv5::ConfigBuilder::new(listen);
        if config.advertise_ip.is_some() {
            // The operator said where we are: peers' observations must not rewrite it.
            builder.disable_enr_update();
        }
        let mut discv5 = Discv5::new(local_enr.clone(), enr_key, builder.build())
            .map_err(|e| Error::Discv5(e.to_string()))?;
        discv5
            .start()
            .await
            .map_err(|e| Error::Discv5(e.to_string()))?;
        let events = discv5
            .event_stream()
            .await
            .map_err(|e| Error::Discv5(e.to_string()))?;

        // The persisted table, read on a blocking thread.
        let loader = table.clone();
        let stored = tokio::task::spawn_blocking(move || loader.load())
            .await
            .map_err(|e| Error::Discv5(format!("table loader: {e}")))??;
        let mut loaded = 0usize;
        for text in &stored {
            match text.parse::<Enr>() {
                Ok(enr) if enr.node_id() != local_enr.node_id() => {
                    if discv5.add_enr(enr).is_ok() {
                        loaded += 1;
                    }
                }
                Ok(_) => {}
                Err(error) => debug!(target: TARGET, %error, "stored record skipped"),
            }
        }
        sink.shared().counters().record_table_loaded(loaded);

        let mut bootnode_ids = HashSet::new();
        let (resolved_tx, resolved) = mpsc::channel(config.bootnodes.len().max(1));
        let mut enr_bootnodes = 0usize;
        for bootnode in &config.bootnodes {
            match bootnode {
                Bootnode::Enr(enr) => {
                    bootnode_ids.insert(enr.node_id());
                    match discv5.add_enr(enr.clone()) {
                        Ok(()) => enr_bootnodes += 1,
                        Err(error) => warn!(target: TARGET, %bootnode, error, "bootnode not added"),
                    }
                }
                Bootnode::Enode(enode) => {
                    tokio::spawn(resolve_enode(enode.clone(), resolved_tx.clone()));
                }
            }
        }
        drop(resolved_tx);
        info!(
            target: TARGET,
            enr = %local_enr.to_base64(),
            node_id = %local_enr.node_id(),
            %udp,
            bootnodes = config.bootnodes.len(),
            enr_bootnodes,
            persisted = loaded,
            "discv5 started"
        );

        let (commands_tx, commands) = mpsc::channel(COMMAND_CHANNEL_SIZE);
        let handle = DiscoveryHandle {
            commands: commands_tx,
            shared: sink.shared().clone(),
            local_enr,
            udp,
        };
        let service = Service {
            filter: RecordFilter {
                chain_id: config.chain_id,
                netrestrict: config.netrestrict.clone(),
            },
            config,
            discv5,
            table,
            sink,
            bootnode_ids,
            buffer: VecDeque::new(),
            offered: hashlink::LruCache::new(OFFERED_MEMORY),
            lookup: None,
            deliver_on_lookup: false,
            enr_requests: FuturesUnordered::new(),
        };
        tokio::spawn(service.run(events, commands, resolved));
        Ok(handle)
    }
}

/// Resolves an enode bootnode's host on tokio's resolver (a blocking-pool thread, never the
/// swarm task) and hands its discv5 address back to the service.
async fn resolve_enode(enode: Enode, out: mpsc::Sender<(Enode, Multiaddr)>) {
    let host = enode.host.clone();
    let lookup = tokio::time::timeout(
        BOOTNODE_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), enode.udp)),
    )
    .await;
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(error)) => {
            warn!(target: TARGET, host = %enode.host, %error, "cannot resolve bootnode");
            return;
        }
        Err(_) => {
            warn!(target: TARGET, host = %enode.host, "bootnode resolution timed out");
            return;
        }
    };
    // geth takes the first IPv4 address of a host name.
    let Some(addr) = addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()) else {
        warn!(target: TARGET, host = %enode.host, "bootnode host has no address");
        return;
    };
    let multiaddr = Multiaddr::empty()
        .with(addr.ip().into())
        .with(Protocol::Udp(addr.port()))
        .with(Protocol::P2p(enode.peer_id));
    let _ = out.send((enode, multiaddr)).await;
}

struct Service {
    config: Config,
    filter: RecordFilter,
    discv5: Discv5,
    table: Arc<dyn DiscoveryTableStore>,
    sink: RecordSink,
    bootnode_ids: HashSet<NodeId>,
    buffer: VecDeque<DiscoveredPeer>,
    /// Peers already handed to the dial loop (bounded).
    offered: hashlink::LruCache<libp2p_identity::PeerId, ()>,
    lookup: Option<Lookup>,
    /// A discover tick found the buffer empty: the next lookup result delivers at once (the
    /// tick "blocks" on the iterator as op-node's does).
    deliver_on_lookup: bool,
    enr_requests: FuturesUnordered<EnrRequest>,
}

impl Service {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
        mut resolved: mpsc::Receiver<(Enode, Multiaddr)>,
    ) {
        let start = Instant::now();
        let mut kickoff = Some(start + self.config.table_kickoff_delay);
        let mut next_discover = start + self.config.table_kickoff_delay;
        let mut next_save = start + self.config.table_save_interval;
        let mut resolved_open = true;
        loop {
            tokio::select! {
                () = sleep_until(kickoff.unwrap_or(start)), if kickoff.is_some() => {
                    kickoff = None;
                    self.feed_table();
                }
                () = sleep_until(next_discover) => {
                    self.discover_tick();
                    next_discover = Instant::now() + self.interval();
                }
                result = poll_lookup(&mut self.lookup), if self.lookup.is_some() => {
                    self.lookup = None;
                    self.on_lookup(result);
                }
                Some((enode, result)) = self.enr_requests.next(), if !self.enr_requests.is_empty() => {
                    self.on_enode_record(&enode, result);
                }
                item = resolved.recv(), if resolved_open => match item {
                    Some((enode, addr)) => {
                        let request = self.discv5.request_enr(addr);
                        self.enr_requests.push(Box::pin(async move {
                            let result = tokio::time::timeout(BOOTNODE_TIMEOUT, request)
                                .await
                                .unwrap_or(Err(RequestError::Timeout));
                            (enode, result)
                        }));
                    }
                    None => resolved_open = false,
                },
                Some(event) = events.recv() => self.on_event(event),
                () = sleep_until(next_save) => {
                    self.save_job().await;
                    next_save = Instant::now() + self.config.table_save_interval;
                }
                command = commands.recv() => match command {
                    Some(Command::LocalEnr(reply)) => {
                        let _ = reply.send(self.discv5.local_enr());
                    }
                    Some(Command::Table(reply)) => {
                        let _ = reply.send(self.discv5.table_entries_enr());
                    }
                    Some(Command::Shutdown(reply)) => {
                        self.save_job().await;
                        self.discv5.shutdown();
                        let _ = reply.send(());
                        return;
                    }
                    None => {
                        // Every handle is gone: the node is stopping.
                        self.save_job().await;
                        self.discv5.shutdown();
                        return;
                    }
                },
            }
        }
    }

    fn interval(&self) -> Duration {
        if self.sink.shared().below_low_water() {
            self.config.discover_interval_fast
        } else {
            self.config.discover_interval_slow
        }
    }

    fn is_bootnode(&self, enr: &Enr) -> bool {
        self.bootnode_ids.contains(&enr.node_id())
    }

    fn check(&self, enr: &Enr) -> Option<DiscoveredPeer> {
        self.filter
            .check(enr, self.is_bootnode(enr), self.sink.shared().counters())
    }

    /// op-node's table kickoff: every filtered record of the table to the dial loop.
    fn feed_table(&mut self) {
        let table = self.discv5.table_entries_enr();
        let mut fed = 0usize;
        for enr in &table {
            if let Some(peer) = self.check(enr) {
                fed += 1;
                self.offer(peer);
            }
        }
        info!(target: TARGET, table = table.len(), fed, "discovery table fed to the dial loop");
    }

    fn offer(&mut self, peer: DiscoveredPeer) {
        self.offered.insert(peer.peer_id, ());
        self.sink.offer(peer);
    }

    fn discover_tick(&mut self) {
        match self.buffer.pop_front() {
            Some(peer) => self.offer(peer),
            None => self.deliver_on_lookup = true,
        }
        if self.buffer.is_empty() && self.lookup.is_none() {
            self.lookup = Some(Box::pin(self.discv5.find_node(NodeId::random())));
        }
    }

    fn on_lookup(&mut self, result: Result<Vec<Enr>, QueryError>) {
        match result {
            Ok(found) => {
                debug!(target: TARGET, found = found.len(), "lookup done");
                let mut seen = Vec::new();
                for enr in &found {
                    let Some(peer) = self.check(enr) else {
                        continue;
                    };
                    if self.buffer.iter().any(|p| p.peer_id == peer.peer_id) {
                        continue;
                    }
                    // Records the dial loop has not had yet go first; the rest follow.
                    if self.offered.contains_key(&peer.peer_id) {
                        seen.push(peer);
                    } else {
                        self.buffer.push_front(peer);
                    }
                }
                self.buffer.extend(seen);
                self.buffer.truncate(LOOKUP_BUFFER);
            }
            Err(error) => debug!(target: TARGET, %error, "lookup failed"),
        }
        if self.deliver_on_lookup
            && let Some(peer) = self.buffer.pop_front()
        {
            self.deliver_on_lookup = false;
            self.offer(peer);
        }
    }

    fn on_enode_record(&mut self, enode: &Enode, result: Result<Enr, RequestError>) {
        match result {
            Ok(enr) => {
                self.bootnode_ids.insert(enr.node_id());
                match self.discv5.add_enr(enr) {
                    Ok(()) => info!(target: TARGET, host = %enode.host, "enode bootnode added"),
                    Err(error) => {
                        warn!(target: TARGET, host = %enode.host, error, "enode bootnode not added")
                    }
                }
            }
            Err(error) => {
                warn!(target: TARGET, host = %enode.host, peer = %enode.peer_id, %error, "enode bootnode did not answer")
            }
        }
    }

    /// geth's `NetRestrict` drops nodes outside the list from lookup responses; discv5 (the
    /// crate) has no per-instance filter hook (its table filter is a plain `fn`), so records
    /// are checked as discv5 reports them and removed from its table.
    fn on_event(&self, event: Event) {
        if self.config.netrestrict.is_empty() {
            return;
        }
        let enr = match event {
            Event::Discovered(enr) | Event::SessionEstablished(enr, _) => enr,
            Event::NodeInserted { node_id, .. } => match self.discv5.find_enr(&node_id) {
                Some(enr) => enr,
                None => return,
            },
            _ => return,
        };
        if !self.is_bootnode(&enr) && !within_netrestrict(&enr, &self.config.netrestrict) {
            self.discv5.remove_node(&enr.node_id());
        }
    }

    /// The table's records, and a future writing them on a blocking thread (the future holds
    /// no borrow of the service, so the task stays `Send`).
    fn save_job(&self) -> impl Future<Output = ()> + Send + 'static {
        let records: Vec<String> = self
            .discv5
            .table_entries_enr()
            .iter()
            .map(Enr::to_base64)
            .collect();
        let table = self.table.clone();
        async move {
            let count = records.len();
            match tokio::task::spawn_blocking(move || table.save(&records)).await {
                Ok(Ok(())) => debug!(target: TARGET, count, "discovery table saved"),
                Ok(Err(error)) => warn!(target: TARGET, %error, "cannot save the discovery table"),
                Err(error) => warn!(target: TARGET, %error, "discovery table writer failed"),
            }
        }
    }
}

async fn poll_lookup(lookup: &mut Option<Lookup>) -> Result<Vec<Enr>, QueryError> {
    match lookup {
        Some(lookup) => lookup.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use enr::EnrPublicKey as _;
    use futures::StreamExt as _;
    use op_p2p_api::MemoryDiscoveryTable;

    use super::*;
    use crate::link::{RecordSource, link};

    const CHAIN: u64 = 901;
    const WAIT: Duration = Duration::from_secs(20);

    fn config(tcp: u16, bootnodes: Vec<Bootnode>) -> Config {
        let mut c = Config::new(CHAIN);
        c.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        c.listen_tcp = tcp;
        c.bootnodes = bootnodes;
        c.discover_interval_fast = Duration::from_millis(200);
        c.table_kickoff_delay = Duration::from_millis(300);
        c
    }

    async fn started(
        config: Config,
        table: Arc<MemoryDiscoveryTable>,
    ) -> (Keypair, DiscoveryHandle, RecordSource) {
        let key = Keypair::generate_secp256k1();
        let (sink, source) = link();
        let handle = Discovery::start(config, &key, table, sink).await.unwrap();
        (key, handle, source)
    }

    /// Waits until `source` yields a record of `peer`.
    async fn receives(source: &mut RecordSource, peer: libp2p_identity::PeerId) {
        tokio::time::timeout(WAIT, async {
            while let Some(record) = source.rx.next().await {
                if record.peer_id == peer {
                    return;
                }
            }
            panic!("channel closed");
        })
        .await
        .unwrap_or_else(|_| panic!("no record of {peer} within {WAIT:?}"));
    }

    fn enode_of(handle: &DiscoveryHandle, host: &str) -> Bootnode {
        let enr = handle.initial_enr();
        let key = enr.public_key().encode_uncompressed();
        let text = format!(
            "enode://{}@{host}:{}?discport={}",
            hex::encode(key),
            enr.tcp4().unwrap(),
            handle.udp_addr().port()
        );
        text.parse().unwrap()
    }

    /// Three services over real UDP: B knows A by ENR, C knows A by an enode URL with a host
    /// name; B learns C's record through A and hands it to its dial loop. B, restarted with no
    /// bootnodes, finds its table again in the store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn services_find_each_other_and_restart_from_the_table() {
        let (key_a, a, _source_a) = started(config(9001, vec![]), Arc::default()).await;
        let peer_a = key_a.public().to_peer_id();
        assert_eq!(key::peer_id(&a.initial_enr().public_key()), Some(peer_a));

        let table_b = Arc::new(MemoryDiscoveryTable::new());
        let boot = Bootnode::Enr(a.initial_enr().clone());
        let (key_b, b, mut source_b) = started(config(9002, vec![boot]), table_b.clone()).await;
        // The table kickoff hands A to B's dial loop.
        receives(&mut source_b, peer_a).await;

        let (key_c, c, mut source_c) = started(
            config(9003, vec![enode_of(&a, "localhost")]),
            Arc::default(),
        )
        .await;
        receives(&mut source_c, peer_a).await;
        // B learns C through A's table and the lookups of its discover ticks.
        receives(&mut source_b, key_c.public().to_peer_id()).await;
        assert!(b.shared().counters().accepted() >= 2);
        let table = b.table().await.unwrap();
        assert!(table.len() >= 2, "{}", table.len());

        // Shutdown saves the table; a restart without bootnodes loads it and feeds A and C
        // to the dial loop again.
        b.shutdown().await;
        assert!(table_b.load().unwrap().len() >= 2);
        let (sink, mut source) = link();
        let b2 = Discovery::start(config(9002, vec![]), &key_b, table_b, sink)
            .await
            .unwrap();
        assert!(b2.shared().counters().table_loaded() >= 2);
        receives(&mut source, peer_a).await;
        drop(c);
    }

    #[tokio::test]
    async fn the_local_enr_is_op_nodes() {
        let key = Keypair::generate_secp256k1();
        let (sink, _source) = link();
        let mut c = config(9222, vec![]);
        c.advertise_ip = Some("203.0.113.7".parse().unwrap());
        c.advertise_udp = Some(30303);
        let handle = Discovery::start(c, &key, Arc::new(MemoryDiscoveryTable::new()), sink)
            .await
            .unwrap();
        let enr = handle.local_enr().await.unwrap();
        assert_eq!(enr.ip4(), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(enr.udp4(), Some(30303));
        assert_eq!(enr.tcp4(), Some(9222));
        assert_ne!(handle.udp_addr().port(), 0, "an OS-chosen port");
        let entry = crate::OpStackEnr::decode(enr.get_raw_rlp("opstack").unwrap()).unwrap();
        assert_eq!(entry, crate::OpStackEnr::new(CHAIN));
        assert!(matches!(
            enr.public_key(),
            enr::CombinedPublicKey::Secp256k1(_)
        ));
        handle.shutdown().await;
        assert!(handle.local_enr().await.is_none(), "stopped");
    }
}
