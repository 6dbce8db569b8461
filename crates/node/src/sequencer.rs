//! Sequencer mode: a block every block time, chained by parent hash onto the unsafe head, with
//! a correct block hash, in the payload version the rollup schedule gives its timestamp.
//!
//! There is no execution engine behind this node, so the blocks are synthetic: roots derived from
//! the number, and as the first transaction a real L1-info deposit for a synthetic L1 origin
//! ([`crate::l1_info`]), so OP clients can read each block's L1 origin and sequence number.
//! Everything P2P checks is real: the layout per fork (withdrawals from Canyon, blob gas and the
//! parent beacon root from Ecotone, the withdrawals root from Isthmus, Holocene's extra data), the
//! block hash over the header, the signature, the timestamp. A block's timestamp is the rollup's
//! `TimestampForBlock`, and it is built when the wall clock reaches it.

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use op_p2p_types::{
    BlockHashError, ExecutionPayload, ExecutionPayloadEnvelope, Hardfork, PayloadVersion,
    RollupConfig,
};

use crate::{
    l1_info::{l1_info_deposit, synthetic_l1_info},
    user_transactions::user_transactions,
};
use op_p2p_types::BlockRef;

/// op-node's fee recipient for sequenced blocks: the `SequencerFeeVault` predeploy.
pub(crate) const SEQUENCER_FEE_VAULT: Address =
    address!("0x4200000000000000000000000000000000000011");
/// Gas limit of synthetic blocks (the OP Stack devnet default).
pub(crate) const GAS_LIMIT: u64 = 30_000_000;
/// Gas a synthetic block counts as used: its L1-info deposit's gas limit.
pub(crate) const DEPOSIT_GAS: u64 = crate::l1_info::REGOLITH_SYSTEM_TX_GAS;
/// Base fee of synthetic blocks, wei.
pub(crate) const BASE_FEE: u64 = 1_000_000_000;
/// Holocene's EIP-1559 parameters in `extraData`: denominator and elasticity (OP mainnet's).
pub(crate) const HOLOCENE_EIP1559: (u32, u32) = (250, 6);

/// A synthetic value for block `number` under `label`, so roots differ per block.
fn derived(label: &[u8], number: u64) -> B256 {
    let mut preimage = Vec::with_capacity(label.len() + 8);
    preimage.extend_from_slice(label);
    preimage.extend_from_slice(&number.to_be_bytes());
    keccak256(preimage)
}

/// The storage root of the `L2ToL1MessagePasser` in synthetic Isthmus blocks. Not the empty
/// trie root: op-node encodes a payload with that root as V3, a quirk no real chain hits.
pub(crate) fn message_passer_root() -> B256 {
    keccak256(b"op-p2p synthetic L2ToL1MessagePasser storage root")
}

/// [`build_loaded_payload`] without user transactions: the tests' block builder.
#[cfg(test)]
pub(crate) fn build_payload(
    rollup: &RollupConfig,
    parent: &BlockRef,
) -> Option<Result<ExecutionPayloadEnvelope, BlockHashError>> {
    build_loaded_payload(rollup, parent, 0)
}

/// Builds the block after `parent`: `None` if its timestamp overflows. Its first transaction is
/// the L1-info deposit for its synthetic L1 origin; about `user_bytes` of synthetic user
/// transactions follow (`--sequencer.block-bytes`), within the block's gas limit.
pub(crate) fn build_loaded_payload(
    rollup: &RollupConfig,
    parent: &BlockRef,
    user_bytes: usize,
) -> Option<Result<ExecutionPayloadEnvelope, BlockHashError>> {
    let number = parent.number.checked_add(1)?;
    let timestamp = rollup.timestamp_for_block(number)?;
    let mut transactions = vec![l1_info_deposit(
        rollup,
        &synthetic_l1_info(rollup, timestamp),
        timestamp,
    )];
    let (users, gas) = user_transactions(
        rollup.l2_chain_id,
        number,
        user_bytes,
        GAS_LIMIT - DEPOSIT_GAS,
    );
    transactions.extend(users);
    Some(assemble(
        rollup,
        parent.hash,
        number,
        timestamp,
        transactions,
        DEPOSIT_GAS + gas,
    ))
}

/// The L2 genesis block of a synthetic chain: the layout of its genesis time, no parent and no
/// transactions (an OP Stack genesis block has none). The devnet makes its hash the rollup
/// config's `genesis.l2.hash`, so its nodes can store and serve it.
pub(crate) fn genesis_payload(
    rollup: &RollupConfig,
) -> Result<ExecutionPayloadEnvelope, BlockHashError> {
    let genesis = rollup.genesis;
    assemble(
        rollup,
        B256::ZERO,
        genesis.l2.number,
        genesis.l2_time,
        Vec::new(),
        0,
    )
}

/// A synthetic block with these contents, in the layout its timestamp's fork gives it, with its
/// block hash.
fn assemble(
    rollup: &RollupConfig,
    parent_hash: B256,
    number: u64,
    timestamp: u64,
    transactions: Vec<Bytes>,
    gas_used: u64,
) -> Result<ExecutionPayloadEnvelope, BlockHashError> {
    let version = rollup.payload_version(timestamp);
    let extra_data = if rollup.is_active(Hardfork::Holocene, timestamp) {
        let (denominator, elasticity) = HOLOCENE_EIP1559;
        let mut extra = vec![0u8];
        extra.extend_from_slice(&denominator.to_be_bytes());
        extra.extend_from_slice(&elasticity.to_be_bytes());
        Bytes::from(extra)
    } else {
        Bytes::new()
    };
    let v2 = version >= PayloadVersion::V2;
    let v3 = version >= PayloadVersion::V3;
    let mut envelope = ExecutionPayloadEnvelope {
        parent_beacon_block_root: v3.then(|| derived(b"op-p2p beacon root", number)),
        execution_payload: ExecutionPayload {
            parent_hash,
            fee_recipient: SEQUENCER_FEE_VAULT,
            state_root: derived(b"op-p2p state root", number),
            receipts_root: derived(b"op-p2p receipts root", number),
            logs_bloom: Default::default(),
            prev_randao: derived(b"op-p2p randao", number),
            block_number: number,
            gas_limit: GAS_LIMIT,
            gas_used,
            timestamp,
            extra_data,
            base_fee_per_gas: U256::from(BASE_FEE),
            block_hash: B256::ZERO,
            transactions,
            withdrawals: v2.then(Vec::new),
            blob_gas_used: v3.then_some(0),
            excess_blob_gas: v3.then_some(0),
            withdrawals_root: (version == PayloadVersion::V4).then(message_passer_root),
        },
    };
    envelope.compute_block_hash().map(|hash| {
        envelope.execution_payload.block_hash = hash;
        envelope
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use op_p2p_gossip::{Outcome, UnsafeBlockSigner, Validator};
    use op_p2p_types::{BlockSigner, SignedBlockMessage};

    use super::*;

    fn rollup(isthmus: Option<u64>) -> RollupConfig {
        RollupConfig {
            block_time: 2,
            l2_chain_id: 901,
            genesis: op_p2p_types::Genesis {
                l2: op_p2p_types::GenesisBlock { number: 0 },
                l2_time: 1_000,
            },
            regolith_time: Some(0),
            canyon_time: Some(0),
            delta_time: Some(0),
            ecotone_time: Some(1_004),
            fjord_time: Some(1_004),
            granite_time: Some(1_004),
            holocene_time: Some(1_004),
            isthmus_time: isthmus,
            ..Default::default()
        }
    }

    fn genesis() -> BlockRef {
        BlockRef {
            number: 0,
            hash: B256::repeat_byte(9),
            parent_hash: B256::ZERO,
            timestamp: 1_000,
        }
    }

    #[test]
    fn blocks_chain_and_follow_the_fork_schedule() {
        let rollup = rollup(Some(1_006));
        let mut parent = genesis();
        let mut versions = Vec::new();
        for _ in 0..4 {
            let block = build_payload(&rollup, &parent).unwrap().unwrap();
            block.check_block_hash().unwrap();
            let p = &block.execution_payload;
            assert_eq!(p.parent_hash, parent.hash);
            assert_eq!(p.block_number, parent.number + 1);
            assert_eq!(
                Some(p.timestamp),
                rollup.timestamp_for_block(p.block_number)
            );
            assert_eq!(block.version(), rollup.payload_version(p.timestamp));
            versions.push(block.version());
            parent = BlockRef::of(&block);
        }
        use PayloadVersion::*;
        assert_eq!(versions, [V2, V3, V4, V4]);
    }

    #[test]
    fn gossip_validation_accepts_a_signed_block() {
        let rollup = rollup(Some(0));
        let key = BlockSigner::new(B256::repeat_byte(1)).unwrap();
        let block = build_payload(&rollup, &genesis()).unwrap().unwrap();
        assert_eq!(block.version(), PayloadVersion::V4);
        let validator = Validator::new(
            rollup.clone(),
            UnsafeBlockSigner::new(key.address()),
            Duration::from_secs(60),
        );
        let data = SignedBlockMessage::sign(&key, rollup.l2_chain_id, &block).encode();
        let now = block.execution_payload.timestamp;
        let verdict = validator.validate_message(PayloadVersion::V4, &data, now);
        assert_eq!(verdict.outcome(), Outcome::Accept, "{:?}", verdict.reason);
    }

    #[test]
    fn the_first_transaction_is_the_l1_info_deposit_of_the_block() {
        let rollup = rollup(Some(1_006));
        let block = build_payload(&rollup, &genesis()).unwrap().unwrap();
        let t = block.execution_payload.timestamp;
        assert_eq!(
            block.execution_payload.transactions,
            [l1_info_deposit(&rollup, &synthetic_l1_info(&rollup, t), t)]
        );
        let next = build_payload(&rollup, &BlockRef::of(&block))
            .unwrap()
            .unwrap();
        assert_ne!(
            block.execution_payload.transactions,
            next.execution_payload.transactions
        );
    }

    #[test]
    fn a_loaded_block_carries_user_transactions_after_the_deposit() {
        let rollup = rollup(Some(0));
        let plain = build_payload(&rollup, &genesis()).unwrap().unwrap();
        let loaded = build_loaded_payload(&rollup, &genesis(), 120_000)
            .unwrap()
            .unwrap();
        loaded.check_block_hash().unwrap();
        let (p, l) = (&plain.execution_payload, &loaded.execution_payload);
        assert_eq!(l.transactions[0], p.transactions[0]);
        let user_bytes: usize = l.transactions[1..].iter().map(|tx| tx.len()).sum();
        assert!(user_bytes >= 120_000, "{user_bytes}");
        assert!(l.gas_used > p.gas_used && l.gas_used <= GAS_LIMIT);
        assert!(l.transactions[1..].iter().all(|tx| tx[0] == 0x02));
        // It still passes gossip validation at its size.
        let key = BlockSigner::new(B256::repeat_byte(1)).unwrap();
        let validator = Validator::new(
            rollup.clone(),
            UnsafeBlockSigner::new(key.address()),
            Duration::from_secs(60),
        );
        let data = SignedBlockMessage::sign(&key, rollup.l2_chain_id, &loaded).encode();
        let verdict = validator.validate_message(PayloadVersion::V4, &data, l.timestamp);
        assert_eq!(verdict.outcome(), Outcome::Accept, "{:?}", verdict.reason);
    }

    #[test]
    fn the_genesis_payload_is_block_zero_without_transactions() {
        let rollup = rollup(Some(0));
        let genesis = genesis_payload(&rollup).unwrap();
        genesis.check_block_hash().unwrap();
        let p = &genesis.execution_payload;
        assert_eq!((p.block_number, p.timestamp), (0, 1_000));
        assert_eq!(p.parent_hash, B256::ZERO);
        assert!(p.transactions.is_empty());
        assert_eq!(genesis.version(), PayloadVersion::V4);
        // Block 1 built on it links to it.
        let one = build_payload(&rollup, &BlockRef::of(&genesis))
            .unwrap()
            .unwrap();
        assert_eq!(one.execution_payload.parent_hash, p.block_hash);
        // Deterministic: every node rebuilds the same genesis.
        assert_eq!(genesis_payload(&rollup).unwrap(), genesis);
    }
}
