//! What the sync behaviour reports to the swarm's owner.

use libp2p_identity::PeerId;
use op_p2p_types::{B256, ResultCode};

use crate::error::RequestFailure;

/// An event of [`Behaviour`](crate::Behaviour). None needs an answer: the behaviour has already
/// acted (scored the peer, queued the payload); these are for logs, metrics and tests.
#[derive(Debug)]
pub enum Event {
    /// Server: an inbound request was answered with `code` (handed to the stream for writing).
    Served {
        /// The requesting peer.
        peer: PeerId,
        /// The requested number; `None` if the request was malformed.
        number: Option<u64>,
        /// The result code of the answer.
        code: ResultCode,
    },
    /// Client: one of our requests finished. On success the verified payload (with this block
    /// hash) is in quarantine or on its way to the sink.
    Response {
        /// The peer asked.
        peer: PeerId,
        /// The requested number.
        number: u64,
        /// The payload's block hash, or why the request failed.
        result: Result<B256, RequestFailure>,
    },
    /// Client: a peer did not have a block (code 1), so the range request it belonged to was
    /// cancelled: its queued numbers were dropped. The peer is not penalised.
    RangeCancelled {
        /// The peer that answered "not found".
        peer: PeerId,
        /// The number it did not have.
        number: u64,
    },
    /// Client: a connected peer does not serve payload_by_number (its identify protocols lack
    /// the id, or it refused the protocol when asked). It is not asked while connected, and
    /// not scored for it (a departure from op-node; see the crate docs).
    NotServing {
        /// The peer.
        peer: PeerId,
    },
    /// Client: a payload linked by parent hash to a trusted block left quarantine for the sink.
    Promoted {
        /// The peer that served it.
        peer: PeerId,
        /// Its number.
        number: u64,
        /// Its block hash.
        hash: B256,
    },
    /// Client: a payload left quarantine without ever being trusted (it conflicts with the
    /// trusted chain, or was evicted); its peer was scored with a rejected payload.
    Rejected {
        /// The peer that served it.
        peer: PeerId,
        /// Its number.
        number: u64,
        /// Its block hash.
        hash: B256,
    },
}
