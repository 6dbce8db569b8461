//! Gossip benchmarks on a realistic Isthmus block (250 EIP-1559-shaped transactions, ~117 KB
//! decoded, ~86 KB on the wire; the generator of `op-p2p-types`' verify bench).
//!
//! - `pipeline_v4_120kb/concurrency_{1,4}`: messages per second through the validation
//!   pipeline (queue, permits, blocking pool, every check) with 1 and 4 checks at once.
//! - `propagation_10_nodes`: publish at one node of a 10-node in-process network (loopback TCP
//!   transport, real gossipsub, every hop validating) until every other node has delivered the
//!   block; then a fixed run of [`LATENCY_SAMPLES`] blocks prints p50/p99.
//!
//! Run: `cargo bench -p op-p2p-gossip` (or `cargo xtask bench gossip`).

// A bench is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput};
use libp2p_gossipsub::{MessageId, TopicHash};
use libp2p_identity::PeerId;
use op_p2p_gossip::{
    Config, NoopMetrics, Outcome, UnsafeBlockSigner, ValidationPipeline, ValidationRequest,
    Validator,
    test_utils::{
        CHAIN_ID, NOW, TestNode, block_with_transactions, realistic_transactions, rollup,
        sequencer, within,
    },
    topic_hash,
};
use op_p2p_types::{BlocksTopic, Bytes, PayloadVersion, SignedBlockMessage};
use tokio::runtime::Runtime;

/// Transactions per block: ~117 KB decoded.
const TXS: usize = 250;
/// Distinct messages the throughput bench cycles through.
const DISTINCT: u64 = 32;
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

/// Pushes `count` messages through a fresh pipeline and returns the time until the last result.
async fn run_pipeline(messages: &[Vec<u8>], count: u64, concurrency: usize) -> Duration {
    let validator = Validator::new(
        rollup(),
        UnsafeBlockSigner::new(sequencer().address()),
        Duration::from_secs(60),
    );
    let config = Config::default().with_validation_concurrency(concurrency);
    let (pipeline, mut results) = ValidationPipeline::spawn(
        Arc::new(validator),
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        Arc::new(NoopMetrics),
        &config,
    );
    let requests: Vec<ValidationRequest> = (0..count)
        .map(|i| ValidationRequest {
            message_id: MessageId::new(&i.to_le_bytes()),
            source: PeerId::random(),
            topic: v4_topic(),
            data: messages[(i % DISTINCT) as usize].clone(),
            decompressed: None,
        })
        .collect();
    let start = Instant::now();
    let submitter = tokio::spawn(async move {
        for request in requests {
            pipeline.submit(request).await.unwrap();
        }
    });
    for _ in 0..count {
        let result = results.recv().await.unwrap();
        // Repeats of the cycled messages are ignored as duplicates, by the last rule: they cost
        // every check a first sighting does.
        assert_ne!(result.outcome, Outcome::Reject, "{:?}", result.reason);
    }
    let elapsed = start.elapsed();
    submitter.await.unwrap();
    elapsed
}

fn pipeline_throughput(c: &mut Criterion, rt: &Runtime, transactions: &[Bytes]) {
    let messages: Vec<Vec<u8>> = (0..DISTINCT).map(|n| message(transactions, n)).collect();
    let mut group = c.benchmark_group("pipeline_v4_120kb");
    group.throughput(Throughput::Elements(1));
    for concurrency in [1, 4] {
        group.bench_function(format!("concurrency_{concurrency}"), |b| {
            b.iter_custom(|iters| rt.block_on(run_pipeline(&messages, iters, concurrency)));
        });
    }
    group.finish();
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
    pipeline_throughput(&mut c, &rt, &transactions);
    propagation_latency(&mut c, &rt, &transactions);
    c.final_summary();
}
