//! The validation pipeline: exactly one result per message, bounded queueing and concurrency,
//! timeouts and panics. (The behaviour's own message handling is tested in
//! `src/behaviour/tests.rs`.)

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
    mpsc as std_mpsc,
};

use libp2p_gossipsub::{MessageId, TopicHash};
use libp2p_identity::PeerId;
use op_p2p_gossip::{
    Config, GossipCounters, NoopMetrics, Outcome, Reason, Validate, ValidationPipeline,
    ValidationRequest, Verdict,
    test_utils::{CHAIN_ID, NOW, block, within},
    topic_hash,
};
use op_p2p_types::{BlocksTopic, PayloadVersion};
use tokio::sync::mpsc;

use crate::common::{other_key, signed, signed_by, validator};

fn v4_topic() -> TopicHash {
    topic_hash(BlocksTopic::new(CHAIN_ID, PayloadVersion::V4))
}

fn request(i: u8, data: Vec<u8>) -> ValidationRequest {
    ValidationRequest {
        message_id: MessageId::new(&[i]),
        source: PeerId::random(),
        topic: v4_topic(),
        data,
        decompressed: None,
    }
}

/// A stand-in validator that reports each start and then waits to be released, tracking how
/// many checks run at once.
struct Gate {
    running: AtomicUsize,
    max_running: AtomicUsize,
    started: mpsc::Sender<()>,
    release: Mutex<std_mpsc::Receiver<()>>,
}

impl Gate {
    fn new() -> (Arc<Self>, mpsc::Receiver<()>, std_mpsc::Sender<()>) {
        let (started, started_rx) = mpsc::channel(64);
        let (release, release_rx) = std_mpsc::channel();
        let gate = Self {
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            started,
            release: Mutex::new(release_rx),
        };
        (Arc::new(gate), started_rx, release)
    }
}

impl Validate for Gate {
    fn validate(&self, _topic: &TopicHash, _data: &[u8], _now: u64) -> Verdict {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(running, Ordering::SeqCst);
        // Checks run on tokio's blocking pool, where a blocking send is allowed.
        let _ = self.started.blocking_send(());
        // Released one check at a time; a dropped sender releases everyone.
        let _ = self.release.lock().unwrap().recv();
        self.running.fetch_sub(1, Ordering::SeqCst);
        Verdict::failed(Reason::DuplicateBlock)
    }
}

/// Waits for the next check to start.
async fn started(rx: &mut mpsc::Receiver<()>) {
    within("a check to start", rx.recv()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_exactly_one_result() {
    let counters = Arc::new(GossipCounters::new());
    let (pipeline, mut results) = ValidationPipeline::spawn(
        Arc::new(validator()),
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        counters.clone(),
        &Config::default(),
    );
    let messages = [
        signed(&block(1, NOW, 1)),
        signed(&block(1, NOW, 1)), // a duplicate block
        signed_by(&other_key(), &block(2, NOW, 1)),
        vec![1, 2, 3],
        signed(&block(3, NOW, 1)),
    ];
    for (i, data) in messages.iter().enumerate() {
        pipeline
            .submit(request(i as u8, data.clone()))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..messages.len() {
        let result = within("result", results.recv()).await.unwrap();
        assert_eq!(result.envelope.is_some(), result.outcome == Outcome::Accept);
        seen.push((result.message_id.0[0], result.outcome, result.reason));
    }
    seen.sort_by_key(|(i, ..)| *i);
    let outcomes: Vec<_> = seen.iter().map(|(_, o, _)| *o).collect();
    // Messages 0 and 1 carry the same block; whichever is checked second is the duplicate.
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Accept).count(),
        2
    );
    assert_eq!(seen[2].2, Some(Reason::WrongSigner));
    assert_eq!(seen[3].2, Some(Reason::TooSmall), "declares 1 byte");
    assert_eq!(seen[4].1, Outcome::Accept);
    assert!(
        seen[..2]
            .iter()
            .any(|(_, _, r)| *r == Some(Reason::DuplicateBlock))
    );
    assert_eq!(
        counters.outcome(Outcome::Accept)
            + counters.outcome(Outcome::Reject)
            + counters.outcome(Outcome::Ignore),
        5
    );
    // Nothing more comes out once the handle is gone.
    drop(pipeline);
    assert!(within("pipeline end", results.recv()).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let (gate, mut started_rx, release) = Gate::new();
    let config = Config::default().with_validation_concurrency(2);
    let (pipeline, mut results) = ValidationPipeline::spawn(
        gate.clone(),
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        Arc::new(NoopMetrics),
        &config,
    );
    for i in 0..5 {
        pipeline.submit(request(i, vec![])).await.unwrap();
    }
    // Two checks are running and held.
    started(&mut started_rx).await;
    started(&mut started_rx).await;
    for _ in 0..5 {
        release.send(()).unwrap();
    }
    for _ in 0..5 {
        let result = within("result", results.recv()).await.unwrap();
        assert_eq!(result.reason, Some(Reason::DuplicateBlock));
    }
    assert_eq!(gate.max_running.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_at_once() {
    let (gate, mut started_rx, release) = Gate::new();
    let config = Config::default()
        .with_validation_concurrency(1)
        .with_validation_queue_size(1);
    let (pipeline, mut results) = ValidationPipeline::spawn(
        gate,
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        Arc::new(NoopMetrics),
        &config,
    );
    pipeline.try_submit(request(0, vec![])).unwrap();
    started(&mut started_rx).await;
    // The worker holds the only permit, so the next request waits in the queue…
    pipeline.try_submit(request(1, vec![])).unwrap();
    // …and the one after finds it full.
    assert_eq!(
        pipeline.try_submit(request(2, vec![])),
        Err(Reason::QueueFull)
    );
    drop(release);
    for _ in 0..2 {
        within("result", results.recv()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_check_is_ignored_after_the_timeout() {
    let (gate, _started, release) = Gate::new();
    let config = Config::default().with_validation_timeout(std::time::Duration::from_millis(50));
    let counters = Arc::new(GossipCounters::new());
    let (pipeline, mut results) = ValidationPipeline::spawn(
        gate,
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        counters.clone(),
        &config,
    );
    pipeline.submit(request(0, vec![])).await.unwrap();
    let result = within("result", results.recv()).await.unwrap();
    assert_eq!(result.outcome, Outcome::Ignore);
    assert_eq!(result.reason, Some(Reason::Timeout));
    assert_eq!(counters.reason(Reason::Timeout), 1);
    drop(release);
}

struct Panics;

impl Validate for Panics {
    fn validate(&self, _topic: &TopicHash, _data: &[u8], _now: u64) -> Verdict {
        panic!("a bug in a check");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_check_is_rejected_and_the_pipeline_survives() {
    let (pipeline, mut results) = ValidationPipeline::spawn(
        Arc::new(Panics),
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        Arc::new(NoopMetrics),
        &Config::default(),
    );
    for i in 0..2 {
        pipeline.submit(request(i, vec![])).await.unwrap();
    }
    for _ in 0..2 {
        let result = within("result", results.recv()).await.unwrap();
        assert_eq!(result.outcome, Outcome::Reject);
        assert_eq!(result.reason, Some(Reason::Panic));
    }
}

/// The validator's quick path (small messages whose decompressed bytes came with the request,
/// checked on the pipeline task): the same verdicts as the blocking pool, in arrival order at
/// concurrency 1, and a panic is still a reject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_checks_run_in_place_with_the_same_verdicts() {
    struct PanicsOnEmpty;
    impl Validate for PanicsOnEmpty {
        fn validate(&self, _topic: &TopicHash, data: &[u8], _now: u64) -> Verdict {
            assert!(!data.is_empty(), "boom");
            Verdict::failed(Reason::DuplicateBlock)
        }
        fn is_quick(&self, _decompressed_len: Option<usize>) -> bool {
            true
        }
    }

    let with_bytes = |i: u8, data: Vec<u8>| {
        let mut r = request(i, data.clone());
        r.decompressed = snap::raw::Decoder::new()
            .decompress_vec(&data)
            .ok()
            .map(op_p2p_types::Bytes::from);
        r
    };
    let real = validator();
    assert!(real.is_quick(Some(500)));
    assert!(!real.is_quick(None));
    assert!(!real.is_quick(Some(op_p2p_gossip::QUICK_CHECK_MAX_BYTES)));
    let config = Config::default().with_validation_concurrency(1);
    let (pipeline, mut results) = ValidationPipeline::spawn(
        Arc::new(real),
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        Arc::new(NoopMetrics),
        &config,
    );
    let messages = [
        with_bytes(0, signed(&block(1, NOW, 1))),
        request(1, signed(&block(2, NOW, 1))), // no bytes: the blocking pool
        with_bytes(2, signed_by(&other_key(), &block(3, NOW, 1))),
        with_bytes(3, signed(&block(1, NOW, 1))),
    ];
    for message in messages {
        pipeline.submit(message).await.unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        let result = within("result", results.recv()).await.unwrap();
        seen.push((result.message_id.0[0], result.reason));
    }
    assert_eq!(
        seen,
        [
            (0, None),
            (1, None),
            (2, Some(Reason::WrongSigner)),
            (3, Some(Reason::DuplicateBlock))
        ]
    );

    let (pipeline, mut results) = ValidationPipeline::spawn(
        Arc::new(PanicsOnEmpty),
        Arc::new(op_p2p_api::ManualClock::new(NOW)),
        Arc::new(NoopMetrics),
        &config,
    );
    pipeline.submit(request(0, Vec::new())).await.unwrap();
    pipeline.submit(request(1, vec![1])).await.unwrap();
    let first = within("result", results.recv()).await.unwrap();
    assert_eq!(
        (first.outcome, first.reason),
        (Outcome::Reject, Some(Reason::Panic))
    );
    let second = within("result", results.recv()).await.unwrap();
    assert_eq!(second.reason, Some(Reason::DuplicateBlock));
}
