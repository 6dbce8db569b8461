//! Block-hash recomputation from a payload, as op-node's `CheckBlockHash` (spec §12.2).
//!
//! The header is alloy's, so its RLP (with the optional trailing fields in geth order) and
//! keccak are alloy's too; the transactions root is `alloy-trie`'s ordered root over the opaque
//! transaction bytes, which never decodes a transaction.

use alloy_consensus::{
    Header, constants::EMPTY_OMMER_ROOT_HASH, proofs::calculate_withdrawals_root,
};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{B64, B256, Bytes, U256};
use alloy_trie::root::ordered_trie_root_with_encoder;

use crate::{
    error::BlockHashError,
    payload::{ExecutionPayload, ExecutionPayloadEnvelope},
};

/// The transactions root: the Merkle-Patricia root of `rlp(index) → raw tx bytes`.
pub fn transactions_root(transactions: &[Bytes]) -> B256 {
    ordered_trie_root_with_encoder(transactions, |tx, buf| buf.extend_from_slice(tx))
}

impl ExecutionPayloadEnvelope {
    /// Rebuilds the block header this payload commits to, with `transactions_root` supplied by
    /// the caller (so it can be computed elsewhere, e.g. on another core).
    pub fn header_with_transactions_root(
        &self,
        transactions_root: B256,
    ) -> Result<Header, BlockHashError> {
        let p: &ExecutionPayload = &self.execution_payload;
        let base_fee: u64 = p
            .base_fee_per_gas
            .try_into()
            .map_err(|_| BlockHashError::BaseFeeOverflow)?;
        // V4 carries the root; V2/V3 derive it from the (empty) list; V1 has none.
        let withdrawals_root = p
            .withdrawals_root
            .or_else(|| p.withdrawals.as_deref().map(calculate_withdrawals_root));
        Ok(Header {
            parent_hash: p.parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: p.fee_recipient,
            state_root: p.state_root,
            transactions_root,
            receipts_root: p.receipts_root,
            logs_bloom: p.logs_bloom,
            difficulty: U256::ZERO,
            number: p.block_number,
            gas_limit: p.gas_limit,
            gas_used: p.gas_used,
            timestamp: p.timestamp,
            extra_data: p.extra_data.clone(),
            mix_hash: p.prev_randao,
            nonce: B64::ZERO,
            base_fee_per_gas: Some(base_fee),
            withdrawals_root,
            blob_gas_used: p.blob_gas_used,
            excess_blob_gas: p.excess_blob_gas,
            parent_beacon_block_root: self.parent_beacon_block_root,
            // Isthmus: op-node sets the empty requests hash exactly when the payload carries a
            // withdrawals root.
            requests_hash: p.withdrawals_root.map(|_| EMPTY_REQUESTS_HASH),
            ..Default::default()
        })
    }

    /// Rebuilds the block header this payload commits to.
    pub fn header(&self) -> Result<Header, BlockHashError> {
        self.header_with_transactions_root(transactions_root(&self.execution_payload.transactions))
    }

    /// keccak256 of the RLP header rebuilt from the payload.
    pub fn compute_block_hash(&self) -> Result<B256, BlockHashError> {
        Ok(self.header()?.hash_slow())
    }

    /// Checks that the payload's `blockHash` is the hash of its header, given its transactions
    /// root.
    pub fn check_block_hash_with_transactions_root(
        &self,
        transactions_root: B256,
    ) -> Result<(), BlockHashError> {
        let computed = self
            .header_with_transactions_root(transactions_root)?
            .hash_slow();
        let claimed = self.execution_payload.block_hash;
        if computed == claimed {
            Ok(())
        } else {
            Err(BlockHashError::Mismatch { claimed, computed })
        }
    }

    /// Checks that the payload's `blockHash` is the hash of its header.
    pub fn check_block_hash(&self) -> Result<(), BlockHashError> {
        self.check_block_hash_with_transactions_root(transactions_root(
            &self.execution_payload.transactions,
        ))
    }
}
