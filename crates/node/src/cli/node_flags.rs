//! `op-p2p node`: op-node's P2P flag names and `OP_NODE_P2P_*` environment variables (spec §11)
//! for everything this node implements, plus the few settings op-node takes from elsewhere.
//!
//! Flags op-node has and this node does not implement (NAT, mux, security, …) are unknown
//! flags here: clap refuses them, and an `OP_NODE_P2P_*` variable
//! for one of them is refused too ([`crate::config`]), so nothing is silently ignored.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{ArgAction, ArgGroup, Args, ValueEnum, builder::BoolishValueParser};
use libp2p_core::Multiaddr;
use op_p2p_types::Address;

use crate::{
    duration::parse_go_duration,
    network::{self, NetworkPreset},
};

/// op-node's `p2p.scoring` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scoring {
    /// op-node's light peer scoring (the default).
    Light,
    /// No peer scoring.
    None,
}

/// Every flag of `op-p2p node`. Defaults are op-node's. Booleans take `--flag`, `--flag=true`
/// or `--flag=false` (urfave/cli's form), and `true`/`false`/`1`/`0` in the environment.
///
/// Exactly one of `--rollup.config` and `--network` names the chain. op-node, given both,
/// logs an error, uses the network and says the combination "will stop the op-node from
/// starting in the future"; this node refuses it now.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "P2P (op-node flags)")]
#[command(group(ArgGroup::new("chain").required(true).args(["rollup_config", "network"])))]
pub(crate) struct NodeArgs {
    /// op-node's rollup.json: chain id, genesis, block time, hardfork schedule. Give this or
    /// --network.
    #[arg(
        long = "rollup.config",
        env = "OP_NODE_ROLLUP_CONFIG",
        value_name = "PATH"
    )]
    pub(crate) rollup_config: Option<PathBuf>,

    /// A built-in network instead of --rollup.config (chain, genesis, forks and unsafe block
    /// signer from the superchain registry; op-node's bootnodes): op-mainnet, op-sepolia, base-mainnet,
    /// base-sepolia, unichain-mainnet, unichain-sepolia, ink-mainnet, ink-sepolia,
    /// soneium-mainnet, soneium-minato-sepolia (case-insensitive; `mainnet` and `sepolia` mean
    /// op-mainnet and op-sepolia).
    #[arg(long = "network", env = "OP_NODE_NETWORK", value_name = "NAME",
        value_parser = network::parse)]
    pub(crate) network: Option<&'static NetworkPreset>,

    /// The address that signs unsafe blocks. op-node reads it from the L1 SystemConfig; this
    /// node has no L1, so it is a flag. Defaults to the --network preset's signer, else to the
    /// sequencer key's address when p2p.sequencer.key is set.
    #[arg(
        long = "p2p.unsafe-block-signer",
        env = "OP_NODE_P2P_UNSAFE_BLOCK_SIGNER",
        value_name = "ADDRESS"
    )]
    pub(crate) unsafe_block_signer: Option<Address>,

    /// Disables P2P. This node is only P2P, so the flag is refused (with p2p.static as op-node
    /// does, alone because nothing would be left to run).
    #[arg(long = "p2p.disable", env = "OP_NODE_P2P_DISABLE", action = ArgAction::Set,
        num_args = 0..=1, require_equals = true, default_value = "false",
        default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub(crate) disable: bool,

    /// IP to bind the TCP listener to.
    #[arg(
        long = "p2p.listen.ip",
        env = "OP_NODE_P2P_LISTEN_IP",
        value_name = "IP",
        default_value = "0.0.0.0"
    )]
    pub(crate) listen_ip: IpAddr,

    /// TCP port to listen on; 0 picks a free one. op-node rejects 1–1023.
    #[arg(
        long = "p2p.listen.tcp",
        env = "OP_NODE_P2P_LISTEN_TCP_PORT",
        value_name = "PORT",
        default_value_t = 9222
    )]
    pub(crate) listen_tcp: u16,

    /// UDP port for discv5; 0 picks a free one (op-node's default; the help text of op-node
    /// says "same as TCP", its code picks a random port).
    #[arg(
        long = "p2p.listen.udp",
        env = "OP_NODE_P2P_LISTEN_UDP_PORT",
        value_name = "PORT",
        default_value_t = 0
    )]
    pub(crate) listen_udp: u16,

    /// Turns discv5 discovery off: only static peers and inbound connections.
    #[arg(long = "p2p.no-discovery", env = "OP_NODE_P2P_NO_DISCOVERY", action = ArgAction::Set,
        num_args = 0..=1, require_equals = true, default_value = "false",
        default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub(crate) no_discovery: bool,

    /// Bootnodes: comma-separated ENRs (enr:…) or enode URLs (enode://…; host names are
    /// resolved). Empty: the network preset's list, if any.
    #[arg(
        long = "p2p.bootnodes",
        env = "OP_NODE_P2P_BOOTNODES",
        value_name = "ENRS",
        value_delimiter = ','
    )]
    pub(crate) bootnodes: Vec<String>,

    /// Comma-separated CIDR networks discv5 may learn nodes in (records from other nodes
    /// outside them are dropped; bootnodes are exempt). Applies to discovery only, as op-node.
    #[arg(
        long = "p2p.netrestrict",
        env = "OP_NODE_P2P_NETRESTRICT",
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    pub(crate) netrestrict: Vec<String>,

    /// The IP to put in the ENR (an IP, or a host name resolved to its first IPv4). Empty:
    /// the listen IP unless unspecified, else what peers observe.
    #[arg(
        long = "p2p.advertise.ip",
        env = "OP_NODE_P2P_ADVERTISE_IP",
        value_name = "IP_OR_HOST"
    )]
    pub(crate) advertise_ip: Option<String>,

    /// The TCP port to put in the ENR; 0: the bound port.
    #[arg(
        long = "p2p.advertise.tcp",
        env = "OP_NODE_P2P_ADVERTISE_TCP",
        value_name = "PORT",
        default_value_t = 0
    )]
    pub(crate) advertise_tcp: u16,

    /// The UDP port to put in the ENR; 0: the listen UDP port, else the bound one.
    #[arg(
        long = "p2p.advertise.udp",
        env = "OP_NODE_P2P_ADVERTISE_UDP",
        value_name = "PORT",
        default_value_t = 0
    )]
    pub(crate) advertise_udp: u16,

    /// The discovery table's database (restarts find the network without bootnodes), or
    /// `memory`.
    #[arg(
        long = "p2p.discovery.path",
        env = "OP_NODE_P2P_DISCOVERY_PATH",
        value_name = "PATH",
        default_value = "opnode_discovery_db"
    )]
    pub(crate) discovery_path: PathBuf,

    /// Static peers: comma-separated multiaddrs ending in /p2p/PEER_ID. Dialled at start,
    /// protected from trimming and score bans, redialled while disconnected.
    #[arg(
        long = "p2p.static",
        env = "OP_NODE_P2P_STATIC",
        value_name = "MULTIADDRS",
        value_delimiter = ','
    )]
    pub(crate) static_peers: Vec<Multiaddr>,

    /// Low water mark: trimming stops at this many peers.
    #[arg(long = "p2p.peers.lo", env = "OP_NODE_P2P_PEERS_LO", value_name = "N",
        default_value_t = op_p2p_gating::conn_manager::DEFAULT_LOW_WATER)]
    pub(crate) peers_lo: usize,

    /// High water mark: trimming starts above this many peers.
    #[arg(long = "p2p.peers.hi", env = "OP_NODE_P2P_PEERS_HI", value_name = "N",
        default_value_t = op_p2p_gating::conn_manager::DEFAULT_HIGH_WATER)]
    pub(crate) peers_hi: usize,

    /// How long a new peer is exempt from trimming.
    #[arg(long = "p2p.peers.grace", env = "OP_NODE_P2P_PEERS_GRACE", value_name = "DURATION",
        default_value = "30s", value_parser = parse_go_duration)]
    pub(crate) peers_grace: Duration,

    /// Ban peers whose score falls below p2p.ban.threshold.
    #[arg(long = "p2p.ban.peers", env = "OP_NODE_P2P_PEER_BANNING", action = ArgAction::Set,
        num_args = 0..=1, require_equals = true, default_value = "true",
        default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub(crate) ban_peers: bool,

    /// The score below which a peer is banned.
    #[arg(long = "p2p.ban.threshold", env = "OP_NODE_P2P_PEER_BANNING_THRESHOLD",
        value_name = "SCORE", default_value_t = op_p2p_gating::DEFAULT_BAN_THRESHOLD,
        allow_negative_numbers = true)]
    pub(crate) ban_threshold: f64,

    /// How long a score ban lasts.
    #[arg(long = "p2p.ban.duration", env = "OP_NODE_P2P_PEER_BANNING_DURATION",
        value_name = "DURATION", default_value = "1h", value_parser = parse_go_duration)]
    pub(crate) ban_duration: Duration,

    /// Peer scoring: light or none.
    #[arg(
        long = "p2p.scoring",
        env = "OP_NODE_P2P_PEER_SCORING",
        value_enum,
        default_value = "light"
    )]
    pub(crate) scoring: Scoring,

    /// The node's database (peer store and payload store), or `memory`.
    #[arg(
        long = "p2p.peerstore.path",
        env = "OP_NODE_P2P_PEERSTORE_PATH",
        value_name = "PATH",
        default_value = "opnode_peerstore_db"
    )]
    pub(crate) peerstore_path: PathBuf,

    /// Hex secp256k1 key (0x optional) that signs blocks: turns on sequencer mode.
    #[arg(
        long = "p2p.sequencer.key",
        env = "OP_NODE_P2P_SEQUENCER_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub(crate) sequencer_key: Option<String>,

    /// Gossip mesh degree D.
    #[arg(long = "p2p.gossip.mesh.d", env = "OP_NODE_P2P_GOSSIP_MESH_D", value_name = "N",
        default_value_t = op_p2p_gossip::DEFAULT_MESH_D)]
    pub(crate) mesh_d: usize,

    /// Gossip mesh lower bound Dlo.
    #[arg(long = "p2p.gossip.mesh.lo", env = "OP_NODE_P2P_GOSSIP_MESH_DLO", value_name = "N",
        default_value_t = op_p2p_gossip::DEFAULT_MESH_DLO)]
    pub(crate) mesh_dlo: usize,

    /// Gossip mesh upper bound Dhi.
    #[arg(long = "p2p.gossip.mesh.dhi", env = "OP_NODE_P2P_GOSSIP_MESH_DHI", value_name = "N",
        default_value_t = op_p2p_gossip::DEFAULT_MESH_DHI)]
    pub(crate) mesh_dhi: usize,

    /// Gossip emission degree Dlazy.
    #[arg(long = "p2p.gossip.mesh.dlazy", env = "OP_NODE_P2P_GOSSIP_MESH_DLAZY",
        value_name = "N", default_value_t = op_p2p_gossip::DEFAULT_MESH_DLAZY)]
    pub(crate) mesh_dlazy: usize,

    /// Publish our blocks to every subscribed peer, not only the mesh.
    #[arg(long = "p2p.gossip.mesh.floodpublish", env = "OP_NODE_P2P_GOSSIP_FLOOD_PUBLISH",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "false", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) flood_publish: bool,

    /// How far in the past a gossiped block's timestamp may lie.
    #[arg(long = "p2p.gossip.timestamp.threshold",
        env = "OP_NODE_P2P_GOSSIP_TIMESTAMP_THRESHOLD", value_name = "DURATION",
        default_value = "60s", value_parser = parse_go_duration)]
    pub(crate) timestamp_threshold: Duration,

    /// Serve and request payload_by_number (fill gaps below gossip blocks from peers).
    #[arg(long = "p2p.sync.req-resp", env = "OP_NODE_P2P_SYNC_REQ_RESP",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "true", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) sync_req_resp: bool,

    /// Send sync requests to static peers only.
    #[arg(long = "p2p.sync.onlyreqtostatic", env = "OP_NODE_P2P_SYNC_ONLYREQTOSTATIC",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "false", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) sync_only_req_to_static: bool,

    /// op-node's driver-side switch for req-resp sync; like op-node, it may not be on while
    /// p2p.sync.req-resp is off.
    #[arg(long = "syncmode.req-resp", env = "OP_NODE_SYNCMODE_REQ_RESP",
        action = ArgAction::Set, num_args = 0..=1, require_equals = true,
        default_value = "true", default_missing_value = "true",
        value_parser = BoolishValueParser::new())]
    pub(crate) syncmode_req_resp: bool,

    /// The identify user agent.
    #[arg(
        long = "p2p.useragent",
        env = "OP_NODE_P2P_AGENT",
        value_name = "AGENT",
        default_value = "optimism"
    )]
    pub(crate) user_agent: String,

    /// Dial timeout: TCP connect, noise and yamux together.
    #[arg(long = "p2p.timeout.dial", env = "OP_NODE_P2P_TIMEOUT_DIAL", value_name = "DURATION",
        default_value = "10s", value_parser = parse_go_duration)]
    pub(crate) dial_timeout: Duration,

    /// The node key file: hex secp256k1 secret, generated (mode 0600) if missing. Default
    /// opnode_p2p_priv.txt.
    #[arg(
        long = "p2p.priv.path",
        env = "OP_NODE_P2P_PRIV_PATH",
        value_name = "PATH"
    )]
    pub(crate) priv_path: Option<PathBuf>,

    /// The node key as hex (0x optional), instead of a file.
    #[arg(
        long = "p2p.priv.raw",
        env = "OP_NODE_P2P_PRIV_RAW",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub(crate) priv_raw: Option<String>,

    #[command(flatten)]
    pub(crate) rpc: crate::cli::RpcArgs,

    #[command(flatten)]
    pub(crate) metrics: super::metrics_flags::MetricsArgs,

    #[command(flatten)]
    pub(crate) signer: crate::cli::SignerArgs,

    #[command(flatten)]
    pub(crate) local: LocalArgs,
}

/// Settings of this node that op-node does not have.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "op-p2p")]
pub(crate) struct LocalArgs {
    /// Write a JSON status file (head, stored blocks with receive times, peers, bans, scores)
    /// here every 500 ms and at shutdown; the devnet reads it.
    #[arg(long = "status-file", value_name = "PATH")]
    pub(crate) status_file: Option<PathBuf>,

    /// Read control commands from stdin (`ban <peer> <secs>`, `report <peer>
    /// valid|error|rejected`, `shutdown`) and shut down when stdin closes: for a supervising
    /// parent such as the devnet, so a node never outlives it.
    #[arg(long = "control-stdin")]
    pub(crate) control_stdin: bool,

    /// Sequencer mode: the last block number to produce (devnets and tests); without it the
    /// sequencer runs until the node stops.
    #[arg(long = "sequencer.last-block", value_name = "N")]
    pub(crate) sequencer_last_block: Option<u64>,

    /// Sequencer mode: fill each block with about this many bytes of synthetic, signed EIP-1559
    /// user transactions after its L1-info deposit (0, the default: none), so that blocks are
    /// the size of a busy chain's (OP Mainnet's are ~100-150 KB). At most the block gas limit.
    #[arg(long = "sequencer.block-bytes", value_name = "BYTES", default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=super::MAX_BLOCK_BYTES))]
    pub(crate) sequencer_block_bytes: u64,

    /// Blocks of the unsafe chain the node keeps below its head, to serve payload_by_number:
    /// older payloads are pruned from the database (peers asking for them get "not found").
    /// The default is a day at 1 s blocks, twice the sequencer window an op-node peer syncs
    /// within; 0 keeps every block (the database then grows with the chain).
    #[arg(long = "p2p.sync.retention", env = "OP_P2P_SYNC_RETENTION", value_name = "BLOCKS",
        default_value_t = crate::payload_store::DEFAULT_RETENTION_BLOCKS)]
    pub(crate) sync_retention: u64,

    /// IPs exempt from the IP-colocation penalty (comma separated; none by default, as
    /// op-node). Loopback needs no entry (P6 skips it, as go-libp2p-pubsub); for peers that
    /// reach this node through one shared address that is not loopback (a NAT or proxy).
    #[arg(
        long = "gossip.ip-colocation-whitelist",
        value_name = "IPS",
        value_delimiter = ','
    )]
    pub(crate) ip_colocation_whitelist: Vec<IpAddr>,
}
