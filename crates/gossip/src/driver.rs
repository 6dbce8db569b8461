//! [`Driver`]: the gossip logic of the node's single swarm task. The task owns the swarm and
//! calls the driver with each gossipsub event, each validation result, and each score tick; the
//! application talks to the task through channels.

use std::{collections::HashMap, sync::Arc, time::Duration};

use libp2p_gossipsub::{Event, MessageId};
use libp2p_identity::PeerId;
use op_p2p_peerstore::GossipScores;
use op_p2p_types::{BlockSigner, ExecutionPayloadEnvelope, SIGNATURE_LEN};
use tokio::sync::mpsc;

use crate::{
    behaviour::Behaviour,
    error::Error,
    metrics::Metrics,
    pipeline::{ValidationPipeline, ValidationRequest, ValidationResult},
    publisher::Publisher,
    score_book::ScoreBook,
    verdict::{Outcome, Reason},
};

/// An accepted block as the application receives it: the peer that forwarded it, and the block.
pub type Delivery = (PeerId, ExecutionPayloadEnvelope);

/// What was reported to gossipsub for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The message.
    pub message_id: MessageId,
    /// The peer that forwarded it.
    pub source: PeerId,
    /// The result reported.
    pub outcome: Outcome,
    /// Why it was not accepted.
    pub reason: Option<Reason>,
    /// Whether gossipsub still had the message (`report_message_validation_result`'s answer);
    /// an accepted message no longer cached was not relayed.
    pub in_cache: bool,
}

/// The gossip half of the swarm task: forwards messages to the validation pipeline, answers
/// gossipsub exactly once per message, delivers accepted blocks, publishes, and keeps scores in
/// step with the score book.
///
/// ```text
/// loop select! {
///     swarm event (gossipsub)   => driver.on_event(behaviour, event)
///     validation result         => driver.on_validation_result(behaviour, result)
///     every 15 s                => driver.on_score_tick(behaviour)
///     publish command           => driver.publish(behaviour, signer, envelope)
/// }
/// ```
///
/// # Subscriber
/// Accepted blocks go to the application's bounded channel with `try_send`: the swarm task
/// never waits on the application. A block that does not fit is dropped and counted
/// ([`Metrics::record_delivery`]); the node recovers gaps through sync. Our own blocks are never
/// delivered back: gossipsub does not hand a node its own publications, and a copy relayed back
/// to us falls in the 65 s seen cache (op-node filters them with `FilterSelf`).
pub struct Driver {
    pipeline: ValidationPipeline,
    /// Messages sent for validation and not answered yet: at most the queue plus the running
    /// checks.
    pending: HashMap<MessageId, PeerId>,
    publisher: Publisher,
    deliveries: mpsc::Sender<Delivery>,
    score_book: Arc<dyn ScoreBook>,
    metrics: Arc<dyn Metrics>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("pending", &self.pending.len())
            .field("publisher", &self.publisher)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver that validates through `pipeline`, publishes with `publisher`, delivers
    /// accepted blocks to `deliveries`, and reads application scores from / writes gossip
    /// scores to `score_book`.
    pub fn new(
        pipeline: ValidationPipeline,
        publisher: Publisher,
        deliveries: mpsc::Sender<Delivery>,
        score_book: Arc<dyn ScoreBook>,
        metrics: Arc<dyn Metrics>,
    ) -> Self {
        Self {
            pipeline,
            pending: HashMap::new(),
            publisher,
            deliveries,
            score_book,
            metrics,
        }
    }

    /// Messages waiting for a validation result.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Handles one gossipsub event. A message goes to the validation pipeline; if the pipeline
    /// cannot take it, it is ignored at once and the report is returned. A peer subscribing gets
    /// its application score pushed right away rather than at the next tick.
    pub fn on_event(&mut self, behaviour: &mut Behaviour, event: Event) -> Option<Reported> {
        match event {
            Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                if self.pending.contains_key(&message_id) {
                    // gossipsub hands each id over once; the pending request will answer it.
                    tracing::warn!(
                        target: "gossip",
                        %message_id,
                        "message id already pending validation"
                    );
                    return None;
                }
                let request = ValidationRequest {
                    message_id: message_id.clone(),
                    source: propagation_source,
                    topic: message.topic,
                    data: message.data,
                };
                match self.pipeline.try_submit(request) {
                    Ok(()) => {
                        self.pending.insert(message_id, propagation_source);
                        None
                    }
                    Err(reason) => {
                        self.metrics.record_validation(
                            reason.outcome(),
                            Some(reason),
                            Duration::ZERO,
                        );
                        Some(self.report(behaviour, message_id, propagation_source, Some(reason)))
                    }
                }
            }
            Event::Subscribed { peer_id, topic } => {
                let score = self.score_book.app_score(&peer_id);
                let set = behaviour.set_application_score(&peer_id, score);
                tracing::trace!(target: "gossip", peer = %peer_id, %topic, score, set, "peer subscribed");
                None
            }
            Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::debug!(target: "gossip", peer = %peer_id, ?failed_messages, "slow peer");
                None
            }
            other => {
                tracing::trace!(target: "gossip", event = ?other, "gossipsub event");
                None
            }
        }
    }

    /// Reports a validation result to gossipsub and delivers an accepted block. Returns `None`
    /// for a result whose message is not pending (already answered), which is then dropped.
    pub fn on_validation_result(
        &mut self,
        behaviour: &mut Behaviour,
        result: ValidationResult,
    ) -> Option<Reported> {
        if self.pending.remove(&result.message_id).is_none() {
            tracing::warn!(
                target: "gossip",
                message_id = %result.message_id,
                "validation result for a message not pending; dropped"
            );
            return None;
        }
        let reported = self.report(behaviour, result.message_id, result.source, result.reason);
        if let (Outcome::Accept, Some(envelope)) = (result.outcome, result.envelope) {
            let delivered = self.deliveries.try_send((result.source, envelope)).is_ok();
            if !delivered {
                tracing::warn!(target: "gossip", "application channel full or closed; block dropped");
            }
            self.metrics.record_delivery(delivered);
        }
        Some(reported)
    }

    /// Answers every pending message with ignore ([`Reason::PipelineClosed`]): call it when the
    /// results channel closes, so no message goes unanswered.
    pub fn on_pipeline_closed(&mut self, behaviour: &mut Behaviour) -> Vec<Reported> {
        let pending: Vec<_> = self.pending.drain().collect();
        pending
            .into_iter()
            .map(|(message_id, source)| {
                let reason = Reason::PipelineClosed;
                self.metrics
                    .record_validation(reason.outcome(), Some(reason), Duration::ZERO);
                self.report(behaviour, message_id, source, Some(reason))
            })
            .collect()
    }

    /// The periodic score inspection ([`crate::SCORE_INSPECT_INTERVAL`], op-node
    /// `peerScoreInspectFrequency`): for every connected gossipsub peer, pushes its application
    /// score from the score book into gossipsub, then stores a snapshot of its gossip score in
    /// the score book. Does nothing when scoring is off.
    pub fn on_score_tick(&self, behaviour: &mut Behaviour) {
        let peers: Vec<PeerId> = behaviour.all_peers().map(|(peer, _)| *peer).collect();
        for peer in peers {
            behaviour.set_application_score(&peer, self.score_book.app_score(&peer));
            let Some(total) = behaviour.peer_score(&peer) else {
                return;
            };
            let scores = GossipScores {
                total,
                ..GossipScores::default()
            };
            self.score_book.record_gossip_scores(&peer, scores);
        }
    }

    /// Signs `envelope` with `signer` and publishes it on its scheduled topic.
    pub fn publish(
        &mut self,
        behaviour: &mut Behaviour,
        signer: &BlockSigner,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<MessageId, Error> {
        let result = self.publisher.publish(behaviour, signer, envelope);
        self.metrics.record_publish(result.is_ok());
        result
    }

    /// Publishes an already-signed `envelope` unchanged on its scheduled topic.
    pub fn publish_signed(
        &mut self,
        behaviour: &mut Behaviour,
        envelope: &ExecutionPayloadEnvelope,
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<MessageId, Error> {
        let result = self
            .publisher
            .publish_signed(behaviour, envelope, signature);
        self.metrics.record_publish(result.is_ok());
        result
    }

    fn report(
        &self,
        behaviour: &mut Behaviour,
        message_id: MessageId,
        source: PeerId,
        reason: Option<Reason>,
    ) -> Reported {
        let outcome = reason.map_or(Outcome::Accept, Reason::outcome);
        let in_cache =
            behaviour.report_message_validation_result(&message_id, &source, outcome.into());
        if !in_cache {
            tracing::debug!(
                target: "gossip",
                %message_id,
                %outcome,
                "validated message no longer in gossipsub's cache"
            );
        }
        self.metrics.record_report(outcome, in_cache);
        Reported {
            message_id,
            source,
            outcome,
            reason,
            in_cache,
        }
    }
}
