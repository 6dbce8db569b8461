//! Integration tests of `op-p2p-types`, in one binary (one link per crate).

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod properties;
mod rejects;
mod vectors;
