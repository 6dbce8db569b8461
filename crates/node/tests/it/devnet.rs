//! `op-p2p devnet` end to end: node processes of the built binary on 127.0.0.1 over TCP.

use std::path::Path;

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Decodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use op_alloy_consensus::OpTxEnvelope;
use op_p2p_types::{ExecutionPayloadEnvelope, PayloadVersion};
use serde_json::Value;
use tempfile::TempDir;

use crate::common::{Node, block_hashes, dial_addr, node_args, run, run_with_stdin};

/// The final status of node `index` of a devnet in `dir`.
fn node_status(dir: &Path, index: usize) -> Value {
    let path = dir.join(format!("node-{index}/status.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Blocks 1..=`blocks` of a status, by number.
fn chain(status: &Value, blocks: u64) -> Vec<(u64, String)> {
    block_hashes(status)
        .into_iter()
        .filter(|(n, _)| (1..=blocks).contains(n))
        .collect()
}

/// Runs `op-p2p devnet` with `args` into `dir`, asserts it exited 0, and returns its stdout.
fn run_devnet(dir: &TempDir, args: &[&str]) -> String {
    let d = dir.path().to_str().unwrap();
    let mut all = vec!["devnet"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--dir", d]);
    let output = run(&all, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn four_nodes_hold_the_same_twenty_blocks() {
    let dir = TempDir::new().unwrap();
    let stdout = run_devnet(
        &dir,
        &["--nodes", "4", "--blocks", "20", "--block-time", "1"],
    );
    assert!(
        stdout.contains("ok: all 4 nodes hold blocks 1-20"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("block ")).count(),
        20,
        "{stdout}"
    );

    let sequencer = node_status(dir.path(), 0);
    let canonical = chain(&sequencer, 20);
    assert_eq!(canonical.len(), 20);
    assert_eq!(sequencer["role"], "sequencer");
    assert_eq!(sequencer["blocks_local"], 20);
    assert_eq!(sequencer["gossip"]["published"], 20);
    for index in 1..4 {
        let status = node_status(dir.path(), index);
        assert_eq!(chain(&status, 20), canonical, "node {index}");
        assert_eq!(status["head"]["number"], 20, "node {index}");
        assert_eq!(status["blocks_via_gossip"], 20, "node {index}");
        assert_eq!(status["bans"].as_array().unwrap().len(), 0, "node {index}");
        assert_eq!(status["gossip"]["rejected"], 0, "node {index}");
    }
}

/// The proof of payload_by_number in the devnet: the late joiner fills the blocks it missed
/// through sync and ends with every block.
#[test]
fn late_joiner_fills_its_gap_with_payload_by_number() {
    let dir = TempDir::new().unwrap();
    let stdout = run_devnet(
        &dir,
        &[
            "--nodes",
            "4",
            "--blocks",
            "12",
            "--block-time",
            "1",
            "--late-joiner",
        ],
    );
    assert!(stdout.contains("joined late"), "{stdout}");
    let canonical = chain(&node_status(dir.path(), 0), 12);
    for index in 1..4 {
        let status = node_status(dir.path(), index);
        assert_eq!(chain(&status, 12), canonical, "node {index}");
        assert_eq!(status["sync"], "on", "node {index}");
    }
    let late = node_status(dir.path(), 3);
    assert!(late["blocks_via_sync"].as_u64().unwrap() > 0, "{late}");
    assert_eq!(late["gaps_unfilled"], 0, "{late}");
}

/// Every stored payload of the node whose database is at `db`, by number (read-only, after the
/// node stopped): the payload records are `[format 1][payload version][envelope SSZ]`.
fn stored_payloads(db: &Path) -> Vec<ExecutionPayloadEnvelope> {
    use op_p2p_peerstore::rocksdb::{DB, IteratorMode, Options};
    let families = DB::list_cf(&Options::default(), db).unwrap();
    let db = DB::open_cf_for_read_only(&Options::default(), db, &families, false).unwrap();
    let payloads = db.cf_handle("payloads").unwrap();
    let mut out: Vec<ExecutionPayloadEnvelope> = db
        .iterator_cf(payloads, IteratorMode::Start)
        .map(|item| {
            let (_, value) = item.unwrap();
            assert_eq!(value[0], 1, "record format");
            let version = PayloadVersion::ALL
                .into_iter()
                .find(|v| *v as u8 == value[1])
                .unwrap();
            ExecutionPayloadEnvelope::decode_ssz(version, &Bytes::copy_from_slice(&value[2..]))
                .unwrap()
        })
        .collect();
    out.sort_by_key(|e| e.execution_payload.block_number);
    out
}

/// The devnet's blocks as a real OP client reads them: the first transaction of every block is
/// an Isthmus L1-info deposit (decoded by op-alloy-consensus and the spec's byte offsets) with
/// the L1-info source hash, an L1 origin at most 12 s older than the block, and sequence
/// numbers that count up within an origin and restart at 0 when it advances; behind it, with
/// `--block-bytes 120000`, ~120 KB of EIP-1559 transactions. The genesis block is stored too,
/// and a node serves it over payload_by_number.
#[test]
fn devnet_blocks_carry_l1_info_deposits_and_genesis_is_served() {
    const BLOCKS: u64 = 10;
    let dir = TempDir::new().unwrap();
    let stdout = run_devnet(
        &dir,
        &[
            "--nodes",
            "2",
            "--blocks",
            "10",
            "--block-time",
            "1",
            "--static",
            "--block-bytes",
            "120000",
        ],
    );
    assert!(
        stdout.contains("ok: all 2 nodes hold blocks 1-10"),
        "{stdout}"
    );
    let rollup_path = dir.path().join("rollup.json");
    let rollup: Value = serde_json::from_slice(&std::fs::read(&rollup_path).unwrap()).unwrap();
    let genesis_hash = rollup["genesis"]["l2"]["hash"].as_str().unwrap().to_owned();

    // The verifier's store: what it received over the network.
    let payloads = stored_payloads(&dir.path().join("node-1/db"));
    let numbers: Vec<u64> = payloads
        .iter()
        .map(|e| e.execution_payload.block_number)
        .collect();
    assert_eq!(numbers, (0..=BLOCKS).collect::<Vec<_>>());
    let genesis = &payloads[0].execution_payload;
    assert_eq!(genesis.block_hash.to_string(), genesis_hash);
    assert!(genesis.transactions.is_empty());

    let mut previous: Option<(u64, B256, u64)> = None;
    for envelope in &payloads[1..] {
        let p = &envelope.execution_payload;
        let tx = OpTxEnvelope::decode_2718(&mut &p.transactions[0][..]).unwrap();
        let deposit = tx.as_deposit().expect("the first transaction is a deposit");
        assert_eq!(
            deposit.from,
            address!("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001")
        );
        assert_eq!(
            deposit.to.to().copied(),
            Some(address!("0x4200000000000000000000000000000000000015"))
        );
        assert_eq!(
            (
                deposit.gas_limit,
                deposit.is_system_transaction,
                deposit.mint
            ),
            (1_000_000, false, 0)
        );
        let data = &deposit.input;
        assert_eq!(data.len(), 176, "block {}", p.block_number);
        assert_eq!(data[..4], keccak256("setL1BlockValuesIsthmus()")[..4]);
        let seq = u64::from_be_bytes(data[12..20].try_into().unwrap());
        let l1_time = u64::from_be_bytes(data[20..28].try_into().unwrap());
        let l1_number = u64::from_be_bytes(data[28..36].try_into().unwrap());
        let l1_hash = B256::from_slice(&data[100..132]);
        assert_ne!(
            Address::from_slice(&data[144..164]),
            Address::ZERO,
            "batcher"
        );
        // keccak256(bytes32(1) ‖ keccak256(l1 hash ‖ bytes32(seq))).
        let mut inner = l1_hash.to_vec();
        inner.extend_from_slice(&U256::from(seq).to_be_bytes::<32>());
        let mut outer = U256::from(1).to_be_bytes::<32>().to_vec();
        outer.extend_from_slice(keccak256(inner).as_slice());
        assert_eq!(deposit.source_hash, keccak256(outer));
        assert!(l1_time <= p.timestamp && p.timestamp - l1_time < 12);
        assert_eq!(
            seq,
            p.timestamp - l1_time,
            "1 s blocks: one per second since the origin"
        );
        if let Some((number, hash, last_seq)) = previous {
            if l1_number == number {
                assert_eq!((l1_hash, seq), (hash, last_seq + 1));
            } else {
                assert_eq!((l1_number, seq), (number + 1, 0));
            }
        }
        previous = Some((l1_number, l1_hash, seq));
        let users = &p.transactions[1..];
        let bytes: usize = users.iter().map(|tx| tx.len()).sum();
        assert!(bytes >= 120_000, "block {}: {bytes} bytes", p.block_number);
        for tx in users {
            let tx = TxEnvelope::decode_2718(&mut &tx[..]).unwrap();
            assert!(matches!(tx, TxEnvelope::Eip1559(_)), "{tx:?}");
        }
    }

    // A node on the devnet's chain serves genesis from its store (op-node from its engine).
    let key = dir.path().join("fetch-key.txt");
    let db = dir.path().join("node-1/db").display().to_string();
    let mut node = Node::start(
        &node_args(&rollup_path, &key.display().to_string(), &db),
        &[],
        &dir.path().join("server.json"),
        &dir.path().join("server.log"),
    );
    let status = node.wait_status("listening", |s| {
        !s["listen_addrs"].as_array().unwrap().is_empty()
    });
    let peer = dial_addr(&status);
    let fetch = |number: u64| {
        let output = run_with_stdin(
            &[
                "sync",
                "fetch",
                "--rollup-config",
                rollup_path.to_str().unwrap(),
                "--peer",
                &peer,
                "--number",
                &number.to_string(),
            ],
            "",
        );
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let r = fetch(0);
    assert_eq!(r["verdict"], "accept", "{r}");
    assert_eq!(
        (r["number"].as_u64(), r["tx_count"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["hash"].as_str().unwrap(), genesis_hash);
    let r = fetch(BLOCKS);
    assert_eq!(r["verdict"], "accept", "{r}");
    assert!(r["tx_count"].as_u64().unwrap() > 150, "{r}");
    node.stop();
}

#[test]
fn remote_signer_devnet_signs_every_block_through_op_signer_json_rpc() {
    let dir = TempDir::new().unwrap();
    let stdout = run_devnet(
        &dir,
        &[
            "--nodes",
            "3",
            "--blocks",
            "5",
            "--block-time",
            "1",
            "--static",
            "--remote-signer",
        ],
    );
    assert!(
        stdout.contains("ok: all 3 nodes hold blocks 1-5"),
        "{stdout}"
    );
    assert!(
        stdout.contains("remote signer: 5 signatures served at http://127.0.0.1:"),
        "{stdout}"
    );
    // The sequencer signed through the endpoint, not with a key of its own.
    let log = std::fs::read_to_string(dir.path().join("node-0/node.log")).unwrap();
    assert!(
        log.contains("remote block signer answers health_status"),
        "{log}"
    );
    let sequencer = node_status(dir.path(), 0);
    assert_eq!(sequencer["gossip"]["published"], 5, "{sequencer}");
    for index in 1..3 {
        assert_eq!(
            chain(&node_status(dir.path(), index), 5),
            chain(&sequencer, 5)
        );
    }
}
