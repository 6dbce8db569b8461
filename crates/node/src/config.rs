//! [`NodeConfig`]: the flags checked against each other and turned into the settings of every
//! part of the node. Every refusal names the flag (op-node's `Config.Check` and then some), so
//! a bad setting stops the node at start with one line.

use std::{
    ffi::OsString,
    net::{IpAddr, SocketAddr, ToSocketAddrs as _},
    path::PathBuf,
    str::FromStr as _,
    time::Duration,
};

use clap::{Args as _, Command};
use ipnet::IpNet;
use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::PeerId;
use op_p2p_discovery::Bootnode;
use op_p2p_gating::conn_manager;
use op_p2p_gossip::ScoringMode;
use op_p2p_types::{Address, B256, BlockSigner};

use crate::{
    cli::{NodeArgs, Scoring},
    identity::{DEFAULT_PRIV_PATH, KeySource},
    network::NetworkPreset,
    payload_store::Retention,
    rollup::{Chain, RollupError},
    signer::{RemoteSignerSettings, SignerApi, remote::parse_headers, tls::TlsFiles},
};

/// The value of `p2p.peerstore.path` that keeps the database in memory (op-node's).
pub(crate) const MEMORY_STORE: &str = "memory";
/// The prefixes of op-node's P2P and signer environment variables: every variable under them
/// must be one a flag of this node reads.
const ENV_PREFIXES: [&str; 2] = ["OP_NODE_P2P_", "OP_NODE_SIGNER_"];
/// The lowest port op-node accepts other than 0 (it refuses privileged ports).
const MIN_LISTEN_PORT: u16 = 1024;

/// A refused setting; the message names the flag.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// `--rollup.config` is unusable.
    #[error("--rollup.config: {0}")]
    Rollup(#[from] RollupError),
    /// Neither `--rollup.config` nor `--network` (clap refuses this first).
    #[error("give --rollup.config or --network")]
    NoChain,
    /// Both `--rollup.config` and `--network` (clap refuses this first).
    #[error("--rollup.config and --network are both set; give one")]
    NetworkAndRollupConfig,
    /// op-node refuses static peers when P2P is disabled.
    #[error("--p2p.static cannot be used with --p2p.disable")]
    StaticWithDisable,
    /// P2P off leaves this node nothing to do.
    #[error("--p2p.disable: this node is the P2P layer, with P2P disabled there is nothing to run")]
    Disabled,
    /// A privileged port.
    #[error("--p2p.listen.tcp {0}: ports 1-1023 are refused as op-node does (use 0 or 1024-65535)")]
    PrivilegedPort(u16),
    /// Water marks zero or crossed.
    #[error("--p2p.peers.lo ({lo}) and --p2p.peers.hi ({hi}) must be non-zero with lo <= hi")]
    WaterMarks {
        /// Low water.
        lo: usize,
        /// High water.
        hi: usize,
    },
    /// A static peer address without its peer id.
    #[error("--p2p.static {0}: a static peer address must end in /p2p/<peer id>")]
    StaticWithoutPeerId(Multiaddr),
    /// The sequencer key does not parse.
    #[error("--p2p.sequencer.key: not a hex secp256k1 secret key")]
    SequencerKey,
    /// No block signer to check gossip against.
    #[error(
        "--p2p.unsafe-block-signer is required (op-node reads it from the L1 SystemConfig), \
         unless --network or --p2p.sequencer.key is set"
    )]
    MissingSigner,
    /// The block signer and the sequencer key disagree: every block we make would be rejected.
    #[error(
        "the unsafe block signer {signer} (from {origin}) is not the address of the block \
         signer ({key}, --p2p.sequencer.key or --signer.address); set \
         --p2p.unsafe-block-signer to the key's address"
    )]
    SignerMismatch {
        /// The signer in force.
        signer: Address,
        /// Where it came from.
        origin: SignerSource,
        /// The key's address.
        key: Address,
    },
    /// Two node keys.
    #[error("--p2p.priv.raw and --p2p.priv.path are both set; give one")]
    TwoNodeKeys,
    /// Mesh parameters op-node or gossipsub refuse.
    #[error("--p2p.gossip.mesh.*: {0}")]
    Mesh(op_p2p_gossip::Error),
    /// op-node refuses driver-side req-resp sync without the P2P side.
    #[error("--syncmode.req-resp needs --p2p.sync.req-resp (set --syncmode.req-resp=false too)")]
    SyncMode,
    /// An empty database path.
    #[error("--p2p.peerstore.path must not be empty")]
    EmptyStorePath,
    /// `--sequencer.last-block` without sequencing.
    #[error("--sequencer.last-block needs --p2p.sequencer.key")]
    LastBlockWithoutSequencer,
    /// A bootnode that does not parse.
    #[error("--p2p.bootnodes: {0}")]
    Bootnodes(op_p2p_discovery::Error),
    /// The advertised host does not resolve to an IPv4 address.
    #[error("--p2p.advertise.ip {0}: not an IP address or a host name with an IPv4 address")]
    AdvertiseIp(String),
    /// A netrestrict entry that is not a CIDR network.
    #[error("--p2p.netrestrict {0:?}: not a CIDR network (e.g. 10.0.0.0/8)")]
    Netrestrict(String),
    /// A privileged UDP port.
    #[error("--p2p.listen.udp {0}: ports 1-1023 are refused as op-node does (use 0 or 1024-65535)")]
    PrivilegedUdpPort(u16),
    /// An empty discovery path.
    #[error("--p2p.discovery.path must not be empty")]
    EmptyDiscoveryPath,
    /// op-node's `signer.CLIConfig.Check`.
    #[error("--signer.endpoint and --signer.address must both be set or both unset")]
    SignerHalfSet,
    /// Two block signers.
    #[error("--p2p.sequencer.key and --signer.endpoint are both set; give one block signer")]
    TwoSigners,
    /// A `signer.header` that is not `key=value`.
    #[error("--signer.header: {0}")]
    SignerHeader(String),
    /// An endpoint that is not http(s).
    #[error("--signer.endpoint {0}: expected an http:// or https:// URL")]
    SignerEndpoint(String),
    /// `sequencer.stopped` without a signer.
    #[error("--sequencer.stopped needs a block signer (--p2p.sequencer.key or --signer.endpoint)")]
    StoppedWithoutSigner,
    /// An `OP_NODE_P2P_*` variable for a flag this node does not implement.
    #[error("environment variable {0} is set, but this node does not implement its op-node flag")]
    UnknownEnv(String),
}

/// Where the node's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreLocation {
    /// RocksDB in this directory.
    Disk(PathBuf),
    /// RocksDB's in-memory environment (`p2p.peerstore.path=memory`).
    Memory,
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disk(path) => write!(f, "{}", path.display()),
            Self::Memory => f.write_str(MEMORY_STORE),
        }
    }
}

/// Where the unsafe block signer came from: logged at start, so an operator sees whether the
/// preset's registry value or their own is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignerSource {
    /// `--p2p.unsafe-block-signer` (it overrides a preset).
    Flag,
    /// The `--network` preset (the superchain registry's `UnsafeBlockSigner`).
    Preset(&'static str),
    /// The address of `--p2p.sequencer.key`.
    SequencerKey,
    /// `--signer.address`.
    RemoteSigner,
}

impl std::fmt::Display for SignerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag => f.write_str("--p2p.unsafe-block-signer"),
            Self::Preset(name) => write!(f, "--network {name} (superchain registry)"),
            Self::SequencerKey => f.write_str("--p2p.sequencer.key"),
            Self::RemoteSigner => f.write_str("--signer.address"),
        }
    }
}

/// Request-response sync settings: whether the payload_by_number behaviour is in the swarm,
/// whether it asks static peers only, and how much of the chain the node keeps to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncSettings {
    /// `p2p.sync.req-resp`.
    pub(crate) req_resp: bool,
    /// `p2p.sync.onlyreqtostatic`.
    pub(crate) only_req_to_static: bool,
    /// `p2p.sync.retention` (an op-p2p flag): blocks the payload store keeps below the head.
    pub(crate) retention: Retention,
}

/// A static peer: its id and the address to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticPeer {
    /// The peer.
    pub(crate) peer: PeerId,
    /// Its address, `/p2p/<id>` included.
    pub(crate) addr: Multiaddr,
}

/// Which block signer a sequencer uses.
#[derive(Debug, Clone)]
pub(crate) enum SignerSettings {
    /// `p2p.sequencer.key`.
    Local(BlockSigner),
    /// `signer.endpoint` + `signer.address` (connected at start).
    Remote(RemoteSignerSettings),
}

impl SignerSettings {
    /// The address blocks are signed by.
    pub(crate) fn address(&self) -> Address {
        match self {
            Self::Local(key) => key.address(),
            Self::Remote(remote) => remote.address,
        }
    }
}

/// Sequencer mode.
#[derive(Debug, Clone)]
pub(crate) struct SequencerSettings {
    /// The block signer.
    pub(crate) signer: SignerSettings,
    /// The last block to produce, if any.
    pub(crate) last_block: Option<u64>,
    /// Bytes of synthetic user transactions per block (`--sequencer.block-bytes`).
    pub(crate) block_bytes: usize,
    /// `sequencer.stopped`: build nothing; publish only what `admin_postUnsafePayload` posts.
    pub(crate) stopped: bool,
}

/// Discovery settings (`p2p.no-discovery` unset).
#[derive(Debug, Clone)]
pub(crate) struct DiscoverySettings {
    /// `p2p.listen.udp`.
    pub(crate) listen_udp: u16,
    /// `p2p.advertise.ip`, resolved.
    pub(crate) advertise_ip: Option<IpAddr>,
    /// `p2p.advertise.tcp` (0 = unset).
    pub(crate) advertise_tcp: Option<u16>,
    /// `p2p.advertise.udp` (0 = unset).
    pub(crate) advertise_udp: Option<u16>,
    /// `p2p.bootnodes` (empty: [`NodeConfig::default_bootnodes`] are used).
    pub(crate) bootnodes: Vec<Bootnode>,
    /// `p2p.netrestrict`.
    pub(crate) netrestrict: Vec<IpNet>,
    /// `p2p.discovery.path`.
    pub(crate) table: StoreLocation,
}

/// Everything the node runs with, checked.
#[derive(Debug, Clone)]
pub(crate) struct NodeConfig {
    /// The chain.
    pub(crate) chain: Chain,
    /// The `--network` preset the chain came from; `None` with `--rollup.config`. With
    /// `p2p.bootnodes` empty, discovery takes [`NetworkPreset::bootnodes`], or without a
    /// preset [`crate::network::default_bootnodes`] (the same list: op-node's defaults).
    pub(crate) network: Option<&'static NetworkPreset>,
    /// The address gossip blocks must be signed by.
    pub(crate) unsafe_block_signer: Address,
    /// Where [`Self::unsafe_block_signer`] came from.
    pub(crate) signer_source: SignerSource,
    /// Sequencer mode, when a key is set.
    pub(crate) sequencer: Option<SequencerSettings>,
    /// The node key.
    pub(crate) key: KeySource,
    /// The TCP listen address.
    pub(crate) listen: SocketAddr,
    /// Discovery; `None` with `p2p.no-discovery`.
    pub(crate) discovery: Option<DiscoverySettings>,
    /// The bootnodes used when `p2p.bootnodes` is empty: the network preset's list
    /// (`--network`, op-node's `DefaultBootnodes` for the OP networks). The one place the
    /// preset plugs in (set in [`NodeConfig::from_args`]); empty without a preset.
    pub(crate) default_bootnodes: Vec<Bootnode>,
    /// Static peers, our own id removed (op-node ignores it too).
    pub(crate) static_peers: Vec<StaticPeer>,
    /// Connection manager.
    pub(crate) conn_manager: conn_manager::Config,
    /// Gating and score bans.
    pub(crate) gating: op_p2p_gating::Config,
    /// Gossip.
    pub(crate) gossip: op_p2p_gossip::Config,
    /// The database.
    pub(crate) store: StoreLocation,
    /// The identify user agent.
    pub(crate) user_agent: String,
    /// The dial timeout.
    pub(crate) dial_timeout: Duration,
    /// Req-resp sync.
    pub(crate) sync: SyncSettings,
    /// The JSON status file.
    pub(crate) status_file: Option<PathBuf>,
    /// Whether stdin carries control commands.
    pub(crate) control_stdin: bool,
    /// Where the metrics server listens; `None` without `--metrics.enabled`.
    pub(crate) metrics: Option<SocketAddr>,
    /// Where the operator RPC listens (`--rpc.addr`, `--rpc.port`).
    pub(crate) rpc: SocketAddr,
    /// `--rpc.enable-admin`: serve `admin_postUnsafePayload`.
    pub(crate) rpc_admin: bool,
}

impl NodeConfig {
    /// Checks `args` (and the `OP_NODE_P2P_*` environment `vars`) and builds the config.
    pub(crate) fn from_args(
        args: &NodeArgs,
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Self, ConfigError> {
        check_environment(vars)?;
        if args.disable {
            return Err(if args.static_peers.is_empty() {
                ConfigError::Disabled
            } else {
                ConfigError::StaticWithDisable
            });
        }
        let chain = match (args.network, &args.rollup_config) {
            (Some(_), Some(_)) => return Err(ConfigError::NetworkAndRollupConfig),
            (Some(preset), None) => preset.chain(),
            (None, Some(path)) => Chain::load(path)?,
            (None, None) => return Err(ConfigError::NoChain),
        };

        if args.listen_tcp != 0 && args.listen_tcp < MIN_LISTEN_PORT {
            return Err(ConfigError::PrivilegedPort(args.listen_tcp));
        }
        if args.peers_lo == 0 || args.peers_hi == 0 || args.peers_lo > args.peers_hi {
            return Err(ConfigError::WaterMarks {
                lo: args.peers_lo,
                hi: args.peers_hi,
            });
        }
        if args.syncmode_req_resp && !args.sync_req_resp {
            return Err(ConfigError::SyncMode);
        }
        if args.peerstore_path.as_os_str().is_empty() {
            return Err(ConfigError::EmptyStorePath);
        }

        let local = args
            .sequencer_key
            .as_deref()
            .map(parse_sequencer_key)
            .transpose()?;
        let remote = remote_signer_settings(&args.signer)?;
        let sequencer = match (local, remote) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoSigners),
            (Some(key), None) => Some(SignerSettings::Local(key)),
            (None, Some(remote)) => Some(SignerSettings::Remote(remote)),
            (None, None) => None,
        };
        // The flag, else the preset, else the sequencer key; a sequencer key must then be the
        // signer's, or every block it made would be rejected.
        let (unsafe_block_signer, signer_source) =
            match (args.unsafe_block_signer, args.network, &sequencer) {
                (Some(flag), _, _) => (flag, SignerSource::Flag),
                (None, Some(preset), _) => (
                    preset.unsafe_block_signer,
                    SignerSource::Preset(preset.name),
                ),
                (None, None, Some(SignerSettings::Local(key))) => {
                    (key.address(), SignerSource::SequencerKey)
                }
                (None, None, Some(SignerSettings::Remote(remote))) => {
                    (remote.address, SignerSource::RemoteSigner)
                }
                (None, None, None) => return Err(ConfigError::MissingSigner),
            };
        if let Some(signer) = &sequencer
            && signer.address() != unsafe_block_signer
        {
            return Err(ConfigError::SignerMismatch {
                signer: unsafe_block_signer,
                origin: signer_source,
                key: signer.address(),
            });
        }
        if args.local.sequencer_last_block.is_some() && sequencer.is_none() {
            return Err(ConfigError::LastBlockWithoutSequencer);
        }
        if args.signer.sequencer_stopped && sequencer.is_none() {
            return Err(ConfigError::StoppedWithoutSigner);
        }
        let sequencer = sequencer.map(|signer| SequencerSettings {
            signer,
            last_block: args.local.sequencer_last_block,
            block_bytes: usize::try_from(args.local.sequencer_block_bytes).unwrap_or(usize::MAX),
            stopped: args.signer.sequencer_stopped,
        });

        let key = match (&args.priv_raw, &args.priv_path) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoNodeKeys),
            (Some(raw), None) => KeySource::Raw(raw.clone()),
            (None, path) => KeySource::File(
                path.clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_PRIV_PATH)),
            ),
        };

        let static_peers = args
            .static_peers
            .iter()
            .map(|addr| match addr.iter().last() {
                Some(Protocol::P2p(peer)) => Ok(StaticPeer {
                    peer,
                    addr: addr.clone(),
                }),
                _ => Err(ConfigError::StaticWithoutPeerId(addr.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;

        let gossip = op_p2p_gossip::Config::default()
            .with_mesh(args.mesh_d, args.mesh_dlo, args.mesh_dhi, args.mesh_dlazy)
            .with_flood_publish(args.flood_publish)
            .with_scoring(match args.scoring {
                Scoring::Light => ScoringMode::Light,
                Scoring::None => ScoringMode::None,
            })
            .with_timestamp_threshold(args.timestamp_threshold)
            .with_ip_colocation_whitelist(args.local.ip_colocation_whitelist.clone());
        gossip.validate().map_err(ConfigError::Mesh)?;

        // With `--network`, the preset's bootnodes (op-node's `DefaultBootnodes`). op-node also
        // uses them for a chain given by rollup.json; we do not: such a chain (a devnet, a new
        // chain) is not served by those bootnodes (every record they hand out would be filtered
        // out by chain id), and a local devnet should not send UDP to OP Labs' hosts.
        let default_bootnodes = match args.network {
            Some(preset) => op_p2p_discovery::parse_bootnodes(preset.bootnodes())
                .map_err(ConfigError::Bootnodes)?,
            None => Vec::new(),
        };
        let discovery = if args.no_discovery {
            None
        } else {
            Some(discovery_settings(args)?)
        };

        let store = if args.peerstore_path.as_os_str() == MEMORY_STORE {
            StoreLocation::Memory
        } else {
            StoreLocation::Disk(args.peerstore_path.clone())
        };

        Ok(Self {
            chain,
            network: args.network,
            unsafe_block_signer,
            signer_source,
            sequencer,
            key,
            listen: SocketAddr::new(args.listen_ip, args.listen_tcp),
            discovery,
            default_bootnodes,
            static_peers,
            conn_manager: conn_manager::Config::default()
                .with_low_water(args.peers_lo)
                .with_high_water(args.peers_hi)
                .with_grace_period(args.peers_grace),
            gating: graylist_cutoff(
                op_p2p_gating::Config::default()
                    .with_ban_peers(args.ban_peers)
                    .with_ban_threshold(args.ban_threshold)
                    .with_ban_duration(args.ban_duration)
                    .with_max_pending_inbound_per_ip(Some(MAX_PENDING_INBOUND_PER_IP)),
                gossip.scoring,
            ),
            gossip,
            store,
            user_agent: args.user_agent.clone(),
            dial_timeout: args.dial_timeout,
            sync: SyncSettings {
                req_resp: args.sync_req_resp,
                only_req_to_static: args.sync_only_req_to_static,
                retention: Retention::blocks(args.local.sync_retention),
            },
            status_file: args.local.status_file.clone(),
            control_stdin: args.local.control_stdin,
            metrics: args
                .metrics
                .metrics_enabled
                .then(|| SocketAddr::new(args.metrics.metrics_addr, args.metrics.metrics_port)),
            rpc: SocketAddr::new(args.rpc.addr, args.rpc.port),
            rpc_admin: args.signer.enable_admin,
        })
    }
}

/// The discovery flags checked: bootnodes parsed, the advertised host resolved to its first
/// IPv4 (op-node's rule), ports checked.
fn discovery_settings(args: &NodeArgs) -> Result<DiscoverySettings, ConfigError> {
    if args.listen_udp != 0 && args.listen_udp < MIN_LISTEN_PORT {
        return Err(ConfigError::PrivilegedUdpPort(args.listen_udp));
    }
    if args.discovery_path.as_os_str().is_empty() {
        return Err(ConfigError::EmptyDiscoveryPath);
    }
    let bootnodes =
        op_p2p_discovery::parse_bootnodes(&args.bootnodes).map_err(ConfigError::Bootnodes)?;
    let advertise_ip = args
        .advertise_ip
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(resolve_advertise_ip)
        .transpose()?;
    let table = if args.discovery_path.as_os_str() == MEMORY_STORE {
        StoreLocation::Memory
    } else {
        StoreLocation::Disk(args.discovery_path.clone())
    };
    Ok(DiscoverySettings {
        listen_udp: args.listen_udp,
        advertise_ip,
        advertise_tcp: (args.advertise_tcp != 0).then_some(args.advertise_tcp),
        advertise_udp: (args.advertise_udp != 0).then_some(args.advertise_udp),
        bootnodes,
        netrestrict: parse_netrestrict(&args.netrestrict)?,
        table,
    })
}

/// geth's `ParseNetlist`: comma-separated CIDR networks, blanks ignored (an empty
/// `OP_NODE_P2P_NETRESTRICT` is no restriction).
fn parse_netrestrict(entries: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    entries
        .iter()
        .flat_map(|e| e.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.parse::<IpNet>()
                .map_err(|_| ConfigError::Netrestrict(e.to_owned()))
        })
        .collect()
}

/// An IP as given, or a host name's first IPv4 address (op-node: "IPv4 only"). Resolution
/// happens once at start, before the node runs anything.
fn resolve_advertise_ip(text: &str) -> Result<IpAddr, ConfigError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ip);
    }
    (text, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.find(SocketAddr::is_ipv4))
        .map(|addr| addr.ip())
        .ok_or_else(|| ConfigError::AdvertiseIp(text.to_owned()))
}

/// `/ip4/<ip>/tcp/<port>`, or `/ip6/…` for an IPv6 listen IP (op-node's rule).
pub(crate) fn listen_multiaddr(addr: SocketAddr) -> Multiaddr {
    Multiaddr::empty()
        .with(addr.ip().into())
        .with(Protocol::Tcp(addr.port()))
}

/// op-node's `signer.CLIConfig.Check` and more: both of endpoint and address or neither, an
/// http(s) URL, `key=value` headers. TLS files are used for an https endpoint with
/// `signer.tls.enabled` (op-node reads them whenever TLS is enabled; over plain HTTP they
/// could not be used, so a plain-HTTP signer needs no `--signer.tls.enabled=false` here).
fn remote_signer_settings(
    args: &crate::cli::SignerArgs,
) -> Result<Option<RemoteSignerSettings>, ConfigError> {
    let endpoint = args
        .endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let (endpoint, address) = match (endpoint, args.address) {
        (None, None) => return Ok(None),
        (Some(endpoint), Some(address)) => (endpoint, address),
        _ => return Err(ConfigError::SignerHalfSet),
    };
    let https = if endpoint.starts_with("https://") {
        true
    } else if endpoint.starts_with("http://") {
        false
    } else {
        return Err(ConfigError::SignerEndpoint(endpoint.to_owned()));
    };
    let headers = parse_headers(&args.headers).map_err(ConfigError::SignerHeader)?;
    Ok(Some(RemoteSignerSettings {
        endpoint: endpoint.to_owned(),
        address,
        headers,
        tls: (https && args.tls_enabled).then(|| TlsFiles {
            ca: args.tls_ca.clone(),
            cert: args.tls_cert.clone(),
            key: args.tls_key.clone(),
        }),
        timeout: args.timeout,
        api: if args.v2 {
            SignerApi::V2
        } else {
            SignerApi::V1
        },
    }))
}

fn parse_sequencer_key(text: &str) -> Result<BlockSigner, ConfigError> {
    let text = text.trim();
    let hex = text.strip_prefix("0x").unwrap_or(text);
    let secret = B256::from_str(hex).map_err(|_| ConfigError::SequencerKey)?;
    BlockSigner::new(secret).map_err(|_| ConfigError::SequencerKey)
}

/// Refuses an `OP_NODE_P2P_*` variable that no flag of this node reads: a setting an operator
/// made (say `OP_NODE_P2P_NAT=true`) must not be dropped silently.
fn check_environment(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<(), ConfigError> {
    let command = NodeArgs::augment_args(Command::new("node"));
    let known: Vec<&std::ffi::OsStr> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .collect();
    for (name, _) in vars {
        let Some(name) = name.to_str() else { continue };
        if ENV_PREFIXES.iter().any(|p| name.starts_with(p)) && !known.iter().any(|k| *k == name) {
            return Err(ConfigError::UnknownEnv(name.to_owned()));
        }
    }
    Ok(())
}

/// Inbound connections one remote IP may have in their handshake at once (an op-p2p addition,
/// see [`op_p2p_gating::Config::with_max_pending_inbound_per_ip`]): an honest host dials us once
/// per peer it runs, so 16 only refuses a flood of stalled handshakes, which otherwise holds a
/// descriptor per connection for the 10 s upgrade timeout.
pub(crate) const MAX_PENDING_INBOUND_PER_IP: usize = 16;

/// How long a peer may stay below gossipsub's graylist threshold before gating bans it.
/// A peer only leaves the graylist by decay over several slots (P4's counter decays 0.8 % a
/// slot), so waiting longer changes nothing for a peer that got there by itself; the grace only
/// spares a peer whose score snapshot is stale. Gossip writes a graylisted peer's live score
/// into the book every second, so an attacker is banned ~6 s after being graylisted.
pub(crate) const GRAYLIST_GRACE: Duration = Duration::from_secs(5);

/// The gating config with the graylist cut-off on when gossip scoring is (an op-p2p addition:
/// op-node leaves graylisted peers connected above its ban threshold; see
/// [`op_p2p_gating::Config::with_graylist_cutoff`]).
fn graylist_cutoff(gating: op_p2p_gating::Config, scoring: ScoringMode) -> op_p2p_gating::Config {
    match scoring {
        ScoringMode::None => gating,
        ScoringMode::Light => {
            gating.with_graylist_cutoff(op_p2p_gossip::GRAYLIST_THRESHOLD, GRAYLIST_GRACE)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: NodeArgs,
    }

    const KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";

    fn rollup_file() -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            r#"{"genesis":{"l2":{"number":0},"l2_time":0},"block_time":2,"l2_chain_id":901}"#,
        )
        .unwrap();
        file
    }

    fn config(extra: &[&str]) -> Result<NodeConfig, ConfigError> {
        let rollup = rollup_file();
        let mut argv = vec![
            "node".to_owned(),
            "--rollup.config".to_owned(),
            rollup.path().display().to_string(),
        ];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let wrapper = Wrapper::try_parse_from(argv).unwrap();
        NodeConfig::from_args(&wrapper.args, Vec::new())
    }

    fn err(extra: &[&str]) -> String {
        config(extra).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_op_nodes() {
        let c = config(&["--p2p.sequencer.key", KEY]).unwrap();
        assert_eq!(
            listen_multiaddr(c.listen).to_string(),
            "/ip4/0.0.0.0/tcp/9222"
        );
        assert_eq!(c.key, KeySource::File("opnode_p2p_priv.txt".into()));
        assert_eq!(c.store, StoreLocation::Disk("opnode_peerstore_db".into()));
        assert_eq!(c.conn_manager.low_water(), 20);
        assert_eq!(c.conn_manager.high_water(), 30);
        assert_eq!(c.gating.ban_duration(), Duration::from_secs(3600));
        assert_eq!(c.dial_timeout, Duration::from_secs(10));
        assert_eq!(c.user_agent, "optimism");
        let d = c.discovery.as_ref().unwrap();
        assert_eq!(d.listen_udp, 0);
        assert!(d.bootnodes.is_empty() && d.netrestrict.is_empty());
        assert_eq!(d.table, StoreLocation::Disk("opnode_discovery_db".into()));
        assert_eq!(
            (d.advertise_ip, d.advertise_tcp, d.advertise_udp),
            (None, None, None)
        );
        assert_eq!(
            c.unsafe_block_signer,
            c.sequencer.as_ref().unwrap().signer.address()
        );
    }

    #[test]
    fn contradictions_name_their_flags() {
        let s = ["--p2p.sequencer.key", KEY];
        let with = |more: &[&str]| {
            let mut v = s.to_vec();
            v.extend_from_slice(more);
            err(&v)
        };
        assert!(with(&["--p2p.peers.lo", "40"]).contains("--p2p.peers.lo"));
        assert!(with(&["--p2p.peers.hi", "0"]).contains("--p2p.peers.hi"));
        assert!(with(&["--p2p.listen.tcp", "80"]).contains("--p2p.listen.tcp"));
        assert!(with(&["--p2p.disable"]).contains("--p2p.disable"));
        let static_peer = format!("/ip4/127.0.0.1/tcp/1/p2p/{}", PeerId::random());
        assert!(
            with(&["--p2p.disable=true", "--p2p.static", &static_peer]).contains("--p2p.static")
        );
        assert!(with(&["--p2p.static", "/ip4/127.0.0.1/tcp/9222"]).contains("/p2p/"));
        assert!(with(&["--p2p.priv.raw", KEY, "--p2p.priv.path", "k"]).contains("--p2p.priv.raw"));
        assert!(with(&["--p2p.gossip.mesh.lo", "9"]).contains("--p2p.gossip.mesh"));
        assert!(with(&["--p2p.sync.req-resp=false"]).contains("--syncmode.req-resp"));
        assert!(
            with(&[
                "--p2p.unsafe-block-signer",
                "0x0000000000000000000000000000000000000001"
            ])
            .contains("--p2p.unsafe-block-signer")
        );
        assert!(err(&[]).contains("--p2p.unsafe-block-signer"));
        assert!(err(&["--p2p.sequencer.key", "0x12"]).contains("--p2p.sequencer.key"));
        assert!(
            err(&[
                "--p2p.unsafe-block-signer",
                "0x0000000000000000000000000000000000000001",
                "--sequencer.last-block",
                "3"
            ])
            .contains("--sequencer.last-block")
        );
        config(&[
            "--p2p.sequencer.key",
            KEY,
            "--p2p.sync.req-resp=false",
            "--syncmode.req-resp=false",
        ])
        .unwrap();
    }

    fn network_config(extra: &[&str]) -> Result<NodeConfig, ConfigError> {
        let mut argv = vec!["node"];
        argv.extend_from_slice(extra);
        let wrapper = Wrapper::try_parse_from(argv).unwrap();
        NodeConfig::from_args(&wrapper.args, Vec::new())
    }

    #[test]
    fn network_gives_chain_and_signer_and_the_flag_overrides() {
        let c = network_config(&["--network", "op-mainnet"]).unwrap();
        let preset = crate::network::find("op-mainnet").unwrap();
        assert_eq!(c.network.map(|p| p.name), Some("op-mainnet"));
        assert_eq!(c.chain, preset.chain());
        assert_eq!(c.chain.rollup.l2_chain_id, 10);
        assert_eq!(c.unsafe_block_signer, preset.unsafe_block_signer);
        assert_eq!(c.signer_source, SignerSource::Preset("op-mainnet"));

        let other = "0x0000000000000000000000000000000000000001";
        let c = network_config(&[
            "--network",
            "base-mainnet",
            "--p2p.unsafe-block-signer",
            other,
        ])
        .unwrap();
        assert_eq!(c.chain.rollup.l2_chain_id, 8453);
        assert_eq!(c.unsafe_block_signer, Address::from_str(other).unwrap());
        assert_eq!(c.signer_source, SignerSource::Flag);

        // A sequencer key that is not the preset's signer would make rejected blocks.
        let e = network_config(&["--network", "op-mainnet", "--p2p.sequencer.key", KEY])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--network op-mainnet") && e.contains("--p2p.sequencer.key"),
            "{e}"
        );
    }

    #[test]
    fn network_help_lists_every_preset() {
        let command = NodeArgs::augment_args(Command::new("node"));
        let help = command
            .get_arguments()
            .find(|a| a.get_id() == "network")
            .and_then(|a| a.get_help())
            .map(ToString::to_string)
            .unwrap();
        for preset in crate::network::all() {
            assert!(
                help.contains(preset.name),
                "{} not in --network help",
                preset.name
            );
        }
    }

    #[test]
    fn exactly_one_of_network_and_rollup_config() {
        let rollup = rollup_file();
        let path = rollup.path().display().to_string();
        let both =
            Wrapper::try_parse_from(["node", "--network", "op-mainnet", "--rollup.config", &path])
                .unwrap_err()
                .to_string();
        assert!(
            both.contains("--network") && both.contains("--rollup.config"),
            "{both}"
        );
        let neither = Wrapper::try_parse_from(["node", "--p2p.sequencer.key", KEY])
            .unwrap_err()
            .to_string();
        assert!(
            neither.contains("--network") && neither.contains("--rollup.config"),
            "{neither}"
        );
        let unknown = Wrapper::try_parse_from(["node", "--network", "op-mainet"])
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("op-mainet") && unknown.contains("op-mainnet"),
            "{unknown}"
        );
    }

    #[test]
    fn discovery_flags() {
        let enr = "enr:-J24QNz9lbrKbN4iSmmjtnr7SjUMk4zB7f1krHZcTZx-JRKZd0kA2gjufUROD6T3sOWDVDnFJRvqBBo62zuF-hYCohOGAYiOoEyEgmlkgnY0gmlwhAPniryHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQKNVFlCxh_B-716tTs-h1vMzZkSs1FTu_OYTNjgufplG4N0Y3CCJAaDdWRwgiQG";
        let c = config(&[
            "--p2p.sequencer.key",
            KEY,
            "--p2p.bootnodes",
            enr,
            "--p2p.netrestrict",
            "10.0.0.0/8,192.168.0.0/16",
            "--p2p.advertise.ip",
            "localhost",
            "--p2p.advertise.tcp",
            "9333",
            "--p2p.listen.udp",
            "9444",
            "--p2p.discovery.path",
            "memory",
        ])
        .unwrap();
        let d = c.discovery.unwrap();
        assert_eq!(d.bootnodes.len(), 1);
        assert_eq!(d.netrestrict.len(), 2);
        assert_eq!(d.advertise_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!((d.advertise_tcp, d.listen_udp), (Some(9333), 9444));
        assert_eq!(d.table, StoreLocation::Memory);
        assert!(
            config(&["--p2p.sequencer.key", KEY, "--p2p.no-discovery"])
                .unwrap()
                .discovery
                .is_none()
        );
        let s = ["--p2p.sequencer.key", KEY];
        let with = |more: &[&str]| {
            let mut v = s.to_vec();
            v.extend_from_slice(more);
            err(&v)
        };
        assert!(with(&["--p2p.bootnodes", "enr:-nope"]).contains("--p2p.bootnodes"));
        assert!(with(&["--p2p.listen.udp", "53"]).contains("--p2p.listen.udp"));
        assert!(with(&["--p2p.netrestrict", "10.0.0.0/33"]).contains("--p2p.netrestrict"));
        let blank = config(&["--p2p.sequencer.key", KEY, "--p2p.netrestrict", " "]).unwrap();
        assert!(blank.discovery.unwrap().netrestrict.is_empty());
        assert!(
            with(&["--p2p.advertise.ip", "no-such-host.invalid"]).contains("--p2p.advertise.ip")
        );
    }

    #[test]
    fn unknown_op_node_environment_is_refused() {
        assert!(check_environment([("OP_NODE_P2P_LISTEN_TCP_PORT".into(), "1".into())]).is_ok());
        assert!(check_environment([("OP_NODE_L1_ETH_RPC".into(), "x".into())]).is_ok());
        assert!(check_environment([("OP_NODE_P2P_BOOTNODES".into(), "enr:x".into())]).is_ok());
        assert!(check_environment([("OP_NODE_P2P_NETRESTRICT".into(), "".into())]).is_ok());
        let e = check_environment([("OP_NODE_P2P_NAT".into(), "true".into())]).unwrap_err();
        assert!(e.to_string().contains("OP_NODE_P2P_NAT"));
        assert!(check_environment([("OP_NODE_SIGNER_TLS_CA".into(), "ca".into())]).is_ok());
        let e = check_environment([("OP_NODE_SIGNER_TLS_CAA".into(), "x".into())]).unwrap_err();
        assert!(e.to_string().contains("OP_NODE_SIGNER_TLS_CAA"));
    }

    /// `--p2p.sync.retention` (`OP_P2P_SYNC_RETENTION`: not an op-node flag, so outside the
    /// `OP_NODE_P2P_*` names checked against op-node's): a day of 1 s blocks, 0 keeps all.
    #[test]
    fn sync_retention_config_defaults_to_a_day_and_zero_keeps_everything() {
        let with = |more: &[&str]| {
            let mut v = vec!["--p2p.sequencer.key", KEY];
            v.extend_from_slice(more);
            config(&v).unwrap().sync.retention
        };
        assert_eq!(with(&[]), Retention::blocks(86_400));
        assert_eq!(with(&["--p2p.sync.retention", "600"]).get(), Some(600));
        assert_eq!(with(&["--p2p.sync.retention=0"]).get(), None);

        let command = NodeArgs::augment_args(Command::new("node"));
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some("p2p.sync.retention"))
            .unwrap();
        assert_eq!(
            arg.get_env(),
            Some(std::ffi::OsStr::new("OP_P2P_SYNC_RETENTION"))
        );
        assert!(check_environment([("OP_P2P_SYNC_RETENTION".into(), "600".into())]).is_ok());
    }

    #[test]
    fn remote_signer_settings_are_checked() {
        let addr = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1";
        let remote = |endpoint: &str, more: &[&str]| {
            let mut v = vec!["--signer.endpoint", endpoint, "--signer.address", addr];
            v.extend_from_slice(more);
            config(&v)
        };
        // The remote signer's address is the unsafe block signer; TLS files only for https.
        let c = remote("https://signer:8080", &["--signer.header", "a=b"]).unwrap();
        assert_eq!(c.unsafe_block_signer.to_string(), addr);
        assert_eq!(c.signer_source, SignerSource::RemoteSigner);
        let Some(SignerSettings::Remote(r)) = c.sequencer.map(|s| s.signer) else {
            panic!("no remote signer");
        };
        assert_eq!(r.tls.unwrap().ca, PathBuf::from("tls/ca.crt"));
        assert_eq!(r.headers["a"], "b");
        assert_eq!(r.api, SignerApi::V1);
        assert_eq!(r.timeout, Duration::from_secs(5));
        let c = remote("http://signer:8080", &[]).unwrap();
        let Some(SignerSettings::Remote(r)) = c.sequencer.map(|s| s.signer) else {
            panic!("no remote signer");
        };
        assert!(r.tls.is_none());
        let c = remote("https://signer", &["--signer.tls.enabled=false"]).unwrap();
        let Some(SignerSettings::Remote(r)) = c.sequencer.map(|s| s.signer) else {
            panic!("no remote signer");
        };
        assert!(r.tls.is_none());
        // op-node's Check and ours.
        assert!(err(&["--signer.endpoint", "http://x"]).contains("both be set"));
        assert!(err(&["--signer.address", addr]).contains("both be set"));
        let e = remote("http://x", &["--p2p.sequencer.key", KEY]).unwrap_err();
        assert!(e.to_string().contains("give one block signer"), "{e}");
        let e = remote("ftp://x", &[]).unwrap_err().to_string();
        assert!(e.contains("--signer.endpoint ftp://x"), "{e}");
        let e = remote("http://x", &["--signer.header", "novalue"]).unwrap_err();
        assert!(e.to_string().contains("--signer.header"), "{e}");
        let other = "0x0000000000000000000000000000000000000001";
        let e = remote("http://x", &["--p2p.unsafe-block-signer", other]).unwrap_err();
        assert!(e.to_string().contains("--signer.address"), "{e}");
        let e = err(&["--sequencer.stopped", "--p2p.unsafe-block-signer", addr]);
        assert!(
            e.contains("--sequencer.stopped needs a block signer"),
            "{e}"
        );
        let c = config(&["--p2p.sequencer.key", KEY, "--sequencer.stopped"]).unwrap();
        assert!(c.sequencer.unwrap().stopped);
        assert!(!config(&["--p2p.sequencer.key", KEY]).unwrap().rpc_admin);
        assert!(
            config(&["--p2p.sequencer.key", KEY, "--rpc.enable-admin"])
                .unwrap()
                .rpc_admin
        );
    }

    #[test]
    fn memory_store_and_ipv6_listen() {
        let c = config(&[
            "--p2p.sequencer.key",
            KEY,
            "--p2p.peerstore.path",
            "memory",
            "--p2p.listen.ip",
            "::1",
            "--p2p.listen.tcp",
            "0",
        ])
        .unwrap();
        assert_eq!(c.store, StoreLocation::Memory);
        assert_eq!(listen_multiaddr(c.listen).to_string(), "/ip6/::1/tcp/0");
    }
}
