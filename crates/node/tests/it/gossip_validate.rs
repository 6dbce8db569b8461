//! `op-p2p gossip validate`, run as a process on the shared vectors and on generated blocks.

use std::{fs, process::Output};

use op_p2p_gossip::test_utils::{CHAIN_ID, NOW, block, sequencer};
use op_p2p_types::{B256, BlockSigner, ExecutionPayloadEnvelope, SignedBlockMessage};
use serde_json::Value;

use crate::common::run_with_stdin;

fn testdata(name: &str) -> String {
    format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The JSON lines of a successful run.
fn json_lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A failed run: exit `code`, one line on stderr, no panic, nothing on stdout.
fn assert_one_line_error(output: &Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code));
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("op-p2p: "), "{stderr}");
    stderr
}

fn hex_of(envelope: &ExecutionPayloadEnvelope, key: &BlockSigner) -> String {
    hex::encode(SignedBlockMessage::sign(key, CHAIN_ID, envelope).encode())
}

fn test_chain_args(extra: &[&'static str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "gossip",
        "validate",
        "--chain-id",
        "901",
        "--topic",
        "/optimism/901/3/blocks",
        "--signer",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(sequencer().address().to_string());
    args.push("--now".into());
    args.push(NOW.to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn every_vector_is_accepted_with_its_decoded_fields() {
    let file: Value =
        serde_json::from_str(&fs::read_to_string(testdata("gossip_valid.json")).unwrap()).unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let chain_id = v["chain_id"].as_u64().unwrap().to_string();
        let now = v["validation_now_unix"].as_u64().unwrap().to_string();
        let mut args = vec![
            "gossip",
            "validate",
            "--chain-id",
            &chain_id,
            "--topic",
            v["topic"].as_str().unwrap(),
            "--signer",
            v["configured_sequencer_address"].as_str().unwrap(),
            "--now",
            &now,
            "--hex",
            v["message_hex"].as_str().unwrap(),
        ];
        if v["jovian_active"].as_bool().unwrap() {
            args.push("--jovian-active");
        }
        let lines = json_lines(&run_with_stdin(&args, ""));
        assert_eq!(lines.len(), 1, "{name}");
        let out = &lines[0];
        let e = &v["expected"];
        let p = &e["payload"];
        assert_eq!(out["verdict"], "accept", "{name}: {out}");
        assert_eq!(out["reason"], Value::Null, "{name}");
        assert_eq!(out["message_id"], e["message_id"], "{name}");
        assert_eq!(
            out["signer"].as_str().unwrap().to_lowercase(),
            e["recovered_signer"].as_str().unwrap().to_lowercase(),
            "{name}"
        );
        assert_eq!(out["block_number"], p["block_number"], "{name}");
        assert_eq!(out["block_hash"], p["block_hash"], "{name}");
        assert_eq!(out["parent_hash"], p["parent_hash"], "{name}");
        assert_eq!(out["timestamp"], p["timestamp"], "{name}");
        assert_eq!(out["tx_count"], p["tx_count"], "{name}");
        assert_eq!(out["withdrawal_count"], p["withdrawals_count"], "{name}");
    }
}

#[test]
fn a_rollup_config_gives_the_chain_and_schedule() {
    let file: Value =
        serde_json::from_str(&fs::read_to_string(testdata("gossip_valid.json")).unwrap()).unwrap();
    let v = &file["vectors"][0];
    assert_eq!(v["chain_id"], 10);
    let rollup = testdata("rollup_op_mainnet.json");
    let now = v["validation_now_unix"].as_u64().unwrap().to_string();
    let args = [
        "gossip",
        "validate",
        "--rollup-config",
        &rollup,
        "--topic",
        v["topic"].as_str().unwrap(),
        "--signer",
        v["configured_sequencer_address"].as_str().unwrap(),
        "--now",
        &now,
    ];
    // From stdin, with a 0x prefix, twice: the second is a repeat.
    let message = v["message_hex"].as_str().unwrap();
    let lines = json_lines(&run_with_stdin(&args, &format!("{message}\n\n{message}\n")));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "accept");
    assert_eq!(lines[1]["verdict"], "ignore");
    assert_eq!(lines[1]["reason"], "duplicate_block");
}

#[test]
fn a_file_runs_through_the_stateful_rules_in_order() {
    let key = sequencer();
    let mut lines: Vec<String> = (1..=7)
        .map(|salt| hex_of(&block(50, NOW, salt), &key))
        .collect();
    lines.push(lines[0].clone());
    lines.push(hex_of(&block(51, NOW, 1), &key));
    let dir = std::env::temp_dir().join(format!("op-p2p-validate-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("messages.txt");
    fs::write(&path, lines.join("\n")).unwrap();

    let args = test_chain_args(&["--file"]);
    let mut args = strs(&args);
    let path_str = path.to_str().unwrap();
    args.push(path_str);
    let out = json_lines(&run_with_stdin(&args, ""));
    fs::remove_dir_all(&dir).unwrap();

    let verdicts: Vec<(&str, Option<&str>)> = out
        .iter()
        .map(|o| (o["verdict"].as_str().unwrap(), o["reason"].as_str()))
        .collect();
    let mut expected = vec![("accept", None); 6];
    expected.push(("reject", Some("too_many_blocks_at_height")));
    expected.push(("reject", Some("too_many_blocks_at_height")));
    expected.push(("accept", None));
    assert_eq!(verdicts, expected);
}

#[test]
fn failing_rules_are_reported_with_the_decoded_block() {
    let other = BlockSigner::new(B256::repeat_byte(2)).unwrap();
    let wrong_signer = hex_of(&block(60, NOW, 1), &other);
    let stale = hex_of(&block(61, NOW - 61, 1), &sequencer());
    let args = test_chain_args(&[]);
    let out = json_lines(&run_with_stdin(
        &strs(&args),
        &format!("{wrong_signer}\n{stale}\n80\n00\n"),
    ));
    assert_eq!(out[0]["verdict"], "reject");
    assert_eq!(out[0]["reason"], "wrong_signer");
    assert_eq!(
        out[0]["signer"].as_str().unwrap(),
        other.address().to_checksum(None)
    );
    assert_eq!(out[0]["block_number"], 60);
    assert_eq!(out[1]["reason"], "too_old");
    assert_eq!(out[1]["block_number"], 61);
    // An unterminated length varint, then a message declaring 0 bytes (both rejected, by
    // rules 1 and 3 as in op-node).
    assert_eq!(out[2]["reason"], "invalid_snappy_length");
    assert_eq!(out[2]["block_number"], Value::Null);
    assert_eq!(out[3]["reason"], "too_small");
}

#[test]
fn a_zero_signer_is_ignored() {
    let message = hex_of(&block(70, NOW, 1), &sequencer());
    let args = [
        "gossip",
        "validate",
        "--chain-id",
        "901",
        "--topic",
        "/optimism/901/3/blocks",
        "--signer",
        "0x0000000000000000000000000000000000000000",
        "--now",
        "1750000000",
        "--hex",
        &message,
    ];
    let out = json_lines(&run_with_stdin(&args, ""));
    assert_eq!(out[0]["verdict"], "ignore");
    assert_eq!(out[0]["reason"], "no_signer");
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let args = test_chain_args(&["--hex", "0xzz"]);
    let err = assert_one_line_error(&run_with_stdin(&strs(&args), ""), 1);
    assert!(err.contains("invalid hex"), "{err}");

    let args = test_chain_args(&[]);
    let err = assert_one_line_error(&run_with_stdin(&strs(&args), "00\nnot hex\n"), 1);
    assert!(err.contains("line 2"), "{err}");

    let args = test_chain_args(&[]);
    let err = assert_one_line_error(&run_with_stdin(&strs(&args), "\n"), 1);
    assert!(err.contains("no message"), "{err}");

    let args = test_chain_args(&["--file", "/nonexistent/op-p2p/messages"]);
    assert_one_line_error(&run_with_stdin(&strs(&args), ""), 1);

    // The topic of another chain.
    let mut args = test_chain_args(&["--hex", "00"]);
    args[5] = "/optimism/10/3/blocks".into();
    let err = assert_one_line_error(&run_with_stdin(&strs(&args), ""), 1);
    assert!(err.contains("not a topic of chain 901"), "{err}");

    // A rollup config that is not one.
    let args = [
        "gossip",
        "validate",
        "--rollup-config",
        env!("CARGO_MANIFEST_DIR"),
        "--topic",
        "/optimism/10/3/blocks",
        "--signer",
        "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1",
        "--now",
        "1",
        "--hex",
        "00",
    ];
    assert_one_line_error(&run_with_stdin(&args, ""), 1);

    // Command-line errors: clap's message, cut to one line, exit 2.
    for args in [
        vec!["gossip", "validate", "--topic", "/optimism/10/3/blocks"],
        vec![
            "gossip",
            "validate",
            "--chain-id",
            "10",
            "--topic",
            "nope",
            "--signer",
            "0x00",
            "--now",
            "1",
        ],
        vec!["gossip", "frobnicate"],
        vec![],
    ] {
        assert_one_line_error(&run_with_stdin(&args, ""), 2);
    }
}

#[test]
fn jovian_active_allows_blob_gas_used() {
    let mut envelope = block(80, NOW, 1);
    envelope.execution_payload.blob_gas_used = Some(40_000);
    envelope.execution_payload.block_hash = envelope.compute_block_hash().unwrap();
    let message = hex_of(&envelope, &sequencer());
    let args = test_chain_args(&["--hex"]);
    let mut args = strs(&args);
    args.push(&message);
    let out = json_lines(&run_with_stdin(&args, ""));
    assert_eq!(out[0]["reason"], "non_zero_blob_gas_used");
    args.push("--jovian-active");
    let out = json_lines(&run_with_stdin(&args, ""));
    assert_eq!(out[0]["verdict"], "accept");
}
