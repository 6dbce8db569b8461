//! The per-height record of blocks already seen (spec §2, rule 20): at most a handful of
//! distinct blocks per height pass, and a block seen before is ignored.

use hashlink::LruCache;
use op_p2p_types::B256;

use crate::verdict::Reason;

/// Heights remembered (op-node's `blockHeightLRU` size).
pub const SEEN_HEIGHTS: usize = 1000;
/// Distinct blocks at one height beyond which any further message at that height is rejected.
/// op-node checks `> 5` before recording, so 6 distinct blocks pass and the 7th is rejected.
pub const MAX_BLOCKS_PER_HEIGHT: usize = 5;

/// Block hashes seen per height, least recently used height evicted first.
#[derive(Debug)]
pub struct SeenBlocks {
    heights: LruCache<u64, Vec<B256>>,
}

impl Default for SeenBlocks {
    fn default() -> Self {
        Self::new(SEEN_HEIGHTS)
    }
}

impl SeenBlocks {
    /// A record of `capacity` heights.
    pub fn new(capacity: usize) -> Self {
        Self {
            heights: LruCache::new(capacity),
        }
    }

    /// Checks block `hash` at `height` and records it if it passes, as op-node does:
    /// - more than [`MAX_BLOCKS_PER_HEIGHT`] hashes known at this height: reject (checked first,
    ///   so even a repeat is rejected then);
    /// - the hash is known: ignore;
    /// - else the hash is recorded.
    pub fn check_and_record(&mut self, height: u64, hash: B256) -> Result<(), Reason> {
        if let Some(seen) = self.heights.get_mut(&height) {
            if seen.len() > MAX_BLOCKS_PER_HEIGHT {
                return Err(Reason::TooManyBlocksAtHeight);
            }
            if seen.contains(&hash) {
                return Err(Reason::DuplicateBlock);
            }
            seen.push(hash);
        } else {
            self.heights.insert(height, vec![hash]);
        }
        Ok(())
    }

    /// The number of heights remembered.
    pub fn len(&self) -> usize {
        self.heights.len()
    }

    /// Whether no height is remembered.
    pub fn is_empty(&self) -> bool {
        self.heights.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u8) -> B256 {
        B256::repeat_byte(i)
    }

    #[test]
    fn six_pass_the_seventh_is_rejected_and_repeats_then_too() {
        let mut seen = SeenBlocks::default();
        for i in 1..=6 {
            assert_eq!(seen.check_and_record(7, hash(i)), Ok(()), "block {i}");
        }
        assert_eq!(
            seen.check_and_record(7, hash(7)),
            Err(Reason::TooManyBlocksAtHeight)
        );
        // The count is checked before the repeat, as op-node does.
        assert_eq!(
            seen.check_and_record(7, hash(1)),
            Err(Reason::TooManyBlocksAtHeight)
        );
        // Other heights are unaffected.
        assert_eq!(seen.check_and_record(8, hash(7)), Ok(()));
    }

    #[test]
    fn repeats_are_ignored() {
        let mut seen = SeenBlocks::default();
        assert_eq!(seen.check_and_record(1, hash(1)), Ok(()));
        assert_eq!(
            seen.check_and_record(1, hash(1)),
            Err(Reason::DuplicateBlock)
        );
        assert_eq!(seen.check_and_record(1, hash(2)), Ok(()));
        assert_eq!(
            seen.check_and_record(1, hash(2)),
            Err(Reason::DuplicateBlock)
        );
    }

    #[test]
    fn remembers_1000_heights_least_recently_used_first_out() {
        let mut seen = SeenBlocks::default();
        for height in 0..1000 {
            seen.check_and_record(height, hash(1)).unwrap();
        }
        assert_eq!(seen.len(), 1000);
        // Touch height 0 so that height 1 is the least recently used.
        assert_eq!(
            seen.check_and_record(0, hash(1)),
            Err(Reason::DuplicateBlock)
        );
        seen.check_and_record(1000, hash(1)).unwrap();
        assert_eq!(seen.len(), 1000);
        assert_eq!(
            seen.check_and_record(0, hash(1)),
            Err(Reason::DuplicateBlock)
        );
        assert_eq!(seen.check_and_record(1, hash(1)), Ok(()), "evicted");
    }
}
