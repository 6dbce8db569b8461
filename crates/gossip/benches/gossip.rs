//! Gossip benchmarks on a realistic Isthmus block (250 EIP-1559-shaped transactions, ~117 KB
//! decoded, ~86 KB on the wire; the generator of `op-p2p-types`' verify bench).
//!
//! - `propagation_10_nodes`: publish at one node of a 10-node in-process network (loopback TCP
//!   transport, real gossipsub, every hop validating) until every other node has delivered the
//!   block; then a fixed run of [`LATENCY_SAMPLES`] blocks prints p50/p99.
//!
//! The validation pipeline's throughput and the validator's latency against the primitive floor
//! are the `validate` bench; one hop of a small block is the `hop` bench.
//!
//! Run: `cargo bench -p op-p2p-gossip` (or `cargo xtask bench gossip`).

// A bench is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use libp2p_gossipsub::TopicHash;
use op_p2p_gossip::{
    Config,
    test_utils::{
        CHAIN_ID, NOW, TestNode, block_with_transactions, realistic_transactions, sequencer, within,
    },
    topic_hash,
};
use op_p2p_types::{BlocksTopic, Bytes, PayloadVersion, SignedBlockMessage};
use tokio::runtime::Runtime;

/// Transactions per block: ~117 KB decoded.
const TXS: usize = 250;
/// Nodes in the propagation network.
const NODES: usize = 10;
/// Blocks timed for the latency percentiles.
const LATENCY_SAMPLES: usize = 200;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn v4_topic() -> TopicHash {
    topic_hash(BlocksTopic::new(CHAIN_ID, PayloadVersion::V4))
}

/// The wire bytes of a realistic block at `number`.
fn message(transactions: &[Bytes], number: u64) -> Vec<u8> {
    let envelope = block_with_transactions(number, NOW, 1, transactions.to_vec());
    SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &envelope).encode()
}

/// Ten nodes: a ring plus a chord from each node to the one opposite (every node has 3 peers,
/// any two are at most 3 hops apart).
async fn network() -> Vec<TestNode> {
    let mut nodes = Vec::with_capacity(NODES);
    for _ in 0..NODES {
        nodes.push(TestNode::spawn(Config::default()).await);
    }
    for i in 0..NODES {
        nodes[i].connect(&nodes[(i + 1) % NODES]).await;
        if i < NODES / 2 {
            nodes[i].connect(&nodes[i + NODES / 2]).await;
        }
    }
    nodes
}

/// Publishes `data` at node 0 and waits until every other node delivered it.
async fn propagate(nodes: &mut [TestNode], data: Vec<u8>) -> Duration {
    let start = Instant::now();
    nodes[0].publish_raw(v4_topic(), data).await.unwrap();
    for node in &mut nodes[1..] {
        within("delivery", node.deliveries.recv()).await.unwrap();
    }
    start.elapsed()
}

fn propagation_latency(c: &mut Criterion, rt: &Runtime, transactions: &[Bytes]) {
    let mut nodes = rt.block_on(network());
    let mut number = 1_000;
    let mut next_message = || {
        number += 1;
        message(transactions, number)
    };
    let mut group = c.benchmark_group("propagation_10_nodes");
    group.throughput(Throughput::Elements(1));
    group.bench_function("publish_to_all_delivered", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let data = next_message();
                total += rt.block_on(propagate(&mut nodes, data));
            }
            total
        });
    });
    group.finish();

    let mut samples: Vec<Duration> = (0..LATENCY_SAMPLES)
        .map(|_| {
            let data = next_message();
            rt.block_on(propagate(&mut nodes, data))
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "\npropagation_10_nodes over {LATENCY_SAMPLES} blocks: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    let rt = runtime();
    let transactions = realistic_transactions(TXS);
    let sample = message(&transactions, 0);
    let decoded = SignedBlockMessage::decode(&sample)
        .unwrap()
        .as_bytes()
        .len();
    println!(
        "message: {TXS} txs, {decoded} bytes decoded, {} bytes on the wire",
        sample.len()
    );

    let mut c = Criterion::default().configure_from_args();
    propagation_latency(&mut c, &rt, &transactions);
    c.final_summary();
}
