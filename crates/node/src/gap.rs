//! The gap-fill seam: when gossip delivers a block more than one above the unsafe head, the
//! blocks in between are requested from peers with payload_by_number (spec §4.3).
//!
//! op-node's driver checks every 2·block_time (`checkForGapInUnsafeQueue`) and hands the range
//! (unsafe head, lowest queued payload) to the sync client's `RequestL2Range`. Here
//! [`GapTrigger`] makes the same check against the [`PayloadStore`](crate::payload_store) and
//! hands the range to a [`GapFiller`].
//!
//! # Fillers
//! With `p2p.sync.req-resp` on (the default) the filler is the swarm's payload_by_number
//! behaviour (`op-p2p-reqresp-sync`); the payloads it fetches and promotes come back to the app
//! task and are stored with origin `sync`. With it off the filler is [`NoSync`], which refuses
//! every range: the node says so at start and reports the gaps it could not fill.
//!
//! With sync on, only connected peers that serve payload_by_number are asked (identify's
//! protocols decide; a peer that refuses the protocol is not asked again). A range requested
//! while no connected peer serves stays queued and is filled as soon as one connects; the node
//! reports such a gap ([`Scheduled::sync_peers`] is 0) in its log, its status (`gap`,
//! `sync_peers`) and `p2p_sync_gap_blocks`.

use std::time::Duration;

use op_p2p_types::BlockRef;

/// How often the gap is checked, in block times (op-node's driver: every 2·block_time).
pub(crate) const GAP_CHECK_SLOTS: u32 = 2;

/// Why a range was not requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GapFillError {
    /// req-resp sync is off (`--p2p.sync.req-resp=false`).
    #[error("req-resp sync (payload_by_number) is disabled (--p2p.sync.req-resp=false)")]
    Unavailable,
    /// The sync client refused the range (full queue, bad range, …).
    #[error("sync client refused the range: {0}")]
    Refused(String),
}

/// A range handed to the sync client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scheduled {
    /// Numbers newly queued (numbers already queued or on the wire are not counted again).
    pub(crate) queued: usize,
    /// Connected peers that will be asked: they serve payload_by_number. With none, the range
    /// waits for one to connect.
    pub(crate) sync_peers: usize,
}

/// Fetches the blocks strictly between `start` (the unsafe head) and `end` (a block gossip
/// delivered ahead of it), as op-node's `SyncClient.RequestL2Range`. Payloads it fetches come
/// back into the node's payload intake like gossip deliveries, marked as synced.
pub(crate) trait GapFiller: Send {
    /// Queues requests for the range; returns how many numbers were scheduled and how many
    /// peers can be asked.
    fn request_range(&mut self, start: BlockRef, end: BlockRef) -> Result<Scheduled, GapFillError>;
}

/// The sync client fills gaps.
impl<S: op_p2p_reqresp_sync::PayloadSource> GapFiller for op_p2p_reqresp_sync::Behaviour<S> {
    fn request_range(&mut self, start: BlockRef, end: BlockRef) -> Result<Scheduled, GapFillError> {
        let queued = Self::request_range(self, start, end)
            .map_err(|error| GapFillError::Refused(error.to_string()))?;
        Ok(Scheduled {
            queued,
            sync_peers: self.sync_peers(),
        })
    }
}

/// The filler of a node with req-resp sync off: every range is refused with
/// [`GapFillError::Unavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoSync;

impl GapFiller for NoSync {
    fn request_range(&mut self, _: BlockRef, _: BlockRef) -> Result<Scheduled, GapFillError> {
        Err(GapFillError::Unavailable)
    }
}

/// Decides when to ask for a range: at most one check per interval, and the same range is not
/// reported as new twice (the sync client itself skips numbers already in flight, so asking
/// again each interval is harmless, as in op-node; the log line is not repeated).
#[derive(Debug, Clone)]
pub(crate) struct GapTrigger {
    interval: Duration,
    last_reported: Option<(u64, u64)>,
}

impl GapTrigger {
    /// A trigger for a chain with `block_time` seconds per block.
    pub(crate) fn new(block_time: u64) -> Self {
        Self {
            interval: Duration::from_secs(block_time.max(1)) * GAP_CHECK_SLOTS,
            last_reported: None,
        }
    }

    /// The check interval.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// Given the store's current gap, returns the range to request and whether it is new
    /// (for logging).
    pub(crate) fn check(&mut self, gap: Option<(BlockRef, BlockRef)>) -> Option<Request> {
        let Some((start, end)) = gap else {
            self.last_reported = None;
            return None;
        };
        let key = (start.number, end.number);
        let new = self.last_reported != Some(key);
        self.last_reported = Some(key);
        Some(Request { start, end, new })
    }
}

/// A range to request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// The unsafe head.
    pub(crate) start: BlockRef,
    /// The lowest block waiting above it.
    pub(crate) end: BlockRef,
    /// Whether this range differs from the last one requested.
    pub(crate) new: bool,
}

impl Request {
    /// How many blocks are missing.
    pub(crate) fn missing(&self) -> u64 {
        missing(self.start, self.end)
    }
}

/// How many blocks are missing strictly between `head` and `above`.
pub(crate) fn missing(head: BlockRef, above: BlockRef) -> u64 {
    above.number.saturating_sub(head.number.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> BlockRef {
        BlockRef {
            number,
            ..Default::default()
        }
    }

    #[test]
    fn checks_every_two_block_times_and_reports_new_ranges_once() {
        let mut trigger = GapTrigger::new(2);
        assert_eq!(trigger.interval(), Duration::from_secs(4));
        assert_eq!(trigger.check(None), None);
        let first = trigger.check(Some((block(3), block(9)))).unwrap();
        assert!(first.new);
        assert_eq!(first.missing(), 5);
        assert!(!trigger.check(Some((block(3), block(9)))).unwrap().new);
        assert!(trigger.check(Some((block(5), block(9)))).unwrap().new);
        assert_eq!(trigger.check(None), None);
        assert!(trigger.check(Some((block(5), block(9)))).unwrap().new);
    }

    #[test]
    fn with_sync_off_every_range_is_refused() {
        assert_eq!(
            NoSync.request_range(block(0), block(5)),
            Err(GapFillError::Unavailable)
        );
    }
}
