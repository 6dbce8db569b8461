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
    graylist_cutoff: Option<GraylistCutoff>,
    max_pending_inbound_per_ip: Option<usize>,
}

/// The graylist cut-off ([`Config::with_graylist_cutoff`]): a peer whose gossip score stays below
/// `threshold` for `grace` is banned like one below the ban threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraylistCutoff {
    /// gossipsub's graylist threshold: below it every RPC of the peer is dropped unprocessed.
    pub threshold: f64,
    /// How long a peer may stay below it before the ban.
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ban_peers: DEFAULT_BAN_PEERS,
            ban_threshold: DEFAULT_BAN_THRESHOLD,
            ban_duration: DEFAULT_BAN_DURATION,
            min_score: None,
            graylist_cutoff: None,
            max_pending_inbound_per_ip: None,
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

    /// Ban peers whose gossip score stays below `threshold` (gossipsub's graylist threshold) for
    /// `grace`, checked for every connected peer once a second by the peer monitor. Off by
    /// default: op-node has no such rule.
    ///
    /// Why: gossipsub stops scoring a graylisted peer (it drops its RPCs before validation), so a
    /// peer graylisted by invalid messages sits between the graylist and ban thresholds and is
    /// never banned, while its transport still reads every frame it sends, up to the 10 MiB cap
    /// each (measured: a snappy-bomb sender at −98 kept a verifier reading 8.4 GB in 20 s). A
    /// graylisted peer only leaves the graylist by decay over many slots, and nothing it sends
    /// meanwhile is used, so the connection is only a cost: cut it and ban the peer for
    /// [`ban_duration`](Self::ban_duration) (a disconnect alone would be redialled at once, with
    /// its retained score graylisted again). Protected (static) peers are spared, and nothing
    /// happens with [`ban_peers`](Self::ban_peers) off.
    ///
    /// The score read is the score book's: it must be fresh. op-node's 15 s snapshots alone
    /// can miss a peer graylisted just below the threshold, which P4's decay lifts back above it
    /// within a few slots; `op-p2p-gossip` also writes a graylisted peer's live score every
    /// second.
    pub fn with_graylist_cutoff(mut self, threshold: f64, grace: Duration) -> Self {
        self.graylist_cutoff = Some(GraylistCutoff { threshold, grace });
        self
    }

    /// The graylist cut-off, if on.
    pub fn graylist_cutoff(&self) -> Option<GraylistCutoff> {
        self.graylist_cutoff
    }

    /// Refuse an inbound connection before its handshake when its remote IP already has `max`
    /// inbound connections in their handshake (TCP accepted, noise and yamux not done). Off by
    /// default: op-node has no such limit.
    ///
    /// Why: nothing else bounds them. Each holds a socket until the upgrade timeout
    /// (`p2p.timeout.dial`, 10 s), so a host that opens connections and stalls mid-handshake
    /// holds one descriptor per connection (measured: 1,000 stalled noise handshakes held 1,000
    /// fds of a verifier, reopened as the timeout closed them). Honest peers open one
    /// connection per peer, so a small per-IP bound only refuses a flood.
    pub fn with_max_pending_inbound_per_ip(mut self, max: Option<usize>) -> Self {
        self.max_pending_inbound_per_ip = max;
        self
    }

    /// The per-IP bound on inbound handshakes in progress, if on.
    pub fn max_pending_inbound_per_ip(&self) -> Option<usize> {
        self.max_pending_inbound_per_ip
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
