//! The `opp2p_*` JSON-RPC and `/healthz` over HTTP against live node processes: every method's
//! effect on the network (blocked peers are dropped and refused, unblocked ones come back,
//! protected peers survive trimming, connect/disconnect change the peer set, block lists survive
//! a restart) and its JSON shape (op-node's field names); bad input is an error and the node
//! stays healthy.
//!
//! The HTTP client is a few lines over `std::net::TcpStream`: the tests need to send malformed
//! and oversized bodies and a WebSocket upgrade, which a typed client would not let them do.

use std::{
    collections::BTreeSet,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    path::Path,
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{Node, TIMEOUT, free_port, node_args, write_rollup};

/// op-node's `PeerInfo` JSON fields.
const PEER_INFO_FIELDS: [&str; 14] = [
    "peerID",
    "nodeID",
    "userAgent",
    "protocolVersion",
    "ENR",
    "addresses",
    "protocols",
    "connectedness",
    "direction",
    "protected",
    "chainID",
    "latency",
    "gossipBlocks",
    "scores",
];
/// op-node's `PeerDump` JSON fields.
const PEER_DUMP_FIELDS: [&str; 5] = [
    "totalConnected",
    "peers",
    "bannedPeers",
    "bannedIPS",
    "bannedSubnets",
];
/// op-node's `PeerStats` JSON fields.
const PEER_STATS_FIELDS: [&str; 8] = [
    "connected",
    "table",
    "blocksTopic",
    "blocksTopicV2",
    "blocksTopicV3",
    "blocksTopicV4",
    "banned",
    "known",
];
/// How long a negative ("stays disconnected") is watched.
const WATCH: Duration = Duration::from_secs(2);

/// An HTTP response: status and body.
struct Response {
    status: u16,
    headers: String,
    body: String,
}

/// One HTTP/1.1 request on a fresh connection; write errors are ignored (a server may answer
/// an oversized body before reading it) and the response is read to the end.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {raw:?}"));
    Response {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// A node's RPC endpoint.
#[derive(Clone, Copy)]
pub(crate) struct Rpc(pub(crate) SocketAddr);

impl Rpc {
    /// POSTs `body` as JSON.
    fn post(self, body: &[u8]) -> Response {
        http(
            self.0,
            "POST",
            "/",
            "Content-Type: application/json\r\n",
            body,
        )
    }

    /// Calls `method` with `params`: the result, or the error's code and message.
    pub(crate) fn call(self, method: &str, params: Value) -> Result<Value, (i64, String)> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.post(request.to_string().as_bytes());
        assert_eq!(response.status, 200, "{method}: {}", response.body);
        let mut answer: Value = serde_json::from_str(&response.body).unwrap();
        if let Some(error) = answer.get("error") {
            return Err((
                error["code"].as_i64().unwrap(),
                error["message"].as_str().unwrap().to_owned(),
            ));
        }
        Ok(answer["result"].take())
    }

    /// Calls `method`, which must succeed.
    pub(crate) fn ok(self, method: &str, params: Value) -> Value {
        self.call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e:?}"))
    }

    /// Calls `method`, which must fail with `code`; returns the message.
    pub(crate) fn err(self, method: &str, params: Value, code: i64) -> String {
        match self.call(method, params.clone()) {
            Ok(result) => panic!("{method} {params}: expected error {code}, got {result}"),
            Err((got, message)) => {
                assert_eq!(got, code, "{method} {params}: {message}");
                message
            }
        }
    }

    fn healthz(self) -> Response {
        http(self.0, "GET", "/healthz", "", b"")
    }

    /// The connected peers' ids.
    fn connected(self) -> BTreeSet<String> {
        let dump = self.ok("opp2p_peers", json!([true]));
        dump["peers"].as_object().unwrap().keys().cloned().collect()
    }

    /// Waits for the connected set to satisfy `ready`.
    fn wait_connected(self, what: &str, ready: impl Fn(&BTreeSet<String>) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let peers = self.connected();
            if ready(&peers) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out: {what} ({peers:?})");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asserts `peer` stays disconnected for [`WATCH`].
    fn stays_disconnected(self, peer: &str) {
        let until = Instant::now() + WATCH;
        while Instant::now() < until {
            assert!(!self.connected().contains(peer), "{peer} reconnected");
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A node of the test: its process, RPC, id and dial address.
pub(crate) struct RpcNode {
    pub(crate) node: Node,
    pub(crate) rpc: Rpc,
    pub(crate) id: String,
    pub(crate) addr: String,
}

/// Starts a node in `dir/name` with its RPC on a free port, `extra` flags, and waits until the
/// RPC answers.
pub(crate) fn start(dir: &Path, rollup: &Path, name: &str, extra: &[&str]) -> RpcNode {
    start_on(dir, rollup, name, extra, free_port())
}

fn start_on(dir: &Path, rollup: &Path, name: &str, extra: &[&str], port: u16) -> RpcNode {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let mut args = node_args(
        rollup,
        home.join("key.txt").to_str().unwrap(),
        home.join("db").to_str().unwrap(),
    );
    let at = args.iter().position(|a| a == "--rpc.port").unwrap();
    args[at + 1] = port.to_string();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let mut node = Node::start(
        &args,
        &[],
        &home.join("status.json"),
        &home.join("node.log"),
    );
    let status = node.wait_status("status written", |s| s["peer_id"].is_string());
    let rpc = Rpc(SocketAddr::from(([127, 0, 0, 1], port)));
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(rpc.0).is_err() {
        assert!(Instant::now() < deadline, "{name}: RPC not up");
        thread::sleep(Duration::from_millis(50));
    }
    let me = rpc.ok("opp2p_self", json!([]));
    let id = status["peer_id"].as_str().unwrap().to_owned();
    assert_eq!(me["peerID"], id.as_str());
    let addr = me["addresses"][0].as_str().unwrap().to_owned();
    RpcNode {
        node,
        rpc,
        id,
        addr,
    }
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Asserts `info` has exactly op-node's `PeerInfo` fields, with Go's encodings.
fn assert_peer_info(info: &Value) {
    assert_eq!(keys(info), BTreeSet::from(PEER_INFO_FIELDS), "{info}");
    let node_id = info["nodeID"].as_str().unwrap();
    assert!(
        node_id.len() == 64 && node_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{node_id}"
    );
    for integer in ["connectedness", "direction", "chainID", "latency"] {
        assert!(info[integer].is_u64(), "{integer}: {info}");
    }
    for boolean in ["protected", "gossipBlocks"] {
        assert!(info[boolean].is_boolean(), "{boolean}: {info}");
    }
    for list in ["addresses", "protocols"] {
        assert!(
            info[list].is_null() || info[list].is_array(),
            "{list}: {info}"
        );
    }
    let scores = &info["scores"];
    assert_eq!(keys(scores), BTreeSet::from(["gossip", "reqResp"]));
    assert_eq!(
        keys(&scores["gossip"]),
        BTreeSet::from(["total", "blocks", "IPColocationFactor", "behavioralPenalty"])
    );
    assert_eq!(
        keys(&scores["gossip"]["blocks"]),
        BTreeSet::from([
            "timeInMesh",
            "firstMessageDeliveries",
            "meshMessageDeliveries",
            "invalidMessageDeliveries"
        ])
    );
    assert_eq!(
        keys(&scores["reqResp"]),
        BTreeSet::from(["validResponses", "errorResponses", "rejectedPayloads"])
    );
}

#[test]
fn every_method_against_live_nodes() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 0);
    let a = start(dir.path(), &rollup, "a", &[]);
    let b = start(dir.path(), &rollup, "b", &[]);
    // c runs without discovery, as op-node with p2p.no-discovery.
    let c = start(dir.path(), &rollup, "c", &["--p2p.no-discovery"]);
    let rpc = a.rpc;

    // opp2p_self.
    let me = rpc.ok("opp2p_self", json!([]));
    assert_peer_info(&me);
    assert_ne!(me["nodeID"], "0".repeat(64).as_str());
    assert_eq!(me["gossipBlocks"], true);
    assert_eq!(me["userAgent"], "optimism");
    assert!(me["addresses"][0].as_str().unwrap().ends_with(&a.id));
    assert!(me["ENR"].as_str().unwrap().starts_with("enr:"), "{me}");

    // opp2p_discoveryTable: a's table is empty (no bootnodes); c has no discovery: op-node's
    // error, and no ENR.
    assert_eq!(rpc.ok("opp2p_discoveryTable", json!([])), json!([]));
    assert_eq!(
        c.rpc.err("opp2p_discoveryTable", json!([]), -32000),
        "discovery disabled"
    );
    assert_eq!(c.rpc.ok("opp2p_self", json!([]))["ENR"], "");

    // opp2p_connectPeer, then opp2p_peers(true) on both sides.
    assert_eq!(rpc.ok("opp2p_connectPeer", json!([b.addr])), Value::Null);
    let dump = rpc.ok("opp2p_peers", json!([true]));
    assert_eq!(keys(&dump), BTreeSet::from(PEER_DUMP_FIELDS));
    assert_eq!(dump["totalConnected"], 1);
    let info = &dump["peers"][&b.id];
    assert_peer_info(info);
    assert_eq!(info["peerID"], b.id.as_str());
    assert_eq!(info["connectedness"], 1);
    assert_eq!(info["direction"], 2, "we dialled: outbound");
    assert_eq!(info["protected"], false);
    let theirs = b.rpc.ok("opp2p_peers", json!([true]));
    assert_eq!(theirs["peers"][&a.id]["direction"], 1, "inbound at b");
    // identify fills in the agent and protocols, the addresses carry /p2p.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let info = rpc.ok("opp2p_peers", json!([true]))["peers"][&b.id].clone();
        // … and gossipsub's subscription exchange marks it as on the blocks topics.
        if info["userAgent"] == "optimism"
            && info["protocols"].is_array()
            && info["gossipBlocks"] == true
        {
            let addrs = info["addresses"].as_array().unwrap();
            assert!(
                addrs
                    .iter()
                    .all(|a| a.as_str().unwrap().ends_with(&format!("/p2p/{}", b.id))),
                "{info}"
            );
            // b's identify advertises floodsub next to meshsub, as op-node does.
            let protocols = info["protocols"].as_array().unwrap();
            for id in ["/floodsub/1.0.0", "/meshsub/1.1.0"] {
                assert!(protocols.iter().any(|p| p == id), "{id}: {info}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "identify never showed: {info}");
        thread::sleep(Duration::from_millis(100));
    }

    // opp2p_peerStats.
    let stats = rpc.ok("opp2p_peerStats", json!([]));
    assert_eq!(keys(&stats), BTreeSet::from(PEER_STATS_FIELDS));
    assert_eq!(stats["connected"], 1);
    assert_eq!(stats["table"], 0);
    assert_eq!(stats["banned"], 0);
    for topic in [
        "blocksTopic",
        "blocksTopicV2",
        "blocksTopicV3",
        "blocksTopicV4",
    ] {
        assert_eq!(
            stats[topic], 1,
            "b subscribes to every blocks topic: {stats}"
        );
    }
    assert!(stats["known"].as_u64().unwrap() >= 2, "{stats}");

    // opp2p_blockPeer: dropped at once, refused both ways, listed.
    rpc.ok("opp2p_connectPeer", json!([c.addr]));
    assert_eq!(rpc.ok("opp2p_blockPeer", json!([b.id])), Value::Null);
    rpc.wait_connected("b dropped", |p| !p.contains(&b.id) && p.contains(&c.id));
    assert_eq!(rpc.ok("opp2p_listBlockedPeers", json!([])), json!([b.id]));
    assert_eq!(rpc.ok("opp2p_peerStats", json!([]))["banned"], 1);
    assert_eq!(
        rpc.ok("opp2p_peers", json!([true]))["bannedPeers"],
        json!([b.id])
    );
    rpc.err("opp2p_connectPeer", json!([b.addr]), -32000);
    let _ = b.rpc.call("opp2p_connectPeer", json!([a.addr]));
    rpc.stays_disconnected(&b.id);

    // opp2p_unblockPeer: b may connect again.
    assert_eq!(rpc.ok("opp2p_unblockPeer", json!([b.id])), Value::Null);
    assert_eq!(rpc.ok("opp2p_listBlockedPeers", json!([])), json!([]));
    rpc.ok("opp2p_connectPeer", json!([b.addr]));
    rpc.wait_connected("b back", |p| p.contains(&b.id));

    // opp2p_unblockPeer also lifts a timed (score) ban, which the block list does not show.
    let mut a = a;
    let answer = a.node.command(&format!("ban {} 3600", b.id));
    assert!(answer.starts_with("ok"), "{answer}");
    rpc.wait_connected("b banned", |p| !p.contains(&b.id));
    assert_eq!(rpc.ok("opp2p_listBlockedPeers", json!([])), json!([]));
    rpc.err("opp2p_connectPeer", json!([b.addr]), -32000);
    rpc.ok("opp2p_unblockPeer", json!([b.id]));
    rpc.ok("opp2p_connectPeer", json!([b.addr]));
    rpc.wait_connected("b back after its ban was lifted", |p| p.contains(&b.id));

    // opp2p_blockAddr 127.0.0.1: every (loopback) peer dropped, dials and accepts refused.
    assert_eq!(rpc.ok("opp2p_blockAddr", json!(["127.0.0.1"])), Value::Null);
    rpc.wait_connected("all dropped", BTreeSet::is_empty);
    assert_eq!(
        rpc.ok("opp2p_listBlockedAddrs", json!([])),
        json!(["127.0.0.1"])
    );
    assert_eq!(
        rpc.ok("opp2p_peers", json!([true]))["bannedIPS"],
        json!(["127.0.0.1"])
    );
    rpc.err("opp2p_connectPeer", json!([b.addr]), -32000);
    let _ = c.rpc.call("opp2p_connectPeer", json!([a.addr]));
    rpc.stays_disconnected(&c.id);
    assert_eq!(
        rpc.ok("opp2p_unblockAddr", json!(["127.0.0.1"])),
        Value::Null
    );
    assert_eq!(rpc.ok("opp2p_listBlockedAddrs", json!([])), json!([]));
    rpc.ok("opp2p_connectPeer", json!([b.addr]));
    rpc.wait_connected("b back after unblockAddr", |p| p.contains(&b.id));

    // opp2p_blockSubnet 127.0.0.0/8 (Go's net.IPNet JSON): the same, by subnet.
    let loopback = json!({"IP": "127.0.0.0", "Mask": "/wAAAA=="});
    assert_eq!(rpc.ok("opp2p_blockSubnet", json!([loopback])), Value::Null);
    rpc.wait_connected("all dropped by subnet", BTreeSet::is_empty);
    assert_eq!(
        rpc.ok("opp2p_listBlockedSubnets", json!([])),
        json!([loopback])
    );
    assert_eq!(
        rpc.ok("opp2p_peers", json!([true]))["bannedSubnets"],
        json!([loopback])
    );
    rpc.err("opp2p_connectPeer", json!([b.addr]), -32000);
    let _ = c.rpc.call("opp2p_connectPeer", json!([a.addr]));
    rpc.stays_disconnected(&c.id);
    assert_eq!(
        rpc.ok("opp2p_unblockSubnet", json!([loopback])),
        Value::Null
    );
    assert_eq!(rpc.ok("opp2p_listBlockedSubnets", json!([])), json!([]));
    c.rpc.ok("opp2p_connectPeer", json!([a.addr]));
    rpc.wait_connected("c back (inbound) after unblockSubnet", |p| {
        p.contains(&c.id)
    });

    // opp2p_protectPeer / opp2p_unprotectPeer: the `protected` flag (trimming: its own test).
    assert_eq!(rpc.ok("opp2p_protectPeer", json!([c.id])), Value::Null);
    assert_eq!(
        rpc.ok("opp2p_peers", json!([true]))["peers"][&c.id]["protected"],
        true
    );
    assert_eq!(rpc.ok("opp2p_unprotectPeer", json!([c.id])), Value::Null);
    assert_eq!(
        rpc.ok("opp2p_peers", json!([true]))["peers"][&c.id]["protected"],
        false
    );

    // opp2p_peers(false): the peer store, ourselves included.
    let all = rpc.ok("opp2p_peers", json!([false]));
    assert_eq!(keys(&all), BTreeSet::from(PEER_DUMP_FIELDS));
    for id in [&a.id, &b.id, &c.id] {
        assert_peer_info(&all["peers"][id]);
    }
    assert_eq!(all["peers"][&a.id]["connectedness"], 0);
    // Only c came back after the subnet block; b is known, not connected.
    assert_eq!(all["totalConnected"], 1);
    assert_eq!(all["peers"][&b.id]["connectedness"], 0);
    assert_eq!(all["peers"][&c.id]["connectedness"], 1);

    // opp2p_disconnectPeer: closes, forgets the addresses, and unblocks.
    rpc.ok("opp2p_blockPeer", json!([b.id]));
    rpc.wait_connected("b dropped again", |p| !p.contains(&b.id));
    assert_eq!(rpc.ok("opp2p_disconnectPeer", json!([b.id])), Value::Null);
    assert_eq!(rpc.ok("opp2p_listBlockedPeers", json!([])), json!([]));
    assert!(
        rpc.ok("opp2p_peers", json!([false]))["peers"]
            .get(&b.id)
            .is_none(),
        "b's addresses forgotten"
    );
    assert_eq!(rpc.ok("opp2p_disconnectPeer", json!([c.id])), Value::Null);
    rpc.wait_connected("c disconnected", |p| !p.contains(&c.id));
    // A disconnected (not blocked) peer may come back.
    rpc.ok("opp2p_connectPeer", json!([c.addr]));
    rpc.wait_connected("c reconnected", |p| p.contains(&c.id));

    // The block lists survive a restart (the peer store on disk).
    let port = a.rpc.0.port();
    rpc.ok("opp2p_blockPeer", json!([b.id]));
    rpc.ok("opp2p_blockAddr", json!(["192.0.2.7"]));
    let subnet = json!({"IP": "198.51.100.0", "Mask": "////AA=="});
    rpc.ok("opp2p_blockSubnet", json!([subnet]));
    let stopped = a.node.stop();
    assert!(
        stopped.success(),
        "{stopped}: {}",
        std::fs::read_to_string(dir.path().join("a/node.log")).unwrap_or_default()
    );
    let a = start_on(dir.path(), &rollup, "a", &[], port);
    assert_eq!(a.rpc.ok("opp2p_listBlockedPeers", json!([])), json!([b.id]));
    assert_eq!(
        a.rpc.ok("opp2p_listBlockedAddrs", json!([])),
        json!(["192.0.2.7"])
    );
    assert_eq!(
        a.rpc.ok("opp2p_listBlockedSubnets", json!([])),
        json!([subnet])
    );
    a.rpc.err("opp2p_connectPeer", json!([b.addr]), -32000);
}

#[test]
fn a_protected_peer_survives_trimming() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 0);
    // One peer at most, no grace period: every second peer triggers a trim down to one.
    let a = start(
        dir.path(),
        &rollup,
        "a",
        &[
            "--p2p.peers.lo",
            "1",
            "--p2p.peers.hi",
            "1",
            "--p2p.peers.grace",
            "0s",
        ],
    );
    let b = start(dir.path(), &rollup, "b", &[]);
    let c = start(dir.path(), &rollup, "c", &[]);
    let d = start(dir.path(), &rollup, "d", &[]);
    let rpc = a.rpc;

    rpc.ok("opp2p_connectPeer", json!([b.addr]));
    rpc.ok("opp2p_protectPeer", json!([b.id]));
    // Trimming closes the longest-connected unprotected peer first: b would go, but is
    // protected, so c goes.
    let _ = rpc.call("opp2p_connectPeer", json!([c.addr]));
    rpc.wait_connected("c trimmed, b kept", |p| {
        p == &BTreeSet::from([b.id.clone()])
    });
    // Unprotected, b is the one trimmed when d connects.
    rpc.ok("opp2p_unprotectPeer", json!([b.id]));
    let _ = rpc.call("opp2p_connectPeer", json!([d.addr]));
    rpc.wait_connected("b trimmed, d kept", |p| {
        p == &BTreeSet::from([d.id.clone()])
    });
}

#[test]
fn bad_input_is_an_error_and_the_node_stays_healthy() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 0);
    let a = start(dir.path(), &rollup, "a", &[]);
    let rpc = a.rpc;

    // (method, params, code, message start)
    let cases: &[(&str, Value, i64, &str)] = &[
        (
            "opp2p_blockPeer",
            json!(["foo"]),
            -32602,
            "invalid argument 0: failed to parse peer ID",
        ),
        (
            "opp2p_blockPeer",
            json!([""]),
            -32602,
            "invalid argument 0: failed to parse peer ID",
        ),
        (
            "opp2p_unblockPeer",
            json!([null]),
            -32602,
            "invalid argument 0: failed to parse peer ID",
        ),
        (
            "opp2p_protectPeer",
            json!([42]),
            -32602,
            "invalid argument 0: failed to parse peer ID",
        ),
        (
            "opp2p_disconnectPeer",
            json!([]),
            -32602,
            "missing value for required argument 0",
        ),
        (
            "opp2p_blockPeer",
            json!([a.id, a.id]),
            -32602,
            "too many arguments, want at most 1",
        ),
        (
            "opp2p_self",
            json!([1]),
            -32602,
            "too many arguments, want at most 0",
        ),
        ("opp2p_peers", json!([]), -32602, "missing value"),
        ("opp2p_peers", json!(["yes"]), -32602, "invalid argument 0"),
        (
            "opp2p_peers",
            json!({"connected": true}),
            -32602,
            "non-array args",
        ),
        (
            "opp2p_blockAddr",
            json!(["foo"]),
            -32602,
            "invalid argument 0: invalid IP address: foo",
        ),
        (
            "opp2p_blockAddr",
            json!(["10.0.0.300"]),
            -32602,
            "invalid argument 0: invalid IP address",
        ),
        ("opp2p_unblockAddr", json!([""]), -32000, "invalid request"),
        (
            "opp2p_blockSubnet",
            json!(["10.0.0.0/8"]),
            -32602,
            "invalid argument 0: json: cannot unmarshal string",
        ),
        ("opp2p_blockSubnet", json!([{}]), -32000, "invalid request"),
        ("opp2p_blockSubnet", json!([]), -32000, "invalid request"),
        (
            "opp2p_blockSubnet",
            json!([{"IP": "10.0.0.0", "Mask": "!!"}]),
            -32602,
            "invalid argument 0: illegal base64 data at input byte 0",
        ),
        (
            "opp2p_blockSubnet",
            json!([{"IP": "10.0.0.0", "Mask": "/wD/AA=="}]),
            -32000,
            "invalid request",
        ),
        (
            "opp2p_unblockSubnet",
            json!([{"IP": "nope", "Mask": "/wAAAA=="}]),
            -32602,
            "invalid argument 0: invalid IP address",
        ),
        (
            "opp2p_connectPeer",
            json!(["not a multiaddr"]),
            -32000,
            "bad peer address: ",
        ),
        (
            "opp2p_connectPeer",
            json!(["/ip4/127.0.0.1/tcp/9222"]),
            -32000,
            "bad peer address: invalid p2p multiaddr",
        ),
        (
            "opp2p_connectPeer",
            json!([7]),
            -32602,
            "invalid argument 0",
        ),
        ("opp2p_nonexistent", json!([]), -32601, ""),
    ];
    for (method, params, code, start) in cases {
        let message = rpc.err(method, params.clone(), *code);
        assert!(
            message.starts_with(start),
            "{method} {params}: {message:?} does not start with {start:?}"
        );
    }
    // Dials that cannot succeed fail at once: ourselves, and a closed port.
    let own = format!("/ip4/127.0.0.1/tcp/1/p2p/{}", a.id);
    rpc.err("opp2p_connectPeer", json!([own]), -32000);
    let closed = "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAmSFtySciQSQdQ2dFJxemRSkpd8G7aDbmFLPTrEcqmsFWM";
    rpc.err("opp2p_connectPeer", json!([closed]), -32000);

    // Nothing was blocked by the failed calls.
    assert_eq!(rpc.ok("opp2p_listBlockedPeers", json!([])), json!([]));
    assert_eq!(rpc.ok("opp2p_listBlockedAddrs", json!([])), json!([]));
    assert_eq!(rpc.ok("opp2p_listBlockedSubnets", json!([])), json!([]));

    // Not JSON: a parse error.
    let response = rpc.post(b"{not json");
    let answer: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    // An oversized body (geth's limit is 5 MiB): HTTP 413.
    let mut big = br#"{"jsonrpc":"2.0","id":1,"method":"opp2p_self","params":[""#.to_vec();
    big.resize(6 * 1024 * 1024, b'a');
    big.extend_from_slice(br#""]}"#);
    assert_eq!(rpc.post(&big).status, 413);

    // Healthy afterwards: /healthz as op-node, the methods answer, the node runs.
    let health = rpc.healthz();
    assert_eq!(health.status, 200);
    assert!(health.headers.contains("content-type: application/json"));
    let body: Value = serde_json::from_str(&health.body).unwrap();
    assert!(body["version"].as_str().unwrap().starts_with('v'), "{body}");
    assert!(health.body.ends_with('\n'));
    assert_eq!(
        http(rpc.0, "POST", "/healthz/", "", b"").status,
        200,
        "any method, trailing slash"
    );
    assert_eq!(rpc.ok("opp2p_self", json!([]))["peerID"], a.id.as_str());

    // WebSocket on the same port: the upgrade is accepted. Each open WebSocket holds one of the
    // server's connection slots; with all of them taken an HTTP call is refused (429) while
    // /healthz still answers, and once they close the node serves calls again.
    let mut sockets = Vec::new();
    for _ in 0..MAX_RPC_CONNECTIONS {
        let (head, socket) = websocket_upgrade(rpc.0);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        sockets.push(socket);
    }
    // A call over one of them.
    let answer = websocket_call(
        &mut sockets[0],
        r#"{"jsonrpc":"2.0","id":7,"method":"opp2p_self","params":[]}"#,
    );
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(answer["result"]["peerID"], a.id.as_str(), "{answer}");
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "opp2p_self", "params": []});
    assert_eq!(rpc.post(request.to_string().as_bytes()).status, 429);
    assert_eq!(rpc.healthz().status, 200);
    drop(sockets);
    let deadline = Instant::now() + TIMEOUT;
    while rpc.post(request.to_string().as_bytes()).status != 200 {
        assert!(Instant::now() < deadline, "slots never freed");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(rpc.ok("opp2p_self", json!([]))["peerID"], a.id.as_str());
}

/// Sends `text` as one masked WebSocket text frame and reads one text frame back (RFC 6455, the
/// least a client must do).
fn websocket_call(stream: &mut TcpStream, text: &str) -> Value {
    let payload = text.as_bytes();
    assert!(payload.len() < 126, "short frames only");
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | u8::try_from(payload.len()).unwrap()];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).unwrap();
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x81, "a final text frame");
    let len = match head[1] & 0x7f {
        126 => {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).unwrap();
            usize::from(u16::from_be_bytes(len))
        }
        127 => {
            let mut len = [0u8; 8];
            stream.read_exact(&mut len).unwrap();
            usize::try_from(u64::from_be_bytes(len)).unwrap()
        }
        short => usize::from(short),
    };
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The server's connection bound (`rpc::MAX_CONNECTIONS`).
const MAX_RPC_CONNECTIONS: usize = 100;

/// Opens a WebSocket (the upgrade handshake only) and returns the response head and the
/// still-open connection.
fn websocket_upgrade(addr: SocketAddr) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
    (String::from_utf8_lossy(&head).into_owned(), stream)
}

#[test]
fn a_taken_rpc_port_is_a_one_line_error() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 60);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut args = node_args(
        &rollup,
        dir.path().join("key.txt").to_str().unwrap(),
        "memory",
    );
    let at = args.iter().position(|a| a == "--rpc.port").unwrap();
    args[at + 1] = port.clone();
    let mut argv = vec!["node"];
    argv.extend(args.iter().map(String::as_str));
    let output = crate::common::run(&argv, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--rpc.addr/--rpc.port"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

/// `opp2p_discoveryTable`, `opp2p_self.ENR` and `opp2p_peerStats.table` read the live discv5
/// service: a node that has a as its bootnode shows up in a's table, with the ENR it reports
/// for itself.
#[test]
fn discovery_table_lists_the_nodes_discv5_met() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 0);
    let a = start(dir.path(), &rollup, "a", &[]);
    let a_enr = a.rpc.ok("opp2p_self", json!([]))["ENR"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = start(dir.path(), &rollup, "b", &["--p2p.bootnodes", &a_enr]);
    let b_node_id = b.rpc.ok("opp2p_self", json!([]))["nodeID"]
        .as_str()
        .unwrap()
        .to_owned();

    // b's table holds its bootnode from the start.
    assert_eq!(b.rpc.ok("opp2p_discoveryTable", json!([])), json!([a_enr]));
    // a learns b once b's discv5 has talked to it.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let table = a.rpc.ok("opp2p_discoveryTable", json!([]));
        let stats = a.rpc.ok("opp2p_peerStats", json!([]));
        if let [enr] = table.as_array().unwrap().as_slice() {
            let enr = enr.as_str().unwrap();
            assert!(enr.starts_with("enr:"), "{enr}");
            assert_eq!(stats["table"], 1, "{stats}");
            // The record is b's: its ENR, as b reports it, names the same node.
            let b_enr = b.rpc.ok("opp2p_self", json!([]))["ENR"].clone();
            assert_eq!(enr, b_enr.as_str().unwrap());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b never reached a's table: {table}, b is {b_node_id}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    // b's dial loop connects to a; b's peer info for a carries the discovery metadata (the ENR
    // and the chain id of its `opstack` entry).
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let info = b.rpc.ok("opp2p_peers", json!([true]))["peers"][&a.id].clone();
        if info["connectedness"] == 1 {
            assert_eq!(info["ENR"], a_enr.as_str(), "{info}");
            assert_eq!(info["chainID"], 901, "{info}");
            break;
        }
        assert!(Instant::now() < deadline, "b never dialled a: {info}");
        thread::sleep(Duration::from_millis(100));
    }
}
