//! A late joiner whose only peers run with req-resp sync off (`--p2p.sync.req-resp=false`:
//! payload_by_number neither served nor advertised, as op-node, and as other clients on live
//! networks that do not speak it): it does not ask them, does not score them for it, keeps
//! receiving every gossip block, reports the gap it cannot fill, and fills it as soon as a
//! serving peer connects. Five node processes on 127.0.0.1.

use std::{collections::BTreeMap, path::Path};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{
    common::{SEQUENCER_KEY, block_hashes, write_rollup},
    rpc::{RpcNode, start},
};

/// op-node's payload_by_number protocol id for the test chain (901).
const PAYLOAD_BY_NUMBER: &str = "/opstack/req/payload_by_number/901/0";
/// The sequencer's last block.
const LAST: u64 = 30;
/// Blocks the late joiner must receive by gossip, with no serving peer, before one connects.
const GOSSIP_ONLY: u64 = 12;
/// Seconds from now to genesis: the first three nodes are connected before block 1 (the
/// serving verifier could not fill a missed block 1 from sync-off peers), with room for a
/// loaded machine.
const LEAD: u64 = 12;

/// req-resp sync off, as op-node's flags spell it.
const SYNC_OFF: [&str; 2] = ["--p2p.sync.req-resp=false", "--syncmode.req-resp=false"];

fn start_node(dir: &Path, rollup: &Path, name: &str, extra: &[&str]) -> RpcNode {
    let mut args = vec!["--p2p.no-discovery"];
    args.extend_from_slice(extra);
    start(dir, rollup, name, &args)
}

/// Number → (hash, origin) of the stored blocks above genesis of a status.
fn stored(status: &Value) -> BTreeMap<u64, (String, String)> {
    status["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["number"].as_u64() > Some(0))
        .map(|b| {
            (
                b["number"].as_u64().unwrap(),
                (
                    b["hash"].as_str().unwrap().to_owned(),
                    b["origin"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

/// The late joiner's view of the peers that do not serve: identify shows no payload_by_number,
/// no request-response outcome was scored, and gossipsub's score is not negative.
fn assert_not_penalised(late: &RpcNode, status: &Value, peers: &[&RpcNode]) {
    let dump = late.rpc.ok("opp2p_peers", json!([true]));
    for peer in peers {
        let info = &dump["peers"][&peer.id];
        assert!(info.is_object(), "{} not connected: {dump}", peer.id);
        let protocols = info["protocols"].as_array().unwrap();
        assert!(
            !protocols.is_empty() && !protocols.iter().any(|p| p == PAYLOAD_BY_NUMBER),
            "a sync-off node advertises payload_by_number (or identify did not run): {info}"
        );
        let req_resp = &info["scores"]["reqResp"];
        assert_eq!(req_resp["errorResponses"], 0.0, "{info}");
        assert_eq!(req_resp["rejectedPayloads"], 0.0, "{info}");
        let live = status["connected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["peer"] == peer.id.as_str())
            .unwrap_or_else(|| panic!("{} not in the status: {status}", peer.id));
        let score = live["score"].as_f64().expect("light scoring is on");
        assert!(
            score >= 0.0,
            "gossipsub score {score} of {}: {status}",
            peer.id
        );
    }
    assert!(status["bans"].as_array().unwrap().is_empty(), "{status}");
}

#[test]
fn a_late_joiner_among_peers_without_sync_keeps_gossip_and_fills_its_gap_once_a_server_connects() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), LEAD);
    let d = dir.path();

    // The sequencer and a relay, both with sync off; a serving verifier that holds every block.
    let last = LAST.to_string();
    let mut sequencer_args = SYNC_OFF.to_vec();
    sequencer_args.extend([
        "--p2p.sequencer.key",
        SEQUENCER_KEY,
        "--sequencer.last-block",
        &last,
    ]);
    let mut sequencer = start_node(d, &rollup, "sequencer", &sequencer_args);
    let static_sequencer = ["--p2p.static", sequencer.addr.as_str()];
    let relay = start_node(
        d,
        &rollup,
        "relay",
        &[&SYNC_OFF[..], &static_sequencer].concat(),
    );
    let mut server = start_node(d, &rollup, "server", &static_sequencer);
    let server_status = server
        .node
        .wait_status("the serving verifier advertises sync", |s| {
            s["sync"] == "on" && s["peers"] == 1
        });
    assert_eq!(server_status["head"]["number"], 0, "genesis still ahead");

    // The late joiner connects to the two sync-off nodes only, several blocks in.
    server
        .node
        .wait_status("block 5 at the serving verifier", |s| {
            s["head"]["number"].as_u64() >= Some(5)
        });
    let relay_static = format!("{},{}", sequencer.addr, relay.addr);
    let mut late = start_node(d, &rollup, "late", &["--p2p.static", &relay_static]);
    let first = late
        .node
        .wait_status("the first gossip block at the late joiner", |s| {
            s["blocks_via_gossip"].as_u64() > Some(0)
        });
    let first = *stored(&first).keys().next().unwrap();
    assert!(first > 1, "joined late, at block {first}");

    // Gossip goes on with no serving peer; the gap is reported, not filled.
    let status = late
        .node
        .wait_status("gossip blocks with no serving peer", |s| {
            s["blocks_via_gossip"].as_u64() >= Some(GOSSIP_ONLY)
        });
    assert_not_penalised(&late, &status, &[&sequencer, &relay]);
    let blocks = stored(&status);
    let top = *blocks.keys().last().unwrap();
    for number in first..=top {
        let (_, origin) = blocks
            .get(&number)
            .unwrap_or_else(|| panic!("block {number} missing: {status}"));
        assert_eq!(origin, "gossip", "block {number}");
    }
    assert_eq!(status["head"]["number"], 0, "{status}");
    assert_eq!(status["gap"], first - 1, "{status}");
    assert_eq!(status["sync_peers"], 0, "{status}");
    assert_eq!(status["blocks_via_sync"], 0, "{status}");
    let log = std::fs::read_to_string(d.join("late/node.log")).unwrap();
    assert!(
        log.contains("no connected peer serves payload_by_number"),
        "the gap is not reported in the log"
    );

    // A serving peer connects: the gap is filled from it.
    assert_eq!(
        late.rpc.ok("opp2p_connectPeer", json!([server.addr])),
        Value::Null
    );
    let done = late
        .node
        .wait_status("the whole chain at the late joiner", |s| {
            s["head"]["number"] == LAST
        });
    let canonical = sequencer
        .node
        .wait_status("the sequencer's last block", |s| {
            s["head"]["number"] == LAST
        });
    let chain = |s: &Value| -> Vec<(u64, String)> {
        block_hashes(s)
            .into_iter()
            .filter(|(n, _)| (1..=LAST).contains(n))
            .collect()
    };
    assert_eq!(chain(&done), chain(&canonical));
    assert_eq!(done["gap"], 0, "{done}");
    assert_eq!(done["sync_peers"], 1, "{done}");
    assert!(
        done["blocks_via_sync"].as_u64() >= Some(first - 1),
        "the gap came from the serving peer: {done}"
    );
    let origins = stored(&done);
    for number in 1..first {
        assert_eq!(origins[&number].1, "sync", "block {number}");
    }
    assert_not_penalised(&late, &done, &[&sequencer, &relay]);
    let server_scores = &late.rpc.ok("opp2p_peers", json!([true]))["peers"][&server.id];
    assert!(
        server_scores["scores"]["reqResp"]["validResponses"].as_f64() > Some(0.0),
        "{server_scores}"
    );
    drop(relay);
    assert!(late.node.stop().success());
    assert!(sequencer.node.stop().success());
}
