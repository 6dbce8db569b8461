//! The validation pipeline: validation off the swarm task, with bounded queueing and
//! concurrency, a timeout, and panic isolation. Every request gets exactly one result.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
    time::{Duration, Instant},
};

use libp2p_gossipsub::{MessageAcceptance, MessageId, TopicHash};
use libp2p_identity::PeerId;
use op_p2p_types::{Bytes, ExecutionPayloadEnvelope};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use op_p2p_api::Clock;

use crate::{
    config::Config,
    fair_queue::FairQueue,
    metrics::Metrics,
    validator::Validate,
    verdict::{Outcome, Reason, Verdict},
};

/// One message to validate, as gossipsub handed it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRequest {
    /// The gossipsub message id (op-node's topic-bound id).
    pub message_id: MessageId,
    /// The peer that forwarded the message to us.
    pub source: PeerId,
    /// The topic it arrived on.
    pub topic: TopicHash,
    /// The raw message data (snappy compressed).
    pub data: Vec<u8>,
    /// `data` decompressed, when the message id function already did it (see
    /// [`Validate::validate_decompressed`]); `None` to have the validator decompress.
    pub decompressed: Option<Bytes>,
}

/// The answer for one [`ValidationRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationResult {
    /// The message id of the request.
    pub message_id: MessageId,
    /// The peer that forwarded the message.
    pub source: PeerId,
    /// Accept, ignore or reject.
    pub outcome: Outcome,
    /// Why it was not accepted.
    pub reason: Option<Reason>,
    /// The block, for accepted messages only.
    pub envelope: Option<ExecutionPayloadEnvelope>,
}

impl ValidationResult {
    /// The result as gossipsub takes it.
    pub fn acceptance(&self) -> MessageAcceptance {
        self.outcome.into()
    }
}

/// The handle to a running validation pipeline: submits requests. Results come out of the
/// receiver returned by [`ValidationPipeline::spawn`].
///
/// The pipeline task ends when every handle is dropped and the queue has drained.
///
/// ```text
///  swarm task ──try_submit──▶ [queue: validation_queue_size] ──▶ worker
///      ▲                                                          │ one permit per running check
///      │                                                          ▼ (validation_concurrency)
///      └──── [results: queue + concurrency] ◀── spawn_blocking(catch_unwind(validate)) + timeout
///                                              (a quick check: catch_unwind(validate) in place)
/// ```
///
/// - A full queue is the caller's to answer: [`ValidationPipeline::try_submit`] fails at once and
///   the behaviour ignores the message (op-node's pubsub drops it as "throttled", also without
///   penalty). The swarm task never waits on validation.
/// - The worker takes a permit before it takes a request, so waiting messages stay in the
///   bounded queue, visible to `try_submit`. With a permit, it moves what is waiting (up to
///   the queue size) into a per-peer fair queue (`fair_queue.rs`) and takes the next request
///   from the peers in turn, so one peer's burst does not delay the others' messages; the
///   behaviour also bounds what one peer may have waiting
///   ([`Config::validation_queue_per_peer`]).
/// - A quick check ([`Validate::is_quick`]: the validator's for blocks under 8 KiB, ~0.1 ms)
///   runs on the pipeline task itself, in order: handing it to a blocking thread and back costs
///   two thread wake-ups, more than the check (measured on the devnet: 176 µs p50 to reach a
///   blocking thread, against 73 µs of checks for a ~500-byte block).
/// - Any other check runs on tokio's blocking pool (it is CPU-bound, ~0.5 ms for a 120 KB
///   block) and keeps its permit until it really ends, so a check that outlives its timeout still counts
///   against the concurrency. A check that finishes in time releases its permit only once its
///   result is queued: a full results channel slows validation down instead of piling up
///   results, and with a concurrency of 1 each peer's results come out in its arrival order.
/// - Timeout: ignore ([`Reason::Timeout`]). Panic: reject ([`Reason::Panic`]), as op-node's
///   `guardGossipValidator`.
#[derive(Debug, Clone)]
pub struct ValidationPipeline {
    requests: mpsc::Sender<ValidationRequest>,
}

impl ValidationPipeline {
    /// Spawns the pipeline on the current tokio runtime (which needs its time driver enabled):
    /// `validator` checks each message at the wall-clock time `clock` tells, with the queue size,
    /// concurrency and timeout of `config`. Returns the submit handle and the results.
    pub fn spawn<V: Validate>(
        validator: Arc<V>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn Metrics>,
        config: &Config,
    ) -> (Self, mpsc::Receiver<ValidationResult>) {
        let concurrency = config.validation_concurrency.max(1);
        let queue = config.validation_queue_size.max(1);
        let (requests, request_rx) = mpsc::channel(queue);
        // Room for every queued and running request, so workers rarely wait on the swarm task.
        let (result_tx, results) = mpsc::channel(queue + concurrency);
        let worker = Worker {
            validator,
            clock,
            metrics,
            timeout: config.validation_timeout,
            results: result_tx,
        };
        tokio::spawn(worker.run(request_rx, concurrency, queue));
        (Self { requests }, results)
    }

    /// Queues `request` without waiting. Fails with [`Reason::QueueFull`] when the queue is
    /// full and [`Reason::PipelineClosed`] when the pipeline has stopped; the request is then
    /// dropped and the caller answers gossipsub itself.
    pub fn try_submit(&self, request: ValidationRequest) -> Result<(), Reason> {
        self.requests.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Reason::QueueFull,
            mpsc::error::TrySendError::Closed(_) => Reason::PipelineClosed,
        })
    }

    /// Queues `request`, waiting for room. Fails with [`Reason::PipelineClosed`] when the
    /// pipeline has stopped. For callers other than the swarm task (benches, tools).
    pub async fn submit(&self, request: ValidationRequest) -> Result<(), Reason> {
        self.requests
            .send(request)
            .await
            .map_err(|_| Reason::PipelineClosed)
    }
}

struct Worker<V> {
    validator: Arc<V>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
    timeout: Duration,
    results: mpsc::Sender<ValidationResult>,
}

impl<V: Validate> Worker<V> {
    async fn run(
        self,
        mut requests: mpsc::Receiver<ValidationRequest>,
        concurrency: usize,
        queue_size: usize,
    ) {
        let permits = Arc::new(Semaphore::new(concurrency));
        let this = Arc::new(self);
        let mut waiting = FairQueue::default();
        loop {
            // The semaphore is never closed, so this only fails if that changes.
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            // Everything already waiting joins the fair queue (bounded, so a caller of `submit`
            // cannot grow it past the queue size), then the next peer in turn is served.
            while waiting.len() < queue_size {
                match requests.try_recv() {
                    Ok(request) => waiting.push(request),
                    Err(_) => break,
                }
            }
            let request = match waiting.pop() {
                Some(request) => request,
                None => match requests.recv().await {
                    Some(request) => request,
                    None => break,
                },
            };
            let decompressed_len = request.decompressed.as_ref().map(|d| d.len());
            if this.validator.is_quick(decompressed_len) {
                this.validate_here(request, permit).await;
            } else {
                if let Some(decompressed) = &request.decompressed {
                    this.validator.prepare(decompressed);
                }
                tokio::spawn(Arc::clone(&this).validate_one(request, permit));
            }
        }
    }

    /// A quick check ([`Validate::is_quick`]) on this task: a blocking-pool thread would cost
    /// a wake-up longer than the check itself. Panics are caught as on the blocking pool; the
    /// timeout cannot interrupt it, and a quick check is far below it.
    async fn validate_here(&self, request: ValidationRequest, permit: OwnedSemaphorePermit) {
        let ValidationRequest {
            message_id,
            source,
            topic,
            data,
            decompressed,
        } = request;
        let started = Instant::now();
        let now = self.clock.unix_time();
        let verdict = check(&*self.validator, &topic, &data, decompressed, now);
        log_hop(
            &message_id,
            &verdict,
            Duration::ZERO,
            started.elapsed(),
            Duration::ZERO,
        );
        self.finish(message_id, source, verdict, started).await;
        drop(permit);
    }

    async fn validate_one(
        self: Arc<Self>,
        request: ValidationRequest,
        permit: OwnedSemaphorePermit,
    ) {
        let ValidationRequest {
            message_id,
            source,
            topic,
            data,
            decompressed,
        } = request;
        let started = Instant::now();
        let now = self.clock.unix_time();
        let validator = Arc::clone(&self.validator);
        // The check hands its permit back with the verdict, and the permit is released only
        // once the result is queued: with a concurrency of 1, each peer's results leave in its
        // arrival order.
        // A check that times out keeps its permit until it really ends.
        let on_pool = tokio::task::spawn_blocking(move || {
            let on_thread = started.elapsed();
            let verdict = check(&*validator, &topic, &data, decompressed, now);
            (verdict, permit, on_thread, started.elapsed())
        });
        let mut permit = None;
        let verdict = match tokio::time::timeout(self.timeout, on_pool).await {
            Ok(Ok((verdict, returned, on_thread, checked))) => {
                // The wait for a blocking thread, the check, and the hand-back to this task.
                log_hop(
                    &message_id,
                    &verdict,
                    on_thread,
                    checked - on_thread,
                    started.elapsed().saturating_sub(checked),
                );
                permit = Some(returned);
                verdict
            }
            // Panics are caught inside; a join error means the runtime is shutting down.
            Ok(Err(join)) if join.is_panic() => Verdict::failed(Reason::Panic),
            Ok(Err(_cancelled)) => Verdict::failed(Reason::PipelineClosed),
            Err(_elapsed) => Verdict::failed(Reason::Timeout),
        };
        self.finish(message_id, source, verdict, started).await;
        drop(permit);
    }

    /// Logs and counts `verdict`, then queues its result (waiting for room: a full results
    /// channel slows validation down instead of piling results up).
    async fn finish(
        &self,
        message_id: MessageId,
        source: PeerId,
        verdict: Verdict,
        started: Instant,
    ) {
        let outcome = verdict.outcome();
        if let Some(reason) = verdict.reason {
            tracing::debug!(
                target: "gossip::validation",
                message_id = %message_id,
                peer = %source,
                %outcome,
                %reason,
                "block message not accepted"
            );
        }
        self.metrics
            .record_validation(outcome, verdict.reason, started.elapsed());
        let result = ValidationResult {
            message_id,
            source,
            outcome,
            reason: verdict.reason,
            envelope: verdict.envelope.filter(|_| outcome == Outcome::Accept),
        };
        // A closed channel means the behaviour is gone, and with it gossipsub: nobody to answer.
        let _ = self.results.send(result).await;
    }
}

/// One check, its panic caught: a validator bug costs one message (`Reason::Panic`), never the
/// pipeline.
fn check<V: Validate + ?Sized>(
    validator: &V,
    topic: &TopicHash,
    data: &[u8],
    decompressed: Option<Bytes>,
    now: u64,
) -> Verdict {
    catch_unwind(AssertUnwindSafe(|| {
        validator.validate_decompressed(topic, data, decompressed, now)
    }))
    .unwrap_or_else(|_panic| Verdict::failed(Reason::Panic))
}

/// The `gossip::hop` "validated" event of the per-hop breakdown (node README, read by
/// `cargo xtask hops`): the wait for a thread, the check, and the hand-back to the pipeline task.
fn log_hop(
    message_id: &MessageId,
    verdict: &Verdict,
    wait: Duration,
    check: Duration,
    back: Duration,
) {
    tracing::debug!(
        target: "gossip::hop",
        message_id = %message_id,
        number = verdict.envelope.as_ref().map(|e| e.execution_payload.block_number),
        thread_wait_us = wait.as_micros(),
        check_us = check.as_micros(),
        back_us = back.as_micros(),
        "validated"
    );
}
