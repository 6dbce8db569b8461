//! For each reject and ignore rule, a message that breaks it, and the exact outcome and reason;
//! then the order in which rules are reported, and the stateful rules.

use std::time::Duration;

use op_p2p_gossip::{
    Outcome, Reason, UnsafeBlockSigner, Validator,
    test_utils::{
        CHAIN_ID, NOW, block, block_with_transactions, realistic_transactions, rollup, sequencer,
    },
};
use op_p2p_types::{
    Address, B256, MAX_GOSSIP_SIZE, PARALLEL_VERIFY_MIN_BYTES, PayloadVersion, SignedBlockMessage,
    Withdrawal,
};

use crate::common::{block_of, malleate, other_key, rehash, signed, signed_by, validator};

const V4: PayloadVersion = PayloadVersion::V4;

fn assert_fails(data: &[u8], version: PayloadVersion, outcome: Outcome, reason: Reason) {
    let verdict = validator().validate_message(version, data, NOW);
    assert_eq!(verdict.reason, Some(reason));
    assert_eq!(verdict.outcome(), outcome, "{reason}");
}

fn assert_accepts(data: &[u8], version: PayloadVersion) {
    let verdict = validator().validate_message(version, data, NOW);
    assert_eq!(verdict.reason, None);
    assert_eq!(verdict.outcome(), Outcome::Accept);
}

/// A snappy block header (uvarint of the decoded length) followed by `body`.
fn snappy_with_header(len: usize, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = len as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(body);
    out
}

#[test]
fn a_valid_block_is_accepted_on_every_version() {
    for version in PayloadVersion::ALL {
        assert_accepts(&signed(&block_of(version, 10, NOW)), version);
    }
}

#[test]
fn rule_1_invalid_snappy_length_is_rejected() {
    // An unterminated varint.
    assert_fails(
        &[0x80; 11],
        V4,
        Outcome::Reject,
        Reason::InvalidSnappyLength,
    );
    assert_fails(&[], V4, Outcome::Reject, Reason::InvalidSnappyLength);
}

#[test]
fn rule_2_too_large_is_rejected_before_decoding() {
    let data = snappy_with_header(MAX_GOSSIP_SIZE + 1, &[0; 16]);
    assert_fails(&data, V4, Outcome::Reject, Reason::TooLarge);
}

#[test]
fn rule_3_too_small_is_rejected() {
    let data = snap::raw::Encoder::new().compress_vec(&[7; 65]).unwrap();
    assert_fails(&data, V4, Outcome::Reject, Reason::TooSmall);
}

#[test]
fn rule_4_corrupt_snappy_is_rejected() {
    // Declares 100 bytes, then a copy referring back before the start of the output.
    let data = snappy_with_header(100, &[0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_fails(&data, V4, Outcome::Reject, Reason::InvalidSnappy);
}

#[test]
fn rule_6_no_signer_is_ignored() {
    let v = Validator::new(
        rollup(),
        UnsafeBlockSigner::default(),
        Duration::from_secs(60),
    );
    let verdict = v.validate_message(V4, &signed(&block(1, NOW, 1)), NOW);
    assert_eq!(verdict.reason, Some(Reason::NoSigner));
    assert_eq!(verdict.outcome(), Outcome::Ignore);
}

#[test]
fn rule_6_unrecoverable_signature_is_rejected() {
    let message = SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &block(1, NOW, 1));
    let mut signature = *message.signature();
    signature[64] = 27; // Ethereum-style v: op-node wants the raw recovery id.
    let data = SignedBlockMessage::new(&signature, &message.signed_bytes()).encode();
    assert_fails(&data, V4, Outcome::Reject, Reason::InvalidSignature);

    let zero = SignedBlockMessage::new(&[0; 65], &message.signed_bytes()).encode();
    assert_fails(&zero, V4, Outcome::Reject, Reason::InvalidSignature);
}

#[test]
fn rule_6_wrong_signer_is_rejected() {
    let data = signed_by(&other_key(), &block(1, NOW, 1));
    let verdict = validator().validate_message(V4, &data, NOW);
    assert_eq!(verdict.reason, Some(Reason::WrongSigner));
    assert_eq!(verdict.outcome(), Outcome::Reject);
    assert_eq!(verdict.signer, Some(other_key().address()));
}

#[test]
fn rule_6_signer_can_be_rotated_at_run_time() {
    let v = validator();
    let data = signed_by(&other_key(), &block(1, NOW, 1));
    assert_eq!(
        v.validate_message(V4, &data, NOW).reason,
        Some(Reason::WrongSigner)
    );
    v.signer().set(other_key().address());
    assert_eq!(v.validate_message(V4, &data, NOW).reason, None);
    let old = signed(&block(2, NOW, 1));
    assert_eq!(
        v.validate_message(V4, &old, NOW).reason,
        Some(Reason::WrongSigner)
    );
}

#[test]
fn rule_7_undecodable_payload_is_rejected_after_the_signature() {
    let garbage = vec![0xab; 300];
    let signature = sequencer().sign_payload(CHAIN_ID, &garbage);
    let data = SignedBlockMessage::new(&signature, &garbage).encode();
    assert_fails(&data, V4, Outcome::Reject, Reason::InvalidPayload);
}

#[test]
fn rule_7_a_block_on_an_older_version_topic_is_rejected() {
    // A V4 body read as V3: the first offset is not V3's fixed size.
    let data = signed(&block(1, NOW, 1));
    assert_fails(
        &data,
        PayloadVersion::V3,
        Outcome::Reject,
        Reason::InvalidPayload,
    );
    // A V3 body read as V4.
    let data = signed(&block_of(PayloadVersion::V3, 1, NOW));
    let verdict = validator().validate_message(V4, &data, NOW);
    assert_eq!(verdict.outcome(), Outcome::Reject, "{:?}", verdict.reason);
}

#[test]
fn rule_8_too_old_is_rejected_and_the_threshold_is_configurable() {
    assert_accepts(&signed(&block(1, NOW - 60, 1)), V4);
    assert_fails(
        &signed(&block(1, NOW - 61, 1)),
        V4,
        Outcome::Reject,
        Reason::TooOld,
    );

    let strict = Validator::new(
        rollup(),
        UnsafeBlockSigner::new(sequencer().address()),
        Duration::from_secs(10),
    );
    let verdict = strict.validate_message(V4, &signed(&block(1, NOW - 11, 1)), NOW);
    assert_eq!(verdict.reason, Some(Reason::TooOld));
}

#[test]
fn rule_9_more_than_5s_in_the_future_is_rejected() {
    assert_accepts(&signed(&block(1, NOW + 5, 1)), V4);
    assert_fails(
        &signed(&block(1, NOW + 6, 1)),
        V4,
        Outcome::Reject,
        Reason::TooNew,
    );
}

#[test]
fn rule_10_wrong_block_hash_is_rejected() {
    let mut b = block(1, NOW, 1);
    b.execution_payload.block_hash = B256::repeat_byte(9);
    assert_fails(&signed(&b), V4, Outcome::Reject, Reason::InvalidBlockHash);
}

#[test]
fn rule_13_withdrawals_are_rejected() {
    for version in [PayloadVersion::V2, PayloadVersion::V3, V4] {
        let mut b = block_of(version, 1, NOW);
        b.execution_payload.withdrawals = Some(vec![Withdrawal {
            index: 1,
            validator_index: 2,
            address: Address::repeat_byte(3),
            amount: 4,
        }]);
        let b = rehash(b);
        assert_fails(
            &signed(&b),
            version,
            Outcome::Reject,
            Reason::NonEmptyWithdrawals,
        );
    }
}

#[test]
fn rule_16_blob_gas_used_is_rejected_before_jovian_and_allowed_after() {
    for version in [PayloadVersion::V3, V4] {
        let mut b = block_of(version, 1, NOW);
        b.execution_payload.blob_gas_used = Some(12_345);
        let data = signed(&rehash(b));
        assert_fails(&data, version, Outcome::Reject, Reason::NonZeroBlobGasUsed);

        let jovian = Validator::new(
            op_p2p_types::RollupConfig {
                jovian_time: Some(NOW),
                ..rollup()
            },
            UnsafeBlockSigner::new(sequencer().address()),
            Duration::from_secs(60),
        );
        assert_eq!(jovian.validate_message(version, &data, NOW).reason, None);
    }
}

#[test]
fn rule_17_excess_blob_gas_is_rejected_even_after_jovian() {
    let mut b = block(1, NOW, 1);
    b.execution_payload.excess_blob_gas = Some(1);
    let data = signed(&rehash(b));
    assert_fails(&data, V4, Outcome::Reject, Reason::NonZeroExcessBlobGas);
    let jovian = Validator::new(
        op_p2p_types::RollupConfig {
            jovian_time: Some(0),
            ..rollup()
        },
        UnsafeBlockSigner::new(sequencer().address()),
        Duration::from_secs(60),
    );
    assert_eq!(
        jovian.validate_message(V4, &data, NOW).reason,
        Some(Reason::NonZeroExcessBlobGas)
    );
}

#[test]
fn rule_20_a_repeat_is_ignored_even_with_other_bytes() {
    let v = validator();
    let data = signed(&block(5, NOW, 1));
    assert_eq!(v.validate_message(V4, &data, NOW).reason, None);
    let verdict = v.validate_message(V4, &data, NOW);
    assert_eq!(verdict.reason, Some(Reason::DuplicateBlock));
    assert_eq!(verdict.outcome(), Outcome::Ignore);
    // Same block, malleated signature: other bytes (another message id), same block.
    let other_bytes = malleate(&data);
    assert_ne!(other_bytes, data);
    assert_eq!(
        v.validate_message(V4, &other_bytes, NOW).reason,
        Some(Reason::DuplicateBlock)
    );
}

#[test]
fn rule_20_the_seventh_distinct_block_at_a_height_is_rejected() {
    let v = validator();
    let blocks: Vec<_> = (1..=7).map(|salt| signed(&block(9, NOW, salt))).collect();
    for (i, data) in blocks[..6].iter().enumerate() {
        assert_eq!(
            v.validate_message(V4, data, NOW).reason,
            None,
            "block {}",
            i + 1
        );
    }
    let seventh = v.validate_message(V4, &blocks[6], NOW);
    assert_eq!(seventh.reason, Some(Reason::TooManyBlocksAtHeight));
    assert_eq!(seventh.outcome(), Outcome::Reject);
    // The count is checked before the repeat: with 6 known, a repeat is rejected too.
    assert_eq!(
        v.validate_message(V4, &blocks[0], NOW).reason,
        Some(Reason::TooManyBlocksAtHeight)
    );
    // Other heights are unaffected.
    assert_eq!(
        v.validate_message(V4, &signed(&block(10, NOW, 7)), NOW)
            .reason,
        None
    );
}

#[test]
fn stateless_validation_records_nothing() {
    let v = validator();
    let data = signed(&block(5, NOW, 1));
    assert_eq!(v.validate_stateless(V4, &data, NOW).reason, None);
    assert_eq!(v.validate_stateless(V4, &data, NOW).reason, None);
    assert_eq!(v.validate_message(V4, &data, NOW).reason, None);
}

#[test]
fn the_first_failing_rule_in_op_node_order_is_reported() {
    // Wrong signer (6) and too old (8): the signer.
    let old = block(1, NOW - 1000, 1);
    assert_fails(
        &signed_by(&other_key(), &old),
        V4,
        Outcome::Reject,
        Reason::WrongSigner,
    );
    // Too old (8) and a wrong hash (10): the timestamp.
    let mut old_bad_hash = old;
    old_bad_hash.execution_payload.block_hash = B256::ZERO;
    assert_fails(&signed(&old_bad_hash), V4, Outcome::Reject, Reason::TooOld);
    // A wrong hash (10) and blob gas (16): the hash.
    let mut b = block(1, NOW, 1);
    b.execution_payload.blob_gas_used = Some(1);
    assert_fails(&signed(&b), V4, Outcome::Reject, Reason::InvalidBlockHash);
    // No signer (6, ignore) beats an undecodable payload (7, reject).
    let v = Validator::new(
        rollup(),
        UnsafeBlockSigner::default(),
        Duration::from_secs(60),
    );
    let garbage = vec![0xab; 300];
    let data = SignedBlockMessage::new(&[0; 65], &garbage).encode();
    assert_eq!(
        v.validate_message(V4, &data, NOW).reason,
        Some(Reason::NoSigner)
    );
}

#[test]
fn large_blocks_verify_on_two_cores_with_the_same_order() {
    let transactions = realistic_transactions(40);
    let big = block_with_transactions(3, NOW, 1, transactions);
    let data = signed(&big);
    let size = SignedBlockMessage::decode(&data)
        .unwrap()
        .signed_bytes()
        .len();
    assert!(size >= PARALLEL_VERIFY_MIN_BYTES, "{size} bytes");
    assert_accepts(&data, V4);

    // A wrong signer and a wrong hash, checked at once: the signer is reported.
    let mut bad = big;
    bad.execution_payload.block_hash = B256::ZERO;
    let verdict = validator().validate_message(V4, &signed_by(&other_key(), &bad), NOW);
    assert_eq!(verdict.reason, Some(Reason::WrongSigner));
    // And the hash alone.
    assert_fails(&signed(&bad), V4, Outcome::Reject, Reason::InvalidBlockHash);
}
