//! The swarm task never waits on storage: a node whose payload_by_number source takes 500 ms per
//! read (on a blocking thread), while a peer keeps it busy with requests, receives gossip blocks
//! as fast as without that load.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use libp2p_core::Multiaddr;
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent};
use op_p2p_api::{Clock as _, MemoryScoreBook, SystemClock};
use op_p2p_gossip::{Event, Services, UnsafeBlockSigner, test_utils};
use op_p2p_reqresp_sync::{PayloadSource, SourceError};
use op_p2p_types::{BlockRef, ExecutionPayloadEnvelope};

/// How long each read of the slow source takes.
const READ: Duration = Duration::from_millis(500);
/// Blocks published per phase, and the interval between them.
const BLOCKS: u64 = 20;
const INTERVAL: Duration = Duration::from_millis(50);

/// A payload source whose every read blocks a thread for [`READ`] (a slow disk), run on tokio's
/// blocking pool as the node's RocksDB payload store does.
#[derive(Clone, Default)]
struct SlowSource {
    reads: Arc<AtomicUsize>,
}

impl PayloadSource for SlowSource {
    async fn payload_by_number(
        &self,
        _number: u64,
    ) -> Result<Option<ExecutionPayloadEnvelope>, SourceError> {
        let reads = Arc::clone(&self.reads);
        tokio::task::spawn_blocking(move || {
            reads.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(READ);
            None
        })
        .await
        .map_err(SourceError::new)
    }
}

#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
struct Node {
    gossip: op_p2p_gossip::Behaviour,
    sync: op_p2p_reqresp_sync::Behaviour<SlowSource>,
}

fn node(source: SlowSource) -> Swarm<Node> {
    let rollup = test_utils::rollup();
    let clock = Arc::new(SystemClock::new());
    let scores = Arc::new(MemoryScoreBook::new());
    let (sink, _) = futures::channel::mpsc::channel(16);
    let behaviour = Node {
        gossip: op_p2p_gossip::Behaviour::new(
            &Default::default(),
            rollup.clone(),
            UnsafeBlockSigner::new(test_utils::sequencer().address()),
            Services {
                clock: clock.clone(),
                ..Default::default()
            },
        )
        .unwrap(),
        sync: op_p2p_reqresp_sync::Behaviour::new(
            Default::default(),
            rollup,
            scores,
            sink,
            Some(source),
            clock,
        )
        .unwrap(),
    };
    // The workspace's one test swarm: TCP + noise + yamux on loopback.
    op_p2p_api::test_utils::tcp_swarm(|_| behaviour)
}

/// Load: the client asks the server for the blocks below 300, one request at a time; each read
/// holds one of the server's blocking threads for 500 ms.
fn ask(client: &mut Swarm<Node>, now: u64) {
    let head = BlockRef {
        number: 0,
        timestamp: now,
        ..Default::default()
    };
    let end = BlockRef {
        number: 300,
        timestamp: now,
        ..Default::default()
    };
    let _ = client.behaviour_mut().sync.request_range(head, end);
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_latency_is_unaffected_by_a_500_ms_payload_source() {
    let source = SlowSource::default();
    let mut publisher = node(SlowSource::default());
    let mut server = node(source.clone());
    let mut client = node(SlowSource::default());
    server
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    let addr: Multiaddr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = server.select_next_some().await {
            break address;
        }
    };
    publisher.dial(addr.clone()).unwrap();
    client.dial(addr).unwrap();
    // The server on its own task (as a node's swarm task): a source that blocked it would hold
    // every block arriving meanwhile; the publisher's task keeps publishing on the other thread.
    let (arrivals, mut arrived) = tokio::sync::mpsc::channel(64);
    let server_task = tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(NodeEvent::Gossip(Event::Block(block))) =
                server.select_next_some().await
            {
                let _ = arrivals
                    .send((block.block_ref().number, Instant::now()))
                    .await;
            }
        }
    });
    let now = SystemClock::new().unix_time();
    let (mut next, mut sent, mut ready) = (1u64, Vec::new(), false);
    let (mut baseline, mut loaded) = (Vec::new(), Vec::new());
    let mut tick = tokio::time::interval(INTERVAL);
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    while loaded.len() < BLOCKS as usize {
        tokio::select! {
            () = &mut deadline => panic!("timed out: {} baseline, {} loaded", baseline.len(), loaded.len()),
            event = publisher.select_next_some() => {
                if let SwarmEvent::Behaviour(NodeEvent::Gossip(Event::Gossipsub(
                    op_p2p_gossip::gossipsub::Event::Subscribed { .. },
                ))) = event {
                    ready = true;
                }
            }
            Some((n, at)) = arrived.recv() => {
                let latency = at - sent[(n - 1) as usize];
                if n <= BLOCKS { baseline.push(latency) } else { loaded.push(latency) }
                if n == BLOCKS {
                    ask(&mut client, now);
                }
            }
            event = client.select_next_some() => {
                // "Not found" cancels the range: ask again, so the server stays in slow reads.
                if let SwarmEvent::Behaviour(NodeEvent::Sync(
                    op_p2p_reqresp_sync::Event::RangeCancelled { .. }
                    | op_p2p_reqresp_sync::Event::Response { result: Err(_), .. },
                )) = event {
                    ask(&mut client, now);
                }
            }
            _ = tick.tick(), if ready && next <= 2 * BLOCKS => {
                // The second phase starts once the server is inside a slow read.
                if next <= BLOCKS || source.reads.load(Ordering::SeqCst) > 0 {
                    let block = test_utils::block(next, now, 1);
                    if publisher.behaviour_mut().gossip.publish(&test_utils::sequencer(), &block).is_ok() {
                        sent.push(Instant::now());
                        next += 1;
                    }
                }
            }
        }
    }
    server_task.abort();
    baseline.sort_unstable();
    loaded.sort_unstable();
    let reads = source.reads.load(Ordering::SeqCst);
    println!(
        "gossip latency to the node: without load p50 {:?} p99 {:?}; with its source in 500 ms \
         reads ({reads} started) p50 {:?} p99 {:?}",
        percentile(&baseline, 50),
        percentile(&baseline, 99),
        percentile(&loaded, 50),
        percentile(&loaded, 99),
    );
    assert!(reads >= 1, "the server never read its source");
    // Had the swarm task waited on a read, blocks would have waited up to 500 ms behind it.
    assert!(
        percentile(&loaded, 99) < READ / 2,
        "gossip waited on the payload source: p99 {:?}",
        percentile(&loaded, 99)
    );
}
