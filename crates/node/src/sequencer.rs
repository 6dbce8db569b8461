//! Sequencer mode: a block every block time, chained by parent hash onto the unsafe head, with
//! a correct block hash, in the payload version the rollup schedule gives its timestamp.
//!
//! There is no execution engine behind this node, so the blocks are synthetic: one deposit-like
//! transaction carrying the block number, and roots derived from the number. Everything P2P
//! checks is real: the layout per fork (withdrawals from Canyon, blob gas and the parent beacon
//! root from Ecotone, the withdrawals root from Isthmus, Holocene's extra data), the block hash
//! over the header, the signature, the timestamp. A block's timestamp is the rollup's
//! `TimestampForBlock`, and it is built when the wall clock reaches it.

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_rlp::{Encodable as _, Header};
use op_p2p_types::{
    BlockHashError, ExecutionPayload, ExecutionPayloadEnvelope, Hardfork, PayloadVersion,
    RollupConfig,
};

use op_p2p_types::BlockRef;

/// op-node's fee recipient for sequenced blocks: the `SequencerFeeVault` predeploy.
pub(crate) const SEQUENCER_FEE_VAULT: Address =
    address!("0x4200000000000000000000000000000000000011");
/// The depositor account of L1-info deposits.
pub(crate) const L1_INFO_DEPOSITOR: Address =
    address!("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");
/// The `L1Block` predeploy, target of L1-info deposits.
pub(crate) const L1_BLOCK_PREDEPLOY: Address =
    address!("0x4200000000000000000000000000000000000015");
/// The EIP-2718 type of OP deposit transactions.
pub(crate) const DEPOSIT_TX_TYPE: u8 = 0x7e;
/// Gas limit of synthetic blocks (the OP Stack devnet default).
pub(crate) const GAS_LIMIT: u64 = 30_000_000;
/// Gas the synthetic deposit is charged.
pub(crate) const DEPOSIT_GAS: u64 = 1_000_000;
/// Base fee of synthetic blocks, wei.
pub(crate) const BASE_FEE: u64 = 1_000_000_000;
/// `setL1BlockValuesIsthmus()`, the selector of the Isthmus L1-info deposit.
pub(crate) const L1_INFO_SELECTOR: [u8; 4] = [0x09, 0x89, 0x99, 0xbe];
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

/// A deposit-like transaction for block `number`: `0x7e ++ rlp([sourceHash, from, to, mint,
/// value, gas, isSystemTx, data])`, an L1-info deposit whose data is the selector and the
/// block number.
pub(crate) fn deposit_transaction(number: u64) -> Bytes {
    let source_hash = derived(b"op-p2p deposit", number);
    let mut data = L1_INFO_SELECTOR.to_vec();
    data.extend_from_slice(&U256::from(number).to_be_bytes::<32>());
    let data = Bytes::from(data);
    let mint = 0u128;
    let value = U256::ZERO;
    let is_system = false;
    let payload_length = source_hash.length()
        + L1_INFO_DEPOSITOR.length()
        + L1_BLOCK_PREDEPLOY.length()
        + mint.length()
        + value.length()
        + DEPOSIT_GAS.length()
        + is_system.length()
        + data.length();
    let mut out = vec![DEPOSIT_TX_TYPE];
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    source_hash.encode(&mut out);
    L1_INFO_DEPOSITOR.encode(&mut out);
    L1_BLOCK_PREDEPLOY.encode(&mut out);
    mint.encode(&mut out);
    value.encode(&mut out);
    DEPOSIT_GAS.encode(&mut out);
    is_system.encode(&mut out);
    data.encode(&mut out);
    Bytes::from(out)
}

/// Builds the block after `parent`: `None` if its timestamp overflows.
pub(crate) fn build_payload(
    rollup: &RollupConfig,
    parent: &BlockRef,
) -> Option<Result<ExecutionPayloadEnvelope, BlockHashError>> {
    let number = parent.number.checked_add(1)?;
    let timestamp = rollup.timestamp_for_block(number)?;
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
            parent_hash: parent.hash,
            fee_recipient: SEQUENCER_FEE_VAULT,
            state_root: derived(b"op-p2p state root", number),
            receipts_root: derived(b"op-p2p receipts root", number),
            logs_bloom: Default::default(),
            prev_randao: derived(b"op-p2p randao", number),
            block_number: number,
            gas_limit: GAS_LIMIT,
            gas_used: DEPOSIT_GAS,
            timestamp,
            extra_data,
            base_fee_per_gas: U256::from(BASE_FEE),
            block_hash: B256::ZERO,
            transactions: vec![deposit_transaction(number)],
            withdrawals: v2.then(Vec::new),
            blob_gas_used: v3.then_some(0),
            excess_blob_gas: v3.then_some(0),
            withdrawals_root: (version == PayloadVersion::V4).then(message_passer_root),
        },
    };
    Some(envelope.compute_block_hash().map(|hash| {
        envelope.execution_payload.block_hash = hash;
        envelope
    }))
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
    fn the_deposit_is_typed_rlp() {
        let tx = deposit_transaction(7);
        assert_eq!(tx[0], DEPOSIT_TX_TYPE);
        let mut rest = &tx[1..];
        let header = Header::decode(&mut rest).unwrap();
        assert!(header.list);
        assert_eq!(header.payload_length, rest.len());
        assert_ne!(tx, deposit_transaction(8));
    }
}
