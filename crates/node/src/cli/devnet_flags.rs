//! `op-p2p devnet`: a local network of node processes, no configuration needed.

use std::path::PathBuf;

use clap::Args;

/// Nodes in the devnet unless `--nodes` says otherwise.
pub(crate) const DEFAULT_NODES: usize = 5;
/// Blocks the sequencer produces unless `--blocks` says otherwise.
pub(crate) const DEFAULT_BLOCKS: u64 = 30;
/// Seconds per block unless `--block-time` says otherwise (op-node chains use 2 s).
pub(crate) const DEFAULT_BLOCK_TIME: u64 = 2;

/// The most nodes a devnet runs (each is a process with its own RocksDB, ~50 MiB peak RSS
/// with 120 KB blocks, measured at 100 nodes; node `i` listens on 127.0.0.`i + 1`, so at most
/// 254).
pub(crate) const MAX_NODES: usize = 128;

fn parse_nodes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (2..=MAX_NODES).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of nodes from 2 to {MAX_NODES}")),
    }
}

/// Arguments of `op-p2p devnet`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DevnetArgs {
    /// Node processes: one sequencer, the rest verifiers (at least 2).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_NODES,
        value_parser = parse_nodes)]
    pub(crate) nodes: usize,
    /// Blocks the sequencer produces (at least 1).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BLOCKS,
        value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) blocks: u64,
    /// Seconds per block.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_BLOCK_TIME,
        value_parser = clap::value_parser!(u64).range(1..=60))]
    pub(crate) block_time: u64,
    /// Start the last node a third of the way in, so it must fill its gap with
    /// payload_by_number.
    #[arg(long)]
    pub(crate) late_joiner: bool,
    /// Connect the nodes as before discovery existed: each gets the one or two nodes started
    /// before it as static peers, and discovery is off. Without it, node 0 is the bootnode and
    /// the others get only its ENR.
    #[arg(long = "static")]
    pub(crate) static_peers: bool,
    /// Keep the devnet's files (rollup config, keys, databases, status files, logs) in this
    /// directory instead of a temporary one that is removed at the end.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Serve each node's Prometheus metrics on its own loopback address (node i on
    /// 127.0.0.(i+1)) at this port (7300, op-node's default, when given without a value);
    /// the addresses are shown as each node starts.
    #[arg(long, value_name = "PORT", num_args = 0..=1, require_equals = true,
        default_missing_value = "7300")]
    pub(crate) metrics: Option<u16>,
    /// Fill each block with about this many bytes of synthetic user transactions (the
    /// sequencer's `--sequencer.block-bytes`; 120000 makes OP Mainnet-sized blocks). 0, the
    /// default: the L1-info deposit only.
    #[arg(long, value_name = "BYTES", default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=super::MAX_BLOCK_BYTES))]
    pub(crate) block_bytes: u64,
    /// Sign the sequencer's blocks through a remote signer, as a production sequencer does:
    /// the devnet serves an op-signer-compatible JSON-RPC signer on 127.0.0.1 (plain HTTP)
    /// holding the sequencer key, and the sequencer gets --signer.endpoint and
    /// --signer.address instead of the key.
    #[arg(long)]
    pub(crate) remote_signer: bool,
}
