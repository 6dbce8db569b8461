//! Why a command failed.

use std::{io, path::PathBuf};

use op_p2p_types::RollupConfigError;

use crate::{
    config::ConfigError, devnet::DevnetError, identity::IdentityError, payload_store::StoreError,
    swarm::SwarmError,
};

/// A command failure; the message is one line and names the flag or file at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A refused setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The node key.
    #[error("node key (--p2p.priv.path / --p2p.priv.raw): {0}")]
    Identity(#[from] IdentityError),
    /// The database does not open.
    #[error("--p2p.peerstore.path {location}: {source}")]
    Database {
        /// The path, or `memory`.
        location: String,
        /// Why.
        source: op_p2p_peerstore::Error,
    },
    /// The discovery table database does not open.
    #[error("--p2p.discovery.path {location}: {source}")]
    DiscoveryTable {
        /// The path.
        location: String,
        /// Why.
        source: op_p2p_peerstore::Error,
    },
    /// discv5 could not start (UDP bind, the local ENR, the table).
    #[error("discovery (--p2p.listen.udp, --p2p.advertise.*): {0}")]
    Discovery(op_p2p_discovery::Error),
    /// The payload store does not open or fails.
    #[error("--p2p.peerstore.path: {0}")]
    PayloadStore(#[from] StoreError),
    /// Gating could not load its rules.
    #[error("gating: {0}")]
    Gating(#[from] op_p2p_gating::Error),
    /// Gossip could not be set up.
    #[error("gossip: {0}")]
    Gossip(#[from] op_p2p_gossip::Error),
    /// payload_by_number sync could not be set up.
    #[error("sync: {0}")]
    Sync(op_p2p_reqresp_sync::Error),
    /// The swarm could not be built.
    #[error("swarm: {0}")]
    Swarm(#[from] SwarmError),
    /// The listen address is taken or unusable.
    #[error("--p2p.listen.ip/--p2p.listen.tcp: cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The metrics address is taken or unusable.
    #[error("--metrics.addr/--metrics.port: cannot listen on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The RPC server does not start.
    #[error(transparent)]
    Rpc(#[from] crate::rpc::RpcError),
    /// The remote block signer is unusable.
    #[error(transparent)]
    Signer(#[from] crate::signer::remote::RemoteSignerError),
    /// The async runtime does not start.
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(io::Error),
    /// The devnet failed.
    #[error("devnet: {0}")]
    Devnet(#[from] DevnetError),
    /// The rollup config file cannot be read.
    #[error("cannot read rollup config {path}: {source}")]
    ReadRollupConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The rollup config does not parse or is unusable.
    #[error("invalid rollup config {path}: {source}")]
    RollupConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: RollupConfigError,
    },
    /// The topic belongs to another chain.
    #[error("topic {topic} is not a topic of chain {chain_id}")]
    TopicChain {
        /// The topic given.
        topic: String,
        /// The configured chain.
        chain_id: u64,
    },
    /// The message file cannot be opened.
    #[error("cannot open {path}: {source}")]
    OpenInput {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Reading the messages failed.
    #[error("cannot read input: {0}")]
    Input(io::Error),
    /// A line is not hex.
    #[error("line {line}: invalid hex: {source}")]
    Hex {
        /// 1-based line number.
        line: usize,
        /// The decoder's reason.
        source: alloy_primitives::hex::FromHexError,
    },
    /// A response stream is not hex.
    #[error("invalid hex: {0}")]
    ResponseHex(alloy_primitives::hex::FromHexError),
    /// No response stream was given.
    #[error("no response given (use --hex, or the response in hex on stdin)")]
    NoResponse,
    /// `sync fetch` could not get a response from the peer.
    #[error("fetch from {peer}: {reason}")]
    Fetch {
        /// The peer's address.
        peer: String,
        /// Why.
        reason: String,
    },
    /// There was no message at all.
    #[error("no message given (use --hex, --file, or one hex message per line on stdin)")]
    NoInput,
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(io::Error),
}
