//! Integration tests of the `op-p2p` binary, in one test binary: they run the built executable,
//! nodes as separate processes on 127.0.0.1.

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod admin_rpc;
mod attack;
mod bad_config;
mod common;
mod devnet;
mod discovery;
mod gossip_validate;
mod late_joiner;
mod metrics;
mod network;
mod remote_signer;
mod restart;
mod rotation;
mod rpc;
mod sync_cmd;
mod test_signer;
