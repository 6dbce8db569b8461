//! Hostile peers as processes (issue 14): `op-p2p-attacker` next to real `op-p2p node`
//! processes (a sequencer and two verifiers on 127.0.0.1), attacking one verifier over TCP.
//! The assertions are outcomes: the attacker is banned and refused within a stated bound, the
//! honest nodes hold every block, the attacked node's peak RSS stays under a cap. Latency
//! figures are printed (`--nocapture`) for the node README's "Under attack" table, never
//! asserted.
//!
//! The attacker is a binary of the workspace crate `op-p2p-attacker`: `OP_P2P_ATTACKER_BIN`, or
//! `op-p2p-attacker` next to cargo's `op-p2p` (built by a workspace build or
//! `cargo build -p op-p2p-attacker`).

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{Node, SEQUENCER_KEY, block_hashes, dial_addr, node_args, write_rollup};

/// Blocks the sequencer makes (1 s each): the attack runs inside this window.
const BLOCKS: u64 = 40;
/// Time from writing the rollup config to genesis, for three nodes to start and connect.
const GENESIS_LEAD: u64 = 10;
/// How long the attacker runs.
const ATTACK_SECONDS: u64 = 30;
/// The bound on the ban of a graylisted sender, from the attacker's start: gossipsub graylists
/// it within a second, gossip writes a graylisted peer's live score into the book the ban reads
/// every second, the cut-off's grace is 5 s and the monitor checks every second: ~7 s at worst
/// on an idle machine; the rest is slack for a loaded one (and for a redial after a cut-off).
const BAN_BOUND: Duration = Duration::from_secs(50);
/// The cap on the attacked node's peak RSS (`VmHWM`): the goal, 256 MiB. Each 10 MiB
/// frame is buffered once by the codec; nothing may accumulate.
const RSS_CAP_KIB: u64 = 256 * 1024;
/// The bound on the attacked node's open file descriptors (it idles at ~40; a cut-off attacker
/// redialling once a second must not add up).
const FD_CAP: usize = 128;
/// The bound on every other wait (blocks arriving after the attack).
const WAIT: Duration = Duration::from_secs(120);

/// The attacker binary.
fn attacker_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("OP_P2P_ATTACKER_BIN") {
        return path.into();
    }
    let path = PathBuf::from(env!("CARGO_BIN_EXE_op-p2p")).with_file_name("op-p2p-attacker");
    assert!(
        path.exists(),
        "{} missing: build it with `cargo build -p op-p2p-attacker` or set OP_P2P_ATTACKER_BIN",
        path.display()
    );
    path
}

/// The attacker process, killed when dropped; its JSON lines on a channel.
struct Attacker {
    child: Child,
    lines: mpsc::Receiver<Value>,
    peer_id: String,
}

impl Attacker {
    fn start(kind: &str, target: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(attacker_bin())
            .args(["--kind", kind, "--target", target, "--seconds"])
            .arg(ATTACK_SECONDS.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let started = lines.recv_timeout(WAIT).expect("attacker started");
        assert_eq!(started["event"], "started", "{started}");
        // `conn-flood` never authenticates, so it has no peer id.
        let peer_id = started["peer_id"].as_str().unwrap_or_default().to_owned();
        Self {
            child,
            lines,
            peer_id,
        }
    }

    /// The lines so far.
    fn drain(&self) -> Vec<Value> {
        self.lines.try_iter().collect()
    }

    /// Waits for the attacker to finish on its own; returns its remaining lines.
    fn finish(&mut self) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "attacker did not stop");
            thread::sleep(Duration::from_millis(100));
        }
        // The reader thread ends at EOF.
        thread::sleep(Duration::from_millis(200));
        self.drain()
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` (peak RSS) of a process, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// When blocks 1..=[`BLOCKS`] started propagating from (the sequencer's publish time) or
/// reached (a verifier's store time) a node, unix µs, from its status.
fn received(status: &Value) -> Vec<(u64, u64)> {
    status["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let at = b["published_us"]
                .as_u64()
                .unwrap_or_else(|| b["received_us"].as_u64().unwrap());
            (b["number"].as_u64().unwrap(), at)
        })
        .filter(|(n, _)| (1..=BLOCKS).contains(n))
        .collect()
}

/// p50 and p99 of the sequencer → verifier delay over the blocks, ms (from µs).
fn propagation(sequencer: &Value, verifier: &Value) -> (f64, f64) {
    let built = received(sequencer);
    let mut delays: Vec<u64> = received(verifier)
        .into_iter()
        .filter_map(|(n, at)| {
            built
                .iter()
                .find(|(m, _)| *m == n)
                .map(|(_, t)| at.saturating_sub(*t))
        })
        .collect();
    delays.sort_unstable();
    let pick = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    (pick(0.5), pick(0.99))
}

fn has_peer(list: &Value, peer: &str) -> bool {
    list.as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["peer"] == peer)
}

/// What one run measured.
#[derive(Debug)]
struct Outcome {
    /// Attacker start → the attacked node lists the ban.
    banned_after: Option<Duration>,
    /// Whether the attacked node was seen without the attacker's connection after the ban.
    cut_off: bool,
    /// Status writes of the attacked node, after it was first seen without the attacker's
    /// connection following the ban, that list the attacker connected again.
    connected_after_ban: usize,
    /// Connections the attacker saw (the first and every refused redial).
    attacker_connections: usize,
    /// The lowest gossipsub score the attacked node's status gave the connected attacker.
    attacker_min_score: Option<f64>,
    attacker_done: Value,
    /// The attacked node's gossip counters at the end (`accepted`, `ignored`, `rejected`).
    attacked_gossip: Value,
    peak_rss_kib: u64,
    max_fds: usize,
    /// p50/p99 ms of the attacked and the other verifier.
    attacked: (f64, f64),
    other: (f64, f64),
}

/// Whether a node's status shows it listening.
fn listening(status: &Value) -> bool {
    !status["listen_addrs"].as_array().unwrap().is_empty()
}

/// Starts the sequencer of `BLOCKS` blocks in `dir` with `args`; returns it, listening, and its
/// dial address.
fn start_sequencer(dir: &TempDir, mut args: Vec<String>) -> (Node, String) {
    args.extend(["--sequencer.last-block".to_owned(), BLOCKS.to_string()]);
    let mut sequencer = Node::start(
        &args,
        &[("OP_NODE_P2P_SEQUENCER_KEY", SEQUENCER_KEY)],
        &dir.path().join("sequencer.json"),
        &dir.path().join("sequencer.log"),
    );
    let addr = dial_addr(&sequencer.wait_status("sequencer listening", listening));
    (sequencer, addr)
}

/// A sequencer and two verifiers (each verifier knows the sequencer, the second also the first,
/// as static peers); the attacker of `kind` dials the first verifier once both are connected.
/// Returns once every node holds every block (asserted) and the attacker has stopped.
fn run(kind: &str) -> Outcome {
    run_with(kind, &[])
}

/// [`run`] with `extra` attacker flags.
fn run_with(kind: &str, extra: &[&str]) -> Outcome {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), GENESIS_LEAD);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let args = |name: &str| node_args(&rollup, &path(&format!("{name}/key")), &path(name));
    let (sequencer, sequencer_addr) = start_sequencer(&dir, args("sequencer"));

    let mut attacked_args = args("attacked");
    attacked_args.extend(["--p2p.static".to_owned(), sequencer_addr.clone()]);
    let mut attacked = Node::start(
        &attacked_args,
        &[],
        &dir.path().join("attacked.json"),
        &dir.path().join("attacked.log"),
    );
    let attacked_addr = dial_addr(&attacked.wait_status("verifier listening", listening));
    let mut other_args = args("other");
    other_args.extend([
        "--p2p.static".to_owned(),
        sequencer_addr,
        "--p2p.static".to_owned(),
        attacked_addr.clone(),
    ]);
    let mut other = Node::start(
        &other_args,
        &[],
        &dir.path().join("other.json"),
        &dir.path().join("other.log"),
    );
    other.wait_status("the other verifier has both peers", |s| {
        s["peers"].as_u64() == Some(2)
    });

    let pid = attacked.pid();
    let start = Instant::now();
    let mut attacker = Attacker::start(kind, &attacked_addr, extra);
    let mut banned_after = None;
    let mut connected_after_ban = 0;
    let mut cut_off = false;
    let mut last_counted = None;
    let mut attacker_min_score: Option<f64> = None;
    let mut peak_rss_kib = 0;
    let mut max_fds = 0;
    let mut lines = Vec::new();
    while attacker.child.try_wait().unwrap().is_none() {
        lines.extend(attacker.drain());
        peak_rss_kib = peak_rss_kib.max(peak_rss_kib_of(pid));
        max_fds = max_fds.max(open_fds(pid));
        if let Some(status) = attacked.status() {
            let connected = has_peer(&status["connected"], &attacker.peer_id);
            if let Some(score) = status["connected"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|entry| entry["peer"] == attacker.peer_id.as_str())
                .and_then(|entry| entry["score"].as_f64())
            {
                attacker_min_score = Some(attacker_min_score.map_or(score, |m| m.min(score)));
            }
            if banned_after.is_none() && has_peer(&status["bans"], &attacker.peer_id) {
                banned_after = Some(start.elapsed());
            }
            // The status that first lists the ban may still list the connection (its close is
            // queued behind the ban); from the first status without it on, the attacker must
            // never be connected again: every redial is refused.
            if banned_after.is_some() && !connected {
                cut_off = true;
            }
            let written = status["updated_ms"].as_u64();
            if cut_off && connected && written != last_counted {
                connected_after_ban += 1;
                last_counted = written;
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    lines.extend(attacker.finish());
    let attacker_done = lines
        .iter()
        .find(|l| l["event"] == "done")
        .cloned()
        .unwrap_or(Value::Null);
    // The gossipsub kinds report each connection; the raw-stream kinds count them.
    let attacker_connections = lines
        .iter()
        .filter(|l| l["event"] == "connected")
        .count()
        .max(attacker_done["connects"].as_u64().unwrap_or(0) as usize);

    // Every honest node ends with the sequencer's chain.
    let deadline = Instant::now() + WAIT;
    let head = |s: &Value| s["head"]["number"].as_u64() == Some(BLOCKS);
    let (seq, att, oth) = loop {
        let statuses = (sequencer.status(), attacked.status(), other.status());
        if let (Some(s), Some(a), Some(o)) = &statuses
            && head(s)
            && head(a)
            && head(o)
        {
            break (s.clone(), a.clone(), o.clone());
        }
        assert!(
            Instant::now() < deadline,
            "honest nodes did not reach block {BLOCKS}: {statuses:?}"
        );
        peak_rss_kib = peak_rss_kib.max(peak_rss_kib_of(pid));
        thread::sleep(Duration::from_millis(200));
    };
    let canonical = block_hashes(&seq);
    assert_eq!(canonical.len() as u64, BLOCKS, "every block");
    assert_eq!(block_hashes(&att), canonical, "the attacked verifier");
    assert_eq!(block_hashes(&oth), canonical, "the other verifier");
    peak_rss_kib = peak_rss_kib.max(peak_rss_kib_of(pid));
    max_fds = max_fds.max(open_fds(pid));
    let outcome = Outcome {
        banned_after,
        cut_off,
        connected_after_ban,
        attacker_connections,
        attacker_min_score,
        attacker_done,
        attacked_gossip: att["gossip"].clone(),
        peak_rss_kib,
        max_fds,
        attacked: propagation(&seq, &att),
        other: propagation(&seq, &oth),
    };
    eprintln!(
        "| {kind} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {} | {} MiB | {} |",
        outcome.attacked.0,
        outcome.attacked.1,
        outcome.other.0,
        outcome.other.1,
        outcome.banned_after.map_or_else(
            || "not banned".to_owned(),
            |d| format!("banned after {d:.1?}")
        ),
        outcome.peak_rss_kib / 1024,
        outcome.max_fds,
    );
    eprintln!("attack {kind}: {outcome:?}");
    outcome
}

/// [`peak_rss_kib`], 0 for a process that is gone (its exit fails the test elsewhere).
fn peak_rss_kib_of(pid: u32) -> u64 {
    if std::path::Path::new(&format!("/proc/{pid}")).exists() {
        peak_rss_kib(pid)
    } else {
        0
    }
}

/// Kind 2: snappy bombs (headers claiming 428 MiB with ~10 MiB of junk, 10 MiB + 1 decoded,
/// tiny messages) on every blocks topic. gossipsub graylists the sender, after which it stops
/// scoring it: the graylist cut-off must ban it (op-node's −100 ban line is never reached), the
/// redials must be refused, and the honest nodes must not lose a block.
#[test]
fn snappy_bomb_sender_is_banned_and_refused_and_no_block_is_lost() {
    let outcome = run("snappy-bomb");
    assert_banned_and_refused(&outcome);
}

/// The attacker was banned within [`BAN_BOUND`], cut off, refused on every redial, sent
/// something, and the attacked node stayed under [`RSS_CAP_KIB`] and [`FD_CAP`].
fn assert_banned_and_refused(outcome: &Outcome) {
    let banned = outcome
        .banned_after
        .unwrap_or_else(|| panic!("attacker never banned: {outcome:?}"));
    assert!(banned <= BAN_BOUND, "banned after {banned:?}: {outcome:?}");
    assert!(
        outcome.cut_off,
        "still connected after the ban: {outcome:?}"
    );
    assert_eq!(
        outcome.connected_after_ban, 0,
        "a banned attacker was seen connected: {outcome:?}"
    );
    // It kept redialling after the ban (every redial refused once authenticated).
    assert!(outcome.attacker_connections >= 2, "{outcome:?}");
    assert_bounded(outcome);
}

/// The attack sent something, and the attacked node stayed under [`RSS_CAP_KIB`] and
/// [`FD_CAP`].
fn assert_bounded(outcome: &Outcome) {
    let done = &outcome.attacker_done;
    let sent = ["published", "requests", "rpcs"]
        .iter()
        .filter_map(|field| done[field].as_u64())
        .sum::<u64>();
    assert!(sent > 0, "the attack sent nothing: {outcome:?}");
    assert!(
        outcome.peak_rss_kib < RSS_CAP_KIB,
        "peak RSS {} KiB: {outcome:?}",
        outcome.peak_rss_kib
    );
    assert!(outcome.max_fds < FD_CAP, "{outcome:?}");
}

/// The baseline of the README table: the same network with a quiet extra peer. Ignored by
/// default (a benchmark figure, not a check); run with `--run-ignored only`.
#[test]
#[ignore = "benchmark baseline for the README's under-attack table"]
fn baseline_with_an_idle_peer() {
    let outcome = run("idle");
    assert_eq!(outcome.banned_after, None, "{outcome:?}");
}

/// Kind 1: block messages at 2,000 a second on the four blocks topics whose signatures recover
/// no key (`v` = 27, `r` = 0, `r`/`s` over the curve order) or a random key. A signature no key
/// recovers is the message's fault (P4, an invalid delivery): gossipsub graylists the sender
/// within a few messages, after which every further message of it is dropped unread; forged
/// blocks never reach the per-height record (the signature is checked first), so no honest
/// block is lost. It is banned: messages already in validation when it crosses −40 can take it
/// past the ban line (−100; measured −114, banned after 0.9 s), and one stopped just below −40
/// (measured −44) stays there for several slots while P4 decays, long enough for the graylist
/// cut-off. Both read the score book, where gossip writes a graylisted peer's live score every
/// second (before, they read 15 s snapshots only and missed the −44 sender in one run of two).
#[test]
fn forged_signature_sender_is_banned_and_refused_and_no_block_is_lost() {
    let outcome = run("forged-signature");
    assert_banned_and_refused(&outcome);
    let rejected = outcome.attacked_gossip["rejected"].as_u64().unwrap();
    let published = outcome.attacker_done["published"].as_u64().unwrap();
    assert!(rejected > 0, "{outcome:?}");
    // Graylisted within a few messages, its further messages are dropped before validation,
    // and it is banned within about a second (its score passes −100 before the graylisting
    // stops it): a few of the ~2,000 it sent in that second were checked (measured: 17 of 1,699).
    assert!(rejected * 10 < published, "{outcome:?}");
}

/// Kind 1, own key: block messages at 2,000 a second (bursts of 100 every 50 ms) validly
/// signed by the attacker's own key. The verdict (WrongSigner) depends on the signer *we*
/// hold, so by design it costs no score (an honest peer relays such blocks during a signer
/// rotation). What stops it is its rate: each burst overflows the per-peer validation bound
/// (16 waiting), and a peer refused 64 times within 10 s is cut off by gossip and banned by
/// the node (no honest peer sends 80 distinct blocks in 10 s). Every honest block is kept,
/// RSS and fds stay bounded, and nothing is scored: no reject was reported to gossipsub.
#[test]
fn own_key_flooder_is_cut_off_and_banned_and_no_block_is_lost() {
    let outcome = run("own-key");
    assert_banned_and_refused(&outcome);
    assert!(
        outcome.attacked_gossip["rejected"].as_u64().unwrap() > 0,
        "WrongSigner verdicts counted: {outcome:?}"
    );
}

/// Kind 3, wrong topic: every block the attacked node gossips to the attacker comes back on
/// the three other version topics. The signature still recovers the sequencer (it does not
/// cover the topic), the message id is topic-bound (no duplicate suppression of the real
/// block, and the per-height record is per topic), and the payload does not decode at the
/// topic's version: InvalidPayload, the message's fault (P4), so every replay is rejected and
/// not relayed, and every honest node keeps every block. The attack starves itself: the
/// attacker only has what the node sends it, and once its score is below zero the node
/// prunes it from its mesh and stops sending it blocks, so it sees a block or two and is never
/// sent enough to reach the ban line (measured: 2 blocks received, 6 replays, all rejected).
#[test]
fn wrong_topic_replays_are_rejected_the_replayer_starved_and_no_block_is_lost() {
    let outcome = run("replay-topic");
    let received = outcome.attacker_done["received"].as_u64().unwrap();
    let replays = outcome.attacker_done["published"].as_u64().unwrap();
    assert!(
        received > 0,
        "the attacker never got a block to replay: {outcome:?}"
    );
    assert!(replays > 0, "{outcome:?}");
    assert_eq!(
        outcome.attacked_gossip["rejected"].as_u64(),
        Some(replays),
        "every replay rejected: {outcome:?}"
    );
    let score = outcome
        .attacker_min_score
        .expect("attacker listed while connected");
    assert!(
        score < 0.0,
        "the replayer's score went below zero: {outcome:?}"
    );
    assert!(
        received < BLOCKS / 2,
        "pruned: the node stopped sending it blocks: {outcome:?}"
    );
    assert_bounded(&outcome);
}

/// Kind 3, malleated signatures: every block the attacked node gossips to the attacker comes
/// back with `(r, n − s, v ^ 1)`, another valid signature by the sequencer's key (no low-s
/// rule, as in op-node) and so a new message id. Our validator checks the signature (the
/// sequencer), the payload, and then the per-height record, where the block hash is already
/// known: DuplicateBlock, an ignore, which costs no score and is not relayed. So the attacker
/// is not banned, the twins are counted as ignored, nothing is rejected, and every honest node
/// holds the sequencer's own hashes.
#[test]
fn malleated_twins_are_ignored_as_duplicates_and_no_block_is_lost() {
    let outcome = run("malleate");
    assert_bounded(&outcome);
    let twins = outcome.attacker_done["published"].as_u64().unwrap();
    assert!(twins >= BLOCKS / 2, "{outcome:?}");
    assert_eq!(outcome.banned_after, None, "{outcome:?}");
    assert_eq!(outcome.attacker_connections, 1, "{outcome:?}");
    assert_eq!(
        outcome.attacked_gossip["rejected"].as_u64(),
        Some(0),
        "{outcome:?}"
    );
    // A twin the node validated after the original is a DuplicateBlock ignore (one that won
    // the race was accepted instead, and the original then ignored).
    assert!(
        outcome.attacked_gossip["ignored"].as_u64().unwrap() >= twins / 2,
        "{outcome:?}"
    );
}

/// Kind 6, IWANT flood: IWANT RPCs of unknown message ids, written by hand on one raw
/// `/meshsub/1.1.0` stream at up to 32 MiB/s. gossipsub looks each id up in its message cache
/// and sends nothing (unknown ids are not penalised by the protocol): what must hold is that
/// the node keeps every block, its memory stays bounded, and the flood is actually read.
///
/// Each RPC carries 744 ids, the most rust-libp2p's gossipsub codec accepts: it refuses an RPC
/// whose control part exceeds `max_control_message_size` (16 KiB by default, kept by op-p2p;
/// `validate_rpc_limits` in its `protocol.rs`), closes that inbound stream, and disables its
/// handler for the connection at the 5th inbound stream (`MAX_SUBSTREAM_ATTEMPTS`). An RPC of
/// 10,000 ids (~220 KB) is refused so; that is why the first version of this attack got one RPC
/// out and then stalled (its next write waited for yamux credit the node never granted).
///
/// Measured (2026-12-01, 2 cores): one stream for the whole run, 61,046 RPCs, 45.4 M ids in
/// 29.8 s (~1.5 M ids/s, the full 32 MiB/s; yamux grants credit only as the node reads), no
/// stream closed or refused, the attacker's score 0 (not banned), peak RSS 47 MiB. Asserted:
/// ≥ 1 M ids (a loaded machine reads slower), none refused, not banned, every block kept.
#[test]
fn iwant_flood_for_unknown_ids_loses_no_block_and_memory_stays_bounded() {
    let outcome = run("iwant-flood");
    assert_bounded(&outcome);
    let done = &outcome.attacker_done;
    let count = |field: &str| {
        done[field]
            .as_u64()
            .unwrap_or_else(|| panic!("no {field}: {outcome:?}"))
    };
    assert!(count("iwant_ids") >= 1_000_000, "{outcome:?}");
    // The node read every RPC: it never closed the stream (a refused RPC) nor refused a new
    // one (a disabled handler).
    assert_eq!(count("closed_by_node"), 0, "{outcome:?}");
    assert_eq!(count("refused"), 0, "{outcome:?}");
    // Unknown ids cost no score: the attacker stays connected, unbanned.
    assert_eq!(outcome.banned_after, None, "{outcome:?}");
    assert_eq!(outcome.attacker_connections, 1, "{outcome:?}");
    assert_eq!(
        outcome.attacked_gossip["rejected"].as_u64(),
        Some(0),
        "{outcome:?}"
    );
}

/// Kind 6, GRAFT spam: subscribe, PRUNE ourselves with a 60 s backoff, then GRAFT on every
/// blocks topic 20 times a second, on a raw `/meshsub/1.1.0` stream. Each GRAFT within the
/// backoff is gossipsub's behaviour penalty (P7, weight −16 above 6 penalties): the sender is
/// graylisted in about a second and banned by the graylist cut-off within [`BAN_BOUND`].
#[test]
fn graft_spammer_in_backoff_is_banned_and_refused_and_no_block_is_lost() {
    let outcome = run("graft-spam");
    assert_banned_and_refused(&outcome);
}

/// Half-open handshakes of kind 5 held by the flood.
const FLOOD_CONNECTIONS: usize = 1000;
/// Where the flood comes from.
const FLOOD_SOURCE: &str = "127.0.0.2";
/// The node's bound on one IP's inbound handshakes in progress (`MAX_PENDING_INBOUND_PER_IP`).
const PENDING_PER_IP: usize = 16;

/// Kind 5: 1,000 TCP connections from one host that stall mid-noise-handshake, reopened a second
/// after the node closes them, against a verifier for 30 s. The node holds at most 16 of them
/// (its per-IP bound on handshakes in progress) and refuses the rest before any handshake, so
/// its descriptors stay bounded and return to the baseline afterwards (nothing leaks); during
/// the flood a new honest node whose only peer is the flooded one gets in and ends with every
/// block.
#[test]
fn connection_flood_is_capped_per_ip_and_an_honest_peer_still_gets_in() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), GENESIS_LEAD);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let args = |name: &str| node_args(&rollup, &path(&format!("{name}/key")), &path(name));
    let (sequencer, sequencer_addr) = start_sequencer(&dir, args("sequencer"));
    let mut flooded_args = args("flooded");
    flooded_args.extend(["--p2p.static".to_owned(), sequencer_addr]);
    let mut flooded = Node::start(
        &flooded_args,
        &[],
        &dir.path().join("flooded.json"),
        &dir.path().join("flooded.log"),
    );
    let flooded_addr = dial_addr(
        &flooded.wait_status("flooded node connected", |s| s["peers"].as_u64() == Some(1)),
    );
    let pid = flooded.pid();
    let baseline_fds = open_fds(pid);

    // From 127.0.0.2: another host than the honest nodes (all on 127.0.0.1).
    let mut attacker = Attacker::start("conn-flood", &flooded_addr, &["--source-ip", FLOOD_SOURCE]);
    // The flood is on: every one of its connections was attempted at least once.
    let deadline = Instant::now() + WAIT;
    let mut max_fds = 0;
    let mut early = Vec::new();
    loop {
        max_fds = max_fds.max(open_fds(pid));
        early.extend(attacker.drain());
        if early.iter().any(|l| {
            l["event"] == "progress" && l["connects"].as_u64().unwrap() >= FLOOD_CONNECTIONS as u64
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flood never took hold: {early:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }

    // A new honest node, whose only peer is the flooded node, joins during the flood.
    let mut newcomer_args = args("newcomer");
    newcomer_args.extend(["--p2p.static".to_owned(), flooded_addr]);
    let newcomer = Node::start(
        &newcomer_args,
        &[],
        &dir.path().join("newcomer.json"),
        &dir.path().join("newcomer.log"),
    );
    let mut joined_during_flood = false;
    let mut peak_rss = 0;
    while attacker.child.try_wait().unwrap().is_none() {
        max_fds = max_fds.max(open_fds(pid));
        peak_rss = peak_rss.max(peak_rss_kib_of(pid));
        if newcomer
            .status()
            .is_some_and(|s| s["peers"].as_u64() == Some(1))
        {
            joined_during_flood = true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let done = attacker
        .finish()
        .into_iter()
        .find(|l| l["event"] == "done")
        .unwrap_or(Value::Null);

    // Every block on both honest verifiers; the flooded node's fds back to the baseline.
    let deadline = Instant::now() + WAIT;
    let head = |s: &Option<Value>| {
        s.as_ref()
            .is_some_and(|s| s["head"]["number"].as_u64() == Some(BLOCKS))
    };
    let (p50, p99) = loop {
        let statuses = (sequencer.status(), flooded.status(), newcomer.status());
        if head(&statuses.0) && head(&statuses.1) && head(&statuses.2) {
            let canonical = block_hashes(statuses.0.as_ref().unwrap());
            assert_eq!(canonical.len() as u64, BLOCKS);
            assert_eq!(block_hashes(statuses.1.as_ref().unwrap()), canonical);
            assert_eq!(block_hashes(statuses.2.as_ref().unwrap()), canonical);
            break propagation(statuses.0.as_ref().unwrap(), statuses.1.as_ref().unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "blocks missing after the flood: {statuses:?}"
        );
        thread::sleep(Duration::from_millis(200));
    };
    let deadline = Instant::now() + WAIT;
    let mut after = open_fds(pid);
    while after > baseline_fds + 10 {
        assert!(
            Instant::now() < deadline,
            "fds stay at {after} after the flood (baseline {baseline_fds})"
        );
        thread::sleep(Duration::from_millis(500));
        after = open_fds(pid);
    }
    eprintln!(
        "| 5: conn-flood, {FLOOD_CONNECTIONS} half-open handshakes | flooded p50/p99 {p50:.2} / {p99:.2} ms \
         | newcomer joined during flood: {joined_during_flood} | fds {baseline_fds} -> max {max_fds} -> {after} | peak RSS {} MiB | \
         attacker {done}",
        peak_rss / 1024
    );
    assert!(
        joined_during_flood,
        "the newcomer never connected during the flood"
    );
    // The flood's held handshakes are bounded by the per-IP cap, plus slack for the honest
    // connections and the node's own files.
    assert!(
        max_fds <= baseline_fds + PENDING_PER_IP + 48,
        "fds {max_fds} (baseline {baseline_fds}): the flood was not bounded"
    );
    // Most connections were refused at once (closed before any handshake).
    assert!(
        done["closed_by_node"].as_u64().unwrap() >= (FLOOD_CONNECTIONS - PENDING_PER_IP) as u64,
        "{done}"
    );
    assert!(
        done["connects"].as_u64().unwrap() > FLOOD_CONNECTIONS as u64,
        "no reconnect storm: {done}"
    );
    assert!(peak_rss < RSS_CAP_KIB, "peak RSS {peak_rss} KiB");
}

/// Block size of the kind-4 sequencer: a `payload_by_number` response larger than a yamux
/// stream's 256 KiB receive window, so a reader that does not read stalls the server's write.
const SYNC_BLOCK_BYTES: &str = "300000";
/// Identities of each kind-4 attacker.
const SYNC_IDENTITIES: usize = 20;

/// Kind 4: `payload_by_number` from 20 peer identities at once (16 requests in flight each,
/// every response read) and, at the same time, 20 more identities whose streams take the
/// result byte and are then left unread for 15 s (300 KB blocks: each stalls the server's
/// write until its 10 s deadline), against a verifier serving a 40-block chain. The server's
/// throttles must hold (per peer 4/s, burst 15; global 20/s, burst 40; excess answered with
/// code 3), and a new honest node whose only peer is the attacked one, started during the
/// attack, must fill what it missed through `payload_by_number` and end with every block; the
/// attacked node's RSS and fds stay bounded.
#[test]
fn sync_flood_and_slow_readers_are_throttled_and_honest_sync_still_works() {
    let run = run_sync(true);
    let [flood_done, slow_done] = &run.attackers_done[..] else {
        panic!("two attackers: {:?}", run.attackers_done)
    };
    // The throttle held: requests over the per-peer and global limits were answered with code
    // 3, and served ones were read.
    assert!(flood_done["unknown"].as_u64().unwrap() > 0, "{flood_done}");
    assert!(flood_done["success"].as_u64().unwrap() > 0, "{flood_done}");
    assert!(slow_done["max_held"].as_u64().unwrap() > 0, "{slow_done}");
    assert!(
        run.peak_rss_kib < RSS_CAP_KIB,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
    assert!(run.max_fds < FD_CAP, "fds {}", run.max_fds);
}

/// The baseline of kind 4's row: the same network (300 KB blocks, a newcomer syncing from
/// the attacked node) with one idle extra peer instead of the attackers. Ignored by default (a
/// benchmark figure, not a check).
#[test]
#[ignore = "benchmark baseline for the README's under-attack table"]
fn sync_baseline_with_an_idle_peer() {
    run_sync(false);
}

/// What one kind-4 run measured.
struct SyncRun {
    /// The attackers' `done` lines (flood, slow reader; the idle peer's for the baseline).
    attackers_done: Vec<Value>,
    peak_rss_kib: u64,
    max_fds: usize,
}

/// Kind 4's network, attacked by `sync-flood` and `slow-reader` if `attack`, else joined by an
/// idle peer for as long: asserts that every node ends with every block and the newcomer filled
/// its gap by sync, prints the README row.
fn run_sync(attack: bool) -> SyncRun {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), GENESIS_LEAD);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let args = |name: &str| node_args(&rollup, &path(&format!("{name}/key")), &path(name));
    let mut sequencer_args = args("sequencer");
    sequencer_args.extend([
        "--sequencer.block-bytes".to_owned(),
        SYNC_BLOCK_BYTES.to_owned(),
    ]);
    let (sequencer, sequencer_addr) = start_sequencer(&dir, sequencer_args);
    let mut attacked_args = args("attacked");
    attacked_args.extend(["--p2p.static".to_owned(), sequencer_addr]);
    let mut attacked = Node::start(
        &attacked_args,
        &[],
        &dir.path().join("attacked.json"),
        &dir.path().join("attacked.log"),
    );
    let attacked_addr = dial_addr(&attacked.wait_status("attacked node connected", |s| {
        s["peers"].as_u64() == Some(1)
    }));
    // Blocks to serve before the attack starts.
    attacked.wait_status("a few blocks stored", |s| {
        s["head"]["number"].as_u64().unwrap_or(0) >= 5
    });
    let pid = attacked.pid();
    let identities = SYNC_IDENTITIES.to_string();
    let mut attackers = if attack {
        vec![
            Attacker::start("sync-flood", &attacked_addr, &["--identities", &identities]),
            Attacker::start(
                "slow-reader",
                &attacked_addr,
                &["--identities", &identities],
            ),
        ]
    } else {
        vec![Attacker::start("idle", &attacked_addr, &[])]
    };
    let started = Instant::now();
    // The newcomer joins once the attack has run a few seconds.
    let mut peak_rss = 0;
    let mut max_fds = 0;
    while started.elapsed() < Duration::from_secs(5) {
        peak_rss = peak_rss.max(peak_rss_kib_of(pid));
        max_fds = max_fds.max(open_fds(pid));
        thread::sleep(Duration::from_millis(100));
    }
    let mut newcomer_args = args("newcomer");
    newcomer_args.extend(["--p2p.static".to_owned(), attacked_addr]);
    let newcomer = Node::start(
        &newcomer_args,
        &[],
        &dir.path().join("newcomer.json"),
        &dir.path().join("newcomer.log"),
    );
    let mut synced_during_attack = 0;
    while attackers
        .iter_mut()
        .any(|attacker| attacker.child.try_wait().unwrap().is_none())
    {
        peak_rss = peak_rss.max(peak_rss_kib_of(pid));
        max_fds = max_fds.max(open_fds(pid));
        if let Some(status) = newcomer.status() {
            synced_during_attack = status["blocks_via_sync"].as_u64().unwrap_or(0);
        }
        thread::sleep(Duration::from_millis(100));
    }
    let attackers_done: Vec<Value> = attackers
        .iter_mut()
        .map(|attacker| {
            attacker
                .finish()
                .into_iter()
                .find(|l| l["event"] == "done")
                .unwrap_or(Value::Null)
        })
        .collect();

    let deadline = Instant::now() + WAIT;
    let head = |s: &Option<Value>| {
        s.as_ref()
            .is_some_and(|s| s["head"]["number"].as_u64() == Some(BLOCKS))
    };
    let (statuses, p50, p99) = loop {
        let statuses = (sequencer.status(), attacked.status(), newcomer.status());
        if head(&statuses.0) && head(&statuses.1) && head(&statuses.2) {
            let canonical = block_hashes(statuses.0.as_ref().unwrap());
            assert_eq!(canonical.len() as u64, BLOCKS);
            assert_eq!(block_hashes(statuses.1.as_ref().unwrap()), canonical);
            assert_eq!(block_hashes(statuses.2.as_ref().unwrap()), canonical);
            let (p50, p99) =
                propagation(statuses.0.as_ref().unwrap(), statuses.1.as_ref().unwrap());
            break (statuses, p50, p99);
        }
        assert!(
            Instant::now() < deadline,
            "blocks missing after the attack: {statuses:?}"
        );
        peak_rss = peak_rss.max(peak_rss_kib_of(pid));
        thread::sleep(Duration::from_millis(200));
    };
    let newcomer_status = statuses.2.unwrap();
    let via_sync = newcomer_status["blocks_via_sync"].as_u64().unwrap();
    let what = if attack {
        format!("4: sync flood + slow readers, {SYNC_IDENTITIES} + {SYNC_IDENTITIES} identities")
    } else {
        "4: baseline (idle peer)".to_owned()
    };
    eprintln!(
        "| {what} | attacked p50/p99 {p50:.2} / {p99:.2} ms \
         | newcomer: {via_sync} blocks via sync, {synced_during_attack} during the attack | peak RSS {} MiB | fds max {max_fds} | \
         attackers {attackers_done:?}",
        peak_rss / 1024
    );
    assert!(
        via_sync > 0,
        "the newcomer filled nothing by sync: {newcomer_status}"
    );
    SyncRun {
        attackers_done,
        peak_rss_kib: peak_rss,
        max_fds,
    }
}
