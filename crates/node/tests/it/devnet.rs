//! `op-p2p devnet` end to end: node processes of the built binary on 127.0.0.1 over TCP.

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{block_hashes, run};

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
