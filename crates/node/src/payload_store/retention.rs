//! Retention: the payload store keeps the unsafe chain's last blocks, not all of it, so a
//! long-running node's database (and with it RocksDB's files and caches) stops growing.
//!
//! op-node keeps no payloads (its engine keeps the chain); this node serves payload_by_number
//! from its own store, and what peers ask for is recent: op-node's sync client fills gaps in
//! the unsafe chain, the blocks above its safe head, which are at most a sequencer window old
//! (12 h on OP Mainnet: 21,600 blocks at 2 s). Older blocks are derivable from L1.
//!
//! # How
//! Every insert that moves the head prunes, in the same atomic write batch, the heights that
//! fell more than the retention below it: their payloads (by the height records of
//! [`PAYLOAD_HEIGHTS_CF`], and by the index for payloads of earlier builds), their index entries
//! and height records (one range delete each). At most [`MAX_PRUNED_PER_INSERT`] heights per
//! insert, so a backlog (a store from before retention, a lowered retention, a head that jumped
//! up a long gap) is worked off over the next inserts without a long write. The mark of how
//! far pruning got is stored with the head, so a restart resumes there and never walks over
//! the deleted range again (RocksDB would have to skip its tombstones).
//!
//! The genesis block is never pruned (one block, op-node's engine always serves it), nor the
//! head and the retention below it, nor anything above the head (blocks waiting for a gap):
//! [`PayloadStore::gap`] looks above the head only, so pruned history is never a gap.

use std::num::NonZeroU64;

use op_p2p_peerstore::rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};
use op_p2p_types::BlockRef;
use tracing::{debug, warn};

use super::{
    PayloadStore, StoreError, TARGET,
    records::{
        PAYLOAD_HEIGHTS_CF, PAYLOAD_INDEX_CF, PAYLOAD_META_CF, PAYLOADS_CF, PRUNED_BELOW_KEY,
        decode_entry, encode_pruned_below, hash_of_height_key, number_key, number_of_key,
    },
};

/// Blocks kept below the head by default: a day at 1 s blocks (two at op-node's 2 s). That is
/// twice the longest range an op-node peer asks for at 1 s blocks (the 12 h sequencer window
/// above its safe head), so every request for the unsafe chain is served, while the store is
/// bounded: ~2.5 GiB at 30 KB blocks, ~10 GiB at OP Mainnet's ~120 KB.
pub(crate) const DEFAULT_RETENTION_BLOCKS: u64 = 86_400;

/// The most heights one insert prunes. Steady state prunes one per block; a backlog is worked
/// off at this rate per head move (a few hundred small reads and deletes, well under a
/// millisecond's work next to the insert's own write).
pub(crate) const MAX_PRUNED_PER_INSERT: u64 = 256;

/// How much of the chain below the head the store keeps (`--p2p.sync.retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention(Option<NonZeroU64>);

impl Default for Retention {
    fn default() -> Self {
        Self::blocks(DEFAULT_RETENTION_BLOCKS)
    }
}

impl Retention {
    /// Keep the head and the `blocks` below it; 0 keeps everything.
    pub(crate) const fn blocks(blocks: u64) -> Self {
        Self(NonZeroU64::new(blocks))
    }

    /// The blocks kept below the head; `None`: all.
    pub(crate) fn get(self) -> Option<u64> {
        self.0.map(NonZeroU64::get)
    }

    /// The lowest height kept with the head at `head`: every height below it goes.
    pub(crate) fn keep_from(self, head: u64) -> u64 {
        self.get().map_or(0, |blocks| head.saturating_sub(blocks))
    }
}

/// Heights `[from, to)` one insert prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PruneRange {
    pub(super) from: u64,
    pub(super) to: u64,
}

impl PayloadStore {
    /// The heights the insert that moved the head to `head` prunes, with pruning at
    /// `pruned_below`; `None` when nothing is due.
    pub(super) fn prune_range(&self, head: BlockRef, pruned_below: u64) -> Option<PruneRange> {
        let from = pruned_below.max(self.inner.genesis.number + 1);
        let due = self.inner.retention.keep_from(head.number);
        let to = due.min(from.saturating_add(MAX_PRUNED_PER_INSERT));
        (to > from).then_some(PruneRange { from, to })
    }

    /// Adds the deletes of `range` to `batch`: every payload stored at those heights, their
    /// index entries and height records, and the new mark. Records that do not decode are
    /// logged and dropped with the range; they never stop an insert.
    pub(super) fn prune_into(
        &self,
        batch: &mut WriteBatch,
        range: PruneRange,
    ) -> Result<(), StoreError> {
        let db = self.inner.store.db();
        let payloads = self.cf(PAYLOADS_CF)?;
        let (from, to) = (number_key(range.from), number_key(range.to));
        let bounded = || {
            let mut opts = ReadOptions::default();
            opts.set_iterate_upper_bound(to);
            opts
        };
        let mut pruned = 0u64;

        let heights = self.cf(PAYLOAD_HEIGHTS_CF)?;
        let iter = db.iterator_cf_opt(
            heights,
            bounded(),
            IteratorMode::From(&from, Direction::Forward),
        );
        for item in iter {
            let (key, _) = item?;
            match hash_of_height_key(&key) {
                Some(hash) => {
                    batch.delete_cf(payloads, hash);
                    pruned += 1;
                }
                None => warn!(target: TARGET, len = key.len(), "pruning a malformed height record"),
            }
        }
        batch.delete_range_cf(heights, from, to);

        // Payloads of earlier builds have no height record: the index names those on the
        // chain (deleting a payload twice is harmless).
        let index = self.cf(PAYLOAD_INDEX_CF)?;
        let iter = db.iterator_cf_opt(
            index,
            bounded(),
            IteratorMode::From(&from, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            match number_of_key(&key).and_then(|n| decode_entry(n, &value)) {
                Some(entry) => batch.delete_cf(payloads, entry.block.hash),
                None => warn!(target: TARGET, "pruning an index entry that does not decode"),
            }
        }
        batch.delete_range_cf(index, from, to);

        let meta = self.cf(PAYLOAD_META_CF)?;
        batch.put_cf(meta, PRUNED_BELOW_KEY, encode_pruned_below(range.to));
        debug!(
            target: TARGET,
            from = range.from, to = range.to, payloads = pruned, "pruned below the retention"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_keeps_everything_and_the_head_is_always_kept() {
        assert_eq!(Retention::blocks(0).get(), None);
        assert_eq!(Retention::blocks(0).keep_from(1_000_000), 0);
        assert_eq!(Retention::blocks(10).keep_from(5), 0);
        assert_eq!(Retention::blocks(10).keep_from(100), 90);
        assert_eq!(Retention::blocks(1).keep_from(100), 99);
        assert_eq!(Retention::default().get(), Some(DEFAULT_RETENTION_BLOCKS));
    }
}
