//! Builders shared by the validator and pipeline tests.

use std::time::Duration;

use op_p2p_gossip::{
    UnsafeBlockSigner, Validator,
    test_utils::{CHAIN_ID, rollup, sequencer},
};
use op_p2p_types::{
    B256, BlockSigner, ExecutionPayloadEnvelope, PayloadVersion, SignedBlockMessage,
};

/// A validator for the test chain expecting the test sequencer, with op-node's 60 s threshold.
pub(crate) fn validator() -> Validator {
    Validator::new(
        rollup(),
        UnsafeBlockSigner::new(sequencer().address()),
        Duration::from_secs(60),
    )
}

/// The gossip data of `envelope` signed by the test sequencer.
pub(crate) fn signed(envelope: &ExecutionPayloadEnvelope) -> Vec<u8> {
    signed_by(&sequencer(), envelope)
}

/// The gossip data of `envelope` signed by `key`.
pub(crate) fn signed_by(key: &BlockSigner, envelope: &ExecutionPayloadEnvelope) -> Vec<u8> {
    SignedBlockMessage::sign(key, CHAIN_ID, envelope).encode()
}

/// Recomputes the block hash after an edit.
pub(crate) fn rehash(mut envelope: ExecutionPayloadEnvelope) -> ExecutionPayloadEnvelope {
    envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
    envelope
}

/// A small valid block of `version` (fields the version lacks are `None`).
pub(crate) fn block_of(
    version: PayloadVersion,
    number: u64,
    timestamp: u64,
) -> ExecutionPayloadEnvelope {
    let mut envelope = op_p2p_gossip::test_utils::block(number, timestamp, 1);
    let p = &mut envelope.execution_payload;
    if version < PayloadVersion::V4 {
        p.withdrawals_root = None;
    }
    if version < PayloadVersion::V3 {
        p.blob_gas_used = None;
        p.excess_blob_gas = None;
        envelope.parent_beacon_block_root = None;
    }
    if version < PayloadVersion::V2 {
        envelope.execution_payload.withdrawals = None;
    }
    let envelope = rehash(envelope);
    assert_eq!(envelope.version(), version);
    envelope
}

/// The same message with the signature's `s` replaced by `n - s` and the recovery id flipped:
/// different bytes, same signer (op-node performs no low-s check).
pub(crate) fn malleate(data: &[u8]) -> Vec<u8> {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let message = SignedBlockMessage::decode(data).unwrap();
    let mut signature = *message.signature();
    let s = op_p2p_types::U256::from_be_slice(&signature[32..64]);
    let n = op_p2p_types::U256::from_be_bytes(N);
    signature[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    signature[64] ^= 1;
    SignedBlockMessage::new(&signature, &message.signed_bytes()).encode()
}

/// A key other than the sequencer's.
pub(crate) fn other_key() -> BlockSigner {
    BlockSigner::new(B256::repeat_byte(2)).unwrap()
}
