//! Store configuration; [`Config::default`] is op-node's defaults (spec §5, §6).

use std::time::Duration;

use op_p2p_api::{APP_SCORE_DECAY_EPOCHS, SCORE_RETAIN_EPOCHS, SLOTS_PER_EPOCH, score_decay};

/// op-node's slot when the rollup's `block_time` is 0 (`LightPeerScoreParams`): 2 s.
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(2);
/// How long a peer-ban or IP-ban record lives after its last update (op-node's ban books:
/// 7 days). op-node applies it whatever the ban's own expiry, so a ban longer than this lasts
/// only this long; the default ban is 1 h.
pub const DEFAULT_BAN_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long key, protocol, identify and metadata records live after their last update: op-node's
/// metadata book value (7 days), applied to every per-peer book without its own expiry so the
/// store does not grow with every peer ever seen.
pub const DEFAULT_PEER_INFO_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often the node should call [`PeerStore::gc`](crate::PeerStore::gc) (op-node `gcPeriod`:
/// 2 h).
pub const DEFAULT_GC_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
/// Most records one GC run deletes before it stops and leaves the rest to the next run.
pub const DEFAULT_GC_MAX_DELETES_PER_RUN: usize = 10_000;
/// Most records one GC run examines before it stops and leaves the rest to the next run.
pub const DEFAULT_GC_MAX_SCANNED_PER_RUN: usize = 200_000;
/// The capacity of the block cache all column families share, index and filter blocks
/// included: 32 MiB, RocksDB's default for a single table factory, now for the whole database
/// (left alone, RocksDB gives each column family its own). It holds the index and filter
/// blocks of a day of payloads (a few MiB) and the most recent payloads, the ones peers ask
/// for when they fill a gap.
pub const DEFAULT_BLOCK_CACHE_SIZE: usize = 32 << 20;

/// Peer store configuration.
///
/// Built with `with_*` setters on [`Config::default`], which are op-node's defaults at a 2 s
/// block time; [`Config::with_block_time`] sets the rollup's block time (the store takes a
/// duration, not the rollup config, so it does not depend on `op-p2p-types`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    block_time: Duration,
    score_retention: Option<Duration>,
    ban_retention: Duration,
    peer_info_retention: Duration,
    gc_interval: Duration,
    gc_max_deletes_per_run: usize,
    gc_max_scanned_per_run: usize,
    sync_writes: bool,
    block_cache_size: usize,
    extra_column_families: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            block_time: DEFAULT_BLOCK_TIME,
            score_retention: None,
            ban_retention: DEFAULT_BAN_RETENTION,
            peer_info_retention: DEFAULT_PEER_INFO_RETENTION,
            gc_interval: DEFAULT_GC_INTERVAL,
            gc_max_deletes_per_run: DEFAULT_GC_MAX_DELETES_PER_RUN,
            gc_max_scanned_per_run: DEFAULT_GC_MAX_SCANNED_PER_RUN,
            sync_writes: false,
            block_cache_size: DEFAULT_BLOCK_CACHE_SIZE,
            extra_column_families: Vec::new(),
        }
    }
}

impl Config {
    /// Sets the slot (the rollup block time; zero means op-node's 2 s). The slot is the decay
    /// interval of the application scores and the unit of the score retention.
    pub fn with_block_time(mut self, block_time: Duration) -> Self {
        self.block_time = if block_time.is_zero() {
            DEFAULT_BLOCK_TIME
        } else {
            block_time
        };
        self
    }

    /// Overrides the score retention (default: op-node's `RetainScore`, 100 epochs = 600 slots).
    pub fn with_score_retention(mut self, retention: Duration) -> Self {
        self.score_retention = Some(retention);
        self
    }

    /// Sets how long ban records live after their last update (default 7 days).
    pub fn with_ban_retention(mut self, retention: Duration) -> Self {
        self.ban_retention = retention;
        self
    }

    /// Sets how long key, protocol, identify and metadata records live after their last update
    /// (default 7 days).
    pub fn with_peer_info_retention(mut self, retention: Duration) -> Self {
        self.peer_info_retention = retention;
        self
    }

    /// Sets the GC period the node is asked to use (default 2 h). The store does not schedule
    /// GC itself; the node calls [`PeerStore::gc`](crate::PeerStore::gc) on this interval.
    pub fn with_gc_interval(mut self, interval: Duration) -> Self {
        self.gc_interval = interval;
        self
    }

    /// Sets the most records one GC run deletes (at least 1).
    pub fn with_gc_max_deletes_per_run(mut self, max: usize) -> Self {
        self.gc_max_deletes_per_run = max.max(1);
        self
    }

    /// Sets the most records one GC run examines (at least 1).
    pub fn with_gc_max_scanned_per_run(mut self, max: usize) -> Self {
        self.gc_max_scanned_per_run = max.max(1);
        self
    }

    /// Whether every write is fsynced before it returns (default false).
    ///
    /// Without it a returned write is in RocksDB's write-ahead log in the operating system's
    /// page cache: it survives the process crashing or being killed, not the machine losing
    /// power. With it, it survives power loss too, at the cost of an fsync per write.
    pub fn with_sync_writes(mut self, sync: bool) -> Self {
        self.sync_writes = sync;
        self
    }

    /// Sets the capacity in bytes of the block cache every column family shares (default
    /// [`DEFAULT_BLOCK_CACHE_SIZE`]). Index and filter blocks live in it too, so it bounds
    /// the memory RocksDB spends on reading, however much is stored.
    pub fn with_block_cache_size(mut self, bytes: usize) -> Self {
        self.block_cache_size = bytes;
        self
    }

    /// Column families the store creates and opens next to its books, for a caller that keeps
    /// its own data in the same database (the node's payload store), so one RocksDB instance,
    /// one write-ahead log and one lock cover everything the node persists. The store never
    /// reads or writes them; the caller reaches them through
    /// [`PeerStore::db`](crate::PeerStore::db). A name the store uses itself fails the open
    /// with [`Error::ReservedColumnFamily`](crate::Error::ReservedColumnFamily).
    pub fn with_extra_column_families<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_column_families = names.into_iter().map(Into::into).collect();
        self
    }

    /// The slot: the application-score decay interval.
    pub fn block_time(&self) -> Duration {
        self.block_time
    }

    /// The per-slot application-score decay factor, `score_decay(10 epochs, slot)` ≈ 0.92612.
    pub fn app_score_decay(&self) -> f64 {
        score_decay(
            self.block_time * SLOTS_PER_EPOCH * APP_SCORE_DECAY_EPOCHS,
            self.block_time,
        )
    }

    /// How long a peer's scores are kept after their last update (op-node `RetainScore`).
    pub fn score_retention(&self) -> Duration {
        self.score_retention
            .unwrap_or(self.block_time * SLOTS_PER_EPOCH * SCORE_RETAIN_EPOCHS)
    }

    /// How long ban records live after their last update.
    pub fn ban_retention(&self) -> Duration {
        self.ban_retention
    }

    /// How long key, protocol, identify and metadata records live after their last update.
    pub fn peer_info_retention(&self) -> Duration {
        self.peer_info_retention
    }

    /// The GC period the node should call [`PeerStore::gc`](crate::PeerStore::gc) on.
    pub fn gc_interval(&self) -> Duration {
        self.gc_interval
    }

    /// The most records one GC run deletes.
    pub fn gc_max_deletes_per_run(&self) -> usize {
        self.gc_max_deletes_per_run
    }

    /// The most records one GC run examines.
    pub fn gc_max_scanned_per_run(&self) -> usize {
        self.gc_max_scanned_per_run
    }

    /// Whether every write is fsynced.
    pub fn sync_writes(&self) -> bool {
        self.sync_writes
    }

    /// The capacity of the shared block cache, bytes.
    pub fn block_cache_size(&self) -> usize {
        self.block_cache_size
    }

    /// The caller's column families, see [`Self::with_extra_column_families`].
    pub fn extra_column_families(&self) -> &[String] {
        &self.extra_column_families
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_op_nodes() {
        let c = Config::default();
        assert_eq!(c.block_time(), Duration::from_secs(2));
        assert_eq!(c.score_retention(), Duration::from_secs(1200));
        assert_eq!(c.ban_retention(), Duration::from_secs(604_800));
        assert_eq!(c.gc_interval(), Duration::from_secs(7200));
        assert!(!c.sync_writes());
        assert_eq!(c.block_cache_size(), 32 << 20);
        assert_eq!(format!("{:.5}", c.app_score_decay()), "0.92612");
    }

    #[test]
    fn block_time_drives_retention_and_zero_means_two_seconds() {
        let c = Config::default().with_block_time(Duration::from_secs(12));
        assert_eq!(c.score_retention(), Duration::from_secs(7200));
        assert_eq!(format!("{:.5}", c.app_score_decay()), "0.92612");
        let zero = Config::default().with_block_time(Duration::ZERO);
        assert_eq!(zero.block_time(), DEFAULT_BLOCK_TIME);
        let fixed = c.with_score_retention(Duration::from_secs(5));
        assert_eq!(fixed.score_retention(), Duration::from_secs(5));
    }
}
