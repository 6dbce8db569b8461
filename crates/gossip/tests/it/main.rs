//! Integration tests of `op-p2p-gossip`, in one binary (one link per crate).

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod embed;
mod floodsub;
mod network;
mod pipeline;
mod rules;
mod scoring;
mod slow_source;
mod vectors;
