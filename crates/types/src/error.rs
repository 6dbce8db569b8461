//! Every way the bytes of a message, payload or response can be wrong.
//!
//! One enum per layer, so a caller (the gossip validator, the sync client) can map each variant
//! to op-node's outcome (reject, ignore, result code) without parsing strings.

use alloy_primitives::B256;

/// An SSZ `ExecutionPayload` or envelope that does not decode (spec §12.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SszError {
    /// Fewer bytes than the fixed part of this payload version.
    #[error("payload is {len} bytes, shorter than the {fixed}-byte fixed part")]
    TooShort {
        /// Bytes available.
        len: usize,
        /// Fixed-part size of the version being decoded.
        fixed: usize,
    },
    /// The v3/v4 envelope is shorter than its 32-byte parent beacon block root.
    #[error("envelope is {len} bytes, shorter than the 32-byte parent beacon block root")]
    EnvelopeTooShort {
        /// Bytes available.
        len: usize,
    },
    /// A container offset is out of order, out of range, or the extraData offset is not the
    /// fixed size.
    #[error("invalid container offset: {0}")]
    Offset(String),
    /// `extraData` is longer than 32 bytes.
    #[error("extraData is {0} bytes, more than 32")]
    ExtraDataTooLong(usize),
    /// The transactions section's offset table is malformed.
    #[error("invalid transactions offset table: {0}")]
    TransactionOffsets(String),
    /// More than 2^20 transactions.
    #[error("{0} transactions, more than 2^20")]
    TooManyTransactions(usize),
    /// The withdrawals section is not a whole number of 44-byte entries.
    #[error("withdrawals section of {0} bytes is not a multiple of 44")]
    WithdrawalsLength(usize),
    /// More than 16 withdrawals.
    #[error("{0} withdrawals, more than 16")]
    TooManyWithdrawals(usize),
}

impl From<ssz::DecodeError> for SszError {
    // `ssz::DecodeError` implements neither `Display` nor `Error`, so it is kept as text.
    fn from(e: ssz::DecodeError) -> Self {
        Self::Offset(format!("{e:?}"))
    }
}

/// A gossip message (`pubsub.Message.data`) that fails the size and snappy checks (spec §2,
/// steps 1–4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipDecodeError {
    /// The snappy block header (the decoded-length varint) is invalid.
    #[error("invalid snappy length header: {0}")]
    SnappyHeader(snap::Error),
    /// The declared decoded length exceeds the 10 MiB cap; nothing was allocated.
    #[error("declared decoded length {0} exceeds the 10 MiB cap")]
    TooLarge(usize),
    /// The decoded length is below the 66-byte minimum (signature plus one byte).
    #[error("decoded length {0} is below the 66-byte minimum")]
    TooSmall(usize),
    /// The snappy block body is corrupt.
    #[error("invalid snappy data: {0}")]
    Snappy(snap::Error),
}

/// A signature that recovers to no public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The recovery byte is not 0 or 1 (op-node passes it to geth's `SigToPub` unchanged, so
    /// Ethereum-style 27/28 is invalid).
    #[error("invalid recovery id {0}, expected 0 or 1")]
    InvalidRecoveryId(u8),
    /// `r`/`s` are not a valid signature, or no key recovers from them for this hash.
    #[error("signature does not recover a public key")]
    Unrecoverable,
}

/// A payload whose recomputed block hash does not match (spec §12.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockHashError {
    /// The header hash recomputed from the payload differs from `blockHash`.
    #[error("block hash mismatch: payload says {claimed}, header hashes to {computed}")]
    Mismatch {
        /// `blockHash` as carried in the payload.
        claimed: B256,
        /// keccak256 of the RLP header rebuilt from the payload.
        computed: B256,
    },
    /// `baseFeePerGas` does not fit in 64 bits, so no header we can build hashes to it.
    ///
    /// geth's header holds a big integer here; alloy's holds a `u64`. No OP Stack chain can reach
    /// such a base fee (it would make every transaction cost more than all ether in existence),
    /// so the payload is treated as having a wrong block hash.
    #[error("baseFeePerGas does not fit in 64 bits")]
    BaseFeeOverflow,
}

/// A `payload_by_number` response that the client must treat as a failed request (spec §4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The stream ended before the result byte.
    #[error("response is empty")]
    Empty,
    /// The server answered with a non-zero result code.
    #[error("server returned result code {0}")]
    ResultCode(u8),
    /// The stream ended inside the 4-byte version.
    #[error("response ends inside the version field")]
    TruncatedVersion,
    /// A version other than 0 or 1 (op-node never sends the spec's version 2).
    #[error("unrecognized response version {0}")]
    UnknownVersion(u32),
    /// More raw bytes than the 10 MiB cap.
    #[error("response body exceeds the {0}-byte raw cap")]
    RawTooLarge(usize),
    /// The snappy framed body decodes to more than the 10 MiB cap.
    #[error("response body decodes to more than the {0}-byte cap")]
    DecodedTooLarge(usize),
    /// The snappy framed body is corrupt (bad stream identifier, chunk, CRC or truncation).
    #[error("invalid snappy framed body: {0}")]
    Framing(String),
    /// The requested block number has no computable timestamp (before genesis or overflow),
    /// so the payload version cannot be chosen.
    #[error("block {0} has no timestamp in the rollup schedule")]
    NoTimestamp(u64),
    /// The body is not a valid payload for the version.
    #[error(transparent)]
    Ssz(#[from] SszError),
    /// The payload is not the block that was requested.
    #[error("requested block {requested}, got {got}")]
    WrongNumber {
        /// The number in the request.
        requested: u64,
        /// The number in the payload.
        got: u64,
    },
    /// The payload's block hash does not recompute.
    #[error(transparent)]
    BlockHash(#[from] BlockHashError),
}

/// A string that is not a blocks topic of this network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not of the form `/optimism/<chain id>/<0..3>/blocks`.
    #[error("not a blocks topic: {0:?}")]
    Malformed(String),
}

/// A rollup config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RollupConfigError {
    /// The JSON does not parse or lacks a required field.
    #[error("invalid rollup config: {0}")]
    Json(#[from] serde_json::Error),
    /// `block_time` is zero.
    #[error("block_time must be positive")]
    ZeroBlockTime,
    /// `l2_chain_id` is zero.
    #[error("l2_chain_id must be positive")]
    ZeroChainId,
}

/// A secret key that is not a valid secp256k1 scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid secp256k1 secret key")]
pub struct InvalidSecretKey;
