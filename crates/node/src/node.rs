//! `op-p2p node`: assembles the node from a checked [`NodeConfig`], runs it until SIGINT,
//! SIGTERM or the control channel says stop, and shuts down cleanly (status written, swarm task
//! stopped, database flushed).
//!
//! ```text
//!            ┌──────────── swarm task (EventLoop) ───────────────────────────┐
//!  network ◀▶│ gating ▸ conn_manager ▸ identify ▸ ping ▸ gossip ▸ sync ▸ discovery │◀── Commands
//!            └──────────────┬────────────────────────────────────▲──────────┘  ▲
//!                           │               discovered records   │ (bounded)    │
//!                           │           ┌── discv5 task (UDP, table store) ──┐  │
//!                           │ accepted gossip blocks, promoted synced blocks │
//!                           │ (bounded)                                      │
//!                           ▼                                                │
//!            ┌──────────── app task (App) ─────────────────────┐             │
//!            │ PayloadStore ▸ gap check ▸ sequencer ▸ status   │─────────────┘
//!            └─────────────────────────────────────────────────┘
//!                  one RocksDB database: peer store books + payload column families
//!                  (scores and identify written by the books' own writer thread)
//! ```
//!
//! The operator RPC ([`crate::rpc`]: `opp2p_*`, `/healthz`) is a third sender of commands to
//! the swarm task, through the same handle.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_swarm::{Swarm, SwarmEvent};
use op_p2p_api::{Clock, DiscoveryTableStore, MemoryDiscoveryTable, PeerBook as _, SystemClock};
use op_p2p_discovery::{Discovery, DiscoveryHandle, RecordSink};
use op_p2p_gating::conn_manager;
use op_p2p_gossip::{GossipCounters, Services, UnsafeBlockSigner};
use op_p2p_peerstore::{Books, PeerStore};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{
    app::App,
    behaviour::{self, NodeBehaviour, NodeEvent},
    config::{DiscoverySettings, NodeConfig, SignerSettings, StoreLocation, listen_multiaddr},
    control,
    error::Error,
    event_loop::{EventLoop, Parts},
    handle::NodeHandle,
    identity::{self, KeyOrigin},
    metrics::{GossipHook, NAMESPACE, NodeMetrics, sampler::Sampler, transport::Meter},
    payload_store::{self, PayloadStore},
    recent_blocks::RecentBlocks,
    rpc,
    signer::{BlockPublisher, RemoteSigner, Signer},
    swarm,
};

/// The tracing target of node start and stop.
const TARGET: &str = "op_p2p::node";
/// How long op-node keeps a static peer's address in the peer store (7 days).
pub(crate) const STATIC_ADDR_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Accepted gossip blocks waiting for the app task; the swarm task drops (and counts) blocks
/// beyond this rather than wait, and the gap check recovers them.
pub(crate) const DELIVERY_CHANNEL_SIZE: usize = 256;
/// Payloads promoted by the sync client waiting for the app task; while it is full the sync
/// client keeps them in quarantine.
pub(crate) const SYNC_CHANNEL_SIZE: usize = 64;
/// How long the node waits for its listener to report its addresses.
pub(crate) const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// After the first listen address, how long to wait for more (one per interface).
pub(crate) const LISTEN_SETTLE: Duration = Duration::from_millis(50);
/// How long shutdown waits for the swarm task.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the RPC server's connections to wind down.
pub(crate) const RPC_STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks what can be checked before anything starts (and before logging, so a refusal is
/// the only line the user sees): the listen, RPC and metrics ports are free.
///
/// libp2p-tcp listens with SO_REUSEPORT, so a second node on a taken port would bind and share
/// it silently; a plain bind first makes "port in use" an error, as it is for op-node.
pub(crate) fn preflight(config: &NodeConfig) -> Result<(), Error> {
    if config.listen.port() != 0 {
        std::net::TcpListener::bind(config.listen).map_err(|source| Error::Listen {
            addr: config.listen.to_string(),
            source,
        })?;
    }
    if config.rpc.port() != 0 {
        std::net::TcpListener::bind(config.rpc)
            .map_err(|source| Error::Rpc(crate::rpc::RpcError::new(config.rpc, source)))?;
    }
    if let Some(addr) = config.metrics
        && addr.port() != 0
    {
        std::net::TcpListener::bind(addr).map_err(|source| Error::Metrics {
            addr: addr.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Runs the node until it is told to stop.
pub(crate) async fn run(config: NodeConfig) -> Result<(), Error> {
    let (keypair, key_origin) = identity::load_or_generate(&config.key)?;
    let peer_id = keypair.public().to_peer_id();
    if key_origin == KeyOrigin::Generated {
        info!(target: TARGET, source = ?config.key, "generated a new node key");
    }

    // The signer first: an unreachable remote signer stops the node before anything listens.
    let signer = match config.sequencer.as_ref().map(|s| &s.signer) {
        None => None,
        Some(SignerSettings::Local(key)) => Some(Arc::new(Signer::Local(key.clone()))),
        Some(SignerSettings::Remote(settings)) => {
            let remote = RemoteSigner::connect(settings).await?;
            info!(
                target: TARGET,
                endpoint = remote.endpoint(),
                address = %remote.address(),
                tls = settings.tls.is_some(),
                "remote block signer answers health_status"
            );
            Some(Arc::new(Signer::Remote(remote)))
        }
    };

    let rollup = &config.chain.rollup;
    let slot = Duration::from_secs(rollup.block_time.max(1));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let store_config = op_p2p_peerstore::Config::default()
        .with_block_time(slot)
        .with_extra_column_families(payload_store::COLUMN_FAMILIES);
    let database_error = |source| Error::Database {
        location: config.store.to_string(),
        source,
    };
    let peer_store = match &config.store {
        StoreLocation::Memory => PeerStore::open_in_memory(store_config, clock.clone()),
        StoreLocation::Disk(path) => PeerStore::open(path, store_config, clock.clone()),
    }
    .map_err(database_error)?;
    // Scores, identify records and GC on the books' writer thread; gate rules written through.
    let books = Books::new(peer_store.clone()).map_err(database_error)?;
    let payloads = PayloadStore::open(
        peer_store.clone(),
        config.chain.genesis,
        config.sync.retention,
    )?;
    // A devnet's genesis is the synthetic block its rollup config names by hash: store it, so
    // payload_by_number serves genesis as op-node does from its engine. On any other chain the
    // hashes differ and nothing is stored.
    if let Ok(genesis) = crate::sequencer::genesis_payload(&config.chain.rollup) {
        payloads.store_genesis(&genesis)?;
    }
    let counters = Arc::new(GossipCounters::new());
    // One registry, passed down: each crate registers its own families.
    let mut registry = prometheus_client::registry::Registry::with_prefix(NAMESPACE);
    let metrics = NodeMetrics::register(&mut registry);
    let sync_metrics = op_p2p_reqresp_sync::PrometheusMetrics::register(&mut registry);
    let statics: Vec<_> = config
        .static_peers
        .iter()
        .filter(|p| p.peer != peer_id)
        .cloned()
        .collect();

    let (sync_tx, synced) = futures::channel::mpsc::channel(SYNC_CHANNEL_SIZE);
    let sync = if config.sync.req_resp {
        Some(
            op_p2p_reqresp_sync::Behaviour::new(
                op_p2p_reqresp_sync::Config::default()
                    .with_only_static(config.sync.only_req_to_static),
                rollup.clone(),
                Arc::new(books.clone()),
                sync_tx,
                Some(payloads.clone()),
                clock.clone(),
            )
            .map_err(Error::Sync)?
            .with_metrics(sync_metrics),
        )
    } else {
        drop(sync_tx);
        None
    };
    // One signer gossip validates against, shared with the admin RPC's checks and rotated by
    // the `signer` control command.
    let unsafe_signer = UnsafeBlockSigner::new(config.unsafe_block_signer);
    let gossip = op_p2p_gossip::Behaviour::new(
        &config.gossip,
        rollup.clone(),
        unsafe_signer.clone(),
        Services {
            clock: clock.clone(),
            score_book: Arc::new(books.clone()),
            metrics: Arc::new(GossipHook {
                counters: counters.clone(),
                metrics: metrics.clone(),
            }),
        },
    )?;
    let (record_sink, record_source) = op_p2p_discovery::link();
    let discovery_behaviour = config.discovery.as_ref().map(|_| {
        op_p2p_discovery::Behaviour::new(
            op_p2p_discovery::DialConfig::new(config.conn_manager.low_water()),
            peer_id,
            record_source,
            Arc::new(books.clone()),
            clock.clone(),
        )
    });
    let mut behaviour = NodeBehaviour {
        gating: op_p2p_gating::Behaviour::new(
            Arc::new(books.clone()),
            clock.clone(),
            config.gating.clone(),
        )?
        .with_score_book(Arc::new(books.clone()), slot),
        conn_manager: conn_manager::Behaviour::new(config.conn_manager.clone())?
            .with_score_book(Arc::new(books.clone())),
        identify: behaviour::identify(&keypair, &config.user_agent),
        ping: behaviour::ping(),
        gossip,
        sync: sync.into(),
        discovery: discovery_behaviour.into(),
    };
    // Static peers: protected from score bans and trimming, dialled and redialled by the
    // connection manager, preferred by sync when `only_req_to_static` is set.
    for p in &statics {
        books.add_addrs(&p.peer, std::slice::from_ref(&p.addr), STATIC_ADDR_TTL);
        behaviour.gating.protect(p.peer);
        behaviour
            .conn_manager
            .add_static_peer(p.peer, p.addr.clone());
        if let Some(sync) = behaviour.sync.as_mut() {
            sync.set_static(p.peer, true);
        }
    }
    let meter = Meter {
        streams: metrics.stream_count.clone(),
        ..Meter::default()
    };
    let mut swarm = swarm::build(&keypair, behaviour, config.dial_timeout, meter.clone())?;

    let listen = listen_multiaddr(config.listen);
    swarm.listen_on(listen.clone()).map_err(|e| Error::Listen {
        addr: config.listen.to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let (listen_addrs, early_events) = await_listen_addrs(&mut swarm, &config).await?;
    // Discovery after the TCP listener is bound: the ENR carries the bound port.
    let discovery = match &config.discovery {
        Some(settings) => Some(
            start_discovery(
                &config,
                settings,
                &keypair,
                bound_tcp_port(&listen_addrs),
                record_sink,
            )
            .await?,
        ),
        None => {
            info!(target: TARGET, "discovery off (--p2p.no-discovery)");
            None
        }
    };

    if let Some(discovery) = &discovery {
        op_p2p_discovery::register_metrics(&mut registry, discovery.shared().clone());
    }
    let metrics_server = match config.metrics {
        Some(addr) => Some(
            crate::metrics::server::start(addr, Arc::new(registry))
                .await
                .map_err(|source| Error::Metrics {
                    addr: addr.to_string(),
                    source,
                })?,
        ),
        None => None,
    };
    let sampler = Sampler::new(
        metrics.clone(),
        meter,
        books.clone(),
        match &config.store {
            StoreLocation::Disk(path) => Some(path.clone()),
            StoreLocation::Memory => None,
        },
    );

    let (delivery_tx, deliveries) = mpsc::channel(DELIVERY_CHANNEL_SIZE);
    let (handle, commands) = NodeHandle::channel();
    let event_loop = EventLoop::new(Parts {
        swarm,
        commands,
        deliveries: delivery_tx,
        gossip: counters.clone(),
        peer_book: Arc::new(books.clone()),
        early_events,
        sampler,
    });

    let publisher =
        signer.map(|signer| BlockPublisher::new(signer, handle.clone(), rollup.l2_chain_id));
    // Up before the node reports itself started; calls wait in the handle's channel until the
    // swarm task runs.
    let (rpc_addr, rpc_server) = rpc::serve(
        config.rpc,
        rpc::Parts {
            handle: handle.clone(),
            books: books.clone(),
            local_key: keypair.public(),
            user_agent: config.user_agent.clone(),
            discovery: discovery
                .clone()
                .map(|d| Arc::new(d) as Arc<dyn rpc::DiscoveryTable>),
            admin: config.rpc_admin.then(|| rpc::AdminParts {
                payloads: payloads.clone(),
                publisher: publisher.clone(),
                rollup: rollup.clone(),
                validator: op_p2p_gossip::Validator::new(
                    rollup.clone(),
                    unsafe_signer.clone(),
                    config.gossip.timestamp_threshold,
                ),
            }),
        },
    )
    .await?;

    let shutdown = shutdown_signal();

    let role = if config.sequencer.is_some() {
        "sequencer"
    } else {
        "verifier"
    };
    match config.network {
        Some(preset) => info!(
            target: TARGET,
            network = preset.name,
            chain = preset.chain_name,
            chain_id = rollup.l2_chain_id,
            genesis = %config.chain.genesis.hash,
            registry_commit = preset.source.commit,
            registry_file = preset.source.path,
            bootnodes = preset.bootnodes().len(),
            "chain from the --network preset"
        ),
        None => info!(
            target: TARGET,
            chain_id = rollup.l2_chain_id,
            genesis = %config.chain.genesis.hash,
            "chain from --rollup.config"
        ),
    }
    info!(
        target: TARGET,
        %peer_id,
        listen = ?listen_addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        chain_id = rollup.l2_chain_id,
        role,
        unsafe_block_signer = %config.unsafe_block_signer,
        signer_source = %config.signer_source,
        head = payloads.head().number,
        static_peers = statics.len(),
        rpc = %rpc_addr,
        "op-p2p node started"
    );
    if config.sync.req_resp {
        info!(
            target: TARGET,
            only_req_to_static = config.sync.only_req_to_static,
            "req-resp sync on: serving payload_by_number and filling gaps with it"
        );
    } else {
        info!(
            target: TARGET,
            "req-resp sync off (--p2p.sync.req-resp=false): gaps below gossip blocks are \
             reported, not filled"
        );
    }

    let swarm_task = tokio::spawn(event_loop.run());
    let app = App {
        handle: handle.clone(),
        payloads,
        books: books.clone(),
        chain: config.chain.clone(),
        deliveries,
        synced: config.sync.req_resp.then_some(synced),
        sync_on: config.sync.req_resp,
        sequencer: config
            .sequencer
            .as_ref()
            .filter(|s| !s.stopped)
            .map(|s| s.last_block),
        block_bytes: config.sequencer.as_ref().map_or(0, |s| s.block_bytes),
        publisher,
        signer: unsafe_signer,
        control: config.control_stdin.then(control::spawn_stdin_reader),
        status_file: config.status_file.clone(),
        peer_id: peer_id.to_string(),
        gaps_unfilled: 0,
        gossip: counters,
        discovery: discovery.clone(),
        sequencer_retry_at: None,
        recent: RecentBlocks::default(),
        metrics,
    };
    // On a runtime worker, not on the thread that `block_on`s this function: woken by the swarm
    // task, it then runs on the same worker right after it (tokio's LIFO slot) instead of
    // waiting for the `block_on` thread to be unparked, which took ~0.5 ms p50 on the devnet's
    // 2-vCPU machine (`cargo xtask hops`, "app task wakes").
    if let Err(error) = tokio::spawn(app.run(shutdown)).await {
        warn!(target: TARGET, %error, "app task failed");
    }

    info!(target: TARGET, "shutting down");
    // New RPC connections are refused from here; calls in flight (a connect waits up to 30 s)
    // end with the swarm task, so the server's own wind-down is waited for only briefly.
    let _ = rpc_server.stop();
    if let Some(discovery) = &discovery
        && tokio::time::timeout(SHUTDOWN_TIMEOUT, discovery.shutdown())
            .await
            .is_err()
    {
        warn!(target: TARGET, "discovery did not stop in time");
    }
    if let Err(error) = handle.shutdown().await {
        warn!(target: TARGET, %error, "swarm task did not stop");
    }
    if tokio::time::timeout(RPC_STOP_TIMEOUT, rpc_server.stopped())
        .await
        .is_err()
    {
        warn!(target: TARGET, "RPC server did not stop in time");
    }
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, swarm_task)
        .await
        .is_err()
    {
        warn!(target: TARGET, "swarm task did not stop in time");
    }
    if let Some((_, server)) = metrics_server {
        server.abort();
    }
    // Every queued score and identify write, then RocksDB's memtables. Blocking here is fine:
    // the swarm task has stopped and nothing else is left to run.
    books.flush().map_err(database_error)?;
    // The writer thread's copy of the store goes now, so RocksDB closes on this thread when
    // `run` returns, not during process exit (see `Books::close`).
    books.close();
    info!(target: TARGET, "stopped; database flushed");
    Ok(())
}

/// The TCP port the listener bound (the first listen address's).
fn bound_tcp_port(addrs: &[Multiaddr]) -> Option<u16> {
    addrs
        .iter()
        .flat_map(Multiaddr::iter)
        .find_map(|p| match p {
            libp2p_core::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
}

/// Opens the discovery table store and starts the discv5 service task.
async fn start_discovery(
    config: &NodeConfig,
    settings: &DiscoverySettings,
    keypair: &libp2p_identity::Keypair,
    bound_tcp: Option<u16>,
    sink: RecordSink,
) -> Result<DiscoveryHandle, Error> {
    let table: Arc<dyn DiscoveryTableStore> = match &settings.table {
        StoreLocation::Memory => Arc::new(MemoryDiscoveryTable::new()),
        StoreLocation::Disk(path) => Arc::new(
            op_p2p_peerstore::DiscoveryTable::open(path).map_err(|source| {
                Error::DiscoveryTable {
                    location: path.display().to_string(),
                    source,
                }
            })?,
        ),
    };
    let mut discovery = op_p2p_discovery::Config::new(config.chain.rollup.l2_chain_id);
    discovery.listen_ip = config.listen.ip();
    discovery.listen_udp = settings.listen_udp;
    discovery.listen_tcp = config.listen.port();
    discovery.bound_tcp = bound_tcp;
    discovery.advertise_ip = settings.advertise_ip;
    discovery.advertise_tcp = settings.advertise_tcp;
    discovery.advertise_udp = settings.advertise_udp;
    // `p2p.bootnodes`, else the network preset's list (op-node's `DefaultBootnodes`).
    let (bootnodes, origin) = if settings.bootnodes.is_empty() {
        (&config.default_bootnodes, "network preset")
    } else {
        (&settings.bootnodes, "--p2p.bootnodes")
    };
    discovery.bootnodes = bootnodes.clone();
    discovery.netrestrict = settings.netrestrict.clone();
    for bootnode in bootnodes {
        info!(target: TARGET, %bootnode, origin, "bootnode");
    }
    if bootnodes.is_empty() {
        warn!(
            target: TARGET,
            "no bootnodes (--p2p.bootnodes empty, no network preset): discovery starts from \
             the persisted table only"
        );
    }
    Discovery::start(discovery, keypair, table, sink)
        .await
        .map_err(Error::Discovery)
}

/// Waits for the listener's addresses: the first, then any more that follow at once (one per
/// interface for an unspecified IP). Other events seen meanwhile are handed to the event loop.
async fn await_listen_addrs(
    swarm: &mut Swarm<NodeBehaviour>,
    config: &NodeConfig,
) -> Result<(Vec<Multiaddr>, Vec<SwarmEvent<NodeEvent>>), Error> {
    let mut addrs = Vec::new();
    let mut others = Vec::new();
    let listen_failed = |reason: String| Error::Listen {
        addr: config.listen.to_string(),
        source: std::io::Error::other(reason),
    };
    let first = tokio::time::timeout(LISTEN_TIMEOUT, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
                SwarmEvent::ListenerClosed { reason: Err(e), .. } => return Err(e.to_string()),
                SwarmEvent::ListenerError { error, .. } => return Err(error.to_string()),
                other => others.push(other),
            }
        }
    })
    .await
    .map_err(|_| listen_failed("no listen address within 10 s".into()))?
    .map_err(listen_failed)?;
    addrs.push(first);
    while let Ok(event) = tokio::time::timeout(LISTEN_SETTLE, swarm.select_next_some()).await {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => addrs.push(address),
            other => others.push(other),
        }
    }
    Ok((addrs, others))
}

/// Resolves on SIGINT or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled: the
/// node calls it before it logs "op-p2p node started", so a SIGINT sent by a supervisor that
/// waits for that line shuts the node down cleanly instead of killing it.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => info!(target: TARGET, "SIGINT"),
                    _ = term.recv() => info!(target: TARGET, "SIGTERM"),
                }
            }
            (Ok(mut int), Err(error)) => {
                warn!(target: TARGET, %error, "cannot watch SIGTERM; SIGINT only");
                int.recv().await;
                info!(target: TARGET, "SIGINT");
            }
            (Err(error), _) => {
                warn!(target: TARGET, %error, "cannot watch SIGINT; ctrl-c only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
