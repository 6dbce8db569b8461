//! Execution payloads V1–V4 and the v3/v4 envelope, as carried on the blocks topics.

use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};

/// The most bytes `extraData` may hold.
pub const MAX_EXTRA_DATA_BYTES: usize = 32;
/// The most transactions one payload may hold (op-node's `maxTransactionsPerPayload`).
pub const MAX_TRANSACTIONS_PER_PAYLOAD: usize = 1 << 20;
/// The most withdrawals one payload may hold (op-node's `maxWithdrawalsPerPayload`).
pub const MAX_WITHDRAWALS_PER_PAYLOAD: usize = 16;
/// SSZ size of one withdrawal: index u64, validator index u64, address, amount u64.
pub const WITHDRAWAL_SSZ_LEN: usize = 44;

/// Which `ExecutionPayload` layout a message uses. There is one blocks topic per version.
///
/// | version | forks | topic index | fixed part |
/// |---|---|---|---|
/// | V1 | Bedrock, Regolith | 0 | 508 |
/// | V2 | Canyon, Delta | 1 | 512 |
/// | V3 | Ecotone … Holocene | 2 | 528 |
/// | V4 | Isthmus, Jovian | 3 | 560 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayloadVersion {
    /// Bedrock: no withdrawals.
    V1 = 1,
    /// Canyon: adds the (always empty) withdrawals list.
    V2 = 2,
    /// Ecotone: adds blob gas fields; travels in an envelope with the parent beacon block root.
    V3 = 3,
    /// Isthmus: adds the L2ToL1MessagePasser storage root as `withdrawalsRoot`.
    V4 = 4,
}

impl PayloadVersion {
    /// All versions, oldest first.
    pub const ALL: [Self; 4] = [Self::V1, Self::V2, Self::V3, Self::V4];

    /// Size of the SSZ fixed part of this layout.
    pub const fn ssz_fixed_len(self) -> usize {
        match self {
            Self::V1 => 508,
            Self::V2 => 512,
            Self::V3 => 528,
            Self::V4 => 560,
        }
    }

    /// Whether the payload is preceded by a 32-byte parent beacon block root (v3/v4).
    pub const fn has_parent_beacon_root(self) -> bool {
        matches!(self, Self::V3 | Self::V4)
    }

    /// The `<n>` in `/optimism/<chain id>/<n>/blocks`.
    pub const fn topic_index(self) -> u8 {
        self as u8 - 1
    }

    /// The version whose topic index is `index`, if any.
    pub const fn from_topic_index(index: u8) -> Option<Self> {
        match index {
            0 => Some(Self::V1),
            1 => Some(Self::V2),
            2 => Some(Self::V3),
            3 => Some(Self::V4),
            _ => None,
        }
    }
}

/// An execution payload of any version, shaped like op-node's `eth.ExecutionPayload`: the fields a
/// version lacks are `None`, so validation rules such as "v2+ must carry withdrawals" can be
/// stated on the decoded value.
///
/// Transactions are opaque EIP-2718 bytes. A decoded payload's transactions and `extraData` are
/// zero-copy slices of the message buffer they were decoded from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutionPayload {
    /// Hash of the parent block.
    pub parent_hash: B256,
    /// The block's coinbase.
    pub fee_recipient: Address,
    /// State root after the block.
    pub state_root: B256,
    /// Receipts root of the block.
    pub receipts_root: B256,
    /// Bloom filter of the block's logs.
    pub logs_bloom: Bloom,
    /// The header's `mixHash`.
    pub prev_randao: B256,
    /// Block number.
    pub block_number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Unix timestamp in seconds.
    pub timestamp: u64,
    /// Extra data, at most 32 bytes.
    pub extra_data: Bytes,
    /// Base fee per gas.
    pub base_fee_per_gas: U256,
    /// The block hash the header must hash to.
    pub block_hash: B256,
    /// Opaque EIP-2718 encoded transactions.
    pub transactions: Vec<Bytes>,
    /// Withdrawals (V2+; always empty on OP Stack chains).
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// Blob gas used (V3+). From Jovian on it carries the DA footprint.
    pub blob_gas_used: Option<u64>,
    /// Excess blob gas (V3+, always zero on OP Stack chains).
    pub excess_blob_gas: Option<u64>,
    /// Storage root of the L2ToL1MessagePasser (V4).
    pub withdrawals_root: Option<B256>,
}

impl ExecutionPayload {
    /// The layout this payload encodes to, inferred from the fields it has, as op-node does.
    ///
    /// Decision: op-node encodes a payload whose `withdrawalsRoot` is the empty-trie root as V3,
    /// a quirk the Isthmus spec says cannot arise. We always encode a set `withdrawals_root` as
    /// V4, so an encoded payload decodes back to the same value.
    pub const fn version(&self) -> PayloadVersion {
        if self.withdrawals_root.is_some() {
            PayloadVersion::V4
        } else if self.blob_gas_used.is_some() && self.excess_blob_gas.is_some() {
            PayloadVersion::V3
        } else if self.withdrawals.is_some() {
            PayloadVersion::V2
        } else {
            PayloadVersion::V1
        }
    }
}

/// A payload with the parent beacon block root that v3/v4 carry in front of it (op-node's
/// `eth.ExecutionPayloadEnvelope`). The root is `None` for v1/v2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutionPayloadEnvelope {
    /// The parent beacon block root (v3/v4).
    pub parent_beacon_block_root: Option<B256>,
    /// The payload.
    pub execution_payload: ExecutionPayload,
}

impl ExecutionPayloadEnvelope {
    /// The layout this envelope encodes to; see [`ExecutionPayload::version`].
    pub const fn version(&self) -> PayloadVersion {
        self.execution_payload.version()
    }
}
