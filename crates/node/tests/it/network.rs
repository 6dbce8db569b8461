//! `op-p2p node --network <name>`: the node starts from a built-in preset with no rollup file,
//! logs the chain, the preset's bootnodes and the signer (and where it came from), and stops
//! cleanly on SIGINT. `--network` may come from `OP_NODE_NETWORK`, and `--network` with
//! `--rollup.config` is refused.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::common::{SEQUENCER_ADDRESS, TIMEOUT, op_p2p, run, write_rollup};

/// How long a node may take to stop after SIGINT (its own shutdown bound is 10 s).
const STOP_BOUND: Duration = Duration::from_secs(15);

/// A node process, killed when dropped: a failed assertion must not leave it running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A node started with `args` (plus a loopback listener on a free port, a key file, a
/// database and a discovery table in `dir`) and `env`, its stderr lines on a channel.
fn start(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> (Running, mpsc::Receiver<String>) {
    let key = dir.path().join("p2p_priv.txt");
    let db = dir.path().join("db");
    let table = dir.path().join("discovery");
    let mut child = op_p2p()
        .arg("node")
        .args(args)
        .args(["--p2p.listen.ip", "127.0.0.1", "--p2p.listen.tcp", "0"])
        .args(["--rpc.port", "0"])
        .arg("--p2p.priv.path")
        .arg(&key)
        .arg("--p2p.peerstore.path")
        .arg(&db)
        .arg("--p2p.discovery.path")
        .arg(&table)
        .envs(env.iter().copied())
        // No ANSI colours in the log, so fields read as `name=value`.
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (Running(child), lines)
}

/// The log without ANSI escape sequences (in case the subscriber colours it anyway).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ … final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads log lines until one contains `needle`; returns it, or fails with everything read.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + TIMEOUT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let line = plain(&line);
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no log line with {needle:?}; log:\n{}", seen.join("\n"));
}

/// SIGINT, then the exit status within [`STOP_BOUND`].
fn interrupt(Running(child): &mut Running) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + STOP_BOUND;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit within {STOP_BOUND:?} of SIGINT");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn op_mainnet_preset_starts_without_a_rollup_file_and_stops_on_sigint() {
    let dir = TempDir::new().unwrap();
    let (mut child, lines) = start(&dir, &["--network", "op-mainnet"], &[]);
    let mut seen = Vec::new();
    let chain = wait_for(&lines, "chain from the --network preset", &mut seen);
    for field in [
        "network=\"op-mainnet\"",
        "chain=\"OP Mainnet\"",
        "chain_id=10",
        "genesis=0xdbf6a80fef073de06add9b0d14026d6e5a86c85f6d102c36d3d8e9cf89c2afd3",
        "bootnodes=8",
        "registry_file=\"superchain/configs/mainnet/op.toml\"",
    ] {
        assert!(chain.contains(field), "{field} not in {chain}");
    }
    let started = wait_for(&lines, "op-p2p node started", &mut seen);
    for field in [
        "chain_id=10",
        "unsafe_block_signer=0xAAAA45d9549EDA09E70937013520214382Ffc4A2",
        "signer_source=--network op-mainnet (superchain registry)",
        // The store starts at the preset's L2 genesis.
        "head=105235063",
    ] {
        assert!(started.contains(field), "{field} not in {started}");
    }

    let status = interrupt(&mut child);
    assert_eq!(status.code(), Some(0), "{status}");
    wait_for(&lines, "stopped; database flushed", &mut seen);
    let log = seen.join("\n");
    // Discovery loaded the preset's bootnodes (op-node's list: 3 enodes, 5 ENRs), logged one
    // by one. They are unreachable here, which may cost warnings, never an error.
    let loaded = log
        .lines()
        .filter(|l| l.contains(" bootnode bootnode=") && l.contains("origin=\"network preset\""))
        .count();
    assert_eq!(loaded, 8, "{log}");
    for forbidden in ["ERROR", "panicked"] {
        assert!(!log.contains(forbidden), "{forbidden} in:\n{log}");
    }
}

#[test]
fn op_node_network_env_picks_the_preset_and_the_signer_flag_overrides() {
    let dir = TempDir::new().unwrap();
    let (mut child, lines) = start(
        &dir,
        &["--p2p.unsafe-block-signer", SEQUENCER_ADDRESS],
        &[("OP_NODE_NETWORK", "Base-Mainnet")],
    );
    let mut seen = Vec::new();
    let chain = wait_for(&lines, "chain from the --network preset", &mut seen);
    assert!(chain.contains("network=\"base-mainnet\""), "{chain}");
    assert!(chain.contains("chain_id=8453"), "{chain}");
    let started = wait_for(&lines, "op-p2p node started", &mut seen);
    assert!(
        started.contains(&format!("unsafe_block_signer={SEQUENCER_ADDRESS}")),
        "{started}"
    );
    assert!(
        started.contains("signer_source=--p2p.unsafe-block-signer"),
        "{started}"
    );
    assert_eq!(interrupt(&mut child).code(), Some(0));
}

#[test]
fn network_and_rollup_config_are_exclusive_and_names_are_checked() {
    let dir = TempDir::new().unwrap();
    let rollup = write_rollup(dir.path(), 60);
    let rollup = rollup.to_str().unwrap();
    let refused = |args: &[&str], env: &[(&str, &str)], needles: &[&str]| {
        let mut argv = vec!["node", "--p2p.peerstore.path", "memory"];
        argv.extend_from_slice(args);
        let output = run(&argv, env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{needle} not in {stderr}");
        }
    };
    refused(
        &["--network", "op-mainnet", "--rollup.config", rollup],
        &[],
        &["--network", "--rollup.config"],
    );
    // From the environment too, as op-node's OP_NODE_NETWORK.
    refused(
        &["--rollup.config", rollup],
        &[("OP_NODE_NETWORK", "op-mainnet")],
        &["--network", "--rollup.config"],
    );
    refused(
        &["--network", "op-mainet"],
        &[],
        &["op-mainet", "op-mainnet", "base-mainnet"],
    );
}
