//! The command line (clap derive): `op-p2p node`, `op-p2p devnet`, `op-p2p gossip validate`,
//! `op-p2p sync decode-response`, `op-p2p sync fetch`.

mod devnet_flags;
mod metrics_flags;
mod node_flags;
mod rpc_flags;
mod signer_flags;

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use op_p2p_types::{Address, BlocksTopic};

pub(crate) use self::{
    devnet_flags::DevnetArgs,
    node_flags::{NodeArgs, Scoring},
    rpc_flags::RpcArgs,
    signer_flags::SignerArgs,
};

/// The largest `--sequencer.block-bytes` (and devnet `--block-bytes`): 8 MiB, under gossip's
/// 10 MiB message limit (the block gas limit stops the filler at about 1 MB anyway).
pub(crate) const MAX_BLOCK_BYTES: u64 = 8 * 1024 * 1024;

/// The OP Stack P2P node.
#[derive(Debug, Parser)]
#[command(name = "op-p2p", version, about)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs a node: op-node's P2P flags and `OP_NODE_P2P_*` environment variables.
    Node(Box<NodeArgs>),
    /// Runs a local devnet of node processes on 127.0.0.1 (no configuration needed).
    Devnet(DevnetArgs),
    /// Block gossip tools.
    #[command(subcommand)]
    Gossip(GossipCommand),
    /// payload_by_number (req-resp sync) tools.
    #[command(subcommand)]
    Sync(SyncCommand),
}

/// `op-p2p sync …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// Decode and verify one payload_by_number response stream as the sync client would, and
    /// print one JSON object.
    ///
    /// The stream is everything a server wrote (result byte, version, snappy-framed SSZ) in
    /// hex (`0x` optional), from --hex or stdin.
    DecodeResponse(DecodeResponseArgs),
    /// Request one payload from a live peer over TCP+noise+yamux and print the same JSON
    /// object as decode-response.
    Fetch(FetchArgs),
}

/// Arguments of `op-p2p sync decode-response`.
#[derive(Debug, Args)]
pub(crate) struct DecodeResponseArgs {
    /// op-node rollup.json: chain id and hardfork schedule (which payload version to decode).
    #[arg(long, value_name = "FILE")]
    pub(crate) rollup_config: PathBuf,
    /// The block number that was requested.
    #[arg(long, value_name = "N")]
    pub(crate) number: u64,
    /// The response stream, hex; read from stdin when absent.
    #[arg(long, value_name = "HEX")]
    pub(crate) hex: Option<String>,
}

/// Arguments of `op-p2p sync fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// op-node rollup.json: chain id (protocol id) and hardfork schedule.
    #[arg(long, value_name = "FILE")]
    pub(crate) rollup_config: PathBuf,
    /// The peer to ask, e.g. `/ip4/127.0.0.1/tcp/9222/p2p/16Uiu2…` (the `/p2p/` part is
    /// optional).
    #[arg(long, value_name = "MULTIADDR")]
    pub(crate) peer: libp2p_core::Multiaddr,
    /// The block number to request.
    #[arg(long, value_name = "N")]
    pub(crate) number: u64,
}

/// `op-p2p gossip …`.
#[derive(Debug, Subcommand)]
pub(crate) enum GossipCommand {
    /// Validate blocks-topic messages as op-node does and print one JSON object per message.
    ///
    /// Messages are gossip `data` in hex (snappy compressed, `0x` optional), from --hex,
    /// --file or stdin, one per line. Several messages run in order through the stateful
    /// rules too (repeats, the per-height limit).
    Validate(ValidateArgs),
}

/// Arguments of `op-p2p gossip validate`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("chain").required(true).args(["rollup_config", "chain_id"])))]
pub(crate) struct ValidateArgs {
    /// op-node rollup.json: chain id and hardfork schedule (Jovian).
    #[arg(long, value_name = "FILE")]
    pub(crate) rollup_config: Option<PathBuf>,
    /// L2 chain id, when there is no rollup config (Jovian then only via --jovian-active).
    #[arg(long, value_name = "N")]
    pub(crate) chain_id: Option<u64>,
    /// The topic the messages arrived on, `/optimism/<chain id>/<0-3>/blocks`.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: BlocksTopic,
    /// The unsafe block signer address.
    #[arg(long, value_name = "ADDR")]
    pub(crate) signer: Address,
    /// The validation time, unix seconds.
    #[arg(long, value_name = "UNIX")]
    pub(crate) now: u64,
    /// Treat Jovian as active (non-zero blobGasUsed allowed), whatever the rollup config says.
    #[arg(long)]
    pub(crate) jovian_active: bool,
    /// How far in the past a block's timestamp may lie, seconds (op-node
    /// p2p.gossip.timestamp.threshold).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) timestamp_threshold: u64,
    /// One message, hex.
    #[arg(long, value_name = "HEX", conflicts_with = "file")]
    pub(crate) hex: Option<String>,
    /// A file of messages, one hex per line.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}
