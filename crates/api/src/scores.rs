//! The score book's values: op-node's gossip score snapshot and the request-response
//! application scores, with op-node's caps, weights and decay (spec §3.2, §5).

use std::time::Duration;

/// Cap on the valid-responses counter (op-node `ValidResponseCap`).
pub const VALID_RESPONSE_CAP: f64 = 10.0;
/// Cap on the error-responses counter (op-node `ErrorResponseCap`).
pub const ERROR_RESPONSE_CAP: f64 = 9.0;
/// Cap on the rejected-payloads counter (op-node `RejectedPayloadCap`).
pub const REJECTED_PAYLOAD_CAP: f64 = 20.0;
/// Weight of a valid response in the application score (op-node `ValidResponseWeight`); at the
/// cap it is worth +5.
pub const VALID_RESPONSE_WEIGHT: f64 = 0.5;
/// Weight of an error response (op-node `ErrorResponseWeight`); at the cap it is worth −9.
pub const ERROR_RESPONSE_WEIGHT: f64 = -1.0;
/// Weight of a rejected payload (op-node `RejectedPayloadWeight`); five of them reach op-node's
/// default ban threshold of −100 on their own.
pub const REJECTED_PAYLOAD_WEIGHT: f64 = -20.0;
/// A decayed counter below this is set to zero (op-node `DecayToZero`), so a counter does not
/// linger as an ever-smaller fraction.
pub const DECAY_TO_ZERO: f64 = 0.01;
/// Slots per op-node scoring "epoch": op-node calls 6 blocks an epoch (`epoch := 6 * slot`).
pub const SLOTS_PER_EPOCH: u32 = 6;
/// Epochs over which a counter decays to [`DECAY_TO_ZERO`] of its value (op-node's `tenEpochs`).
pub const APP_SCORE_DECAY_EPOCHS: u32 = 10;
/// Epochs an unseen peer's scores are retained before GC (op-node `RetainScore` = 100 epochs).
pub const SCORE_RETAIN_EPOCHS: u32 = 100;

/// op-node's `ScoreDecay(duration, slot)`: the per-slot factor that, applied once per slot,
/// shrinks a value to [`DECAY_TO_ZERO`] (1 %) of itself after `duration`.
///
/// `d = DECAY_TO_ZERO ^ (1 / (duration / slot))`, where `duration / slot` is Go's integer
/// division of two `time.Duration`s (nanoseconds), reproduced here. For the application scores
/// the duration is ten epochs of six slots, so `duration / slot = 60` whatever the block time,
/// and `d = 0.01^(1/60) = e^(ln(0.01)/60) ≈ 0.926119`, op-node's "≈ 0.92612". A zero `slot` or a
/// `duration` shorter than one slot yields 0 (op-node would compute `0.01^(1/0) = 0`).
pub fn score_decay(duration: Duration, slot: Duration) -> f64 {
    let slots = duration
        .as_nanos()
        .checked_div(slot.as_nanos())
        .unwrap_or(0);
    if slots == 0 {
        return 0.0;
    }
    // `slots` counts slots in a duration; far below f64's 2^53 exact-integer range in practice.
    DECAY_TO_ZERO.powf(1.0 / slots as f64)
}

/// What a request-response exchange with a peer did to its application score (op-node's
/// `onValidResponse`, `onResponseError`, `onRejectedPayload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReqRespEvent {
    /// The peer answered a sync request with a payload we accepted.
    ValidResponse,
    /// The peer's response failed (an error code, a timeout, a broken stream).
    ErrorResponse,
    /// The peer served a payload that failed validation.
    RejectedPayload,
}

/// The request-response application scores of one peer (op-node `ReqRespScores`).
///
/// Each field is a capped, decaying counter; see [`ReqRespScores::app_score`] for how they
/// combine.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReqRespScores {
    /// Valid responses, capped at [`VALID_RESPONSE_CAP`].
    pub valid_responses: f64,
    /// Error responses, capped at [`ERROR_RESPONSE_CAP`].
    pub error_responses: f64,
    /// Rejected payloads, capped at [`REJECTED_PAYLOAD_CAP`].
    pub rejected_payloads: f64,
}

impl ReqRespScores {
    /// The application score gossipsub receives as `AppSpecificScore` (weight 1):
    /// `0.5·valid − errors − 20·rejected`, in [−409, +5] for capped counters.
    pub fn app_score(&self) -> f64 {
        VALID_RESPONSE_WEIGHT * self.valid_responses
            + ERROR_RESPONSE_WEIGHT * self.error_responses
            + REJECTED_PAYLOAD_WEIGHT * self.rejected_payloads
    }

    /// Counts one event: the matching counter becomes `min(x + 1, cap)` (op-node's
    /// `Increment*` score diffs).
    pub fn record(&mut self, event: ReqRespEvent) {
        let (counter, cap) = match event {
            ReqRespEvent::ValidResponse => (&mut self.valid_responses, VALID_RESPONSE_CAP),
            ReqRespEvent::ErrorResponse => (&mut self.error_responses, ERROR_RESPONSE_CAP),
            ReqRespEvent::RejectedPayload => (&mut self.rejected_payloads, REJECTED_PAYLOAD_CAP),
        };
        *counter = (*counter + 1.0).min(cap);
    }

    /// One slot of decay (op-node `DecayApplicationScores`): every counter is multiplied by
    /// `factor` and set to zero once below [`DECAY_TO_ZERO`].
    pub fn decay(&mut self, factor: f64) {
        for counter in [
            &mut self.valid_responses,
            &mut self.error_responses,
            &mut self.rejected_payloads,
        ] {
            *counter *= factor;
            if *counter < DECAY_TO_ZERO {
                *counter = 0.0;
            }
        }
    }
}

/// The blocks-topic part of a gossip score snapshot (op-node `TopicScores`).
///
/// op-node has scored no topic since PR #15719, so a current node stores zeros here; the fields
/// stay because the record format carries them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BlocksTopicScores {
    /// Time in mesh (op-node takes the maximum over topics).
    pub time_in_mesh: f64,
    /// First message deliveries.
    pub first_message_deliveries: f64,
    /// Mesh message deliveries.
    pub mesh_message_deliveries: f64,
    /// Invalid message deliveries.
    pub invalid_message_deliveries: f64,
}

/// The gossip score snapshot op-node's score inspector stores every 15 s (op-node
/// `GossipScores`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GossipScores {
    /// The peer's total gossipsub score, application score included; what banning acts on.
    pub total: f64,
    /// The blocks topic's components.
    pub blocks: BlocksTopicScores,
    /// The IP colocation factor (P6).
    pub ip_colocation_factor: f64,
    /// The behavioural penalty (P7).
    pub behavioural_penalty: f64,
}

/// Everything the score book holds for a peer (op-node `PeerScores`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PeerScores {
    /// The latest gossip score snapshot.
    pub gossip: GossipScores,
    /// The request-response application scores.
    pub req_resp: ReqRespScores,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_factor_is_op_nodes_for_any_block_time() {
        for block_time in [1, 2, 12] {
            let slot = Duration::from_secs(block_time);
            let ten_epochs = slot * SLOTS_PER_EPOCH * APP_SCORE_DECAY_EPOCHS;
            let d = score_decay(ten_epochs, slot);
            assert_eq!(format!("{d:.5}"), "0.92612");
            // 60 applications take a value to 1 % of itself.
            assert!((d.powi(60) - DECAY_TO_ZERO).abs() < 1e-12);
        }
        assert_eq!(score_decay(Duration::from_secs(1), Duration::ZERO), 0.0);
        assert_eq!(
            score_decay(Duration::from_secs(1), Duration::from_secs(2)),
            0.0
        );
    }

    #[test]
    fn increments_are_capped() {
        let mut s = ReqRespScores::default();
        for _ in 0..50 {
            s.record(ReqRespEvent::ValidResponse);
            s.record(ReqRespEvent::ErrorResponse);
            s.record(ReqRespEvent::RejectedPayload);
        }
        assert_eq!(
            s,
            ReqRespScores {
                valid_responses: 10.0,
                error_responses: 9.0,
                rejected_payloads: 20.0
            }
        );
        assert_eq!(s.app_score(), 5.0 - 9.0 - 400.0);
    }

    #[test]
    fn app_score_weights() {
        let s = ReqRespScores {
            valid_responses: 4.0,
            error_responses: 2.0,
            rejected_payloads: 1.0,
        };
        assert_eq!(s.app_score(), 2.0 - 2.0 - 20.0);
        let mut five = ReqRespScores::default();
        for _ in 0..5 {
            five.record(ReqRespEvent::RejectedPayload);
        }
        assert_eq!(five.app_score(), -100.0);
    }

    #[test]
    fn decay_goes_to_zero_below_threshold() {
        let mut s = ReqRespScores {
            valid_responses: 1.0,
            error_responses: 0.0105,
            rejected_payloads: 0.5,
        };
        s.decay(0.9);
        assert_eq!(s.valid_responses, 0.9);
        // 0.0105 · 0.9 = 0.00945 < 0.01.
        assert_eq!(s.error_responses, 0.0);
        assert_eq!(s.rejected_payloads, 0.45);
    }
}
