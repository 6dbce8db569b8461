//! The attacker as the node's attack tests run it: a process that reports in JSON lines and
//! stops on time. (This integration test also makes `cargo test`/`nextest` build the
//! `op-p2p-attacker` executable next to `op-p2p`, where `crates/node/tests/it/attack.rs` looks
//! for it.)

// A test: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::{
    net::TcpListener,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

fn attacker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_op-p2p-attacker"))
}

#[test]
fn an_unknown_kind_is_a_usage_error() {
    let out = attacker()
        .args(["--kind", "polite", "--target", "/ip4/127.0.0.1/tcp/1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'polite'"));
}

#[test]
fn an_unreachable_target_is_redialled_until_the_time_is_up() {
    // A port nobody listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!(
        "/ip4/127.0.0.1/tcp/{port}/p2p/16Uiu2HAmFubzgCtyJtyvDhqQpG7NNyHHWnHNXykpqv2eNMuZnq3S"
    );
    let started = Instant::now();
    let out = attacker()
        .args(["--kind", "idle", "--target", &target, "--seconds", "2"])
        .args(["--redial-ms", "200"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"started"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(
        names.iter().filter(|n| **n == "dial_error").count() >= 2,
        "redialled: {names:?}"
    );
    assert!(!names.contains(&"connected"), "{names:?}");
}
