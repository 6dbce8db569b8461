//! A sequencer signing through a remote op-signer over mutual TLS (`--signer.*`): its blocks
//! reach a second node; a signer with the wrong key, a signer that does not answer in time and
//! a refused client certificate each give a clear error and no published block.

use std::{
    path::Path,
    thread,
    time::{Duration, Instant},
};

use op_p2p_types::B256;
use serde_json::Value;
use tempfile::TempDir;

use crate::{
    common::{
        Node, SEQUENCER_ADDRESS, SEQUENCER_KEY, TIMEOUT, dial_addr, node_args, run, write_rollup,
    },
    test_signer::{ClientCert, Pki, SignerOptions, TEST_HEADER, TestSigner},
};

/// Blocks the sequencer makes.
const BLOCKS: u64 = 3;
/// How long a negative ("no block arrives") is watched after the sequencer's blocks are due.
const WATCH: Duration = Duration::from_secs(3);

fn sequencer_key() -> B256 {
    SEQUENCER_KEY.parse().unwrap()
}

/// The flags of a sequencer signing at `signer` with the client certificate `client`.
fn remote_args(signer: &TestSigner, pki: &Pki, client: &ClientCert) -> Vec<String> {
    [
        "--signer.endpoint",
        &signer.url,
        "--signer.address",
        SEQUENCER_ADDRESS,
        "--signer.tls.ca",
        &pki.ca.display().to_string(),
        "--signer.tls.cert",
        &client.cert.display().to_string(),
        "--signer.tls.key",
        &client.key.display().to_string(),
        "--signer.header",
        &format!("{}={}", TEST_HEADER.0, TEST_HEADER.1),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A sequencer with `extra` flags (no local key) and a verifier connected to it.
struct Pair {
    sequencer: Node,
    verifier: Node,
    dir: TempDir,
}

fn start_pair(extra: &[String]) -> Pair {
    let dir = TempDir::new().unwrap();
    // Genesis far enough ahead for both nodes to start and connect on a loaded machine, so
    // every block is published to a connected peer.
    let rollup = write_rollup(dir.path(), 8);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mut sequencer_args = node_args(&rollup, &path("s-key.txt"), "memory");
    sequencer_args.extend(["--sequencer.last-block".to_owned(), BLOCKS.to_string()]);
    sequencer_args.extend(extra.iter().cloned());
    let mut sequencer = Node::start(
        &sequencer_args,
        &[],
        &dir.path().join("sequencer.json"),
        &dir.path().join("sequencer.log"),
    );
    let status = sequencer.wait_status("sequencer listening", |s| {
        !s["listen_addrs"].as_array().unwrap().is_empty()
    });
    let mut verifier_args = node_args(&rollup, &path("v-key.txt"), "memory");
    verifier_args.extend(["--p2p.static".to_owned(), dial_addr(&status)]);
    let mut verifier = Node::start(
        &verifier_args,
        &[],
        &dir.path().join("verifier.json"),
        &dir.path().join("verifier.log"),
    );
    verifier.wait_status("verifier connected to the sequencer", |s| s["peers"] == 1);
    Pair {
        sequencer,
        verifier,
        dir,
    }
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Waits for the sequencer to have stored every block (signed or not), then watches the
/// verifier for [`WATCH`]: nothing may arrive, nothing may have been published.
fn assert_nothing_published(pair: &mut Pair, expected_error: &str) -> Value {
    let status = pair
        .sequencer
        .wait_status("sequencer stored every block", |s| {
            s["head"]["number"] == BLOCKS
        });
    let deadline = Instant::now() + TIMEOUT;
    while !log(pair.dir.path(), "sequencer.log").contains(expected_error) {
        assert!(
            Instant::now() < deadline,
            "no {expected_error:?} in the sequencer's log:\n{}",
            log(pair.dir.path(), "sequencer.log")
        );
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(WATCH);
    let verifier = pair.verifier.status().unwrap();
    assert_eq!(verifier["head"]["number"], 0, "{verifier}");
    assert_eq!(verifier["gossip"]["accepted"], 0, "{verifier}");
    assert_eq!(verifier["gossip"]["rejected"], 0, "{verifier}");
    let sequencer = pair.sequencer.status().unwrap();
    assert_eq!(sequencer["gossip"]["published"], 0, "{sequencer}");
    status
}

#[test]
fn blocks_signed_over_mutual_tls_reach_a_second_node() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::generate(dir.path());
    let signer = TestSigner::start(
        SignerOptions {
            key: sequencer_key(),
            delay: Duration::ZERO,
        },
        Some(&pki),
    );
    let mut pair = start_pair(&remote_args(&signer, &pki, &pki.client));
    let verifier = pair
        .verifier
        .wait_status("verifier holds every block", |s| {
            s["head"]["number"] == BLOCKS
        });
    assert_eq!(verifier["gossip"]["rejected"], 0, "{verifier}");
    // Through gossip, so the remote signatures passed the verifier's signature check.
    assert_eq!(verifier["blocks_via_gossip"], BLOCKS, "{verifier}");
    // The status file is rewritten every 500 ms: wait for the one after the last publish.
    pair.sequencer
        .wait_status("the sequencer published every block", |s| {
            s["gossip"]["published"] == BLOCKS
        });
    assert_eq!(signer.signed(), BLOCKS as usize);
    // op-node's request: V1, one argument object per block, for our address and chain.
    let requests = signer.requests();
    assert_eq!(requests.len(), BLOCKS as usize);
    for (method, args) in &requests {
        assert_eq!(method, "opsigner_signBlockPayload");
        assert_eq!(args["chainId"], 901);
        assert_eq!(args["domain"], serde_json::json!(vec![0; 32]));
        assert_eq!(
            args["senderAddress"].as_str().unwrap().to_lowercase(),
            SEQUENCER_ADDRESS.to_lowercase()
        );
    }
    assert!(
        signer.header_seen(),
        "--signer.header did not reach the signer"
    );
    assert_eq!(signer.tls_refused(), 0);
    assert!(
        log(pair.dir.path(), "sequencer.log").contains("remote block signer answers health_status")
    );
}

#[test]
fn the_v2_method_signs_too() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::generate(dir.path());
    let signer = TestSigner::start(
        SignerOptions {
            key: sequencer_key(),
            delay: Duration::ZERO,
        },
        Some(&pki),
    );
    let mut args = remote_args(&signer, &pki, &pki.client);
    args.push("--signer.v2".to_owned());
    let mut pair = start_pair(&args);
    pair.verifier
        .wait_status("verifier holds every block", |s| {
            s["head"]["number"] == BLOCKS
        });
    let requests = signer.requests();
    assert!(!requests.is_empty());
    for (method, args) in &requests {
        assert_eq!(method, "opsigner_signBlockPayloadV2");
        assert_eq!(args["chainId"], "901");
        assert_eq!(args["domain"], format!("0x{}", "00".repeat(32)));
    }
}

#[test]
fn a_signer_with_another_key_publishes_nothing() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::generate(dir.path());
    let signer = TestSigner::start(
        SignerOptions {
            key: B256::repeat_byte(2),
            delay: Duration::ZERO,
        },
        Some(&pki),
    );
    let mut pair = start_pair(&remote_args(&signer, &pki, &pki.client));
    assert_nothing_published(&mut pair, "the remote signer holds another key");
    assert_eq!(
        signer.signed(),
        BLOCKS as usize,
        "every block was asked for"
    );
    let log = log(pair.dir.path(), "sequencer.log");
    assert!(
        log.contains(&format!("not to the block signer {SEQUENCER_ADDRESS}")),
        "{log}"
    );
}

#[test]
fn a_signer_that_does_not_answer_in_time_publishes_nothing() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::generate(dir.path());
    let signer = TestSigner::start(
        SignerOptions {
            key: sequencer_key(),
            delay: Duration::from_secs(30),
        },
        Some(&pki),
    );
    let mut args = remote_args(&signer, &pki, &pki.client);
    args.extend(["--signer.timeout".to_owned(), "300ms".to_owned()]);
    let mut pair = start_pair(&args);
    assert_nothing_published(&mut pair, "no signature within 300ms (--signer.timeout)");
    assert_eq!(signer.signed(), 0);
    assert!(!signer.requests().is_empty());
}

#[test]
fn a_refused_client_certificate_stops_the_node_at_start() {
    let dir = TempDir::new().unwrap();
    let pki = Pki::generate(dir.path());
    let signer = TestSigner::start(
        SignerOptions {
            key: sequencer_key(),
            delay: Duration::ZERO,
        },
        Some(&pki),
    );
    let rollup = write_rollup(dir.path(), 3);
    let mut args = node_args(
        &rollup,
        &dir.path().join("key.txt").display().to_string(),
        "memory",
    );
    args.extend(remote_args(&signer, &pki, &pki.rogue));
    let mut argv = vec!["node"];
    argv.extend(args.iter().map(String::as_str));
    let output = run(&argv, &[("NO_COLOR", "1")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("the signer does not answer health_status") && stderr.contains(&signer.url),
        "{stderr}"
    );
    assert!(!stderr.contains("op-p2p node started"), "{stderr}");
    assert!(signer.tls_refused() >= 1);
    assert_eq!(signer.signed(), 0);
}
