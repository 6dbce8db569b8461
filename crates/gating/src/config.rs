//! Score-driven banning and the optional minimum-score gate.

use std::time::Duration;

/// op-node's `p2p.ban.peers` default: peers whose score falls below the threshold are banned.
pub const DEFAULT_BAN_PEERS: bool = true;
/// op-node's `p2p.ban.threshold` default: a score below this bans the peer (spec §5).
pub const DEFAULT_BAN_THRESHOLD: f64 = -100.0;
/// op-node's `p2p.ban.duration` default: how long a score-driven ban lasts.
pub const DEFAULT_BAN_DURATION: Duration = Duration::from_secs(60 * 60);

/// Settings of [`Behaviour`](crate::Behaviour). [`Default`] is op-node's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    ban_peers: bool,
    ban_threshold: f64,
    ban_duration: Duration,
    min_score: Option<f64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ban_peers: DEFAULT_BAN_PEERS,
            ban_threshold: DEFAULT_BAN_THRESHOLD,
            ban_duration: DEFAULT_BAN_DURATION,
            min_score: None,
        }
    }
}

impl Config {
    /// Whether [`report_score`](crate::Behaviour::report_score) bans peers below the threshold
    /// (`p2p.ban.peers`).
    pub fn with_ban_peers(mut self, ban_peers: bool) -> Self {
        self.ban_peers = ban_peers;
        self
    }

    /// The score below which a peer is banned (`p2p.ban.threshold`).
    pub fn with_ban_threshold(mut self, threshold: f64) -> Self {
        self.ban_threshold = threshold;
        self
    }

    /// How long a score-driven ban lasts (`p2p.ban.duration`); whole seconds, as bans are stored
    /// in unix seconds.
    pub fn with_ban_duration(mut self, duration: Duration) -> Self {
        self.ban_duration = duration;
        self
    }

    /// Refuse dials to and connections from peers whose last reported score is below `min`
    /// (op-node's `ScoringConnectionGater`, which op-node defines but never wires in: off by
    /// default). Peers without a reported score count as 0, as op-node reads unknown scores.
    pub fn with_min_score(mut self, min: Option<f64>) -> Self {
        self.min_score = min;
        self
    }

    /// Whether low scores lead to bans.
    pub fn ban_peers(&self) -> bool {
        self.ban_peers
    }

    /// The ban threshold.
    pub fn ban_threshold(&self) -> f64 {
        self.ban_threshold
    }

    /// The duration of score-driven bans.
    pub fn ban_duration(&self) -> Duration {
        self.ban_duration
    }

    /// The minimum score gate, if on.
    pub fn min_score(&self) -> Option<f64> {
        self.min_score
    }
}
