//! Crash durability: a child process writing bans in a loop is killed with SIGKILL, and every
//! write it acknowledged before dying is in the reopened store.
//!
//! The child is this test binary itself, re-executed to run only [`crash_child_write_loop`]
//! (`--exact … --include-ignored`), so it works the same under `cargo test` and
//! `cargo nextest` (both run this binary; nextest one test per process).

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Stdio},
    sync::Arc,
};

use op_p2p_peerstore::{Config, PeerStore, SystemClock};
use tempfile::TempDir;

use crate::peer;

/// Tells the child which store to write to; without it the child test does nothing.
const CHILD_DB_ENV: &str = "OP_P2P_PEERSTORE_CHILD_DB";
/// The child test's full name in this binary.
const CHILD_TEST: &str = "durability::crash_child_write_loop";
/// Acknowledged writes to see before the kill.
const ACKS_BEFORE_KILL: u64 = 2_000;

/// The child: writes peer `i` → ban expiry `i` forever, printing `acked <i>` after each write
/// returns. Ignored, so it runs only when the parent asks for it by name.
#[test]
#[ignore = "child process of sigkill_loses_no_acknowledged_write; does nothing on its own"]
fn crash_child_write_loop() {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return;
    };
    let store = PeerStore::open(path, Config::default(), Arc::new(SystemClock::new())).unwrap();
    let mut out = std::io::stdout().lock();
    // Start on a fresh line: the test harness may have printed the test's name without one.
    writeln!(out).unwrap();
    for i in 0.. {
        store.set_peer_ban(&peer(i), Some(i)).unwrap();
        writeln!(out, "acked {i}").unwrap();
        out.flush().unwrap();
    }
}

/// The acknowledged index in one line of the child's output.
fn ack(line: &str) -> Option<u64> {
    line.split("acked ").nth(1)?.trim().parse().ok()
}

#[cfg(unix)]
#[test]
fn sigkill_loses_no_acknowledged_write() {
    use std::os::unix::process::ExitStatusExt;

    let dir = TempDir::new().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--include-ignored"])
        .env(CHILD_DB_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());

    // Acks arrive in order 0, 1, 2, …; count them until enough, then kill mid-loop.
    let mut acked = 0u64;
    let mut line = String::new();
    while acked < ACKS_BEFORE_KILL {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("child exited after {acked} acks; stderr:\n{stderr}");
        }
        if let Some(i) = ack(&line) {
            assert_eq!(i, acked, "acks out of order");
            acked += 1;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "child was not killed by SIGKILL: {status}"
    );
    // Acks the child printed between our last read and its death are acknowledged writes too.
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(i) = ack(&line) {
            assert_eq!(i, acked, "acks out of order");
            acked += 1;
        }
    }

    let store =
        PeerStore::open(dir.path(), Config::default(), Arc::new(SystemClock::new())).unwrap();
    let lost: Vec<u64> = (0..acked)
        .filter(|&i| store.peer_ban(&peer(i)).unwrap() != Some(i))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {acked} acknowledged writes lost, first: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    // The store has at most the one write in flight when the kill came beyond the acks.
    let stored = store.peer_bans().unwrap().len() as u64;
    assert!(
        stored == acked || stored == acked + 1,
        "{stored} stored, {acked} acked"
    );
    assert_eq!(store.decode_failures(), 0);
}
