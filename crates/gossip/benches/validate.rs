//! What the node runs per blocks message, against the primitive floor, in one run.
//!
//! Messages: valid V4 blocks of 10, 250 and 1000 EIP-1559-shaped transactions (~5 KB, ~120 KB
//! and ~485 KB decoded; `test_utils::realistic_transactions`).
//!
//! 1. Latency of one message, on a plain thread outside any rayon pool (as the pipeline's
//!    workers, tokio blocking threads, are), with 1 ms of idleness before each call so helper
//!    threads are asleep as between real blocks; rows are interleaved, medians of `ROUNDS`:
//!    - `floor`: snappy decompression (into a reused buffer), keccak of the body, one
//!      ecrecover, the transactions trie root, each alone and summed; beside it, snappy into a
//!      fresh zero-filled buffer as `decompress_vec` does;
//!    - `message_id`: op-node's message id of the raw data (its own decompression + SHA-256);
//!    - `validate 1 core`: `Validator::validate` with `with_cores(1)`, the one-thread path;
//!    - `validate`: `Validator::validate` as the node builds it (both cores when one is spare);
//!    - `node path`: what the node does per message: the message id (which keeps the
//!      decompressed bytes) then `Validate::validate_decompressed`, as the behaviour calls it;
//!    - `rayon::join (old)`: decode then `SignedBlockMessage::check`, the `rayon::join` on the
//!      global pool the validator used before, for comparison.
//! 2. Latency of one message through the whole validation pipeline, as the node runs it: the
//!    message id (keeping the decompressed bytes; the helper core is woken before it,
//!    `Validate::arriving`), queue, blocking-pool hop (which offers the signature to the
//!    helper ahead, `Validate::prepare`), check and result, `GAP` apart, 1 core against
//!    both.
//! 3. Throughput of the whole validation pipeline (queue, permits, blocking pool, every check)
//!    on a 2-worker tokio runtime at concurrency 1, 2 and 4, against one core
//!    (`with_cores(1)`, concurrency 1): `PIPELINE_RUNS` rounds of every configuration in turn,
//!    the ratio being the median of each round's ratio.
//!
//! Run: `cargo bench -p op-p2p-gossip --bench validate` (or `cargo xtask bench gossip`).

// A bench is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use libp2p_gossipsub::{MessageId, TopicHash};
use libp2p_identity::PeerId;
use op_p2p_gossip::{
    Config, NoopMetrics, Outcome, UnsafeBlockSigner, Validate, ValidationPipeline,
    ValidationRequest, Validator,
    test_utils::{
        CHAIN_ID, NOW, block_with_transactions, realistic_transactions, rollup, sequencer,
    },
    topic_hash,
};
use op_p2p_types::{
    BlocksTopic, Bytes, PayloadVersion, SignedBlockMessage, message_id, message_id_with,
    payload_hash, recover_signer, signing_hash, transactions_root,
};

/// The two-core validators of the current size's latency rows, for their split counts.
static SPLIT_VALIDATORS: std::sync::Mutex<Vec<Arc<Validator>>> = std::sync::Mutex::new(Vec::new());

/// Samples per latency row.
const ROUNDS: usize = 201;
/// Idle time before each timed call.
const GAP: Duration = Duration::from_millis(1);
/// Distinct messages per size (cycled; repeats are ignored as duplicates by the last rule,
/// after every check a first sighting pays).
const DISTINCT: u64 = 16;
/// Pipeline runs per configuration.
const PIPELINE_RUNS: usize = 5;

struct Size {
    label: &'static str,
    txs: usize,
    /// Messages per pipeline run.
    pipeline_messages: u64,
}

const SIZES: [Size; 3] = [
    Size {
        label: "5 KB",
        txs: 10,
        pipeline_messages: 2000,
    },
    Size {
        label: "120 KB",
        txs: 250,
        pipeline_messages: 300,
    },
    Size {
        label: "485 KB",
        txs: 1000,
        pipeline_messages: 80,
    },
];

fn v4_topic() -> TopicHash {
    topic_hash(BlocksTopic::new(CHAIN_ID, PayloadVersion::V4))
}

fn validator() -> Validator {
    Validator::new(
        rollup(),
        UnsafeBlockSigner::new(sequencer().address()),
        Duration::from_secs(60),
    )
}

fn messages(txs: usize) -> Vec<Vec<u8>> {
    let transactions = realistic_transactions(txs);
    (0..DISTINCT)
        .map(|n| {
            let envelope = block_with_transactions(n + 1, NOW, 1, transactions.clone());
            SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &envelope).encode()
        })
        .collect()
}

type Op = Box<dyn Fn(&[u8]) + Send>;

struct Row {
    name: &'static str,
    floor: bool,
    op: Op,
}

fn row(name: &'static str, floor: bool, op: impl Fn(&[u8]) + Send + 'static) -> Row {
    Row {
        name,
        floor,
        op: Box::new(op),
    }
}

fn rows(sample: &[u8]) -> Vec<Row> {
    let message = SignedBlockMessage::decode(sample).unwrap();
    let body = message.signed_bytes();
    let hash = signing_hash(CHAIN_ID, message.payload_hash());
    let signature = *message.signature();
    let txs = message
        .decode_envelope(PayloadVersion::V4)
        .unwrap()
        .execution_payload
        .transactions;
    let topic = v4_topic();
    let topic_str = topic.to_string();
    let one_core = validator().with_cores(1);
    let node = Arc::new(validator());
    let node_path = Arc::new(validator());
    *SPLIT_VALIDATORS.lock().unwrap() = vec![Arc::clone(&node), Arc::clone(&node_path)];
    let (t1, t2, t3) = (topic.clone(), topic.clone(), topic);
    let valid = |outcome: Outcome| assert_ne!(outcome, Outcome::Reject);
    vec![
        row("floor: snappy into a reused buffer", true, {
            let buffer = std::cell::RefCell::new(Vec::new());
            move |wire| {
                let mut buffer = buffer.borrow_mut();
                let len = snap::raw::decompress_len(wire).unwrap();
                buffer.resize(len, 0);
                black_box(
                    snap::raw::Decoder::new()
                        .decompress(wire, &mut buffer)
                        .unwrap(),
                );
            }
        }),
        row(
            "snappy into a fresh buffer (decompress_vec)",
            false,
            |wire| {
                black_box(snap::raw::Decoder::new().decompress_vec(wire).unwrap());
            },
        ),
        row("floor: keccak body", true, move |_| {
            black_box(payload_hash(black_box(&body)));
        }),
        row("floor: ecrecover", true, move |_| {
            black_box(recover_signer(black_box(hash), &signature).unwrap());
        }),
        row("floor: tx trie root", true, move |_| {
            black_box(transactions_root(black_box(&txs)));
        }),
        row("message_id", false, {
            let topic = topic_str.clone();
            move |wire| {
                black_box(message_id(&topic, wire));
            }
        }),
        row("validate 1 core", false, move |wire| {
            valid(one_core.validate(&t1, wire, NOW).outcome());
        }),
        row("validate", false, move |wire| {
            valid(node.validate(&t2, wire, NOW).outcome());
        }),
        row("node path (id + validate)", false, move |wire| {
            let mut decompressed = None;
            message_id_with(&topic_str, wire, |_, bytes| {
                decompressed = Some(Bytes::copy_from_slice(bytes));
            });
            valid(
                node_path
                    .validate_decompressed(&t3, wire, decompressed, NOW)
                    .outcome(),
            );
        }),
        row("rayon::join (old)", false, |wire| {
            let message = SignedBlockMessage::decode(wire).unwrap();
            let checks = message.check(CHAIN_ID, PayloadVersion::V4);
            assert!(checks.signer.is_ok() && matches!(checks.payload, Ok((_, Ok(())))));
        }),
    ]
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median latency per row, rows interleaved, on a fresh plain thread.
fn latencies(messages: Vec<Vec<u8>>) -> Vec<(&'static str, bool, Duration)> {
    std::thread::spawn(move || {
        let rows = rows(&messages[0]);
        let mut samples = vec![Vec::with_capacity(ROUNDS); rows.len()];
        for round in 0..ROUNDS + 5 {
            let wire = &messages[round % messages.len()];
            for (row, out) in rows.iter().zip(&mut samples) {
                std::thread::sleep(GAP);
                let start = Instant::now();
                (row.op)(wire);
                let elapsed = start.elapsed();
                // The first rounds warm caches and start the helper threads.
                if round >= 5 {
                    out.push(elapsed);
                }
            }
        }
        rows.iter()
            .zip(samples)
            .map(|(row, samples)| (row.name, row.floor, median(samples)))
            .collect()
    })
    .join()
    .unwrap()
}

/// Pushes `count` messages through a fresh pipeline; messages per second.
async fn pipeline_rate(
    validator: Validator,
    messages: &[Vec<u8>],
    count: u64,
    concurrency: usize,
) -> f64 {
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
        assert_ne!(result.outcome, Outcome::Reject, "{:?}", result.reason);
    }
    let elapsed = start.elapsed();
    submitter.await.unwrap();
    count as f64 / elapsed.as_secs_f64()
}

/// One message at a time through a fresh pipeline per validator, `GAP` apart, as the node
/// receives blocks: the message id (which keeps the decompressed bytes, on the caller as on the
/// swarm task), then submit and wait for the result. The validators take turns message by
/// message, so a change in the machine's speed during the run hits each alike (this VM's speed
/// drifts by up to a third within minutes). Median of `ROUNDS` per validator.
async fn pipeline_latencies(validators: &[Arc<Validator>], messages: &[Vec<u8>]) -> Vec<Duration> {
    let mut pipelines: Vec<_> = validators
        .iter()
        .map(|validator| {
            ValidationPipeline::spawn(
                Arc::clone(validator),
                Arc::new(op_p2p_api::ManualClock::new(NOW)),
                Arc::new(NoopMetrics),
                &Config::default(),
            )
        })
        .collect();
    let topic = v4_topic();
    let topic_str = topic.to_string();
    let mut samples = vec![Vec::with_capacity(ROUNDS); validators.len()];
    for i in 0..ROUNDS + 5 {
        for (v, (pipeline, results)) in pipelines.iter_mut().enumerate() {
            tokio::time::sleep(GAP).await;
            let data = messages[i % messages.len()].clone();
            let start = Instant::now();
            // As the behaviour's id function does on arrival.
            validators[v].arriving(data.len());
            let mut decompressed = None;
            let id = message_id_with(&topic_str, &data, |_, bytes| {
                decompressed = Some(Bytes::copy_from_slice(bytes));
            });
            pipeline
                .submit(ValidationRequest {
                    message_id: MessageId::new(&id),
                    source: PeerId::random(),
                    topic: topic.clone(),
                    data,
                    decompressed,
                })
                .await
                .unwrap();
            let result = results.recv().await.unwrap();
            let elapsed = start.elapsed();
            assert_ne!(result.outcome, Outcome::Reject);
            if i >= 5 {
                samples[v].push(elapsed);
            }
        }
    }
    samples.into_iter().map(median).collect()
}

fn median_rate(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// `OP_P2P_PROFILE_TXS=<n>`: instead of the bench, validates a message of `n` transactions on
/// one core 500 times, for a profiler (`valgrind --tool=callgrind`, `perf record`).
fn profile(txs: usize) {
    let messages = messages(txs);
    let validator = validator().with_cores(1);
    let topic = v4_topic();
    for i in 0..500 {
        let wire = &messages[i % messages.len()];
        assert_ne!(
            validator.validate(&topic, wire, NOW).outcome(),
            Outcome::Reject
        );
    }
}

/// The machine's load average (Linux), printed with the figures: they mean little on a busy
/// machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

fn main() {
    if let Some(txs) = std::env::var("OP_P2P_PROFILE_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return profile(txs);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("cores: {cores}; latency: median of {ROUNDS} calls, {GAP:?} idle before each");
    println!("load average at start: {}", load_average());
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    // `OP_P2P_BENCH_SIZE=485` runs only the sizes whose label contains it.
    let only = std::env::var("OP_P2P_BENCH_SIZE").unwrap_or_default();
    for size in SIZES.iter().filter(|s| s.label.contains(only.as_str())) {
        let messages = messages(size.txs);
        let decoded = SignedBlockMessage::decode(&messages[0])
            .unwrap()
            .as_bytes()
            .len();
        println!(
            "\n## {} ({} txs, {decoded} bytes decoded, {} bytes on the wire)",
            size.label,
            size.txs,
            messages[0].len()
        );
        let rows = latencies(messages.clone());
        let floor: Duration = rows.iter().filter(|r| r.1).map(|r| r.2).sum();
        let one_core = rows
            .iter()
            .find(|r| r.0 == "validate 1 core")
            .map_or(floor, |r| r.2);
        println!("| path | median µs | × floor | × 1 core |");
        println!("|---|---:|---:|---:|");
        for (name, _, t) in &rows {
            println!(
                "| {name} | {:.1} | {:.2} | {:.2} |",
                us(*t),
                t.as_secs_f64() / floor.as_secs_f64(),
                t.as_secs_f64() / one_core.as_secs_f64()
            );
        }
        println!("| floor (sum) | {:.1} | 1.00 | |", us(floor));
        let (splits, taken_back) = SPLIT_VALIDATORS
            .lock()
            .unwrap()
            .iter()
            .map(|v| v.split_counts())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        println!(
            "\ntwo-core rows: {splits} messages split, {taken_back} taken back by the calling thread (helper not started in time)"
        );

        let both = Arc::new(validator());
        let latencies = rt.block_on(pipeline_latencies(
            &[Arc::new(validator().with_cores(1)), Arc::clone(&both)],
            &messages,
        ));
        let (one, two) = (latencies[0], latencies[1]);
        let (splits, taken_back) = both.split_counts();
        println!(
            "\n| one message through the pipeline (id, queue, check, result), {GAP:?} apart | median µs | × floor | × 1 core |"
        );
        println!("|---|---:|---:|---:|");
        for (label, t) in [("1 core", one), (&*format!("{cores} cores"), two)] {
            println!(
                "| {label} | {:.1} | {:.2} | {:.2} |",
                us(t),
                t.as_secs_f64() / floor.as_secs_f64(),
                t.as_secs_f64() / one.as_secs_f64()
            );
        }
        println!(
            "\npipeline, {cores} cores: {splits} messages split, {taken_back} taken back by the calling thread"
        );

        let mut configs: Vec<(String, usize, usize)> = vec![("1 core, concurrency 1".into(), 1, 1)];
        configs.extend([1, 2, 4].map(|c| (format!("{cores} cores, concurrency {c}"), cores, c)));
        // Rounds of every configuration in turn, so the machine's drift hits each alike; the
        // ratio is the median of each round's ratio to that round's one-core rate.
        let mut rates = vec![Vec::with_capacity(PIPELINE_RUNS); configs.len()];
        for _ in 0..PIPELINE_RUNS {
            for (i, (_, cores, concurrency)) in configs.iter().enumerate() {
                rates[i].push(rt.block_on(pipeline_rate(
                    validator().with_cores(*cores),
                    &messages,
                    size.pipeline_messages,
                    *concurrency,
                )));
            }
        }
        println!(
            "\n| pipeline ({PIPELINE_RUNS} interleaved rounds) | msgs/s (median) | × 1 core (median of rounds) |"
        );
        println!("|---|---:|---:|");
        for (i, (label, _, _)) in configs.iter().enumerate() {
            let ratios = rates[i]
                .iter()
                .zip(&rates[0])
                .map(|(r, base)| r / base)
                .collect();
            println!(
                "| {label} | {:.0} | {:.2} |",
                median_rate(rates[i].clone()),
                median_rate(ratios)
            );
        }
    }
    println!("\nload average at end: {}", load_average());
}
