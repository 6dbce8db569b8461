//! `admin_postUnsafePayload` (`--rpc.enable-admin`): payloads built elsewhere, posted in the
//! Engine API JSON format to a node that holds the block signer (here a remote op-signer over
//! plain HTTP) but builds nothing (`--sequencer.stopped`), reach every other node of a small
//! network of node processes; invalid payloads are refused with the reason and nothing is
//! stored or published. Without the flag the method does not exist.

use std::{
    net::{SocketAddr, TcpStream},
    path::Path,
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use op_p2p_types::{
    Address, B256, Bytes, ExecutionPayload, ExecutionPayloadEnvelope, U256, Withdrawal,
};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{
    common::{
        Node, SEQUENCER_ADDRESS, SEQUENCER_KEY, TIMEOUT, block_hashes, dial_addr, free_port,
        node_args, write_rollup,
    },
    rpc::Rpc,
    test_signer::{SignerOptions, TestSigner},
};

/// Blocks posted.
const BLOCKS: u64 = 3;
/// geth's code for an error returned by a method.
const SERVER_ERROR: i64 = -32000;
/// JSON-RPC's code for an argument that does not decode.
const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC's code for an unknown method.
const METHOD_NOT_FOUND: i64 = -32601;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An Isthmus (V4) block `number` on `parent` at `timestamp`, with its block hash.
fn block(parent: B256, number: u64, timestamp: u64) -> ExecutionPayloadEnvelope {
    let mut envelope = ExecutionPayloadEnvelope {
        parent_beacon_block_root: Some(B256::repeat_byte(0x44)),
        execution_payload: ExecutionPayload {
            parent_hash: parent,
            fee_recipient: Address::repeat_byte(0x42),
            state_root: B256::with_last_byte(u8::try_from(number).unwrap()),
            receipts_root: B256::repeat_byte(0x55),
            prev_randao: B256::repeat_byte(0x66),
            block_number: number,
            gas_limit: 30_000_000,
            gas_used: 21_000,
            timestamp,
            extra_data: Bytes::from(vec![0, 0, 0, 0, 250, 0, 0, 0, 6]),
            base_fee_per_gas: U256::from(1_000_000_000u64),
            transactions: vec![Bytes::from(vec![0x7e, 0xc0, u8::try_from(number).unwrap()])],
            withdrawals: Some(Vec::new()),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            withdrawals_root: Some(B256::repeat_byte(0x33)),
            ..Default::default()
        },
    };
    rehash(&mut envelope);
    envelope
}

fn rehash(envelope: &mut ExecutionPayloadEnvelope) {
    envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
}

/// The Engine API JSON of `envelope` (op-node's `eth.ExecutionPayloadEnvelope`).
fn engine_json(envelope: &ExecutionPayloadEnvelope) -> Value {
    let p = &envelope.execution_payload;
    let mut payload = json!({
        "parentHash": p.parent_hash.to_string(),
        "feeRecipient": p.fee_recipient.to_string(),
        "stateRoot": p.state_root.to_string(),
        "receiptsRoot": p.receipts_root.to_string(),
        "logsBloom": p.logs_bloom.to_string(),
        "prevRandao": p.prev_randao.to_string(),
        "blockNumber": format!("{:#x}", p.block_number),
        "gasLimit": format!("{:#x}", p.gas_limit),
        "gasUsed": format!("{:#x}", p.gas_used),
        "timestamp": format!("{:#x}", p.timestamp),
        "extraData": p.extra_data.to_string(),
        "baseFeePerGas": format!("{:#x}", p.base_fee_per_gas),
        "blockHash": p.block_hash.to_string(),
        "transactions": p.transactions.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    if let Some(withdrawals) = &p.withdrawals {
        payload["withdrawals"] = withdrawals
            .iter()
            .map(|w| {
                json!({
                    "index": format!("{:#x}", w.index),
                    "validatorIndex": format!("{:#x}", w.validator_index),
                    "address": w.address.to_string(),
                    "amount": format!("{:#x}", w.amount),
                })
            })
            .collect();
    }
    if let Some(used) = p.blob_gas_used {
        payload["blobGasUsed"] = format!("{used:#x}").into();
    }
    if let Some(excess) = p.excess_blob_gas {
        payload["excessBlobGas"] = format!("{excess:#x}").into();
    }
    if let Some(root) = p.withdrawals_root {
        payload["withdrawalsRoot"] = root.to_string().into();
    }
    let mut envelope_json = json!({ "executionPayload": payload });
    if let Some(root) = envelope.parent_beacon_block_root {
        envelope_json["parentBeaconBlockRoot"] = root.to_string().into();
    }
    envelope_json
}

/// Starts a node in `dir/name` with its RPC on `port` and `extra` flags.
fn start(dir: &Path, rollup: &Path, name: &str, port: u16, extra: &[String]) -> (Node, Rpc) {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let mut args = node_args(rollup, home.join("key.txt").to_str().unwrap(), "memory");
    let at = args.iter().position(|a| a == "--rpc.port").unwrap();
    args[at + 1] = port.to_string();
    args.extend(extra.iter().cloned());
    let mut node = Node::start(
        &args,
        &[],
        &home.join("status.json"),
        &home.join("node.log"),
    );
    node.wait_status("listening", |s| {
        !s["listen_addrs"].as_array().unwrap().is_empty()
    });
    let rpc = Rpc(SocketAddr::from(([127, 0, 0, 1], port)));
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(rpc.0).is_err() {
        assert!(Instant::now() < deadline, "{name}: RPC not up");
        thread::sleep(Duration::from_millis(50));
    }
    (node, rpc)
}

/// Posts `envelope`; while the publisher has no gossip peers yet (the mesh is still forming),
/// tries again.
fn post(rpc: Rpc, envelope: &ExecutionPayloadEnvelope) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match rpc.call("admin_postUnsafePayload", json!([engine_json(envelope)])) {
            Ok(result) => {
                assert_eq!(result, Value::Null);
                return;
            }
            Err((_, message)) if message.contains("not published") => {
                assert!(Instant::now() < deadline, "never published: {message}");
                thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("admin_postUnsafePayload refused a valid payload: {e:?}"),
        }
    }
}

#[test]
fn a_posted_payload_reaches_every_node_and_invalid_ones_are_refused_with_the_reason() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 0);
    let genesis_time: u64 = serde_json::from_str::<Value>(
        &std::fs::read_to_string(&rollup).unwrap(),
    )
    .unwrap()["genesis"]["l2_time"]
        .as_u64()
        .unwrap();
    let genesis_hash: B256 = format!("0x{}", "ab".repeat(32)).parse().unwrap();
    let signer = TestSigner::start(
        SignerOptions {
            key: SEQUENCER_KEY.parse().unwrap(),
            delay: Duration::ZERO,
        },
        None,
    );

    // A holds the signer and serves admin_*; B and D dial A, C dials B (so C only hears A's
    // blocks through B's relay).
    let admin_flags: Vec<String> = [
        "--signer.endpoint",
        &signer.url,
        "--signer.address",
        SEQUENCER_ADDRESS,
        "--sequencer.stopped",
        "--rpc.enable-admin",
    ]
    .map(str::to_owned)
    .to_vec();
    let (mut a, a_rpc) = start(dir.path(), &rollup, "a", free_port(), &admin_flags);
    let a_addr = dial_addr(&a.status().unwrap());
    let (mut b, b_rpc) = start(
        dir.path(),
        &rollup,
        "b",
        free_port(),
        &["--p2p.static".to_owned(), a_addr.clone()],
    );
    let b_addr = dial_addr(&b.status().unwrap());
    let (mut c, _) = start(
        dir.path(),
        &rollup,
        "c",
        free_port(),
        &["--p2p.static".to_owned(), b_addr],
    );
    let (mut d, _) = start(
        dir.path(),
        &rollup,
        "d",
        free_port(),
        &["--p2p.static".to_owned(), a_addr],
    );
    a.wait_status("A has B and D", |s| s["peers"] == 2);
    b.wait_status("B has A and C", |s| s["peers"] == 2);
    c.wait_status("C has B", |s| s["peers"] == 1);
    d.wait_status("D has A", |s| s["peers"] == 1);

    // Without --rpc.enable-admin there is no admin namespace.
    b_rpc.err("admin_postUnsafePayload", json!([{}]), METHOD_NOT_FOUND);

    // Three chained blocks, posted one after another, reach every node.
    let mut parent = genesis_hash;
    let mut posted = Vec::new();
    for number in 1..=BLOCKS {
        let envelope = block(parent, number, genesis_time + number);
        post(a_rpc, &envelope);
        parent = envelope.execution_payload.block_hash;
        posted.push((number, parent.to_string()));
    }
    for (name, node) in [("B", &mut b), ("C", &mut c), ("D", &mut d)] {
        let status = node.wait_status(&format!("{name} holds every posted block"), |s| {
            s["head"]["number"] == BLOCKS
        });
        assert_eq!(block_hashes(&status), posted, "{name}");
        assert_eq!(status["gossip"]["rejected"], 0, "{name}: {status}");
    }
    let a_status = a.wait_status("A stored and published them", |s| {
        s["head"]["number"] == BLOCKS && s["gossip"]["published"] == BLOCKS
    });
    assert_eq!(block_hashes(&a_status), posted);
    assert_eq!(signer.signed(), BLOCKS as usize);

    // Refusals, each with its reason.
    let next = block(parent, BLOCKS + 1, genesis_time + BLOCKS + 1);
    let mut bad_hash = next.clone();
    bad_hash.execution_payload.block_hash = B256::repeat_byte(9);
    let message = a_rpc.err(
        "admin_postUnsafePayload",
        json!([engine_json(&bad_hash)]),
        SERVER_ERROR,
    );
    assert_eq!(
        message,
        format!(
            "payload has bad block hash: {}, actual block hash is: {}",
            B256::repeat_byte(9),
            next.execution_payload.block_hash
        )
    );

    let mut v3_shape = next.clone();
    v3_shape.execution_payload.withdrawals_root = None;
    rehash(&mut v3_shape);
    let message = a_rpc.err(
        "admin_postUnsafePayload",
        json!([engine_json(&v3_shape)]),
        SERVER_ERROR,
    );
    assert!(
        message.starts_with("wrong fork shape") && message.contains("V3") && message.contains("V4"),
        "{message}"
    );

    let mut stale = block(parent, BLOCKS + 1, now() - 600);
    rehash(&mut stale);
    let message = a_rpc.err(
        "admin_postUnsafePayload",
        json!([engine_json(&stale)]),
        SERVER_ERROR,
    );
    assert!(
        message.contains("would be rejected by every peer: too_old"),
        "{message}"
    );

    let mut withdrawal = next;
    withdrawal.execution_payload.withdrawals = Some(vec![Withdrawal {
        index: 1,
        validator_index: 2,
        address: Address::repeat_byte(1),
        amount: 3,
    }]);
    rehash(&mut withdrawal);
    let message = a_rpc.err(
        "admin_postUnsafePayload",
        json!([engine_json(&withdrawal)]),
        SERVER_ERROR,
    );
    assert!(message.contains("rejected by every peer"), "{message}");

    let message = a_rpc.err(
        "admin_postUnsafePayload",
        json!([{"executionPayload": {"blockNumber": "0x1"}}]),
        INVALID_PARAMS,
    );
    assert!(message.starts_with("invalid argument 0"), "{message}");

    // Nothing of that was stored, signed or published.
    thread::sleep(Duration::from_secs(2));
    let a_status = a.status().unwrap();
    assert_eq!(a_status["head"]["number"], BLOCKS);
    assert_eq!(a_status["gossip"]["published"], BLOCKS);
    assert_eq!(signer.signed(), BLOCKS as usize);
    let b_status = b.status().unwrap();
    assert_eq!(b_status["head"]["number"], BLOCKS);
    assert_eq!(b_status["gossip"]["accepted"], BLOCKS, "{b_status}");
}
