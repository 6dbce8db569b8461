//! Each way bytes can be wrong gets its own typed error: built by hand, one rule at a time.

use std::str::FromStr;

use alloy_primitives::{Address, B256, Bytes, U256};
use op_p2p_types::{
    BlockHashError, BlockSigner, BlocksTopic, ExecutionPayload, ExecutionPayloadEnvelope,
    GossipDecodeError, Hardfork, MAX_GOSSIP_SIZE, PayloadVersion, ResponseError, RollupConfig,
    SignatureError, SignedBlockMessage, SszError, Withdrawal, decode_framed, decode_request,
    decode_response, encode_framed, encode_response, payload_by_number_protocol_id,
    payload_by_number_protocol_id_with_slash, recover_signer,
};

const CHAIN_ID: u64 = 10;

fn signer() -> BlockSigner {
    BlockSigner::new(B256::repeat_byte(1)).unwrap()
}

/// A valid envelope of `version` with a correct block hash and `txs` transactions.
fn envelope(version: PayloadVersion, txs: usize) -> ExecutionPayloadEnvelope {
    let v3 = version >= PayloadVersion::V3;
    let mut env = ExecutionPayloadEnvelope {
        parent_beacon_block_root: v3.then(|| B256::repeat_byte(0xbb)),
        execution_payload: ExecutionPayload {
            parent_hash: B256::repeat_byte(1),
            fee_recipient: Address::repeat_byte(0x42),
            state_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            prev_randao: B256::repeat_byte(4),
            block_number: 1000,
            gas_limit: 30_000_000,
            gas_used: 21_000,
            timestamp: 1_700_000_000,
            extra_data: Bytes::from_static(b"op-p2p"),
            base_fee_per_gas: U256::from(1_000_000_000u64),
            transactions: (0..txs)
                .map(|i| Bytes::from(vec![0x02, i as u8, 0xaa, 0xbb]))
                .collect(),
            withdrawals: (version >= PayloadVersion::V2).then(Vec::new),
            blob_gas_used: v3.then_some(0),
            excess_blob_gas: v3.then_some(0),
            withdrawals_root: (version == PayloadVersion::V4).then(|| B256::repeat_byte(5)),
            ..Default::default()
        },
    };
    env.execution_payload.block_hash = env.compute_block_hash().unwrap();
    env
}

fn ssz(env: &ExecutionPayloadEnvelope) -> Vec<u8> {
    env.execution_payload.encode_ssz()
}

fn decode(version: PayloadVersion, bytes: Vec<u8>) -> Result<ExecutionPayload, SszError> {
    ExecutionPayload::decode_ssz(version, &Bytes::from(bytes))
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

const EXTRA_DATA_OFFSET_AT: usize = 436;
const TXS_OFFSET_AT: usize = 504;
const WITHDRAWALS_OFFSET_AT: usize = 508;

#[test]
fn ssz_shorter_than_fixed_part() {
    for version in PayloadVersion::ALL {
        let fixed = version.ssz_fixed_len();
        assert_eq!(
            decode(version, vec![0; fixed - 1]),
            Err(SszError::TooShort {
                len: fixed - 1,
                fixed
            })
        );
    }
    assert_eq!(
        ExecutionPayloadEnvelope::decode_ssz(PayloadVersion::V3, &Bytes::from(vec![0u8; 31])),
        Err(SszError::EnvelopeTooShort { len: 31 })
    );
}

#[test]
fn ssz_extra_data_offset_must_equal_fixed_size() {
    let mut bytes = ssz(&envelope(PayloadVersion::V1, 1));
    put_u32(&mut bytes, EXTRA_DATA_OFFSET_AT, 512);
    assert!(matches!(
        decode(PayloadVersion::V1, bytes),
        Err(SszError::Offset(_))
    ));
}

#[test]
fn ssz_transactions_offset_out_of_range_or_before_extra_data() {
    let good = ssz(&envelope(PayloadVersion::V2, 2));
    let mut beyond = good.clone();
    put_u32(&mut beyond, TXS_OFFSET_AT, good.len() as u32 + 1);
    assert!(matches!(
        decode(PayloadVersion::V2, beyond),
        Err(SszError::Offset(_))
    ));
    let mut backwards = good;
    put_u32(&mut backwards, TXS_OFFSET_AT, 511);
    assert!(matches!(
        decode(PayloadVersion::V2, backwards),
        Err(SszError::Offset(_))
    ));
}

#[test]
fn ssz_withdrawals_offset_before_transactions() {
    let mut bytes = ssz(&envelope(PayloadVersion::V2, 2));
    put_u32(&mut bytes, WITHDRAWALS_OFFSET_AT, 512);
    assert!(matches!(
        decode(PayloadVersion::V2, bytes),
        Err(SszError::Offset(_))
    ));
}

#[test]
fn ssz_extra_data_over_32_bytes() {
    let mut env = envelope(PayloadVersion::V1, 0);
    env.execution_payload.extra_data = Bytes::from(vec![7u8; 33]);
    assert_eq!(
        decode(PayloadVersion::V1, ssz(&env)),
        Err(SszError::ExtraDataTooLong(33))
    );
    env.execution_payload.extra_data = Bytes::from(vec![7u8; 32]);
    assert!(decode(PayloadVersion::V1, ssz(&env)).is_ok());
}

#[test]
fn ssz_transaction_offset_table() {
    let env = envelope(PayloadVersion::V1, 3);
    let good = ssz(&env);
    let section = good.len() - (3 * 4 + 3 * 4); // start of the transactions section
    let bad = |bytes: Vec<u8>| decode(PayloadVersion::V1, bytes);

    let mut unaligned = good.clone();
    put_u32(&mut unaligned, section, 13);
    assert!(matches!(
        bad(unaligned),
        Err(SszError::TransactionOffsets(_))
    ));

    let mut zero = good.clone();
    put_u32(&mut zero, section, 0);
    assert!(matches!(bad(zero), Err(SszError::TransactionOffsets(_))));

    let mut decreasing = good.clone();
    put_u32(&mut decreasing, section + 8, 13);
    assert!(matches!(
        bad(decreasing),
        Err(SszError::TransactionOffsets(_))
    ));

    let mut beyond = good;
    put_u32(&mut beyond, section + 4, 4000);
    assert!(matches!(bad(beyond), Err(SszError::TransactionOffsets(_))));

    // Zero-length transactions are not rejected by the decoder (op-node neither).
    let mut empty_txs = env;
    empty_txs.execution_payload.transactions = vec![Bytes::new(), Bytes::new()];
    assert_eq!(
        bad(ssz(&empty_txs)).unwrap().transactions,
        vec![Bytes::new(), Bytes::new()]
    );
}

#[test]
fn ssz_more_than_2_pow_20_transactions() {
    let count = (1usize << 20) + 1;
    let mut bytes = ssz(&envelope(PayloadVersion::V1, 0));
    // An offset table claiming 2^20 + 1 entries, all empty transactions.
    let first = (count * 4) as u32;
    for _ in 0..count {
        bytes.extend_from_slice(&first.to_le_bytes());
    }
    assert_eq!(
        decode(PayloadVersion::V1, bytes),
        Err(SszError::TooManyTransactions(count))
    );
}

#[test]
fn ssz_withdrawals_rules() {
    let mut env = envelope(PayloadVersion::V2, 0);
    let w = Withdrawal {
        index: 1,
        validator_index: 2,
        address: Address::repeat_byte(3),
        amount: 4,
    };
    env.execution_payload.withdrawals = Some(vec![w; 17]);
    assert_eq!(
        decode(PayloadVersion::V2, ssz(&env)),
        Err(SszError::TooManyWithdrawals(17))
    );

    env.execution_payload.withdrawals = Some(vec![w; 16]);
    let decoded = decode(PayloadVersion::V2, ssz(&env)).unwrap();
    assert_eq!(decoded.withdrawals, Some(vec![w; 16]));

    let mut ragged = ssz(&env);
    ragged.push(0);
    assert_eq!(
        decode(PayloadVersion::V2, ragged),
        Err(SszError::WithdrawalsLength(16 * 44 + 1))
    );
}

#[test]
fn ssz_v2_always_yields_a_withdrawals_list() {
    let decoded = decode(PayloadVersion::V2, ssz(&envelope(PayloadVersion::V2, 1))).unwrap();
    assert_eq!(decoded.withdrawals, Some(vec![]));
    let decoded = decode(PayloadVersion::V1, ssz(&envelope(PayloadVersion::V1, 1))).unwrap();
    assert_eq!(decoded.withdrawals, None);
}

#[test]
fn decoded_transactions_share_the_message_buffer() {
    let bytes = Bytes::from(ssz(&envelope(PayloadVersion::V1, 2)));
    let decoded = ExecutionPayload::decode_ssz(PayloadVersion::V1, &bytes).unwrap();
    let range = bytes.as_ptr_range();
    for tx in &decoded.transactions {
        assert!(range.contains(&tx.as_ptr()), "transaction was copied");
    }
}

#[test]
fn gossip_size_and_snappy_checks() {
    // Step 1: an invalid length varint.
    assert!(matches!(
        SignedBlockMessage::decode(&[0xff; 11]),
        Err(GossipDecodeError::SnappyHeader(_))
    ));
    // Step 2: a declared length over 10 MiB, rejected from the 4-byte header alone.
    let mut huge = Vec::new();
    let mut n = MAX_GOSSIP_SIZE + 1;
    while n >= 0x80 {
        huge.push((n as u8) | 0x80);
        n >>= 7;
    }
    huge.push(n as u8);
    assert_eq!(
        SignedBlockMessage::decode(&huge),
        Err(GossipDecodeError::TooLarge(MAX_GOSSIP_SIZE + 1))
    );
    // Step 3: under 66 bytes decoded.
    let small = snap::raw::Encoder::new().compress_vec(&[0u8; 65]).unwrap();
    assert_eq!(
        SignedBlockMessage::decode(&small),
        Err(GossipDecodeError::TooSmall(65))
    );
    // Step 4: a valid header with a corrupt body.
    let mut corrupt = snap::raw::Encoder::new().compress_vec(&[9u8; 200]).unwrap();
    corrupt.truncate(corrupt.len() - 1);
    assert!(matches!(
        SignedBlockMessage::decode(&corrupt),
        Err(GossipDecodeError::Snappy(_))
    ));
}

#[test]
fn signature_recovery_id_must_be_0_or_1() {
    let msg = SignedBlockMessage::sign(&signer(), CHAIN_ID, &envelope(PayloadVersion::V3, 1));
    let hash = op_p2p_types::signing_hash(CHAIN_ID, msg.payload_hash());
    let mut sig = *msg.signature();
    assert_eq!(recover_signer(hash, &sig), Ok(signer().address()));
    for v in [2u8, 27, 28] {
        sig[64] = v;
        assert_eq!(
            recover_signer(hash, &sig),
            Err(SignatureError::InvalidRecoveryId(v))
        );
    }
    // r = 0 is not a signature.
    let mut zero_r = *msg.signature();
    zero_r[..32].fill(0);
    assert_eq!(
        recover_signer(hash, &zero_r),
        Err(SignatureError::Unrecoverable)
    );
}

#[test]
fn tampered_body_recovers_another_signer_and_fails_the_hash() {
    let env = envelope(PayloadVersion::V4, 3);
    let msg = SignedBlockMessage::sign(&signer(), CHAIN_ID, &env);
    let mut data = msg.as_bytes().to_vec();
    let last = data.len() - 1;
    data[last] ^= 1; // inside the last transaction
    let tampered = SignedBlockMessage::from_decompressed(data.into()).unwrap();
    let checks = tampered.check(CHAIN_ID, PayloadVersion::V4);
    assert_ne!(checks.signer, Ok(signer().address()));
    let (_, hash) = checks.payload.unwrap();
    assert!(matches!(hash, Err(BlockHashError::Mismatch { .. })));
    // Another chain id recovers another address too.
    assert_ne!(msg.recover_signer(CHAIN_ID + 1), Ok(signer().address()));
}

#[test]
fn block_hash_mismatch_per_field() {
    for version in PayloadVersion::ALL {
        let good = envelope(version, 2);
        good.check_block_hash().unwrap();
        let mut bad = good.clone();
        bad.execution_payload.gas_used += 1;
        assert!(matches!(
            bad.check_block_hash(),
            Err(BlockHashError::Mismatch { .. })
        ));
        if version.has_parent_beacon_root() {
            let mut bad = good.clone();
            bad.parent_beacon_block_root = Some(B256::ZERO);
            assert!(matches!(
                bad.check_block_hash(),
                Err(BlockHashError::Mismatch { .. })
            ));
        }
        if version == PayloadVersion::V4 {
            let mut bad = good.clone();
            bad.execution_payload.withdrawals_root = Some(B256::ZERO);
            assert!(matches!(
                bad.check_block_hash(),
                Err(BlockHashError::Mismatch { .. })
            ));
        }
    }
    let mut overflow = envelope(PayloadVersion::V1, 0);
    overflow.execution_payload.base_fee_per_gas = U256::from(u64::MAX) + U256::from(1);
    assert_eq!(
        overflow.check_block_hash(),
        Err(BlockHashError::BaseFeeOverflow)
    );
}

#[test]
fn a_message_on_the_wrong_version_fails_decoding_or_the_hash() {
    let msg = SignedBlockMessage::sign(&signer(), CHAIN_ID, &envelope(PayloadVersion::V3, 2));
    for version in [PayloadVersion::V1, PayloadVersion::V2, PayloadVersion::V4] {
        let checks = msg.check(CHAIN_ID, version);
        assert_eq!(checks.signer, Ok(signer().address()));
        match checks.payload {
            Err(_) | Ok((_, Err(_))) => {}
            Ok((_, Ok(()))) => panic!("V3 message accepted as {version:?}"),
        }
    }
}

#[test]
fn topic_parsing_accepts_only_the_canonical_form() {
    assert_eq!(
        BlocksTopic::from_str("/optimism/10/3/blocks").unwrap(),
        BlocksTopic::new(10, PayloadVersion::V4)
    );
    for bad in [
        "/optimism/10/4/blocks",
        "/optimism/010/0/blocks",
        "/optimism/+10/0/blocks",
        "/optimism/10/0/blocks/",
        "/optimism//0/blocks",
        "/optimism/10/00/blocks",
        "optimism/10/0/blocks",
        "/optimism/18446744073709551616/0/blocks",
    ] {
        assert!(BlocksTopic::from_str(bad).is_err(), "{bad}");
    }
    assert_eq!(
        payload_by_number_protocol_id(10),
        "/opstack/req/payload_by_number/10/0"
    );
    assert_eq!(
        payload_by_number_protocol_id_with_slash(10),
        "/opstack/req/payload_by_number/10/0/"
    );
}

fn config() -> RollupConfig {
    RollupConfig::from_json(include_str!("../../testdata/rollup_op_mainnet.json")).unwrap()
}

#[test]
fn rollup_schedule_from_a_real_rollup_json() {
    let c = config();
    assert_eq!(c.l2_chain_id, 10);
    assert_eq!(c.genesis.l2.number, 105_235_063);
    assert_eq!(c.timestamp_for_block(105_235_063), Some(1_686_068_903));
    assert_eq!(c.timestamp_for_block(105_235_064), Some(1_686_068_905));
    assert_eq!(c.timestamp_for_block(105_235_062), None);
    assert_eq!(c.target_block_number(1_686_068_903), Some(105_235_063));
    assert_eq!(c.target_block_number(1_686_068_906), Some(105_235_064));
    assert_eq!(c.target_block_number(1_686_068_902), None);
    let canyon = c.activation_time(Hardfork::Canyon).unwrap();
    let ecotone = c.activation_time(Hardfork::Ecotone).unwrap();
    let isthmus = c.activation_time(Hardfork::Isthmus).unwrap();
    assert_eq!(c.payload_version(canyon - 1), PayloadVersion::V1);
    assert_eq!(c.payload_version(canyon), PayloadVersion::V2);
    assert_eq!(c.payload_version(ecotone), PayloadVersion::V3);
    assert_eq!(c.payload_version(isthmus - 1), PayloadVersion::V3);
    assert_eq!(c.payload_version(isthmus), PayloadVersion::V4);
    assert_eq!(c.blocks_topic(isthmus).to_string(), "/optimism/10/3/blocks");
    assert!(!c.is_active(Hardfork::Jovian, isthmus));
}

#[test]
fn rollup_config_rejects_zero_block_time_and_chain_id() {
    let json = r#"{"genesis":{"l2":{"number":0},"l2_time":0},"block_time":0,"l2_chain_id":10}"#;
    assert!(matches!(
        RollupConfig::from_json(json),
        Err(op_p2p_types::RollupConfigError::ZeroBlockTime)
    ));
    let json = r#"{"genesis":{"l2":{"number":0},"l2_time":0},"block_time":2,"l2_chain_id":0}"#;
    assert!(matches!(
        RollupConfig::from_json(json),
        Err(op_p2p_types::RollupConfigError::ZeroChainId)
    ));
    assert!(matches!(
        RollupConfig::from_json("{}"),
        Err(op_p2p_types::RollupConfigError::Json(_))
    ));
}

/// A chain that activates each fork at a known block, for response round trips.
fn devnet() -> RollupConfig {
    RollupConfig {
        genesis: op_p2p_types::Genesis {
            l2: op_p2p_types::GenesisBlock { number: 0 },
            l2_time: 1_000,
        },
        block_time: 2,
        l2_chain_id: CHAIN_ID,
        canyon_time: Some(1_010),
        ecotone_time: Some(1_020),
        isthmus_time: Some(1_030),
        ..Default::default()
    }
}

fn response_for(number: u64) -> (RollupConfig, Vec<u8>) {
    let config = devnet();
    let timestamp = config.timestamp_for_block(number).unwrap();
    let mut env = envelope(config.payload_version(timestamp), 3);
    env.execution_payload.block_number = number;
    env.execution_payload.timestamp = timestamp;
    env.execution_payload.block_hash = env.compute_block_hash().unwrap();
    let stream = encode_response(&config, &env);
    assert_eq!(decode_response(&config, number, &stream).unwrap(), env);
    (config, stream)
}

#[test]
fn responses_round_trip_across_every_fork() {
    for number in [1, 5, 10, 15, 20] {
        let (_, stream) = response_for(number);
        let expected_version = if number >= 10 { 1u32 } else { 0 };
        assert_eq!(
            stream[1..5],
            expected_version.to_le_bytes(),
            "block {number}"
        );
    }
}

#[test]
fn response_header_errors() {
    let (config, stream) = response_for(20);
    assert_eq!(decode_response(&config, 20, &[]), Err(ResponseError::Empty));
    assert_eq!(
        decode_response(&config, 20, &stream[..3]),
        Err(ResponseError::TruncatedVersion)
    );
    let mut v2 = stream.clone();
    v2[1] = 2;
    assert_eq!(
        decode_response(&config, 20, &v2),
        Err(ResponseError::UnknownVersion(2))
    );
    // The server's version is checked against the client's schedule: a version 0 answer for an
    // Isthmus block decodes as V2 and fails.
    let mut v0 = stream;
    v0[1] = 0;
    assert!(decode_response(&config, 20, &v0).is_err());
    assert_eq!(decode_request(&[1, 2, 3]), None);
    assert_eq!(decode_request(&[0; 9]), None);
}

#[test]
fn response_framing_errors() {
    let (config, stream) = response_for(20);
    let framing = |s: &[u8]| {
        matches!(
            decode_response(&config, 20, s),
            Err(ResponseError::Framing(_))
        )
    };

    // Truncated inside a frame.
    assert!(framing(&stream[..stream.len() - 1]));
    assert!(framing(&stream[..20]));
    // A trailing garbage byte after the last frame.
    let mut trailing = stream.clone();
    trailing.push(0);
    assert!(framing(&trailing));
    // A wrong CRC: the first data chunk's checksum follows its 4-byte header.
    let mut crc = stream.clone();
    crc[5 + 10 + 4] ^= 0xff;
    assert!(framing(&crc));
    // Missing stream identifier.
    let mut no_ident = stream[..5].to_vec();
    no_ident.extend_from_slice(&stream[15..]);
    assert!(framing(&no_ident));
    // A chunk header declaring 16 MiB: refused from the header, nothing allocated.
    let mut huge_chunk = stream[..15].to_vec();
    huge_chunk.extend_from_slice(&[0x00, 0xff, 0xff, 0xff]);
    assert!(framing(&huge_chunk));
}

#[test]
fn response_caps() {
    // Raw cap: one byte over 10 MiB is refused before decoding.
    let mut raw = vec![0u8, 0, 0, 0, 0];
    raw.resize(5 + MAX_GOSSIP_SIZE + 1, 0);
    assert_eq!(
        decode_response(&devnet(), 20, &raw),
        Err(ResponseError::RawTooLarge(MAX_GOSSIP_SIZE))
    );
    // Decoded cap: a snappy bomb (11 MiB of zeros compresses to ~500 KiB of frames) stops at
    // the cap instead of inflating.
    let bomb = encode_framed(&vec![0u8; 11 << 20]);
    assert!(bomb.len() < MAX_GOSSIP_SIZE / 10);
    assert_eq!(
        decode_framed(&bomb, MAX_GOSSIP_SIZE),
        Err(ResponseError::DecodedTooLarge(MAX_GOSSIP_SIZE))
    );
    let mut stream = vec![0u8, 1, 0, 0, 0];
    stream.extend_from_slice(&bomb);
    assert_eq!(
        decode_response(&devnet(), 20, &stream),
        Err(ResponseError::DecodedTooLarge(MAX_GOSSIP_SIZE))
    );
}

#[test]
fn responses_for_blocks_before_genesis_have_no_version() {
    let (mut config, stream) = response_for(20);
    config.genesis.l2.number = 21;
    assert_eq!(
        decode_response(&config, 20, &stream),
        Err(ResponseError::NoTimestamp(20))
    );
}
