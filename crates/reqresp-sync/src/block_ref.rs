//! The block references a range request is made of (op-node's `eth.L2BlockRef`, the fields the
//! sync client reads).

use op_p2p_types::B256;

/// An L2 block as the driver knows it: the unsafe head (a range's start) or the lowest payload
/// waiting in the unsafe queue (a range's end, whose hash and parent hash become trusted).
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
