//! A node killed with SIGKILL and restarted keeps its bans, scores and stored payloads; a clean
//! stop (SIGTERM, or the control channel closing) exits 0.

use std::process::Command;

use tempfile::TempDir;

use crate::common::{Node, SEQUENCER_KEY, block_hashes, dial_addr, node_args, write_rollup};

/// The blocks the sequencer makes before it stops.
const BLOCKS: u64 = 3;

#[test]
fn sigkill_keeps_bans_scores_and_payloads() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 2);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let common = |name: &str| -> Vec<String> {
        node_args(
            &rollup,
            &path(&format!("{name}/key.txt")),
            &path(&format!("{name}/db")),
        )
    };

    // The sequencer makes three blocks; its key file is generated on first start.
    let mut sequencer_args = common("sequencer");
    sequencer_args.extend(["--sequencer.last-block".to_owned(), BLOCKS.to_string()]);
    let mut sequencer = Node::start(
        &sequencer_args,
        &[("OP_NODE_P2P_SEQUENCER_KEY", SEQUENCER_KEY)],
        &dir.path().join("sequencer.json"),
        &dir.path().join("sequencer.log"),
    );
    let sequencer_status = sequencer.wait_status("sequencer listening", |s| {
        !s["listen_addrs"].as_array().unwrap().is_empty()
    });
    let sequencer_id = sequencer_status["peer_id"].as_str().unwrap().to_owned();

    let mut verifier_args = common("verifier");
    verifier_args.extend(["--p2p.static".to_owned(), dial_addr(&sequencer_status)]);
    let status_path = dir.path().join("verifier.json");
    let mut verifier = Node::start(
        &verifier_args,
        &[],
        &status_path,
        &dir.path().join("verifier.log"),
    );
    let before = verifier.wait_status("verifier holds every block", |s| {
        s["head"]["number"] == BLOCKS
    });
    let stored = block_hashes(&before);
    assert_eq!(stored.len(), BLOCKS as usize);

    // A ban (of the connected sequencer) and a score (of a peer never seen).
    let stranger = "16Uiu2HAmFvRnMNWkisbTYVLR3BsXmuFzo7z9TxujDFfnvdgho3GN";
    assert!(
        verifier
            .command(&format!("ban {sequencer_id} 3600"))
            .starts_with("ok ban")
    );
    assert!(
        verifier
            .command(&format!("report {stranger} rejected"))
            .starts_with("ok report")
    );
    let banned = verifier.wait_status("ban and score in the status", |s| {
        s["bans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["peer"] == sequencer_id.as_str())
            && s["scores"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["peer"] == stranger)
    });
    let until = banned["bans"][0]["until"].as_u64().unwrap();

    verifier.kill();
    let mut verifier = Node::start(
        &verifier_args,
        &[],
        &status_path,
        &dir.path().join("verifier2.log"),
    );
    let after = verifier.wait_status("restarted verifier", |s| s["peer_id"] == before["peer_id"]);
    // The head survives as stored; `from` (the forwarding peer) is only remembered in memory.
    for field in ["number", "hash", "origin", "received_us"] {
        assert_eq!(after["head"][field], before["head"][field], "head {field}");
    }
    assert!(before["head"]["from"].is_string(), "{before}");
    assert!(after["head"]["from"].is_null(), "{after}");
    assert_eq!(block_hashes(&after), stored);
    assert_eq!(after["blocks_via_gossip"], BLOCKS);
    let bans = after["bans"].as_array().unwrap();
    assert!(
        bans.iter()
            .any(|b| b["peer"] == sequencer_id.as_str() && b["until"] == until),
        "{after}"
    );
    let score = after["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer"] == stranger)
        .unwrap_or_else(|| panic!("score lost: {after}"));
    assert_eq!(score["app"], -20.0);

    // Clean stops: the control channel closing, and SIGTERM.
    assert!(verifier.stop().success());
    let term = Command::new("kill")
        .args(["-TERM", &sequencer.pid().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(sequencer.wait().success());
}
