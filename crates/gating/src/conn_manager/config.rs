//! Water marks and grace period of the connection manager.

use std::time::Duration;

/// op-node's `p2p.peers.lo` default: trimming stops at this many peers (also the discovery
/// dial target).
pub const DEFAULT_LOW_WATER: usize = 20;
/// op-node's `p2p.peers.hi` default: trimming starts above this many peers.
pub const DEFAULT_HIGH_WATER: usize = 30;
/// op-node's `p2p.peers.grace` default: a newly connected peer is not trimmed for this long.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// Settings of [`Behaviour`](super::Behaviour). [`Default`] is op-node's defaults; the water
/// marks are validated by [`Behaviour::new`](super::Behaviour::new).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    low_water: usize,
    high_water: usize,
    grace_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            low_water: DEFAULT_LOW_WATER,
            high_water: DEFAULT_HIGH_WATER,
            grace_period: DEFAULT_GRACE_PERIOD,
        }
    }
}

impl Config {
    /// The number of peers trimming brings the node down to (`p2p.peers.lo`).
    pub fn with_low_water(mut self, low_water: usize) -> Self {
        self.low_water = low_water;
        self
    }

    /// The number of peers above which the node trims (`p2p.peers.hi`).
    pub fn with_high_water(mut self, high_water: usize) -> Self {
        self.high_water = high_water;
        self
    }

    /// How long after its first connection a peer is exempt from trimming (`p2p.peers.grace`).
    pub fn with_grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// The low water mark.
    pub fn low_water(&self) -> usize {
        self.low_water
    }

    /// The high water mark.
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    /// The grace period.
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }
}
