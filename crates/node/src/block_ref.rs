//! [`BlockRef`]: an L2 block as the node's chain logic refers to it (op-node's `eth.L2BlockRef`,
//! the fields P2P reads).

use op_p2p_types::{B256, ExecutionPayloadEnvelope};

/// A block by number, hash, parent and time: the unsafe head, or the ends of a gap to fill.
///
/// The same four fields as the sync crate's `BlockRef`, so handing a range to the sync client
/// is a field-by-field copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct BlockRef {
    /// Block number.
    pub(crate) number: u64,
    /// Block hash.
    pub(crate) hash: B256,
    /// Parent block hash.
    pub(crate) parent_hash: B256,
    /// Block timestamp, unix seconds.
    pub(crate) timestamp: u64,
}

impl BlockRef {
    /// The reference of a payload's block.
    pub(crate) fn of(envelope: &ExecutionPayloadEnvelope) -> Self {
        let p = &envelope.execution_payload;
        Self {
            number: p.block_number,
            hash: p.block_hash,
            parent_hash: p.parent_hash,
            timestamp: p.timestamp,
        }
    }
}
