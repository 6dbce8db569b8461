//! The proof of the metrics (spec §13): a sequencer, a verifier that follows it over gossip and
//! a late verifier that fills what it missed with payload_by_number, each serving `/metrics`.
//! Each exposition is parsed; every op-node family is present with op-node's type and labels,
//! and the counters moved as the traffic implies.

use std::{
    collections::{BTreeMap, HashMap},
    io::{Read as _, Write as _},
    net::TcpStream,
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tempfile::TempDir;

use crate::common::{Node, SEQUENCER_KEY, TIMEOUT, dial_addr, free_port, node_args, write_rollup};

/// The blocks the sequencer makes.
const BLOCKS: u64 = 10;

/// One parsed exposition: the TYPE of each family, and every sample.
#[derive(Debug, Default)]
struct Exposition {
    types: HashMap<String, String>,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    text: String,
}

impl Exposition {
    /// Parses the Prometheus text format (what the node serves: no escapes in our label
    /// values, no timestamps).
    fn parse(text: &str) -> Self {
        let mut out = Self {
            text: text.to_owned(),
            ..Self::default()
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                out.types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap(),
            };
            out.samples.push((name.to_owned(), labels, value));
        }
        out
    }

    /// The TYPE of the family a sample name belongs to (a counter's samples end in `_total`,
    /// a histogram's in `_bucket`/`_sum`/`_count`).
    fn type_of(&self, family: &str) -> Option<&str> {
        self.types.get(family).map(String::as_str)
    }

    /// The samples named `name` whose labels include `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The one sample named `name` with exactly these labels (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map_or(0.0, |(_, _, v)| *v)
    }

    /// The label keys of the samples named `name` (union).
    fn label_keys(&self, name: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .samples
            .iter()
            .filter(|(n, _, _)| n == name)
            .flat_map(|(_, l, _)| l.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// GET `/metrics` over a plain TCP stream (the node speaks HTTP/1.1); checks the status and
/// the content type.
fn scrape(port: u16) -> Exposition {
    scrape_path(port, "/metrics")
}

/// [`scrape`] at `path` (op-node's handler answers every path).
fn scrape_path(port: u16, path: &str) -> Exposition {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    Exposition::parse(body)
}

/// Scrapes until `ready` holds (bounded by [`TIMEOUT`]).
fn scrape_until(port: u16, what: &str, ready: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let exposition = scrape(port);
        if ready(&exposition) {
            return exposition;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {what}\n{}",
            exposition.text
        );
        thread::sleep(Duration::from_millis(250));
    }
}

fn metrics_args(port: u16) -> [String; 5] {
    [
        "--metrics.enabled".to_owned(),
        "--metrics.addr".to_owned(),
        "127.0.0.1".to_owned(),
        "--metrics.port".to_owned(),
        port.to_string(),
    ]
}

const NS: &str = "op_node_default_";

/// op-node's §13 families: exposed family name, type, label keys of its samples.
const OP_NODE_FAMILIES: &[(&str, &str, &[&str])] = &[
    ("p2p_peer_count", "gauge", &[]),
    ("p2p_stream_count", "gauge", &[]),
    ("p2p_gossip_events", "counter", &["type"]),
    ("p2p_bandwidth_bytes_total", "gauge", &["direction"]),
    ("p2p_peer_unbans", "counter", &[]),
    ("p2p_ip_unbans", "counter", &[]),
    ("p2p_dials", "counter", &["allow"]),
    ("p2p_accepts", "counter", &["allow"]),
    ("peer_scores", "histogram", &["le", "type"]),
    (
        "p2p_req_duration_seconds",
        "histogram",
        &["le", "p2p_method", "p2p_role", "result_code"],
    ),
    (
        "p2p_req",
        "counter",
        &["p2p_method", "p2p_role", "result_code"],
    ),
    ("p2p_payload_by_number", "gauge", &["p2p_role"]),
    ("p2p_payloads_quarantine_total", "gauge", &[]),
    ("unsafe_payloads", "counter", &[]),
    ("last_unsafe_payloads_unix", "gauge", &[]),
    ("refs_number", "gauge", &["layer", "type"]),
    ("refs_time", "gauge", &["layer", "type"]),
    ("refs_hash", "gauge", &["layer", "type"]),
    ("refs_latency", "gauge", &["layer", "type"]),
];

/// The sample name op-node exposes for a family (counters get `_total` once).
fn sample_name(family: &str, kind: &str) -> String {
    match kind {
        "counter"
            if ![
                "p2p_peer_unbans",
                "p2p_ip_unbans",
                "p2p_dials",
                "p2p_accepts",
            ]
            .contains(&family) =>
        {
            format!("{NS}{family}_total")
        }
        "histogram" => format!("{NS}{family}_bucket"),
        _ => format!("{NS}{family}"),
    }
}

/// Every family of `families` is typed as op-node types it, and its samples carry op-node's
/// label keys.
fn assert_families(e: &Exposition, families: &[&str], node: &str) {
    for (family, kind, labels) in OP_NODE_FAMILIES {
        if !families.contains(family) {
            continue;
        }
        assert_eq!(
            e.type_of(&format!("{NS}{family}")),
            Some(*kind),
            "{node}: TYPE of {family}\n{}",
            e.text
        );
        let name = sample_name(family, kind);
        assert_eq!(
            e.label_keys(&name),
            labels.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>(),
            "{node}: labels of {name}\n{}",
            e.text
        );
    }
}

#[test]
fn metrics_follow_the_traffic_of_a_sequencer_and_two_verifiers() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 2);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let common = |name: &str, port: u16| -> Vec<String> {
        let mut args = node_args(
            &rollup,
            &path(&format!("{name}/key.txt")),
            &path(&format!("{name}/db")),
        );
        args.extend(metrics_args(port));
        args
    };

    let sequencer_port = free_port();
    let mut sequencer_args = common("sequencer", sequencer_port);
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
    let static_peer = ["--p2p.static".to_owned(), dial_addr(&sequencer_status)];

    // The gossip verifier follows from the start.
    let gossip_port = free_port();
    let mut gossip_args = common("gossip", gossip_port);
    gossip_args.extend(static_peer.clone());
    let mut gossip = Node::start(
        &gossip_args,
        &[],
        &dir.path().join("gossip.json"),
        &dir.path().join("gossip.log"),
    );
    // The late verifier joins once blocks exist: it fills them with payload_by_number.
    sequencer.wait_status("three blocks", |s| {
        s["head"]["number"].as_u64().unwrap() >= 3
    });
    let late_port = free_port();
    let mut late_args = common("late", late_port);
    late_args.extend(static_peer);
    let mut late = Node::start(
        &late_args,
        &[],
        &dir.path().join("late.json"),
        &dir.path().join("late.log"),
    );

    let gossip_status = gossip.wait_status("gossip verifier has every block", |s| {
        s["head"]["number"] == BLOCKS
    });
    let late_status = late.wait_status("late verifier has every block", |s| {
        s["head"]["number"] == BLOCKS
    });
    let via_sync = late_status["blocks_via_sync"].as_u64().unwrap();
    let via_gossip = late_status["blocks_via_gossip"].as_u64().unwrap();
    assert!(via_sync > 0, "{late_status}");
    assert_eq!(gossip_status["blocks_via_gossip"], BLOCKS);

    // ---- the gossip verifier: every block once, over gossip ----------------------------------
    let blocks = BLOCKS as f64;
    let e = scrape_until(
        gossip_port,
        "gossip verifier: sampled bandwidth and scores",
        |e| {
            e.value(&format!("{NS}unsafe_payloads_total"), &[]) == blocks
                && e.value(
                    &format!("{NS}p2p_bandwidth_bytes_total"),
                    &[("direction", "in")],
                ) > 0.0
                && !e
                    .find(&format!("{NS}peer_scores_count"), &[("type", "total")])
                    .is_empty()
        },
    );
    assert_families(
        &e,
        &OP_NODE_FAMILIES
            .iter()
            .map(|f| f.0)
            .filter(|f| {
                !f.starts_with("p2p_req")
                    && *f != "p2p_payload_by_number"
                    && *f != "p2p_payloads_quarantine_total"
            })
            .collect::<Vec<_>>(),
        "gossip verifier",
    );
    assert_eq!(
        e.value(
            &format!("{NS}p2p_gossip_events_total"),
            &[("type", "DELIVER_MESSAGE")]
        ),
        blocks,
        "accepted blocks = DELIVER_MESSAGE events"
    );
    assert_eq!(
        e.value(
            &format!("{NS}p2p_gossip_validations_total"),
            &[("outcome", "accept"), ("reason", "none")]
        ),
        blocks
    );
    let received = [("layer", "l2"), ("type", "received_payload")];
    assert_eq!(e.value(&format!("{NS}refs_number"), &received), blocks);
    // op-node's hash gauge: the first 8 bytes of the hash, little-endian, as a float.
    let head_hash = hex::decode(
        gossip_status["head"]["hash"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    let low = u64::from_le_bytes(head_hash[..8].try_into().unwrap());
    assert_eq!(e.value(&format!("{NS}refs_hash"), &received), low as f64);
    let block_time = e.value(&format!("{NS}refs_time"), &received);
    assert!(e.value(&format!("{NS}refs_latency"), &received) <= 1.0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = e.value(&format!("{NS}last_unsafe_payloads_unix"), &[]);
    assert!(last <= now && last > now - 120.0, "{last} vs {now}");
    assert!(
        block_time <= now && block_time > now - 120.0,
        "{block_time} vs {now}"
    );
    // One connection (to the sequencer), allowed by the gate on the way out.
    let peers = gossip.status().unwrap()["peers"].as_f64().unwrap();
    assert_eq!(peers, 1.0);
    assert_eq!(e.value(&format!("{NS}p2p_peer_count"), &[]), peers);
    assert!(e.value(&format!("{NS}p2p_dials"), &[("allow", "true")]) >= 1.0);
    assert!(e.value(&format!("{NS}p2p_stream_count"), &[]) >= 1.0);
    assert!(
        e.value(
            &format!("{NS}p2p_bandwidth_bytes_total"),
            &[("direction", "out")]
        ) > 0.0
    );
    let score_types: Vec<_> = e
        .samples
        .iter()
        .filter(|(n, _, _)| n == &format!("{NS}peer_scores_count"))
        .map(|(_, l, _)| l["type"].clone())
        .collect();
    assert_eq!(
        score_types.len(),
        10,
        "the ten score components: {score_types:?}"
    );
    assert!(score_types.contains(&"blocksTimeInMesh".to_owned()));
    assert_eq!(e.value(&format!("{NS}p2p_peer_unbans"), &[]), 0.0);

    // ---- the late verifier: gossip after it joined, sync before ------------------------------
    let client_ok = [
        ("p2p_role", "client"),
        ("p2p_method", "payload_by_number"),
        ("result_code", "0"),
    ];
    let e = scrape_until(
        late_port,
        "late verifier: every received payload counted",
        |e| e.value(&format!("{NS}unsafe_payloads_total"), &[]) == (via_gossip + via_sync) as f64,
    );
    assert_families(
        &e,
        &OP_NODE_FAMILIES
            .iter()
            .map(|f| f.0)
            .filter(|f| *f != "peer_scores" && *f != "p2p_bandwidth_bytes_total")
            .collect::<Vec<_>>(),
        "late verifier",
    );
    let synced = e.value(&format!("{NS}p2p_req_total"), &client_ok);
    assert_eq!(
        synced, via_sync as f64,
        "successful requests = blocks stored via sync"
    );
    assert_eq!(
        e.value(
            &format!("{NS}p2p_gossip_events_total"),
            &[("type", "DELIVER_MESSAGE")]
        ),
        via_gossip as f64
    );
    let durations = e.find(&format!("{NS}p2p_req_duration_seconds_count"), &client_ok);
    assert_eq!(durations, vec![synced], "one duration per request");
    let requested = e.value(
        &format!("{NS}p2p_payload_by_number"),
        &[("p2p_role", "client")],
    );
    assert!(requested >= 1.0 && requested < blocks, "{requested}");
    assert_eq!(
        e.value(&format!("{NS}p2p_payloads_quarantine_total"), &[]),
        0.0
    );
    assert_eq!(e.value(&format!("{NS}p2p_sync_gap_blocks"), &[]), 0.0);

    // ---- the sequencer: published every block, served the late verifier's requests -----------
    let server_ok = [
        ("p2p_role", "server"),
        ("p2p_method", "payload_by_number"),
        ("result_code", "0"),
    ];
    let e = scrape_until(sequencer_port, "sequencer: both verifiers counted", |e| {
        e.value(&format!("{NS}p2p_peer_count"), &[]) == 2.0
    });
    assert_eq!(
        e.value(
            &format!("{NS}p2p_gossip_events_total"),
            &[("type", "PUBLISH_MESSAGE")]
        ),
        blocks
    );
    assert_eq!(
        e.value(&format!("{NS}p2p_req_total"), &server_ok),
        synced,
        "served = requested"
    );
    assert_eq!(
        e.type_of(&format!("{NS}p2p_req")),
        Some("counter"),
        "{}",
        e.text
    );
    assert!(e.value(&format!("{NS}p2p_accepts"), &[("allow", "true")]) >= 2.0);
    // Our own blocks are not received payloads (op-node's FilterSelf).
    assert_eq!(e.value(&format!("{NS}unsafe_payloads_total"), &[]), 0.0);
    let status = sequencer.status().unwrap();
    assert_eq!(status["peers"], 2);
    // Every path answers, as op-node's handler (it is the whole server's handler).
    let root = scrape_path(sequencer_port, "/");
    assert_eq!(root.type_of(&format!("{NS}p2p_peer_count")), Some("gauge"));

    for (name, node) in [
        ("late", &mut late),
        ("gossip", &mut gossip),
        ("sequencer", &mut sequencer),
    ] {
        let exit = node.stop();
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
        let tail: Vec<_> = log.lines().rev().take(15).collect();
        assert!(exit.success(), "{name}: {exit}\n{tail:#?}");
    }
}
