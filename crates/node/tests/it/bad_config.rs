//! Bad configuration stops `op-p2p node` at start: exit status 1 (2 for clap's own refusals),
//! one line on stderr naming the cause, no panic, no backtrace (with `RUST_BACKTRACE=1` set).

use std::{net::TcpListener, path::Path, process::Output};

use tempfile::TempDir;

use crate::common::{SEQUENCER_ADDRESS, SEQUENCER_KEY, run, write_rollup};

/// A sequencer key whose address is not [`SEQUENCER_ADDRESS`].
const OTHER_KEY: &str = "0x0202020202020202020202020202020202020202020202020202020202020202";

/// Asserts a one-line refusal with `code` that contains every one of `needles`.
fn assert_refused(output: &Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("op-p2p: error: "), "{stderr}");
    for forbidden in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(forbidden), "{stderr}");
    }
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

/// `op-p2p node` arguments that work in `dir`, followed by `extra`.
fn node_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let rollup = write_rollup(dir, 60);
    let mut args: Vec<String> = [
        "node",
        "--rollup.config",
        rollup.to_str().unwrap(),
        "--p2p.unsafe-block-signer",
        SEQUENCER_ADDRESS,
        "--p2p.listen.ip",
        "127.0.0.1",
        "--p2p.peerstore.path",
        "memory",
        "--rpc.port",
        "0",
        "--p2p.discovery.path",
        "memory",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// Runs `op-p2p node` with working arguments plus `extra` (and a key file in a temporary
/// directory unless `extra` or `env` set a node key) and asserts the refusal.
fn refused(extra: &[&str], env: &[(&str, &str)], code: i32, needles: &[&str]) {
    let dir = TempDir::new().unwrap();
    let key_path = dir.path().join("key.txt");
    let key_path = key_path.to_str().unwrap();
    let keyed = extra.iter().any(|a| a.starts_with("--p2p.priv."))
        || env.iter().any(|(k, _)| k.starts_with("OP_NODE_P2P_PRIV_"));
    let mut extra = extra.to_vec();
    if !keyed {
        extra.extend(["--p2p.priv.path", key_path]);
    }
    let args = node_args(dir.path(), &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_refused(&run(&args, env), code, needles);
}

#[test]
fn missing_rollup_file() {
    let output = run(
        &[
            "node",
            "--rollup.config",
            "/nonexistent/rollup.json",
            "--p2p.unsafe-block-signer",
            SEQUENCER_ADDRESS,
        ],
        &[],
    );
    assert_refused(
        &output,
        1,
        &["--rollup.config", "/nonexistent/rollup.json", "cannot read"],
    );
    let output = run(
        &["node", "--p2p.unsafe-block-signer", SEQUENCER_ADDRESS],
        &[],
    );
    assert_refused(&output, 2, &["--rollup.config"]);
}

#[test]
fn malformed_keys() {
    refused(
        &["--p2p.sequencer.key", "0x1234"],
        &[],
        1,
        &["--p2p.sequencer.key"],
    );
    refused(
        &["--p2p.priv.raw", "zz"],
        &[],
        1,
        &["--p2p.priv.raw", "not a hex"],
    );
    refused(
        &[],
        &[("OP_NODE_P2P_PRIV_RAW", "0x00")],
        1,
        &["--p2p.priv.raw"],
    );
    refused(
        &["--p2p.priv.path", "k.txt", "--p2p.priv.raw", SEQUENCER_KEY],
        &[],
        1,
        &["--p2p.priv.raw", "--p2p.priv.path"],
    );
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("bad_key.txt");
    std::fs::write(&key, "not a key\n").unwrap();
    refused(
        &["--p2p.priv.path", key.to_str().unwrap()],
        &[],
        1,
        &["--p2p.priv.path", "bad_key.txt"],
    );
}

#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    refused(
        &["--p2p.listen.tcp", &port],
        &[],
        1,
        &["--p2p.listen.tcp", &format!("127.0.0.1:{port}"), "in use"],
    );
}

#[test]
fn metrics_port_in_use_through_op_node_env_names() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    refused(
        &[],
        &[
            ("OP_NODE_METRICS_ENABLED", "true"),
            ("OP_NODE_METRICS_ADDR", "127.0.0.1"),
            ("OP_NODE_METRICS_PORT", &port),
        ],
        1,
        &["--metrics.port", &format!("127.0.0.1:{port}"), "in use"],
    );
}

#[test]
fn conflicting_and_unknown_settings() {
    refused(
        &["--p2p.peers.lo", "40"],
        &[],
        1,
        &["--p2p.peers.lo", "--p2p.peers.hi"],
    );
    refused(&["--p2p.peers.hi", "0"], &[], 1, &["--p2p.peers.hi"]);
    refused(
        &["--p2p.listen.tcp", "443"],
        &[],
        1,
        &["--p2p.listen.tcp", "443"],
    );
    let static_peer =
        "/ip4/127.0.0.1/tcp/9222/p2p/16Uiu2HAmFvRnMNWkisbTYVLR3BsXmuFzo7z9TxujDFfnvdgho3GN";
    refused(
        &["--p2p.static", static_peer, "--p2p.disable"],
        &[],
        1,
        &["--p2p.static", "--p2p.disable"],
    );
    refused(
        &["--p2p.static", "/ip4/127.0.0.1/tcp/9222"],
        &[],
        1,
        &["--p2p.static", "/p2p/"],
    );
    refused(
        &["--p2p.gossip.mesh.lo", "20"],
        &[],
        1,
        &["--p2p.gossip.mesh"],
    );
    refused(
        &["--p2p.sync.req-resp=false"],
        &[],
        1,
        &["--syncmode.req-resp", "--p2p.sync.req-resp"],
    );
    refused(
        &["--p2p.sequencer.key", OTHER_KEY],
        &[],
        1,
        &["--p2p.unsafe-block-signer", "--p2p.sequencer.key"],
    );
    refused(
        &["--p2p.ban.duration", "1 hour"],
        &[],
        2,
        &["--p2p.ban.duration"],
    );
    refused(&["--p2p.nat"], &[], 2, &["--p2p.nat"]);
    refused(&[], &[("OP_NODE_P2P_NAT", "true")], 1, &["OP_NODE_P2P_NAT"]);
    refused(
        &[],
        &[("OP_NODE_P2P_PEERS_LO", "0")],
        1,
        &["--p2p.peers.lo"],
    );
}
