//! A signer rotation on real nodes (issue 13 §1, test a): the sequencer signs with a new key;
//! two verifiers know it from the start, two still hold the old signer and reject every block
//! for 60 s, then learn the new one through the control channel (`signer <address>`). No node
//! ever bans or scores down an honest peer, and within 10 s of the update the late nodes hold
//! every block: the new ones by gossip, the ones they rejected by payload_by_number.
//!
//! (The sequencer signs with the new key from genesis: what the late nodes see is a rotation
//! they have not learnt, as in a real one.)

use std::{
    thread,
    time::{Duration, Instant},
};

use op_p2p_types::{B256, BlockSigner};
use serde_json::Value;
use tempfile::TempDir;

use crate::common::{Node, SEQUENCER_ADDRESS, dial_addr, node_args, write_rollup};

/// How long the late nodes hold the old signer.
const LATE_BY: Duration = Duration::from_secs(60);
/// The bound on holding every block after the update (the criterion).
const CATCH_UP: Duration = Duration::from_secs(10);

/// No bans, and every connected peer's gossipsub score and score-book snapshot at least 0.
fn no_penalty(name: &str, status: &Value) {
    assert!(
        status["bans"].as_array().unwrap().is_empty(),
        "{name} banned a peer: {}",
        status["bans"]
    );
    for peer in status["connected"].as_array().unwrap() {
        let score = peer["score"].as_f64().unwrap_or(0.0);
        assert!(score >= 0.0, "{name}: score {score} of {}", peer["peer"]);
    }
    for record in status["scores"].as_array().unwrap() {
        let total = record["gossip_total"].as_f64().unwrap();
        assert!(
            total >= 0.0,
            "{name}: snapshot {total} of {}",
            record["peer"]
        );
    }
}

/// Whether the node's chain holds every block 1..=`head`.
fn holds_up_to(status: &Value, head: u64) -> bool {
    let numbers: std::collections::HashSet<u64> = status["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["number"].as_u64())
        .collect();
    (1..=head).all(|n| numbers.contains(&n))
}

#[test]
fn a_signer_rotation_bans_no_honest_peer_and_late_nodes_catch_up() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 3);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let new_key = BlockSigner::new(B256::repeat_byte(2)).unwrap();
    let new_signer = new_key.address().to_string();
    let args = |name: &str, signer: &str, peers: &[&Value]| -> Vec<String> {
        let mut args = node_args(&rollup, &path(&format!("{name}-key.txt")), "memory");
        let at = args
            .iter()
            .position(|a| a == "--p2p.unsafe-block-signer")
            .unwrap();
        args[at + 1] = signer.to_owned();
        args.push("--p2p.no-discovery".to_owned());
        if !peers.is_empty() {
            let addrs: Vec<String> = peers.iter().map(|s| dial_addr(s)).collect();
            args.extend(["--p2p.static".to_owned(), addrs.join(",")]);
        }
        args
    };
    let start = |name: &str, args: &[String], env: &[(&str, &str)]| {
        let mut node = Node::start(
            args,
            env,
            &dir.path().join(format!("{name}.json")),
            &dir.path().join(format!("{name}.log")),
        );
        let status = node.wait_status(&format!("{name} listening"), |s| {
            !s["listen_addrs"].as_array().unwrap().is_empty()
        });
        (node, status)
    };

    let key = format!("0x{}", hex::encode(B256::repeat_byte(2)));
    let (mut sequencer, s) = start(
        "sequencer",
        &args("sequencer", &new_signer, &[]),
        &[("OP_NODE_P2P_SEQUENCER_KEY", key.as_str())],
    );
    // Early e1, e2 know the new signer; late l1, l2 hold the old one. l2 hears blocks only
    // from early relayers (e1, e2); l1 from the sequencer and e1.
    let (mut e1, e1s) = start("e1", &args("e1", &new_signer, &[&s]), &[]);
    let (mut e2, e2s) = start("e2", &args("e2", &new_signer, &[&e1s]), &[]);
    let (mut l1, _) = start("l1", &args("l1", SEQUENCER_ADDRESS, &[&s, &e1s]), &[]);
    let (mut l2, _) = start("l2", &args("l2", SEQUENCER_ADDRESS, &[&e1s, &e2s]), &[]);
    let window_start = Instant::now();

    // More rejects than the 8 that banned a relayer when every reject was scored.
    for late in [&mut l1, &mut l2] {
        late.wait_status("the late node rejects blocks", |s| {
            s["gossip"]["rejected"].as_u64().unwrap() >= 10 && s["peers"].as_u64() >= Some(2)
        });
    }
    // Hold the old signer for 60 s, checking every node on the way.
    while window_start.elapsed() < LATE_BY {
        for (name, node) in [("e1", &e1), ("e2", &e2), ("l1", &l1), ("l2", &l2)] {
            if let Some(status) = node.status() {
                no_penalty(name, &status);
            }
        }
        thread::sleep(Duration::from_secs(1));
    }
    let rejected: Vec<u64> = [&l1, &l2]
        .iter()
        .map(|n| n.status().unwrap()["gossip"]["rejected"].as_u64().unwrap())
        .collect();

    // The late nodes learn the signer; every block the sequencer has made by then must be at
    // every node within 10 s.
    for late in [&mut l1, &mut l2] {
        let answer = late.command(&format!("signer {new_signer}"));
        assert!(answer.starts_with("ok signer"), "{answer}");
    }
    let updated = Instant::now();
    let head = sequencer.status().unwrap()["head"]["number"]
        .as_u64()
        .unwrap();
    assert!(head >= 50, "the sequencer made {head} blocks in the window");
    for (name, node) in [
        ("l1", &mut l1),
        ("l2", &mut l2),
        ("e1", &mut e1),
        ("e2", &mut e2),
    ] {
        let status = node.wait_status(&format!("{name} holds blocks 1..={head}"), |s| {
            holds_up_to(s, head)
        });
        let took = updated.elapsed();
        assert!(took < CATCH_UP, "{name} held every block after {took:?}");
        no_penalty(name, &status);
        eprintln!(
            "{name}: every block to {head} {took:?} after the update; via gossip {}, via sync {}",
            status["blocks_via_gossip"], status["blocks_via_sync"]
        );
    }
    // The late nodes rejected tens of blocks (op-node's verdict) and synced them afterwards.
    for (i, n) in rejected.iter().enumerate() {
        assert!(*n >= 40, "late node {i} rejected {n}");
    }
    for late in [&l1, &l2] {
        assert!(late.status().unwrap()["blocks_via_sync"].as_u64().unwrap() >= 40);
    }
    for node in [&mut sequencer, &mut e1, &mut e2, &mut l1, &mut l2] {
        node.stop();
    }
}
