//! Discovery between node processes: discv5 over real UDP on 127.0.0.1, the `opstack` filter,
//! the dial loop, the persisted table, `p2p.no-discovery` and `p2p.netrestrict`.

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{Node, SEQUENCER_KEY, block_hashes, node_args, write_rollup, write_rollup_for};

/// Nodes of the big network, the sequencer (node 0, the only bootnode) included.
const NODES: usize = 12;
/// `p2p.peers.lo` of every node there.
const LOW_WATER: usize = 4;
/// Blocks the sequencer makes.
const BLOCKS: u64 = 20;

fn peers(status: &Value) -> usize {
    status["peers"].as_u64().unwrap() as usize
}

fn connected_ids(status: &Value) -> Vec<String> {
    status["connected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["peer"].as_str().unwrap().to_owned())
        .collect()
}

fn skipped(status: &Value, reason: &str) -> u64 {
    status["discovery"]["skipped"][reason].as_u64().unwrap_or(0)
}

fn enr(node: &mut Node) -> String {
    let status = node.wait_status("discovery running", |s| s["discovery"]["enr"].is_string());
    status["discovery"]["enr"].as_str().unwrap().to_owned()
}

/// A node's flags: `name`'s key, peer store in memory, discovery table on disk under `dir`,
/// `p2p.peers.lo`, plus `extra`.
fn args(rollup: &Path, dir: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let path = |file: &str| dir.join(format!("{name}-{file}")).display().to_string();
    let mut args = node_args(rollup, &path("key.txt"), "memory");
    // `node_args` keeps the table in memory with a memory peer store; this node's is on disk.
    let at = args
        .iter()
        .position(|a| a == "--p2p.discovery.path")
        .unwrap();
    args[at + 1] = path("discovery");
    args.extend(["--p2p.peers.lo".to_owned(), LOW_WATER.to_string()]);
    // Every node is on 127.0.0.1 and needs no IP-colocation exemption: P6 skips loopback
    // connections, as go-libp2p-pubsub's does.
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn start(dir: &Path, name: &str, args: &[String], env: &[(&str, &str)]) -> Node {
    Node::start(
        args,
        env,
        &dir.join(format!("{name}.json")),
        &dir.join(format!("{name}.log")),
    )
}

/// The proof of the issue: twelve nodes given only node 0's ENR find each other, each reaches
/// `p2p.peers.lo` peers and holds every block of the sequencer; a node of another chain on
/// the same bootnode is dialled by none of them; a node restarted without bootnodes
/// reconnects from its persisted table.
#[test]
fn twelve_nodes_find_each_other_from_one_bootnode() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let rollup = write_rollup(d, 12);
    let other_rollup = write_rollup_for(d, 12, 902);

    let mut sequencer_args = args(&rollup, d, "node0", &[]);
    sequencer_args.extend(["--sequencer.last-block".to_owned(), BLOCKS.to_string()]);
    let mut nodes = vec![start(
        d,
        "node0",
        &sequencer_args,
        &[("OP_NODE_P2P_SEQUENCER_KEY", SEQUENCER_KEY)],
    )];
    let bootnode = enr(&mut nodes[0]);

    // Another chain's node on the same bootnode: everyone can learn its record, nobody may
    // dial it.
    let mut stranger = start(
        d,
        "stranger",
        &args(
            &other_rollup,
            d,
            "stranger",
            &["--p2p.bootnodes", &bootnode],
        ),
        &[],
    );
    let stranger_id =
        stranger.wait_status("stranger running", |s| s["peer_id"].is_string())["peer_id"]
            .as_str()
            .unwrap()
            .to_owned();

    for i in 1..NODES {
        let name = format!("node{i}");
        nodes.push(start(
            d,
            &name,
            &args(&rollup, d, &name, &["--p2p.bootnodes", &bootnode]),
            &[],
        ));
    }

    let mut finals = Vec::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        finals.push(node.wait_status(
            &format!("node {i}: {LOW_WATER} peers and block {BLOCKS}"),
            |s| peers(s) >= LOW_WATER && s["head"]["number"] == BLOCKS,
        ));
    }
    let canonical: Vec<(u64, String)> = block_hashes(&finals[0])
        .into_iter()
        .filter(|(n, _)| (1..=BLOCKS).contains(n))
        .collect();
    assert_eq!(canonical.len(), BLOCKS as usize);
    let mut dialled = 0;
    for (i, status) in finals.iter().enumerate().skip(1) {
        let held: Vec<(u64, String)> = block_hashes(status)
            .into_iter()
            .filter(|(n, _)| (1..=BLOCKS).contains(n))
            .collect();
        assert_eq!(held, canonical, "node {i}");
        // Every node learnt peers through discovery (a node may reach its low water mark by
        // others' dials before its own first connect tick, so its own count may be 0).
        assert!(
            status["discovery"]["candidates"].as_u64().unwrap() >= 1,
            "node {i} discovered nobody: {}",
            status["discovery"]
        );
        dialled += status["discovery"]["connected"].as_u64().unwrap();
    }
    // No static peers: every connection is some node's discovery dial.
    assert!(dialled >= (NODES - 1) as u64, "{dialled}");

    // The stranger's record reached the network (someone skipped it as another chain's), and
    // no node is connected to it, so none dialled it.
    let mut seen = false;
    for (i, node) in nodes.iter_mut().enumerate() {
        let status = node.status().unwrap();
        seen |= skipped(&status, "other_chain") > 0;
        assert!(
            !connected_ids(&status).contains(&stranger_id),
            "node {i} is connected to the other chain's node"
        );
    }
    if !seen {
        seen = nodes.iter_mut().any(|node| {
            skipped(
                &node.wait_status("the other chain's record skipped", |s| {
                    skipped(s, "other_chain") > 0
                }),
                "other_chain",
            ) > 0
        });
    }
    assert!(seen);
    let stranger_status = stranger.status().unwrap();
    assert_eq!(peers(&stranger_status), 0, "{stranger_status}");
    assert_eq!(stranger_status["discovery"]["dials"], 0);
    drop(stranger);

    // The last node stops (saving its table) and comes back without bootnodes, its peer store
    // in memory: only the persisted table can bring it back.
    let last = NODES - 1;
    let name = format!("node{last}");
    assert!(nodes[last].stop().success());
    let mut restarted = start(d, &name, &args(&rollup, d, &name, &[]), &[]);
    let status = restarted.wait_status("restarted node back to its low water mark", |s| {
        peers(s) >= LOW_WATER
    });
    let discovery = &status["discovery"];
    assert!(
        discovery["table_loaded"].as_u64().unwrap() > 0,
        "{discovery}"
    );
    assert!(discovery["connected"].as_u64().unwrap() > 0, "{discovery}");
}

/// `p2p.no-discovery`: a node given a bootnode but no discovery never connects; a node with
/// discovery and the same bootnode does. `p2p.netrestrict`: a node restricted to a network
/// none of the others is in dials its bootnode (exempt, as in geth) and skips every record it
/// learns from it.
#[test]
fn no_discovery_and_netrestrict() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let rollup = write_rollup(d, 600);

    let mut boot = start(d, "boot", &args(&rollup, d, "boot", &[]), &[]);
    let bootnode = enr(&mut boot);
    let boot_id = boot.status().unwrap()["peer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let with = ["--p2p.bootnodes", bootnode.as_str()];
    let mut open = start(d, "open", &args(&rollup, d, "open", &with), &[]);
    let off = start(
        d,
        "off",
        &args(
            &rollup,
            d,
            "off",
            &[&with[..], &["--p2p.no-discovery"]].concat(),
        ),
        &[],
    );
    let mut restricted = start(
        d,
        "restricted",
        &args(
            &rollup,
            d,
            "restricted",
            &[
                &with[..],
                &["--p2p.netrestrict", "10.0.0.0/8,192.168.0.0/16"],
            ]
            .concat(),
        ),
        &[],
    );

    let status = restricted
        .wait_status("restricted node skips records outside its networks", |s| {
            skipped(s, "netrestrict") > 0 && s["discovery"]["connected"] == 1
        });
    // It dialled the bootnode and nobody else.
    assert!(connected_ids(&status).contains(&boot_id), "{status}");
    open.wait_status("the open node connects", |s| peers(s) >= 1);

    let status = off.status().unwrap();
    assert!(status["discovery"].is_null(), "{status}");
    assert_eq!(peers(&status), 0, "{status}");
    let restricted_final = restricted.status().unwrap();
    assert_eq!(
        restricted_final["discovery"]["connected"], 1,
        "{restricted_final}"
    );
}
