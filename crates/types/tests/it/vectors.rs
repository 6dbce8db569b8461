//! The independent test vectors in `testdata/` (copied unchanged from the project's shared
//! vector set): every expected field, hash, signer and message id.

use std::{fs, str::FromStr};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use op_p2p_types::{
    BlockSigner, BlocksTopic, ExecutionPayloadEnvelope, PayloadVersion, ResponseError,
    ResponseVersion, RollupConfig, SignedBlockMessage, decode_framed, decode_request,
    decode_response, encode_framed, encode_request, encode_response, message_id,
    payload_by_number_protocol_id, payload_hash, signing_hash, signing_hash_with_domain,
    transactions_root,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn load(name: &str) -> Value {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

fn b256(v: &Value) -> B256 {
    B256::from_slice(&hex(v))
}

fn address(v: &Value) -> Address {
    Address::from_str(v.as_str().unwrap()).unwrap()
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

fn version_of(v: &Value) -> PayloadVersion {
    PayloadVersion::ALL[usize::try_from(u64_of(v)).unwrap() - 1]
}

/// Checks every decoded payload field the vectors state.
fn assert_payload(name: &str, envelope: &ExecutionPayloadEnvelope, expected: &Value) {
    let p = &envelope.execution_payload;
    let ctx = |field: &str| format!("{name}: {field}");
    assert_eq!(
        p.block_number,
        u64_of(&expected["block_number"]),
        "{}",
        ctx("block_number")
    );
    assert_eq!(
        p.block_hash,
        b256(&expected["block_hash"]),
        "{}",
        ctx("block_hash")
    );
    assert_eq!(
        p.parent_hash,
        b256(&expected["parent_hash"]),
        "{}",
        ctx("parent_hash")
    );
    assert_eq!(
        p.timestamp,
        u64_of(&expected["timestamp"]),
        "{}",
        ctx("timestamp")
    );
    assert_eq!(
        p.transactions.len() as u64,
        u64_of(&expected["tx_count"]),
        "{}",
        ctx("tx_count")
    );
    assert_eq!(
        p.withdrawals.as_ref().map(|w| w.len() as u64),
        expected["withdrawals_count"].as_u64(),
        "{}",
        ctx("withdrawals_count")
    );
    assert_eq!(
        p.fee_recipient,
        address(&expected["fee_recipient"]),
        "{}",
        ctx("fee_recipient")
    );
    assert_eq!(
        p.state_root,
        b256(&expected["state_root"]),
        "{}",
        ctx("state_root")
    );
    assert_eq!(
        p.receipts_root,
        b256(&expected["receipts_root"]),
        "{}",
        ctx("receipts_root")
    );
    assert_eq!(
        p.prev_randao,
        b256(&expected["prev_randao"]),
        "{}",
        ctx("prev_randao")
    );
    assert_eq!(
        p.gas_limit,
        u64_of(&expected["gas_limit"]),
        "{}",
        ctx("gas_limit")
    );
    assert_eq!(
        p.gas_used,
        u64_of(&expected["gas_used"]),
        "{}",
        ctx("gas_used")
    );
    assert_eq!(
        p.base_fee_per_gas,
        U256::from_str(expected["base_fee_per_gas"].as_str().unwrap()).unwrap(),
        "{}",
        ctx("base_fee_per_gas")
    );
    assert_eq!(
        p.extra_data.to_vec(),
        hex(&expected["extra_data"]),
        "{}",
        ctx("extra_data")
    );
    assert_eq!(
        keccak256(p.logs_bloom.as_slice()),
        b256(&expected["logs_bloom_keccak256"]),
        "{}",
        ctx("logs_bloom")
    );
    assert_eq!(
        transactions_root(&p.transactions),
        b256(&expected["transactions_root"]),
        "{}",
        ctx("transactions_root")
    );
    let tx_hashes: Vec<B256> = p.transactions.iter().map(keccak256).collect();
    let expected_hashes: Vec<B256> = expected["tx_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(b256)
        .collect();
    assert_eq!(tx_hashes, expected_hashes, "{}", ctx("tx_hashes"));
    assert_eq!(
        p.blob_gas_used,
        expected["blob_gas_used"].as_u64(),
        "{}",
        ctx("blob_gas_used")
    );
    assert_eq!(
        p.excess_blob_gas,
        expected["excess_blob_gas"].as_u64(),
        "{}",
        ctx("excess_blob_gas")
    );
    let opt_b256 = |v: &Value| (!v.is_null()).then(|| b256(v));
    assert_eq!(
        p.withdrawals_root,
        opt_b256(&expected["withdrawals_root"]),
        "{}",
        ctx("withdrawals_root")
    );
    assert_eq!(
        envelope.parent_beacon_block_root,
        opt_b256(&expected["parent_beacon_block_root"]),
        "{}",
        ctx("parent_beacon_block_root")
    );
}

#[test]
fn gossip_vectors_decode_verify_and_match_every_field() {
    let file = load("gossip_valid.json");
    let our_key = b256(&file["sequencer_key"]["private_key"]);
    let our_signer = BlockSigner::new(our_key).unwrap();
    assert_eq!(
        our_signer.address(),
        address(&file["sequencer_key"]["address"])
    );

    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 12);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let e = &v["expected"];
        assert_eq!(e["result"], "ACCEPT", "{name}");
        let chain_id = u64_of(&v["chain_id"]);
        let version = version_of(&v["topic_payload_version"]);
        let topic = v["topic"].as_str().unwrap();
        let message = hex(&v["message_hex"]);
        assert_eq!(message.len() as u64, u64_of(&v["message_length"]), "{name}");

        // Names.
        assert_eq!(
            BlocksTopic::from_str(topic).unwrap(),
            BlocksTopic::new(chain_id, version)
        );
        assert_eq!(BlocksTopic::new(chain_id, version).to_string(), topic);

        // Message id: op-node's topic-bound form, and not the spec text's.
        let id = message_id(topic, &message);
        assert_eq!(id.to_vec(), hex(&e["message_id"]), "{name}: message_id");
        assert_ne!(id.to_vec(), hex(&e["message_id_without_topic"]), "{name}");

        // Codec.
        let msg = SignedBlockMessage::decode(&message).unwrap();
        assert_eq!(
            msg.as_bytes().to_vec(),
            hex(&v["decompressed_hex"]),
            "{name}: decompressed"
        );
        assert_eq!(
            msg.as_bytes().len() as u64,
            u64_of(&e["decompressed_length"]),
            "{name}"
        );
        assert_eq!(
            msg.signature().to_vec(),
            hex(&e["signature"]),
            "{name}: signature"
        );
        assert_eq!(
            msg.signature()[..32],
            hex(&e["signature_r"])[..],
            "{name}: r"
        );
        assert_eq!(
            msg.signature()[32..64],
            hex(&e["signature_s"])[..],
            "{name}: s"
        );
        assert_eq!(
            u64::from(msg.signature()[64]),
            u64_of(&e["signature_y_parity"]),
            "{name}"
        );
        assert_eq!(
            msg.signed_bytes().len() as u64,
            u64_of(&e["signed_bytes_length"]),
            "{name}"
        );

        // Signing.
        assert_eq!(
            msg.payload_hash(),
            b256(&e["payload_hash"]),
            "{name}: payload_hash"
        );
        assert_eq!(
            signing_hash(chain_id, msg.payload_hash()),
            b256(&e["signing_hash"]),
            "{name}: signing_hash"
        );
        let signer = msg.recover_signer(chain_id).unwrap();
        assert_eq!(signer, address(&e["recovered_signer"]), "{name}: signer");
        assert_eq!(
            signer,
            address(&v["configured_sequencer_address"]),
            "{name}"
        );

        // Payload.
        let envelope = msg.decode_envelope(version).unwrap();
        assert_payload(name, &envelope, &e["payload"]);
        assert_eq!(envelope.version(), version, "{name}: inferred version");

        // Block hash, down to the header bytes.
        let header = envelope.header().unwrap();
        assert_eq!(
            alloy_rlp::encode(&header),
            hex(&e["block_header_rlp"]),
            "{name}: header"
        );
        assert_eq!(
            envelope.compute_block_hash().unwrap(),
            b256(&e["recomputed_block_hash"]),
            "{name}"
        );
        envelope.check_block_hash().unwrap();

        // All stateless checks at once, as the validator runs them.
        let checks = msg.check(chain_id, version);
        assert_eq!(checks.signer, Ok(signer), "{name}");
        let (checked, hash_ok) = checks.payload.unwrap();
        assert_eq!(checked, envelope);
        assert_eq!(hash_ok, Ok(()), "{name}");

        // Re-encoding gives back the signed bytes exactly, and re-signing with the vector key
        // (RFC 6979) gives back the signature, so the published message is byte-identical.
        assert_eq!(
            Bytes::from(envelope.encode_ssz()),
            msg.signed_bytes(),
            "{name}: re-encode"
        );
        if signer == our_signer.address() {
            let resigned = SignedBlockMessage::sign(&our_signer, chain_id, &envelope);
            assert_eq!(resigned, msg, "{name}: re-sign");
            let reencoded = SignedBlockMessage::decode(&resigned.encode()).unwrap();
            assert_eq!(reencoded, msg, "{name}: re-compress");
        }
    }
}

#[test]
fn gossip_vectors_cover_every_version() {
    let file = load("gossip_valid.json");
    for version in PayloadVersion::ALL {
        let n = file["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| version_of(&v["topic_payload_version"]) == version)
            .count();
        assert!(n >= 2, "{version:?} has {n} vectors");
    }
}

/// A schedule under which block `number` has `timestamp` and the given forks are active.
fn schedule_for(chain_id: u64, number: u64, timestamp: u64, v: &Value) -> RollupConfig {
    let active = |flag: &str| v[flag].as_bool().unwrap().then_some(0);
    let version = v["expected"]["version"].as_u64();
    RollupConfig {
        genesis: op_p2p_types::Genesis {
            l2: op_p2p_types::GenesisBlock { number },
            l2_time: timestamp,
        },
        block_time: 2,
        l2_chain_id: chain_id,
        canyon_time: active("canyon_active_at_requested_block"),
        ecotone_time: (version == Some(1)).then_some(0),
        isthmus_time: active("isthmus_active_at_requested_block"),
        ..Default::default()
    }
}

#[test]
fn payload_by_number_vectors() {
    let file = load("payload_by_number.json");
    for r in file["requests"].as_array().unwrap() {
        let number = u64_of(&r["block_number"]);
        assert_eq!(encode_request(number).to_vec(), hex(&r["request_hex"]));
        assert_eq!(decode_request(&hex(&r["request_hex"])), Some(number));
    }

    let responses = file["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 7);
    for v in responses {
        let name = v["name"].as_str().unwrap();
        let e = &v["expected"];
        let chain_id = u64_of(&v["chain_id"]);
        let requested = u64_of(&v["requested_block_number"]);
        assert_eq!(
            v["protocol_id"],
            payload_by_number_protocol_id(chain_id),
            "{name}"
        );
        assert_eq!(
            encode_request(requested).to_vec(),
            hex(&v["request_hex"]),
            "{name}"
        );
        let stream = hex(&v["response_hex"]);
        let timestamp = e["payload"]["timestamp"].as_u64().unwrap_or(0);
        let config = schedule_for(chain_id, requested, timestamp, v);

        if e["result"] == "REJECT" {
            let code = u8::try_from(u64_of(&e["result_code"])).unwrap();
            assert_eq!(
                decode_response(&config, requested, &stream),
                Err(ResponseError::ResultCode(code)),
                "{name}"
            );
            continue;
        }
        assert_eq!(e["result"], "ACCEPT", "{name}");
        assert_eq!(stream[0], 0, "{name}");
        let version = ResponseVersion::from_u32(u32::try_from(u64_of(&e["version"])).unwrap());
        assert_eq!(
            version
                .unwrap()
                .payload_version(&config, requested)
                .unwrap(),
            version_of(&e["decode_as_payload_version"]),
            "{name}"
        );

        // Framing: our decoder reads their frames; our encoder writes the same bytes.
        let ssz = hex(&e["ssz_hex"]);
        assert_eq!(ssz.len() as u64, u64_of(&e["ssz_length"]), "{name}");
        let framed = hex(&e["snappy_framed_hex"]);
        assert_eq!(
            decode_framed(&framed, 10 << 20).unwrap(),
            ssz,
            "{name}: unframe"
        );
        assert_eq!(stream[5..], framed[..], "{name}");
        assert_eq!(encode_framed(&ssz), framed, "{name}: frame");

        let envelope = decode_response(&config, requested, &stream).unwrap();
        assert_payload(name, &envelope, &e["payload"]);

        // A server holding this block answers with the same stream.
        assert_eq!(
            encode_response(&config, &envelope),
            stream,
            "{name}: server encoding"
        );

        // Asking for another number with the same answer is a failed request.
        assert_eq!(
            decode_response(
                &schedule_for(chain_id, requested + 1, timestamp, v),
                requested + 1,
                &stream
            ),
            Err(ResponseError::WrongNumber {
                requested: requested + 1,
                got: requested
            }),
            "{name}"
        );
    }
}

#[test]
fn primitives_signing_hashes() {
    let file = load("primitives.json");
    for ex in file["signing_hash"]["examples"].as_array().unwrap() {
        let body = hex(&ex["signed_bytes_hex"]);
        let chain_id = u64_of(&ex["chain_id"]);
        assert_eq!(payload_hash(&body), b256(&ex["payload_hash"]));
        assert_eq!(
            signing_hash(chain_id, payload_hash(&body)),
            b256(&ex["signing_hash"])
        );
        // The preimage is domain ++ chain id ++ payload hash; its hash is the signing hash.
        assert_eq!(
            keccak256(hex(&ex["preimage_hex"])),
            b256(&ex["signing_hash"])
        );
    }
    for golden in file["signing_hash"]["external_goldens"].as_array().unwrap() {
        let body = match golden.get("signed_bytes_utf8") {
            Some(s) => s.as_str().unwrap().as_bytes().to_vec(),
            None => hex(&golden["signed_bytes_hex"]),
        };
        let hash = signing_hash_with_domain(
            b256(&golden["domain"]),
            u64_of(&golden["chain_id"]),
            payload_hash(&body),
        );
        assert_eq!(hash, b256(&golden["signing_hash"]), "{}", golden["source"]);
    }
}

#[test]
fn primitives_topics_message_ids_signers_sizes_roots() {
    let file = load("primitives.json");
    for t in file["topics"].as_array().unwrap() {
        let topic = BlocksTopic::new(u64_of(&t["chain_id"]), version_of(&t["payload_version"]));
        assert_eq!(topic.to_string(), t["topic"].as_str().unwrap());
        assert_eq!(
            BlocksTopic::from_str(t["topic"].as_str().unwrap()).unwrap(),
            topic
        );
    }
    for ex in file["message_id"]["examples"].as_array().unwrap() {
        let topic = ex["topic"].as_str().unwrap();
        let data = hex(&ex["message_hex"]);
        assert_eq!(message_id(topic, &data).to_vec(), hex(&ex["message_id"]));
        // The spec text's formula gives the other value: sha256(domain ++ data)[..20].
        let domain: [u8; 4] = if ex["decompresses"].as_bool().unwrap() {
            [1, 0, 0, 0]
        } else {
            [0; 4]
        };
        let payload = if ex["decompresses"].as_bool().unwrap() {
            snap::raw::Decoder::new().decompress_vec(&data).unwrap()
        } else {
            data.clone()
        };
        let without_topic = Sha256::new()
            .chain_update(domain)
            .chain_update(&payload)
            .finalize();
        assert_eq!(
            without_topic[..20],
            hex(&ex["message_id_without_topic"])[..]
        );
    }
    for s in file["signers"].as_array().unwrap() {
        let signer = BlockSigner::new(b256(&s["private_key"])).unwrap();
        assert_eq!(signer.address(), address(&s["address"]));
    }
    let sizes = &file["ssz_fixed_part_sizes"];
    for (key, version) in ["v1", "v2", "v3", "v4"].iter().zip(PayloadVersion::ALL) {
        assert_eq!(version.ssz_fixed_len() as u64, u64_of(&sizes[key]));
    }
    let roots = &file["empty_roots"];
    assert_eq!(transactions_root(&[]), b256(&roots["empty_trie_root"]));
    assert_eq!(
        alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH,
        b256(&roots["empty_ommers_hash"])
    );
    assert_eq!(
        alloy_eips::eip7685::EMPTY_REQUESTS_HASH,
        b256(&roots["empty_requests_hash_sha256"])
    );
}

#[test]
fn issue_golden_message_ids() {
    // From the project's issue: topic `test`, raw `0102030405` is not valid snappy.
    let raw = [1u8, 2, 3, 4, 5];
    assert_eq!(
        hex::encode(message_id("test", &raw)),
        "b6897dcba59347fedcd694cc0f5117093c9dc727"
    );
    let compressed = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    assert_eq!(
        hex::encode(message_id("test", &compressed)),
        "adbe547b27f41294a08a09210a5e8531e83cdc16"
    );
}
