//! `op-p2p sync decode-response` on the shared payload_by_number vectors, `op-p2p sync fetch`
//! against a real `op-p2p node` process, and bad input as one-line errors.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{
    Node, SEQUENCER_KEY, block_hashes, dial_addr, node_args, run_with_stdin, write_rollup,
};

fn vectors() -> Value {
    let path = format!(
        "{}/testdata/payload_by_number.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A number that the vector file writes as a JSON number or a decimal string.
fn u64_of(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| v.as_str().unwrap().parse().unwrap())
}

/// A rollup.json whose schedule puts the requested block in the vector's forks (as the types
/// crate's `schedule_for`): genesis at the requested block, Ecotone active for version 1.
fn write_schedule(dir: &Path, v: &Value) -> PathBuf {
    let e = &v["expected"];
    let timestamp = &e["payload"]["timestamp"];
    let active = |flag: &str| v[flag].as_bool().unwrap().then_some(0);
    let json = serde_json::json!({
        "genesis": {
            "l2": { "number": u64_of(&v["requested_block_number"]) },
            "l2_time": if timestamp.is_null() { 0 } else { u64_of(timestamp) },
        },
        "block_time": 2,
        "l2_chain_id": u64_of(&v["chain_id"]),
        "canyon_time": active("canyon_active_at_requested_block"),
        "ecotone_time": (e["version"].as_u64() == Some(1)).then_some(0),
        "isthmus_time": active("isthmus_active_at_requested_block"),
    });
    let path = dir.join(format!("{}.json", v["name"].as_str().unwrap()));
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// The one JSON object of a successful run.
fn report(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// A failed run: exit status 1, one line on stderr naming `what`, nothing on stdout.
fn assert_one_line_error(output: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("op-p2p: error: "), "{stderr}");
    assert!(stderr.contains(what), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn decode_response_reports_every_vector_as_the_client_judges_it() {
    let dir = TempDir::new().unwrap();
    let file = vectors();
    let responses = file["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 7);
    for v in responses {
        let name = v["name"].as_str().unwrap();
        let e = &v["expected"];
        let rollup = write_schedule(dir.path(), v);
        let number = u64_of(&v["requested_block_number"]).to_string();
        let hex = v["response_hex"].as_str().unwrap();
        let args = [
            "sync",
            "decode-response",
            "--rollup-config",
            rollup.to_str().unwrap(),
            "--number",
            &number,
        ];
        // The same report from --hex and from stdin.
        let mut with_hex = args.to_vec();
        with_hex.extend(["--hex", hex]);
        let r = report(&run_with_stdin(&with_hex, ""));
        assert_eq!(
            report(&run_with_stdin(&args, &format!("{hex}\n"))),
            r,
            "{name}"
        );

        assert_eq!(r["result_code"], u64_of(&e["result_code"]), "{name}");
        if e["result"] == "REJECT" {
            assert_eq!(r["verdict"], "reject", "{name}");
            assert!(r["reason"].is_string(), "{name}: {r}");
            assert!(r["hash"].is_null(), "{name}");
            continue;
        }
        assert_eq!(e["result"], "ACCEPT", "{name}");
        let p = &e["payload"];
        assert_eq!(r["verdict"], "accept", "{name}: {r}");
        assert!(r["reason"].is_null(), "{name}");
        assert_eq!(r["version"], u64_of(&e["version"]), "{name}");
        assert_eq!(r["number"], u64_of(&p["block_number"]), "{name}");
        assert_eq!(r["hash"], p["block_hash"], "{name}");
        assert_eq!(r["parent_hash"], p["parent_hash"], "{name}");
        assert_eq!(r["timestamp"], u64_of(&p["timestamp"]), "{name}");
        assert_eq!(r["tx_count"], u64_of(&p["tx_count"]), "{name}");
    }
}

#[test]
fn decode_response_rejects_a_tampered_or_misdirected_response() {
    let dir = TempDir::new().unwrap();
    let file = vectors();
    let v = &file["responses"][0];
    let rollup = write_schedule(dir.path(), v);
    let rollup = rollup.to_str().unwrap();
    let requested = u64_of(&v["requested_block_number"]);
    let hex = v["response_hex"].as_str().unwrap();

    // Asked for another number: decoded, but rejected.
    let other = (requested + 1).to_string();
    let r = report(&run_with_stdin(
        &[
            "sync",
            "decode-response",
            "--rollup-config",
            rollup,
            "--number",
            &other,
            "--hex",
            hex,
        ],
        "",
    ));
    assert_eq!(r["verdict"], "reject", "{r}");
    assert_eq!(r["number"], requested, "{r}");

    // Truncated: rejected with a reason.
    let truncated = &hex[..hex.len() - 20];
    let number = requested.to_string();
    let r = report(&run_with_stdin(
        &[
            "sync",
            "decode-response",
            "--rollup-config",
            rollup,
            "--number",
            &number,
            "--hex",
            truncated,
        ],
        "",
    ));
    assert_eq!(r["verdict"], "reject", "{r}");
    assert!(r["reason"].is_string(), "{r}");
}

#[test]
fn decode_response_bad_input_is_a_one_line_error() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 0);
    let rollup = rollup.to_str().unwrap();
    let base = [
        "sync",
        "decode-response",
        "--rollup-config",
        rollup,
        "--number",
        "1",
    ];

    let mut not_hex = base.to_vec();
    not_hex.extend(["--hex", "0xzz"]);
    assert_one_line_error(&run_with_stdin(&not_hex, ""), "invalid hex");
    assert_one_line_error(&run_with_stdin(&base, ""), "no response given");
    assert_one_line_error(
        &run_with_stdin(
            &[
                "sync",
                "decode-response",
                "--rollup-config",
                "/nonexistent/rollup.json",
                "--number",
                "1",
                "--hex",
                "0x01",
            ],
            "",
        ),
        "/nonexistent/rollup.json",
    );
    // A bad command line: clap's status 2, still one line.
    let output = run_with_stdin(&["sync", "decode-response", "--number", "x"], "");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}

#[test]
fn fetch_asks_a_live_node_for_one_payload() {
    const BLOCKS: u64 = 3;
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 1);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mut args = node_args(&rollup, &path("key.txt"), "memory");
    args.extend(["--sequencer.last-block".to_owned(), BLOCKS.to_string()]);
    let mut sequencer = Node::start(
        &args,
        &[("OP_NODE_P2P_SEQUENCER_KEY", SEQUENCER_KEY)],
        &dir.path().join("sequencer.json"),
        &dir.path().join("sequencer.log"),
    );
    let status = sequencer.wait_status("sequencer holds its blocks", |s| {
        s["head"]["number"] == BLOCKS && !s["listen_addrs"].as_array().unwrap().is_empty()
    });
    let hashes = block_hashes(&status);
    let peer = dial_addr(&status);
    let rollup = rollup.to_str().unwrap();
    let fetch = |number: &str| {
        run_with_stdin(
            &[
                "sync",
                "fetch",
                "--rollup-config",
                rollup,
                "--peer",
                &peer,
                "--number",
                number,
            ],
            "",
        )
    };

    let r = report(&fetch("2"));
    assert_eq!(r["verdict"], "accept", "{r}");
    assert_eq!(r["result_code"], 0, "{r}");
    assert_eq!(r["version"], 1, "{r}");
    assert_eq!(r["number"], 2, "{r}");
    let (_, hash) = hashes.iter().find(|(n, _)| *n == 2).unwrap();
    assert_eq!(r["hash"].as_str().unwrap(), hash.as_str());
    let (_, parent) = hashes.iter().find(|(n, _)| *n == 1).unwrap();
    assert_eq!(r["parent_hash"].as_str().unwrap(), parent.as_str());

    // A block the node does not have (beyond the wall-clock target): a rejecting report, not
    // an error.
    let r = report(&fetch("1000000"));
    assert_eq!(r["verdict"], "reject", "{r}");
    assert!(r["result_code"].as_u64().unwrap() > 0, "{r}");

    // Nobody listening: one line, exit 1.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let output = run_with_stdin(
        &[
            "sync",
            "fetch",
            "--rollup-config",
            rollup,
            "--peer",
            &format!("/ip4/127.0.0.1/tcp/{port}"),
            "--number",
            "1",
        ],
        "",
    );
    assert_one_line_error(&output, "fetch from /ip4/127.0.0.1/tcp/");
    sequencer.stop();
}

/// With `--p2p.sync.req-resp=false` a node that joins late neither fills its gap nor serves:
/// the gap is counted as unfilled and the status says `"sync": "off"`.
#[test]
fn with_sync_off_a_late_node_reports_its_gap_unfilled() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 1);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let common = |name: &str| -> Vec<String> {
        node_args(&rollup, &path(&format!("{name}-key.txt")), "memory")
    };
    // The sequencer runs until stopped.
    let mut sequencer = Node::start(
        &common("sequencer"),
        &[("OP_NODE_P2P_SEQUENCER_KEY", SEQUENCER_KEY)],
        &dir.path().join("sequencer.json"),
        &dir.path().join("sequencer.log"),
    );
    let status = sequencer.wait_status("sequencer two blocks in", |s| {
        s["head"]["number"].as_u64().unwrap() >= 2
            && !s["listen_addrs"].as_array().unwrap().is_empty()
    });
    assert_eq!(status["sync"], "on");
    let mut args = common("verifier");
    args.extend([
        "--p2p.static".to_owned(),
        dial_addr(&status),
        "--p2p.sync.req-resp=false".to_owned(),
        "--syncmode.req-resp=false".to_owned(),
    ]);
    let mut verifier = Node::start(
        &args,
        &[],
        &dir.path().join("verifier.json"),
        &dir.path().join("verifier.log"),
    );
    let late = verifier.wait_status("verifier reports an unfilled gap", |s| {
        s["gaps_unfilled"].as_u64().unwrap() > 0
    });
    assert_eq!(late["sync"], "off", "{late}");
    assert_eq!(late["blocks_via_sync"], 0, "{late}");
    assert_eq!(late["head"]["number"], 0, "{late}");
    verifier.stop();
    sequencer.stop();
}
