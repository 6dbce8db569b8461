//! Property tests over the wire codecs: SSZ payloads and envelopes, the gossip message codec, and
//! `payload_by_number` framing.
//!
//! Two kinds of property:
//! - round trips on arbitrary *valid* values (every payload version, signed gossip messages,
//!   framed bodies, whole responses);
//! - robustness on arbitrary and mutated input: every decoder returns `Ok` or `Err` and never
//!   panics, and a claimed size is never trusted before the bytes are there.
//!
//! Case counts are kept modest (the machine has two cores and the suite runs in a debug build);
//! failures are not persisted to regression files.

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use op_p2p_types::{
    Address, B256, BlockSigner, BlocksTopic, Bloom, Bytes, ExecutionPayload,
    ExecutionPayloadEnvelope, MAX_RESPONSE_DECODED_BYTES, PayloadVersion, ResponseError,
    RollupConfig, SignedBlockMessage, U256, Withdrawal, decode_framed, decode_response,
    encode_framed, encode_response, message_id,
};
use proptest::{prelude::*, sample::Index};

/// Chain id used for signing throughout.
const CHAIN_ID: u64 = 10;

/// Position of the extraData offset in the fixed part of a bare payload.
const EXTRA_DATA_OFFSET_POS: usize = 436;
/// Position of the transactions offset.
const TRANSACTIONS_OFFSET_POS: usize = 504;
/// Position of the withdrawals offset (V2+).
const WITHDRAWALS_OFFSET_POS: usize = 508;

/// The snappy framed stream identifier chunk.
const STREAM_IDENTIFIER: [u8; 10] = [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// `cases` cases, unless `PROPTEST_CASES` is set (for a deeper run by hand), and no regression
/// files (they would land next to the sources).
fn config(cases: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        defaults.cases
    } else {
        cases
    };
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..defaults
    }
}

fn signer() -> BlockSigner {
    BlockSigner::new(B256::repeat_byte(1)).expect("valid secret key")
}

fn arb_version() -> impl Strategy<Value = PayloadVersion> {
    prop::sample::select(&PayloadVersion::ALL[..])
}

fn arb_b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}

fn arb_address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn arb_bloom() -> impl Strategy<Value = Bloom> {
    prop::array::uniform::<_, 256>(any::<u8>()).prop_map(Bloom::from)
}

/// Mostly base fees that fit a header (u64), sometimes any U256.
fn arb_base_fee() -> impl Strategy<Value = U256> {
    prop_oneof![
        3 => any::<u64>().prop_map(U256::from),
        1 => any::<[u8; 32]>().prop_map(U256::from_le_bytes),
    ]
}

fn arb_bytes(len: impl Into<prop::collection::SizeRange>) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), len).prop_map(Bytes::from)
}

fn arb_withdrawal() -> impl Strategy<Value = Withdrawal> {
    (any::<u64>(), any::<u64>(), arb_address(), any::<u64>()).prop_map(
        |(index, validator_index, address, amount)| Withdrawal {
            index,
            validator_index,
            address,
            amount,
        },
    )
}

/// An arbitrary valid payload of `version`: exactly the fields of that version are set, and
/// every length is within the decode limits.
fn arb_payload(version: PayloadVersion) -> impl Strategy<Value = ExecutionPayload> {
    let hashes = (
        arb_b256(),
        arb_address(),
        arb_b256(),
        arb_b256(),
        arb_bloom(),
        arb_b256(),
    );
    let scalars = (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        arb_bytes(0..=32),
        arb_base_fee(),
        arb_b256(),
    );
    let lists = (
        prop::collection::vec(arb_bytes(0..300), 0..20),
        prop::collection::vec(arb_withdrawal(), 0..=16),
        any::<u64>(),
        any::<u64>(),
        arb_b256(),
    );
    (hashes, scalars, lists).prop_map(
        move |(
            (parent_hash, fee_recipient, state_root, receipts_root, logs_bloom, prev_randao),
            (
                block_number,
                gas_limit,
                gas_used,
                timestamp,
                extra_data,
                base_fee_per_gas,
                block_hash,
            ),
            (transactions, withdrawals, blob_gas_used, excess_blob_gas, withdrawals_root),
        )| {
            let v2 = version >= PayloadVersion::V2;
            let v3 = version >= PayloadVersion::V3;
            let v4 = version >= PayloadVersion::V4;
            ExecutionPayload {
                parent_hash,
                fee_recipient,
                state_root,
                receipts_root,
                logs_bloom,
                prev_randao,
                block_number,
                gas_limit,
                gas_used,
                timestamp,
                extra_data,
                base_fee_per_gas,
                block_hash,
                transactions,
                withdrawals: v2.then_some(withdrawals),
                blob_gas_used: v3.then_some(blob_gas_used),
                excess_blob_gas: v3.then_some(excess_blob_gas),
                withdrawals_root: v4.then_some(withdrawals_root),
            }
        },
    )
}

/// An arbitrary valid envelope of `version`: a parent beacon block root exactly for V3/V4.
fn arb_envelope(version: PayloadVersion) -> impl Strategy<Value = ExecutionPayloadEnvelope> {
    (arb_payload(version), arb_b256()).prop_map(move |(execution_payload, root)| {
        ExecutionPayloadEnvelope {
            parent_beacon_block_root: version.has_parent_beacon_root().then_some(root),
            execution_payload,
        }
    })
}

/// A version and an envelope of that version.
fn arb_versioned_envelope() -> impl Strategy<Value = (PayloadVersion, ExecutionPayloadEnvelope)> {
    arb_version().prop_flat_map(|v| (Just(v), arb_envelope(v)))
}

/// An envelope whose block hash is the hash of its header (so it passes `check_block_hash`).
fn arb_hashed_envelope() -> impl Strategy<Value = (PayloadVersion, ExecutionPayloadEnvelope)> {
    arb_versioned_envelope().prop_map(|(v, mut envelope)| {
        let base_fee = envelope.execution_payload.base_fee_per_gas;
        envelope.execution_payload.base_fee_per_gas = U256::from(base_fee.as_limbs()[0]);
        envelope.execution_payload.block_hash =
            envelope.compute_block_hash().expect("base fee fits in u64");
        (v, envelope)
    })
}

/// Byte vectors up to `max` bytes, compressible or not, built from a seed so that large vectors
/// cost no per-byte strategy work.
fn arb_large_body(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (0..=max, any::<u64>(), 0u8..4).prop_map(|(len, seed, kind)| {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        match kind {
            // incompressible
            0 => (0..len).map(|_| next() as u8).collect(),
            // one repeated byte
            1 => vec![seed as u8; len],
            // short random runs: compressible, but not trivially
            2 => {
                let mut out = Vec::with_capacity(len);
                while out.len() < len {
                    let byte = next() as u8;
                    let run = (next() % 64) as usize + 1;
                    out.extend(std::iter::repeat_n(byte, run.min(len - out.len())));
                }
                out
            }
            // alternating random and repeated 4 KiB blocks: mixes compressed and raw chunks
            _ => {
                let mut out = Vec::with_capacity(len);
                let mut block = 0usize;
                while out.len() < len {
                    let n = 4096.min(len - out.len());
                    if block.is_multiple_of(2) {
                        out.extend((0..n).map(|_| next() as u8));
                    } else {
                        out.extend(std::iter::repeat_n(block as u8, n));
                    }
                    block += 1;
                }
                out
            }
        }
    })
}

/// A rollup config under which a block numbered `n` has timestamp `2 * n` and is decoded at
/// `version` by `decode_response`.
fn config_for(version: PayloadVersion) -> RollupConfig {
    let mut config = RollupConfig {
        block_time: 2,
        l2_chain_id: CHAIN_ID,
        ..Default::default()
    };
    if version >= PayloadVersion::V2 {
        config.canyon_time = Some(0);
    }
    if version >= PayloadVersion::V3 {
        config.ecotone_time = Some(0);
    }
    if version >= PayloadVersion::V4 {
        config.isthmus_time = Some(0);
    }
    config
}

/// A rollup config with Canyon, Ecotone and Isthmus each at time 0, at an arbitrary time, or
/// unscheduled.
fn arb_rollup_config() -> impl Strategy<Value = RollupConfig> {
    let fork = prop_oneof![Just(None), Just(Some(0)), any::<u64>().prop_map(Some)];
    (
        1u64..=12,
        any::<u64>(),
        any::<u64>(),
        fork.clone(),
        fork.clone(),
        fork,
    )
        .prop_map(
            |(block_time, genesis_number, genesis_time, canyon, ecotone, isthmus)| {
                let mut config = RollupConfig {
                    block_time,
                    l2_chain_id: CHAIN_ID,
                    canyon_time: canyon,
                    ecotone_time: ecotone,
                    isthmus_time: isthmus,
                    ..Default::default()
                };
                config.genesis.l2.number = genesis_number % 1_000_000;
                config.genesis.l2_time = genesis_time % 2_000_000_000;
                config
            },
        )
}

/// One edit to an encoded message.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Overwrite one byte.
    Set(Index, u8),
    /// Overwrite four bytes (where they fit) with a little-endian u32: hits offsets and lengths.
    SetU32(Index, u32),
    /// Keep only a prefix.
    Truncate(Index),
    /// Append bytes.
    Append(Vec<u8>),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Remove up to `n` bytes.
    Remove(Index, usize),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, m)| Mutation::Flip(i, m)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (any::<Index>(), any::<u32>()).prop_map(|(i, v)| Mutation::SetU32(i, v)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn arb_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(arb_mutation(), 1..6)
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Append(extra) => bytes.extend_from_slice(extra),
            _ if len == 0 => {}
            Mutation::Flip(i, mask) => bytes[i.index(len)] ^= mask,
            Mutation::Set(i, b) => bytes[i.index(len)] = *b,
            Mutation::SetU32(i, v) => {
                let at = i.index(len).min(len.saturating_sub(4));
                let end = (at + 4).min(len);
                bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
            Mutation::Insert(i, extra) => {
                let at = i.index(len + 1);
                bytes.splice(at..at, extra.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = i.index(len);
                bytes.drain(at..(at + n).min(len));
            }
        }
    }
}

fn overwrite_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Checks shared by several properties
// ---------------------------------------------------------------------------------------------

/// Decodes `bytes` as a bare payload of `version`; on success checks that the encoding was
/// canonical (re-encoding gives back exactly `bytes`) and runs the block-hash check.
fn decode_payload_checked(version: PayloadVersion, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(payload) = ExecutionPayload::decode_ssz(version, &Bytes::copy_from_slice(bytes)) {
        prop_assert_eq!(payload.version(), version);
        prop_assert_eq!(payload.ssz_len(), bytes.len());
        prop_assert_eq!(payload.encode_ssz(), bytes);
        let envelope = ExecutionPayloadEnvelope {
            parent_beacon_block_root: version.has_parent_beacon_root().then_some(B256::ZERO),
            execution_payload: payload,
        };
        let _ = envelope.check_block_hash();
    }
    Ok(())
}

/// Decodes `bytes` as an envelope of `version`; on success checks canonicity and runs the
/// block-hash check.
fn decode_envelope_checked(version: PayloadVersion, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(envelope) =
        ExecutionPayloadEnvelope::decode_ssz(version, &Bytes::copy_from_slice(bytes))
    {
        prop_assert_eq!(envelope.version(), version);
        prop_assert_eq!(envelope.encode_ssz(), bytes);
        let _ = envelope.check_block_hash();
    }
    Ok(())
}

/// Decodes gossip `data` and, if it decodes, runs every stateless check at `version`.
fn decode_gossip_checked(version: PayloadVersion, data: &[u8]) -> Result<(), TestCaseError> {
    let topic = BlocksTopic::new(CHAIN_ID, version).to_string();
    let _ = message_id(&topic, data);
    if let Ok(msg) = SignedBlockMessage::decode(data) {
        let again = SignedBlockMessage::decode(&msg.encode()).expect("re-encoded message decodes");
        prop_assert_eq!(&again, &msg);
        let _ = msg.check(CHAIN_ID, version);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_payload_has_fixed_len() {
    for version in PayloadVersion::ALL {
        let v2 = version >= PayloadVersion::V2;
        let v3 = version >= PayloadVersion::V3;
        let payload = ExecutionPayload {
            withdrawals: v2.then(Vec::new),
            blob_gas_used: v3.then_some(0),
            excess_blob_gas: v3.then_some(0),
            withdrawals_root: (version >= PayloadVersion::V4).then_some(B256::ZERO),
            ..Default::default()
        };
        assert_eq!(payload.version(), version);
        let encoded = payload.encode_ssz();
        assert_eq!(encoded.len(), version.ssz_fixed_len(), "{version:?}");
        assert_eq!(payload.ssz_len(), version.ssz_fixed_len(), "{version:?}");
        let decoded = ExecutionPayload::decode_ssz(version, &Bytes::from(encoded)).unwrap();
        assert_eq!(decoded, payload);
    }
    let fixed: Vec<usize> = PayloadVersion::ALL
        .iter()
        .map(|v| v.ssz_fixed_len())
        .collect();
    assert_eq!(fixed, [508, 512, 528, 560]);
}

#[test]
fn signer_address_is_known() {
    let expected: Address = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
        .parse()
        .unwrap();
    assert_eq!(signer().address(), expected);
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn payload_ssz_round_trip((version, envelope) in arb_versioned_envelope()) {
        let payload = envelope.execution_payload;
        prop_assert_eq!(payload.version(), version);
        let bytes = payload.encode_ssz();
        prop_assert_eq!(payload.ssz_len(), bytes.len());
        let decoded = ExecutionPayload::decode_ssz(version, &Bytes::from(bytes)).unwrap();
        prop_assert_eq!(decoded, payload);
    }

    #[test]
    fn envelope_ssz_round_trip((version, envelope) in arb_versioned_envelope()) {
        prop_assert_eq!(envelope.version(), version);
        let bytes = envelope.encode_ssz();
        let root_len = if version.has_parent_beacon_root() { 32 } else { 0 };
        prop_assert_eq!(bytes.len(), root_len + envelope.execution_payload.ssz_len());
        let mut appended = vec![0xAB; 3];
        envelope.encode_ssz_to(&mut appended);
        prop_assert_eq!(&appended[3..], &bytes[..]);
        let decoded = ExecutionPayloadEnvelope::decode_ssz(version, &Bytes::from(bytes)).unwrap();
        prop_assert_eq!(decoded, envelope);
    }

    #[test]
    fn topic_round_trip(chain_id in any::<u64>(), version in arb_version()) {
        let topic = BlocksTopic::new(chain_id, version);
        prop_assert_eq!(BlocksTopic::from_str(&topic.to_string()), Ok(topic));
    }
}

proptest! {
    // Signing and recovery dominate; keep these few.
    #![proptest_config(config(48))]

    #[test]
    fn gossip_round_trip((version, envelope) in arb_versioned_envelope()) {
        let signer = signer();
        let msg = SignedBlockMessage::sign(&signer, CHAIN_ID, &envelope);
        let data = msg.encode();
        let decoded = SignedBlockMessage::decode(&data).unwrap();
        prop_assert_eq!(&decoded, &msg);
        prop_assert_eq!(decoded.recover_signer(CHAIN_ID), Ok(signer.address()));
        prop_assert_eq!(decoded.decode_envelope(version), Ok(envelope.clone()));
        prop_assert_eq!(&decoded.signed_bytes()[..], &envelope.encode_ssz()[..]);
        // Another chain's signing hash recovers someone else.
        prop_assert_ne!(decoded.recover_signer(CHAIN_ID + 1), Ok(signer.address()));
    }

    #[test]
    fn gossip_check_accepts_valid_message((version, envelope) in arb_hashed_envelope()) {
        let signer = signer();
        let msg = SignedBlockMessage::sign(&signer, CHAIN_ID, &envelope);
        let msg = SignedBlockMessage::decode(&msg.encode()).unwrap();
        let checks = msg.check(CHAIN_ID, version);
        prop_assert_eq!(checks.signer, Ok(signer.address()));
        prop_assert_eq!(checks.payload, Ok((envelope, Ok(()))));
    }

    #[test]
    fn response_round_trip((version, mut envelope) in arb_hashed_envelope()) {
        // Under `config_for`, block n has timestamp 2n.
        let number = envelope.execution_payload.block_number % (1 << 40);
        envelope.execution_payload.block_number = number;
        envelope.execution_payload.timestamp = 2 * number;
        envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
        let config = config_for(version);
        let stream = encode_response(&config, &envelope);
        prop_assert_eq!(decode_response(&config, number, &stream), Ok(envelope));
        prop_assert_eq!(
            decode_response(&config, number + 1, &stream),
            Err(ResponseError::WrongNumber { requested: number + 1, got: number })
        );
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn framed_round_trip_large(body in arb_large_body(200_000)) {
        let framed = encode_framed(&body);
        prop_assert_eq!(decode_framed(&framed, body.len()), Ok(body.clone()));
        prop_assert_eq!(decode_framed(&framed, MAX_RESPONSE_DECODED_BYTES), Ok(body));
    }

    #[test]
    fn framed_cap_below_content_fails(body in arb_large_body(200_000), cap in any::<Index>()) {
        prop_assume!(!body.is_empty());
        let cap = cap.index(body.len());
        let framed = encode_framed(&body);
        prop_assert_eq!(decode_framed(&framed, cap), Err(ResponseError::DecodedTooLarge(cap)));
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn framed_round_trip_random(body in prop::collection::vec(any::<u8>(), 0..4096)) {
        let framed = encode_framed(&body);
        prop_assert_eq!(decode_framed(&framed, body.len()), Ok(body.clone()));
        if let Some(cap) = body.len().checked_sub(1) {
            prop_assert_eq!(decode_framed(&framed, cap), Err(ResponseError::DecodedTooLarge(cap)));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary input never panics
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        requested in any::<u64>(),
        topic in ".*",
    ) {
        let shared = Bytes::from(bytes.clone());
        for version in PayloadVersion::ALL {
            let _ = ExecutionPayload::decode_ssz(version, &shared);
            let _ = ExecutionPayloadEnvelope::decode_ssz(version, &shared);
        }
        if let Ok(msg) = SignedBlockMessage::decode(&bytes) {
            for version in PayloadVersion::ALL {
                let _ = msg.check(CHAIN_ID, version);
            }
        }
        let _ = decode_framed(&bytes, MAX_RESPONSE_DECODED_BYTES);
        let _ = decode_framed(&bytes, 100);
        let config = RollupConfig { block_time: 2, l2_chain_id: CHAIN_ID, ..Default::default() };
        let _ = decode_response(&config, requested, &bytes);
        let _ = message_id(&topic, &bytes);
        let _ = message_id("", &bytes);
        let _ = BlocksTopic::from_str(&topic);
    }

    /// Arbitrary bodies behind a valid success header, so decoding reaches the framing and SSZ
    /// layers.
    #[test]
    fn arbitrary_response_bodies_never_panic(
        config in arb_rollup_config(),
        requested in any::<u64>(),
        version in 0u32..3,
        with_identifier in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut stream = vec![0];
        stream.extend_from_slice(&version.to_le_bytes());
        if with_identifier {
            stream.extend_from_slice(&STREAM_IDENTIFIER);
        }
        stream.extend_from_slice(&body);
        let _ = decode_response(&config, requested, &stream);
        // The same body properly framed reaches the SSZ decoder.
        let mut stream = stream[..5].to_vec();
        stream.extend_from_slice(&encode_framed(&body));
        let _ = decode_response(&config, requested, &stream);
    }

    #[test]
    fn topic_like_strings_never_panic(
        s in "(/optimism/)?[-+0-9]{0,24}/[-+0-9]{0,5}(/blocks)?[ /]?",
    ) {
        if let Ok(topic) = BlocksTopic::from_str(&s) {
            // Only the canonical form parses.
            prop_assert_eq!(topic.to_string(), s);
        }
    }

    /// Arbitrary SSZ bodies behind a valid fixed-part layout: random fixed fields, then a
    /// random tail, with the extraData offset right so decoding goes past the container checks.
    #[test]
    fn arbitrary_payload_tails_never_panic(
        version in arb_version(),
        fixed in prop::collection::vec(any::<u8>(), 560),
        offsets in prop::collection::vec(0u32..64, 2),
        tail in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let fixed_len = version.ssz_fixed_len();
        let mut bytes = fixed[..fixed_len].to_vec();
        let base = u32::try_from(fixed_len).unwrap();
        overwrite_u32(&mut bytes, EXTRA_DATA_OFFSET_POS, base);
        overwrite_u32(&mut bytes, TRANSACTIONS_OFFSET_POS, base + offsets[0]);
        if version >= PayloadVersion::V2 {
            overwrite_u32(&mut bytes, WITHDRAWALS_OFFSET_POS, base + offsets[0] + offsets[1]);
        }
        bytes.extend_from_slice(&tail);
        decode_payload_checked(version, &bytes)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Mutated valid messages never panic
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn mutated_payload_never_panics(
        (_, envelope) in arb_hashed_envelope(),
        mutations in arb_mutations(),
    ) {
        let mut bytes = envelope.execution_payload.encode_ssz();
        mutate(&mut bytes, &mutations);
        for v in PayloadVersion::ALL {
            decode_payload_checked(v, &bytes)?;
        }
    }

    #[test]
    fn mutated_envelope_never_panics(
        (version, envelope) in arb_hashed_envelope(),
        mutations in arb_mutations(),
    ) {
        let mut bytes = envelope.encode_ssz();
        mutate(&mut bytes, &mutations);
        decode_envelope_checked(version, &bytes)?;
    }

    #[test]
    fn overwritten_offsets_never_panic(
        (version, envelope) in arb_versioned_envelope(),
        which in 0usize..3,
        value in prop_oneof![
            any::<u32>(),
            // Near the real boundaries, where off-by-one bugs live.
            (0u32..1200),
            Just(u32::MAX),
            (u32::MAX - 8..=u32::MAX),
        ],
    ) {
        let positions = [EXTRA_DATA_OFFSET_POS, TRANSACTIONS_OFFSET_POS, WITHDRAWALS_OFFSET_POS];
        let which = if version == PayloadVersion::V1 { which % 2 } else { which };
        let pos = positions[which];

        let mut bare = envelope.execution_payload.encode_ssz();
        overwrite_u32(&mut bare, pos, value);
        decode_payload_checked(version, &bare)?;

        let mut wrapped = envelope.encode_ssz();
        let root_len = if version.has_parent_beacon_root() { 32 } else { 0 };
        overwrite_u32(&mut wrapped, root_len + pos, value);
        decode_envelope_checked(version, &wrapped)?;
    }

    /// Overwrites a u32 inside the transactions offset table (or anywhere in the variable part).
    #[test]
    fn overwritten_variable_part_never_panics(
        (version, envelope) in arb_versioned_envelope(),
        at in any::<Index>(),
        value in prop_oneof![any::<u32>(), 0u32..2000],
    ) {
        let mut bytes = envelope.execution_payload.encode_ssz();
        let fixed = version.ssz_fixed_len();
        if bytes.len() >= fixed + 4 {
            let at = fixed + at.index(bytes.len() - fixed - 3);
            overwrite_u32(&mut bytes, at, value);
        }
        decode_payload_checked(version, &bytes)?;
    }
}

proptest! {
    // Each decoded message costs a signature recovery and a block-hash check.
    #![proptest_config(config(64))]

    /// Mutates the compressed gossip data.
    #[test]
    fn mutated_gossip_data_never_panics(
        (version, envelope) in arb_hashed_envelope(),
        mutations in arb_mutations(),
    ) {
        let mut data = SignedBlockMessage::sign(&signer(), CHAIN_ID, &envelope).encode();
        mutate(&mut data, &mutations);
        decode_gossip_checked(version, &data)?;
    }

    /// Mutates the decompressed message (signature ++ envelope), then recompresses it, so the
    /// mutations reach the signature and SSZ layers.
    #[test]
    fn mutated_gossip_body_never_panics(
        (version, envelope) in arb_hashed_envelope(),
        mutations in arb_mutations(),
    ) {
        let msg = SignedBlockMessage::sign(&signer(), CHAIN_ID, &envelope);
        let mut body = msg.as_bytes().to_vec();
        mutate(&mut body, &mutations);
        if let Ok(mutated) = SignedBlockMessage::from_decompressed(Bytes::from(body)) {
            let checks = mutated.check(CHAIN_ID, version);
            if mutated == msg {
                prop_assert_eq!(checks.signer, Ok(signer().address()));
            }
            decode_gossip_checked(version, &mutated.encode())?;
        }
    }

    /// Mutates a whole valid `payload_by_number` response stream.
    #[test]
    fn mutated_response_never_panics(
        (version, mut envelope) in arb_hashed_envelope(),
        mutations in arb_mutations(),
    ) {
        let number = envelope.execution_payload.block_number % (1 << 40);
        envelope.execution_payload.block_number = number;
        envelope.execution_payload.timestamp = 2 * number;
        envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
        let config = config_for(version);
        let mut stream = encode_response(&config, &envelope);
        mutate(&mut stream, &mutations);
        let _ = decode_response(&config, number, &stream);
    }

    /// Mutates the unframed response body, then frames it again, so the mutations reach SSZ.
    #[test]
    fn mutated_response_body_never_panics(
        (version, mut envelope) in arb_hashed_envelope(),
        mutations in arb_mutations(),
    ) {
        let number = envelope.execution_payload.block_number % (1 << 40);
        envelope.execution_payload.block_number = number;
        envelope.execution_payload.timestamp = 2 * number;
        let config = config_for(version);
        let response_version = u32::from(version.has_parent_beacon_root());
        let mut body = envelope.encode_ssz();
        mutate(&mut body, &mutations);
        let mut stream = vec![0];
        stream.extend_from_slice(&response_version.to_le_bytes());
        stream.extend_from_slice(&encode_framed(&body));
        let _ = decode_response(&config, number, &stream);
    }
}

// ---------------------------------------------------------------------------------------------
// Claimed sizes are not trusted
// ---------------------------------------------------------------------------------------------

/// A success header for a version-1 response, the stream identifier, then `chunks`.
fn response_with_chunks(chunks: &[u8]) -> Vec<u8> {
    let mut stream = vec![0, 1, 0, 0, 0];
    stream.extend_from_slice(&STREAM_IDENTIFIER);
    stream.extend_from_slice(chunks);
    stream
}

/// Asserts that decoding `stream` fails, promptly.
fn assert_fails_promptly(what: &str, stream: &[u8]) {
    let config = RollupConfig {
        block_time: 2,
        l2_chain_id: CHAIN_ID,
        ..Default::default()
    };
    let start = Instant::now();
    let result = decode_response(&config, 7, stream);
    let elapsed = start.elapsed();
    assert!(result.is_err(), "{what}: decoded {result:?}");
    // Generous for a loaded debug build; a decoder that honoured the claimed size would spend
    // seconds zeroing gigabytes (or abort on allocation failure).
    assert!(elapsed < Duration::from_secs(5), "{what}: took {elapsed:?}");
}

#[test]
fn huge_claimed_sizes_fail_promptly() {
    // Compressed chunk (type 0x00) whose header claims 0xFFFFFF bytes, with few behind it.
    assert_fails_promptly(
        "compressed chunk of length 0xFFFFFF",
        &response_with_chunks(&[0x00, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]),
    );
    // Uncompressed chunk (type 0x01) claiming 0xFFFFFF bytes.
    assert_fails_promptly(
        "uncompressed chunk of length 0xFFFFFF",
        &response_with_chunks(&[0x01, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]),
    );
    // Skippable and padding chunks claiming 0xFFFFFF bytes.
    for kind in [0x80, 0xfd, 0xfe] {
        assert_fails_promptly(
            &format!("skippable chunk {kind:#x} of length 0xFFFFFF"),
            &response_with_chunks(&[kind, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
        );
    }
    // A well-formed compressed chunk whose snappy varint claims 2^32 decoded bytes.
    let mut chunk_body = vec![0, 0, 0, 0]; // masked CRC-32C (never reached)
    chunk_body.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10]); // varint 2^32
    chunk_body.extend_from_slice(&[0x00, 0x61]); // a literal tag and byte
    let len = u32::try_from(chunk_body.len()).unwrap().to_le_bytes();
    let mut chunks = vec![0x00, len[0], len[1], len[2]];
    chunks.extend_from_slice(&chunk_body);
    assert_fails_promptly(
        "compressed chunk claiming 2^32 bytes",
        &response_with_chunks(&chunks),
    );
    // The same varint claiming u64::MAX-ish (10-byte varint).
    let mut chunk_body = vec![0, 0, 0, 0];
    chunk_body.extend_from_slice(&[0xff; 9]);
    chunk_body.push(0x01);
    let len = u32::try_from(chunk_body.len()).unwrap().to_le_bytes();
    let mut chunks = vec![0x00, len[0], len[1], len[2]];
    chunks.extend_from_slice(&chunk_body);
    assert_fails_promptly(
        "compressed chunk with a 10-byte varint",
        &response_with_chunks(&chunks),
    );
    // No stream identifier at all, only a huge chunk header.
    assert_fails_promptly(
        "no stream identifier",
        &[0, 1, 0, 0, 0, 0x00, 0xff, 0xff, 0xff],
    );
}

#[test]
fn many_valid_chunks_stop_at_the_decoded_cap() {
    // 11 MiB of zeros framed: every chunk is valid and tiny on the wire, the total is over the
    // 10 MiB decoded cap. Decoding must stop at the cap.
    let body = vec![0u8; MAX_RESPONSE_DECODED_BYTES + (1 << 20)];
    let framed = encode_framed(&body);
    assert!(framed.len() < MAX_RESPONSE_DECODED_BYTES);
    assert_eq!(
        decode_framed(&framed, MAX_RESPONSE_DECODED_BYTES),
        Err(ResponseError::DecodedTooLarge(MAX_RESPONSE_DECODED_BYTES))
    );
    let mut stream = vec![0, 1, 0, 0, 0];
    stream.extend_from_slice(&framed);
    let config = RollupConfig {
        block_time: 2,
        l2_chain_id: CHAIN_ID,
        ..Default::default()
    };
    assert_eq!(
        decode_response(&config, 7, &stream),
        Err(ResponseError::DecodedTooLarge(MAX_RESPONSE_DECODED_BYTES))
    );
}

#[test]
fn gossip_claiming_huge_length_is_rejected_before_decoding() {
    // A snappy block header claiming 2^32 - 1 bytes, then garbage.
    let data = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61];
    let start = Instant::now();
    assert!(SignedBlockMessage::decode(&data).is_err());
    let _ = message_id("/optimism/10/0/blocks", &data);
    assert!(start.elapsed() < Duration::from_secs(5));
}

proptest! {
    /// `message_id_with` hands over exactly the bytes snappy decodes to, whatever the reused
    /// per-thread buffer held before (a larger message first, then a smaller one, then garbage),
    /// and its id is `message_id`'s.
    #[test]
    fn message_id_with_hands_over_exactly_the_decompressed_bytes(
        plains in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..6),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let topic = "/optimism/10/3/blocks";
        let mut inputs: Vec<Vec<u8>> = plains
            .iter()
            .map(|p| snap::raw::Encoder::new().compress_vec(p).unwrap())
            .collect();
        inputs.push(garbage);
        for data in &inputs {
            let mut handed = None;
            let id = op_p2p_types::message_id_with(topic, data, |id, bytes| {
                handed = Some((*id, bytes.to_vec()));
            });
            prop_assert_eq!(id, message_id(topic, data));
            // Within op-node's cap only (garbage may declare gigabytes).
            let expected = snap::raw::decompress_len(data)
                .is_ok_and(|len| len <= op_p2p_types::MAX_GOSSIP_SIZE)
                .then(|| snap::raw::Decoder::new().decompress_vec(data).ok())
                .flatten();
            prop_assert_eq!(handed.as_ref().map(|(_, b)| b.clone()), expected);
            if let Some((handed_id, _)) = handed {
                prop_assert_eq!(handed_id, id);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// A `payload_by_number` request is exactly 8 bytes, little-endian; any other length is
    /// refused, and every number round-trips.
    #[test]
    fn requests_are_exactly_eight_le_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..17),
        number in any::<u64>(),
    ) {
        let expected = <[u8; 8]>::try_from(bytes.as_slice()).ok().map(u64::from_le_bytes);
        prop_assert_eq!(op_p2p_types::decode_request(&bytes), expected);
        let encoded = op_p2p_types::encode_request(number);
        prop_assert_eq!(op_p2p_types::decode_request(&encoded), Some(number));
    }

    /// `rollup.json` text: arbitrary text and arbitrary edits of a valid config are a config or
    /// a typed error; a config that parses serializes back to itself; the schedule arithmetic
    /// never panics on a parsed config.
    #[test]
    fn rollup_config_json_never_panics_and_round_trips(
        config in arb_rollup_config(),
        text in ".{0,256}",
        cut in any::<Index>(),
        insert in ".{0,8}",
        timestamp in any::<u64>(),
    ) {
        let _ = RollupConfig::from_json(&text);
        let json = serde_json::to_string(&config).unwrap();
        prop_assert_eq!(RollupConfig::from_json(&json).unwrap(), config);
        // One edit at a character boundary.
        let boundaries: Vec<usize> = json.char_indices().map(|(i, _)| i).collect();
        let at = boundaries[cut.index(boundaries.len())];
        for edited in [
            format!("{}{insert}{}", &json[..at], &json[at..]),
            format!("{}{}", &json[..at], &json[at + 1..]),
        ] {
            if let Ok(parsed) = RollupConfig::from_json(&edited) {
                let again = serde_json::to_string(&parsed).unwrap();
                prop_assert_eq!(RollupConfig::from_json(&again).unwrap(), parsed.clone());
                let _ = parsed.payload_version(timestamp);
                let _ = parsed.target_block_number(timestamp);
                let _ = parsed.timestamp_for_block(timestamp);
            }
        }
    }
}
