//! [`BlockRef`]: an L2 block by number, hash, parent and time (op-node's `eth.L2BlockRef`, the
//! fields P2P reads).

use crate::{B256, ExecutionPayloadEnvelope};

/// An L2 block as chain logic refers to it: the unsafe head (a sync range's start), the lowest
/// payload waiting in the unsafe queue (a range's end, whose hash and parent hash become
/// trusted), or a sequencer's parent block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Parent block hash.
    pub parent_hash: B256,
    /// Block timestamp (unix seconds).
    pub timestamp: u64,
}

impl BlockRef {
    /// The reference of a payload's block.
    pub fn of(envelope: &ExecutionPayloadEnvelope) -> Self {
        let p = &envelope.execution_payload;
        Self {
            number: p.block_number,
            hash: p.block_hash,
            parent_hash: p.parent_hash,
            timestamp: p.timestamp,
        }
    }
}
