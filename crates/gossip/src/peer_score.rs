//! Peer-score parameters: op-node's "light" scoring (spec §3.2), with P6 computed outside
//! gossipsub over gossipsub peers, plus invalid-delivery (P4) scoring on the blocks topics for
//! rejects no honest forwarder causes.

use std::{collections::HashMap, time::Duration};

use libp2p_gossipsub::{PeerScoreParams, PeerScoreThresholds, TopicHash, TopicScoreParams};
use op_p2p_types::{BlocksTopic, RollupConfig};

use crate::config::Config;

/// Peer scoring, as op-node's `p2p.scoring` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoringMode {
    /// op-node's `light` parameters (the default).
    #[default]
    Light,
    /// No peer scoring; application scores are not pushed either.
    None,
}

/// Below this score we neither gossip to nor accept gossip from a peer.
pub const GOSSIP_THRESHOLD: f64 = -10.0;
/// Below this score we do not publish to a peer.
pub const PUBLISH_THRESHOLD: f64 = -40.0;
/// Below this score every RPC from a peer is ignored.
pub const GRAYLIST_THRESHOLD: f64 = -40.0;
/// Above this score a peer's PX is accepted (PX is off).
pub const ACCEPT_PX_THRESHOLD: f64 = 20.0;
/// Below this median mesh score we graft opportunistically.
pub const OPPORTUNISTIC_GRAFT_THRESHOLD: f64 = 0.05;

/// Weight of the application score (P5).
pub const APP_SPECIFIC_WEIGHT: f64 = 1.0;
/// Weight of the IP colocation factor (P6), applied by [`crate::IpColocation`] through the
/// application score: gossipsub's own P6 weight is 0 (see [`peer_score_params`]).
pub const IP_COLOCATION_FACTOR_WEIGHT: f64 = -35.0;
/// Peers per IP before P6 applies.
pub const IP_COLOCATION_FACTOR_THRESHOLD: f64 = 10.0;
/// Weight of the behaviour penalty (P7).
pub const BEHAVIOUR_PENALTY_WEIGHT: f64 = -16.0;
/// Behaviour penalty count before P7 applies.
pub const BEHAVIOUR_PENALTY_THRESHOLD: f64 = 6.0;
/// Slots over which the behaviour penalty decays to zero: 10 epochs.
pub const BEHAVIOUR_PENALTY_DECAY_SLOTS: u32 = 10 * EPOCH_SLOTS;
/// A counter below this counts as zero.
pub const DECAY_TO_ZERO: f64 = 0.01;
/// Slots a disconnected peer's score is remembered: 100 epochs.
pub const RETAIN_SCORE_SLOTS: u32 = 100 * EPOCH_SLOTS;
/// Slots per op-node scoring "epoch".
pub const EPOCH_SLOTS: u32 = 6;
/// The slot length when the rollup config has no block time.
pub const DEFAULT_SLOT: Duration = Duration::from_secs(2);

/// Weight of each blocks topic when P4 scoring is on.
pub const BLOCKS_TOPIC_WEIGHT: f64 = 1.0;
/// Weight of P4 (squared invalid deliveries) on each blocks topic.
pub const INVALID_MESSAGE_DELIVERIES_WEIGHT: f64 = -2.0;
/// Slots over which the invalid-delivery count decays to zero: 100 epochs.
pub const INVALID_MESSAGE_DELIVERIES_DECAY_SLOTS: u32 = 100 * EPOCH_SLOTS;

/// The slot: the rollup block time, or 2 s when it is zero (op-node `GetScoringParams`).
pub fn slot(rollup: &RollupConfig) -> Duration {
    match rollup.block_time {
        0 => DEFAULT_SLOT,
        secs => Duration::from_secs(secs),
    }
}

/// op-node's `ScoreDecay(duration, slot)`: the per-slot factor that takes a counter to 1 % over
/// `slots` slots, `0.01^(1 / slots)`.
pub fn score_decay(slots: u32) -> f64 {
    DECAY_TO_ZERO.powf(1.0 / f64::from(slots))
}

/// op-node's thresholds (`NewPeerScoreThresholds`).
pub const fn thresholds() -> PeerScoreThresholds {
    PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: ACCEPT_PX_THRESHOLD,
        opportunistic_graft_threshold: OPPORTUNISTIC_GRAFT_THRESHOLD,
    }
}

/// The P4-only topic parameters for one blocks topic.
pub fn blocks_topic_params() -> TopicScoreParams {
    TopicScoreParams {
        topic_weight: BLOCKS_TOPIC_WEIGHT,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_DELIVERIES_WEIGHT,
        invalid_message_deliveries_decay: score_decay(INVALID_MESSAGE_DELIVERIES_DECAY_SLOTS),
        ..TopicScoreParams::default()
    }
}

/// The peer-score parameters and thresholds for `config` on the chain `rollup`, or `None` when
/// scoring is off ([`ScoringMode::None`]).
///
/// # op-node's light scoring
/// No topic is scored (op-node dropped topic scoring in May 2025), so a peer's gossipsub score is
/// `1·app + (−35)·P6 + (−16)·P7`: the application score from the score book, IP colocation above
/// 10 peers per IP, and the behaviour penalty above 6. Decay runs once per slot (the rollup
/// block time, 2 s if unset) and scores of disconnected peers are kept 600 slots.
///
/// # P6 over gossipsub peers only
/// gossipsub's own P6 is off here (`ip_colocation_factor_weight` 0, no whitelist): rust-libp2p
/// counts every connected peer's IP, go-libp2p-pubsub only peers that speak pubsub, and skips
/// loopback. [`crate::IpColocation`] computes go's count and the behaviour adds `−35·P6` to the
/// application score (weight 1), so the total is op-node's.
///
/// # Difference: P4 on the blocks topics
/// With no scored topic a REJECT costs the sender nothing in op-node, so a peer can flood forged
/// blocks (each one a decompression and often a signature recovery) for free. We add, on by
/// default and switchable off ([`crate::Config::invalid_message_scoring`]), a topic score on
/// each of the four blocks topics with every term off except P4. P4 only ever counts rejects an
/// honest forwarder cannot cause ([`crate::Blame::Message`]: a broken frame, signature bytes,
/// layout or block hash): a reject that depends on our state (signer, clock, fork schedule, the
/// per-height record) is reported to gossipsub as an ignore ([`crate::Reason::reported`]), so a
/// signer rotation or a drifting clock never costs an honest peer score. Kept because those
/// rejects can only come from a broken or hostile peer, and without P4 such a peer keeps us
/// decompressing and decoding its garbage at no cost:
///
/// - topic weight [`BLOCKS_TOPIC_WEIGHT`] = 1, P4 weight [`INVALID_MESSAGE_DELIVERIES_WEIGHT`]
///   = −2, so `k` rejected messages on one topic cost `−2·k²`: 1 → −2, 3 → −18 (below the gossip
///   threshold −10), 5 → −50 (below the publish and graylist thresholds −40: every RPC from the
///   peer is ignored, so it cannot even make us validate).
/// - P4 decay [`INVALID_MESSAGE_DELIVERIES_DECAY_SLOTS`] = ScoreDecay(100 epochs) ≈ 0.99235 per
///   slot, the score-retention window, so that reconnecting does not wash the count out sooner.
///   After 5 quick rejects a peer stays graylisted ~14 slots (~29 s at 2 s blocks), below the
///   gossip threshold ~100 slots, and its count reaches zero after ~810 slots. Five rejects spread
///   evenly over one 60-slot window still add up to ≈ −32.
///
/// An honest peer that relays one bad block loses 2 points, well above every threshold. This is
/// local policy: scores are never sent on the wire, so it does not affect interop with op-node.
pub fn peer_score_params(
    config: &Config,
    rollup: &RollupConfig,
) -> Option<(PeerScoreParams, PeerScoreThresholds)> {
    if config.scoring == ScoringMode::None {
        return None;
    }
    let slot = slot(rollup);
    let topics: HashMap<TopicHash, TopicScoreParams> = if config.invalid_message_scoring {
        BlocksTopic::all(rollup.l2_chain_id)
            .iter()
            .map(|t| (TopicHash::from_raw(t.to_string()), blocks_topic_params()))
            .collect()
    } else {
        HashMap::new()
    };
    let params = PeerScoreParams {
        topics,
        topic_score_cap: 0.0,
        app_specific_weight: APP_SPECIFIC_WEIGHT,
        // P6 is computed over gossipsub peers by `IpColocation` and fed as application score.
        ip_colocation_factor_weight: 0.0,
        ip_colocation_factor_threshold: IP_COLOCATION_FACTOR_THRESHOLD,
        behaviour_penalty_weight: BEHAVIOUR_PENALTY_WEIGHT,
        behaviour_penalty_threshold: BEHAVIOUR_PENALTY_THRESHOLD,
        behaviour_penalty_decay: score_decay(BEHAVIOUR_PENALTY_DECAY_SLOTS),
        decay_interval: slot,
        decay_to_zero: DECAY_TO_ZERO,
        retain_score: slot * RETAIN_SCORE_SLOTS,
        // rust-libp2p's slow-peer penalty has no op-node counterpart; off, so the score formula
        // stays op-node's.
        slow_peer_weight: 0.0,
        ..PeerScoreParams::default()
    };
    Some((params, thresholds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(block_time: u64) -> RollupConfig {
        RollupConfig {
            l2_chain_id: 10,
            block_time,
            ..Default::default()
        }
    }

    #[test]
    fn light_params_are_op_nodes() {
        let (params, t) = peer_score_params(
            &Config::default().with_invalid_message_scoring(false),
            &rollup(2),
        )
        .unwrap();
        assert!(params.topics.is_empty());
        assert_eq!(params.topic_score_cap, 0.0);
        assert_eq!(params.app_specific_weight, 1.0);
        // op-node's P6 (−35 above 10) is applied through the app score by `IpColocation`.
        assert_eq!(params.ip_colocation_factor_weight, 0.0);
        assert_eq!(IP_COLOCATION_FACTOR_WEIGHT, -35.0);
        assert_eq!(IP_COLOCATION_FACTOR_THRESHOLD, 10.0);
        assert_eq!(params.behaviour_penalty_weight, -16.0);
        assert_eq!(params.behaviour_penalty_threshold, 6.0);
        assert!((params.behaviour_penalty_decay - 0.926_118_7).abs() < 1e-6);
        assert_eq!(params.decay_interval, Duration::from_secs(2));
        assert_eq!(params.decay_to_zero, 0.01);
        assert_eq!(params.retain_score, Duration::from_secs(1200));
        assert_eq!(params.slow_peer_weight, 0.0);
        params.validate().unwrap();
        assert_eq!(
            (
                t.gossip_threshold,
                t.publish_threshold,
                t.graylist_threshold,
                t.accept_px_threshold,
                t.opportunistic_graft_threshold
            ),
            (-10.0, -40.0, -40.0, 20.0, 0.05)
        );
        t.validate().unwrap();
    }

    #[test]
    fn slot_defaults_to_two_seconds() {
        let (params, _) = peer_score_params(&Config::default(), &rollup(0)).unwrap();
        assert_eq!(params.decay_interval, Duration::from_secs(2));
        let (params, _) = peer_score_params(&Config::default(), &rollup(1)).unwrap();
        assert_eq!(params.retain_score, Duration::from_secs(600));
    }

    #[test]
    fn none_means_no_scoring() {
        let config = Config::default().with_scoring(ScoringMode::None);
        assert!(peer_score_params(&config, &rollup(2)).is_none());
        // gossipsub's own P6 never applies; the whitelist goes to `IpColocation`.
        let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let config = Config::default().with_ip_colocation_whitelist(vec![loopback]);
        let (params, _) = peer_score_params(&config, &rollup(2)).unwrap();
        assert!(params.ip_colocation_factor_whitelist.is_empty());
        assert_eq!(params.ip_colocation_factor_weight, 0.0);
    }

    #[test]
    fn p4_is_on_by_default_for_the_four_topics() {
        let (params, _) = peer_score_params(&Config::default(), &rollup(2)).unwrap();
        params.validate().unwrap();
        assert_eq!(params.topics.len(), 4);
        for topic in BlocksTopic::all(10) {
            let p = &params.topics[&TopicHash::from_raw(topic.to_string())];
            assert_eq!(p.invalid_message_deliveries_weight, -2.0);
            assert_eq!(p.time_in_mesh_weight, 0.0);
            assert_eq!(p.first_message_deliveries_weight, 0.0);
            assert_eq!(p.mesh_message_deliveries_weight, 0.0);
            assert_eq!(p.mesh_failure_penalty_weight, 0.0);
        }
    }

    /// The numbers the module docs promise.
    #[test]
    fn p4_numbers() {
        let p = blocks_topic_params();
        let score = |count: f64| count * count * p.invalid_message_deliveries_weight;
        assert!(score(1.0) > GOSSIP_THRESHOLD);
        assert!(score(3.0) < GOSSIP_THRESHOLD && score(3.0) > GRAYLIST_THRESHOLD);
        assert!(score(4.0) > GRAYLIST_THRESHOLD);
        assert!(score(5.0) < GRAYLIST_THRESHOLD);
        let decay = p.invalid_message_deliveries_decay;
        assert!((decay - 0.992_354).abs() < 1e-6);
        // Graylisted for 14 slots after 5 quick rejects, not 15.
        assert!(score(5.0 * decay.powi(14)) < GRAYLIST_THRESHOLD);
        assert!(score(5.0 * decay.powi(15)) > GRAYLIST_THRESHOLD);
        // Five rejects spread over one 60-slot window.
        let spread: f64 = (0..5).map(|k| decay.powi(15 * k)).sum();
        assert!((score(spread) + 32.0).abs() < 1.0);
    }
}
