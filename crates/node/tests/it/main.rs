//! Integration tests of the `op-p2p` binary, in one test binary: they run the built executable.

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod gossip_validate;
