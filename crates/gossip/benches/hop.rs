//! One gossip hop of a small block: nodes in a line on loopback (real TCP, noise and yamux, real
//! gossipsub and validation pipeline, each node on its own task of one 2-worker runtime); the
//! first publishes a small block and the time until each node delivers it is taken, with `GAP`
//! of idleness between blocks (as between real blocks, so threads park).
//!
//! Prints p50/p99 of the delivery time at each node, and per hop the difference between
//! consecutive nodes.
//!
//! Run: `cargo bench -p op-p2p-gossip --bench hop`.

// A bench is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use op_p2p_gossip::{
    Config,
    test_utils::{NOW, TestNode, block},
};

/// Nodes in the line.
const NODES: usize = 4;
/// Blocks timed.
const SAMPLES: usize = 200;
/// Idleness between blocks.
const GAP: Duration = Duration::from_millis(50);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut nodes = Vec::with_capacity(NODES);
        for _ in 0..NODES {
            nodes.push(TestNode::spawn(Config::default()).await);
        }
        for i in 1..NODES {
            nodes[i - 1].connect(&nodes[i]).await;
        }
        // Let the first heartbeats pass so the meshes are settled.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut at: Vec<Vec<Duration>> = vec![Vec::new(); NODES];
        let mut hops: Vec<Vec<Duration>> = vec![Vec::new(); NODES];
        let size = op_p2p_types::SignedBlockMessage::sign(
            &op_p2p_gossip::test_utils::sequencer(),
            op_p2p_gossip::test_utils::CHAIN_ID,
            &block(1, NOW, 0),
        )
        .encode()
        .len();
        for n in 0..SAMPLES as u64 {
            tokio::time::sleep(GAP).await;
            let envelope = block(n + 1, NOW, 0);
            let start = Instant::now();
            nodes[0].publish(&envelope).await.unwrap();
            let mut previous = Duration::ZERO;
            for i in 1..NODES {
                nodes[i].next_delivery().await;
                let t = start.elapsed();
                at[i].push(t);
                hops[i].push(t.saturating_sub(previous));
                previous = t;
            }
        }
        println!(
            "{NODES} nodes in a line, {SAMPLES} blocks of {size} bytes on the wire, {GAP:?} apart; load average at end: {}",
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
        );
        println!("| node | hops | p50 µs | p99 µs | this hop p50 µs | this hop p99 µs |");
        println!("|---|---:|---:|---:|---:|---:|");
        for i in 1..NODES {
            at[i].sort();
            hops[i].sort();
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            println!(
                "| {i} | {i} | {:.0} | {:.0} | {:.0} | {:.0} |",
                us(percentile(&at[i], 0.5)),
                us(percentile(&at[i], 0.99)),
                us(percentile(&hops[i], 0.5)),
                us(percentile(&hops[i], 0.99)),
            );
        }
    });
}
