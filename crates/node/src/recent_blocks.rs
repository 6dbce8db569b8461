//! [`RecentBlocks`]: what the node remembers of its recent blocks beyond the payload store,
//! for the status file: when the sequencer published each, and which peer each gossip block
//! came from. Bounded to the blocks the status lists ([`STATUS_MAX_BLOCKS`]).

use std::collections::BTreeMap;

use alloy_primitives::B256;
use libp2p_identity::PeerId;
use op_p2p_types::BlockRef;

use crate::status::{BlockStatus, STATUS_MAX_BLOCKS};

/// Publish times and gossip sources of the last [`STATUS_MAX_BLOCKS`] blocks.
#[derive(Debug, Default)]
pub(crate) struct RecentBlocks {
    /// Block number → when the sequencer handed it to gossipsub, unix µs: where the devnet
    /// starts a block's propagation.
    published_us: BTreeMap<u64, u64>,
    /// (number, hash) → the peer the gossip block came from: the devnet derives hop counts
    /// from it.
    gossip_from: BTreeMap<(u64, B256), PeerId>,
}

impl RecentBlocks {
    /// The sequencer handed `number` to gossipsub at `published_us`.
    pub(crate) fn published(&mut self, number: u64, published_us: u64) {
        keep_recent(&mut self.published_us, number, published_us);
    }

    /// Block `number` with `hash`, stored from gossip, came from `peer`.
    pub(crate) fn gossip_source(&mut self, number: u64, hash: B256, peer: PeerId) {
        keep_recent(&mut self.gossip_from, (number, hash), peer);
    }

    /// The status entry of `block`, stored with `origin` at `received_us`.
    pub(crate) fn status(&self, block: &BlockRef, origin: &str, received_us: u64) -> BlockStatus {
        BlockStatus {
            number: block.number,
            hash: block.hash.to_string(),
            origin: origin.into(),
            received_us,
            published_us: self.published_us.get(&block.number).copied(),
            from: self
                .gossip_from
                .get(&(block.number, block.hash))
                .map(ToString::to_string),
        }
    }
}

/// Inserts into `map`, then drops its lowest keys (the oldest blocks) beyond
/// [`STATUS_MAX_BLOCKS`].
fn keep_recent<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, value: V) {
    map.insert(key, value);
    while map.len() > STATUS_MAX_BLOCKS {
        map.pop_first();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> BlockRef {
        BlockRef {
            number,
            hash: B256::from(alloy_primitives::U256::from(number)),
            ..BlockRef::default()
        }
    }

    #[test]
    fn remembers_the_last_blocks_only() {
        let mut recent = RecentBlocks::default();
        let peer = PeerId::random();
        for number in 0..STATUS_MAX_BLOCKS as u64 + 10 {
            recent.published(number, 1_000 + number);
            recent.gossip_source(number, block(number).hash, peer);
        }
        let oldest = recent.status(&block(9), "local", 0);
        assert_eq!((oldest.published_us, oldest.from), (None, None));
        let kept = recent.status(&block(10), "gossip", 7);
        assert_eq!(kept.published_us, Some(1_010));
        assert_eq!(kept.from, Some(peer.to_string()));
        assert_eq!((kept.origin.as_str(), kept.received_us), ("gossip", 7));
        // The source is per hash: another block at the same height has none.
        let twin = BlockRef {
            hash: B256::repeat_byte(0xee),
            ..block(10)
        };
        assert_eq!(recent.status(&twin, "sync", 0).from, None);
    }
}
