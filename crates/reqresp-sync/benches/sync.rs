//! Sync throughput on loopback (TCP + noise + yamux on 127.0.0.1, real clock):
//! - `server/*`: responses per second a server hands out to several requesting peers;
//! - `client/*`: blocks per second a client syncs (requested, verified, quarantined, promoted to
//!   its sink) from several servers;
//!
//! each with op-node's default rate limits (the expected bound: 20/s) and with every limit
//! raised out of the way (the CPU/IO bound). Blocks carry 20 transactions of 200 bytes (~4.6 KiB
//! of SSZ each).
//!
//! Run: `cargo bench -p op-p2p-reqresp-sync -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput};
use futures::{StreamExt, channel::mpsc};
use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use libp2p_request_response::{self as request_response, ProtocolSupport};
use libp2p_swarm::{NetworkBehaviour, StreamProtocol, Swarm, SwarmEvent};
use op_p2p_api::MemoryScoreBook;
use op_p2p_reqresp_sync::{
    Behaviour, BlockRef, Codec, Config, Event, MemorySource, Quota, Request, SystemClock,
    UnsafePayload,
};
use op_p2p_types::{
    B256, Bytes, ExecutionPayload, ExecutionPayloadEnvelope, Genesis, GenesisBlock, RollupConfig,
    U256, payload_by_number_protocol_id,
};
use tokio::runtime::Runtime;

const CHAIN_LEN: u64 = 4_000;

fn rollup() -> RollupConfig {
    RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number: 0 },
            // Far enough back that the whole chain is below the wall-clock target block.
            l2_time: 1_600_000_000,
        },
        block_time: 2,
        l2_chain_id: 901,
        ..Default::default()
    }
}

fn chain() -> Vec<ExecutionPayloadEnvelope> {
    let mut blocks: Vec<ExecutionPayloadEnvelope> = Vec::new();
    for number in 0..=CHAIN_LEN {
        let parent = blocks
            .last()
            .map_or(B256::ZERO, |b| b.execution_payload.block_hash);
        let mut envelope = ExecutionPayloadEnvelope {
            parent_beacon_block_root: None,
            execution_payload: ExecutionPayload {
                parent_hash: parent,
                block_number: number,
                gas_limit: 30_000_000,
                timestamp: 1_600_000_000 + 2 * number,
                base_fee_per_gas: U256::from(7),
                transactions: (0..20u8)
                    .map(|i| {
                        Bytes::from([&[0x02, i][..], &number.to_le_bytes(), &[7; 190]].concat())
                    })
                    .collect(),
                ..Default::default()
            },
        };
        envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
        blocks.push(envelope);
    }
    blocks
}

fn block_ref(envelope: &ExecutionPayloadEnvelope) -> BlockRef {
    let p = &envelope.execution_payload;
    BlockRef {
        number: p.block_number,
        hash: p.block_hash,
        parent_hash: p.parent_hash,
        timestamp: u64::MAX / 2,
    }
}

fn unlimited() -> Config {
    let none = Quota::per_second(1_000_000, 1_000_000);
    Config::default()
        .with_server_rate_limits(none, none)
        .with_client_rate_limits(none, none)
}

/// The workspace's test swarm (`op_p2p_api::test_utils`): TCP + noise + yamux on loopback.
fn swarm<B: NetworkBehaviour>(behaviour: B) -> Swarm<B> {
    op_p2p_api::test_utils::tcp_swarm(|_| behaviour)
}

fn node(
    source: Option<Arc<MemorySource>>,
    config: Config,
) -> (
    Swarm<Behaviour<Arc<MemorySource>>>,
    mpsc::Receiver<UnsafePayload>,
) {
    // Scores in memory, as the node's books answer them (their RocksDB writes are queued elsewhere).
    let store = Arc::new(MemoryScoreBook::new());
    let (tx, rx) = mpsc::channel(256);
    let behaviour = Behaviour::new(
        config,
        rollup(),
        store,
        tx,
        source,
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    (swarm(behaviour), rx)
}

/// Listens on loopback and drives the swarm in its own task.
async fn spawn_server(source: Arc<MemorySource>, config: Config) -> (PeerId, Multiaddr) {
    let (server, _) = node(Some(source), config);
    op_p2p_api::test_utils::spawn_listening(server).await
}

/// A bare requesting peer, connected, then in its own task: each number received on the command
/// channel is requested; each response is reported on `done`.
async fn spawn_requester(
    server: PeerId,
    addr: Multiaddr,
    mut done: mpsc::Sender<()>,
) -> mpsc::Sender<u64> {
    let protocol = StreamProtocol::try_from_owned(payload_by_number_protocol_id(901)).unwrap();
    let codec = Codec::new(
        Arc::new(rollup()),
        &Config::default(),
        Arc::new(SystemClock::new()),
    );
    let mut swarm = swarm(request_response::Behaviour::with_codec(
        codec,
        [(protocol, ProtocolSupport::Outbound)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(60))
            .with_max_concurrent_streams(1000),
    ));
    swarm.dial(addr).unwrap();
    loop {
        if let SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await {
            break;
        }
    }
    let (tx, mut rx) = mpsc::channel::<u64>(1024);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(number) = rx.next() => {
                    swarm.behaviour_mut().send_request(&server, Request::Number(number));
                }
                event = swarm.select_next_some() => {
                    match event {
                        SwarmEvent::Behaviour(request_response::Event::Message {
                            message: request_response::Message::Response { .. }, ..
                        }) => done.try_send(()).unwrap(),
                        SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                            panic!("request failed: {error}");
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    tx
}

/// Responses per second from one server to `peers` requesting peers, `per_peer` requests each
/// per iteration.
fn bench_server(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    config: Config,
    peers: usize,
    per_peer: usize,
) {
    let source = Arc::new(chain().into_iter().collect::<MemorySource>());
    let (done_tx, mut done) = mpsc::channel(4096);
    let requesters = rt.block_on(async {
        let (server, addr) = spawn_server(source, config).await;
        let mut requesters = Vec::new();
        for _ in 0..peers {
            requesters.push(spawn_requester(server, addr.clone(), done_tx.clone()).await);
        }
        requesters
    });
    let mut group = c.benchmark_group("server");
    group.sample_size(10);
    group.throughput(Throughput::Elements((peers * per_peer) as u64));
    let mut next = 1;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for requester in &requesters {
                        for _ in 0..per_peer {
                            requester.clone().try_send(next).unwrap();
                            next = next % CHAIN_LEN + 1;
                        }
                    }
                    for _ in 0..peers * per_peer {
                        done.next().await.unwrap();
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// One client-bench iteration: the blocks strictly between `base` and `end`.
struct Window {
    base: u64,
    end: u64,
    /// The lowest block delivered (initially `end`): the driver's range end.
    lowest: BlockRef,
    /// Distinct blocks of the window delivered so far (a re-synced window's blocks are trusted
    /// already and may arrive out of order; payloads left over from the last window are ignored).
    synced: HashSet<u64>,
}

impl Window {
    fn deliver(&mut self, envelope: &ExecutionPayloadEnvelope) {
        let number = envelope.execution_payload.block_number;
        if number > self.base
            && number < self.end
            && self.synced.insert(number)
            && number < self.lowest.number
        {
            self.lowest = block_ref(envelope);
        }
    }
}

/// Blocks per second one client syncs from `servers` servers, `blocks` per iteration: a range
/// request, re-issued after every response as op-node's driver re-checks the gap, until the
/// blocks are all promoted.
fn bench_client(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    config: Config,
    servers: usize,
    blocks: u64,
) {
    let chain = chain();
    let source = Arc::new(chain.iter().cloned().collect::<MemorySource>());
    let (mut client, mut sink) = node(None, config.clone());
    rt.block_on(async {
        for _ in 0..servers {
            let (peer, addr) = spawn_server(source.clone(), config.clone()).await;
            client.dial(addr).unwrap();
            loop {
                if let SwarmEvent::ConnectionEstablished { peer_id, .. } =
                    client.select_next_some().await
                    && peer_id == peer
                {
                    break;
                }
            }
        }
    });
    let mut group = c.benchmark_group("client");
    group.sample_size(10);
    group.throughput(Throughput::Elements(blocks));
    let mut base = 0;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    if base + blocks + 1 > CHAIN_LEN {
                        base = 0;
                    }
                    let head = block_ref(&chain[base as usize]);
                    let mut window = Window {
                        base,
                        end: base + blocks + 1,
                        lowest: block_ref(&chain[(base + blocks + 1) as usize]),
                        synced: HashSet::new(),
                    };
                    client.behaviour_mut().request_range(head, window.lowest).unwrap();
                    while (window.synced.len() as u64) < blocks {
                        tokio::select! {
                            event = client.select_next_some() => {
                                if let SwarmEvent::Behaviour(Event::Response { .. } | Event::Rejected { .. }) = event {
                                    // The driver sees every delivered payload before it asks
                                    // again, as in the tests.
                                    while let Ok(UnsafePayload { envelope, .. }) = sink.try_recv() {
                                        window.deliver(&envelope);
                                    }
                                    client.behaviour_mut().request_range(head, window.lowest).unwrap();
                                }
                            }
                            Some(UnsafePayload { envelope, .. }) = sink.next() => window.deliver(&envelope),
                        }
                    }
                    base += blocks + 1;
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    bench_server(&mut c, &rt, "default_limits", Config::default(), 10, 2);
    bench_server(&mut c, &rt, "raised_limits", unlimited(), 4, 64);
    bench_client(&mut c, &rt, "default_limits", Config::default(), 5, 20);
    bench_client(&mut c, &rt, "raised_limits", unlimited(), 5, 200);
    c.final_summary();
}
