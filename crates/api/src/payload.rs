//! [`UnsafePayload`]: a block a peer gave us, as gossip and sync both hand it to the application.

use libp2p_identity::PeerId;
use op_p2p_types::{BlockRef, ExecutionPayloadEnvelope};

/// An unsafe L2 block received from the network and accepted: by the gossip validator, or by the
/// sync client once its hash chain reached a trusted block.
///
/// `peer` is the peer that delivered it to us (the gossip forwarder, or the sync server), not
/// necessarily its author: the author is the sequencer whose signature gossip checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafePayload {
    /// The peer it came from.
    pub peer: PeerId,
    /// The block.
    pub envelope: ExecutionPayloadEnvelope,
}

impl UnsafePayload {
    /// The block's number, hash, parent and time.
    pub fn block_ref(&self) -> BlockRef {
        BlockRef::of(&self.envelope)
    }
}
