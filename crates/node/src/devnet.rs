//! `op-p2p devnet`: a local network of node processes with nothing to configure.
//!
//! 1. Writes into a fresh directory a rollup config (chain 901, genesis a few seconds from now,
//!    every fork up to Isthmus active from genesis, so blocks are V4; `genesis.l2.hash` is the
//!    hash of the synthetic genesis block every node rebuilds and stores), a sequencer key, and
//!    each node's key file in op-node's format. `--block-bytes` passes the sequencer its
//!    `--sequencer.block-bytes`.
//! 2. Starts the nodes one after another as child processes of this binary, node `i` on
//!    127.0.0.`i + 1` (one address per node, as hosts would have), with real TCP and UDP: node 0 is the sequencer and the bootnode, the rest verifiers that get
//!    only node 0's ENR and find each other through discv5 (with `--static`, discovery is off
//!    and each node knows the one or two nodes started before it as static peers). With
//!    `--late-joiner` the last node starts a third of the way in and must fill its gap with
//!    payload_by_number.
//! 3. Prints one line per block with how many nodes hold it, until every node holds every
//!    block or the time is up.
//! 4. Reads each node's peak memory, stops the nodes, prints a table per node (blocks via
//!    gossip and sync, p50/p99 propagation latency, peers, peers found through discovery, time
//!    until the node first had min(p2p.peers.lo, nodes − 1) peers, bans, peak RSS; above
//!    [`NODE_TABLE_MAX`] nodes with `--dir`, into `DIR/nodes.md` instead of the terminal),
//!    then the aggregate tables (latency over all deliveries and per hop count, per-node
//!    memory and peers as min/median/max), and fails if any node lacks a block.

mod aggregate;
mod child;
mod signer_server;
mod summary;

use std::{
    io,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use libp2p_core::Multiaddr;
use libp2p_identity::secp256k1;
use op_p2p_types::{B256, BlockRef, BlockSigner, Genesis, GenesisBlock, RollupConfig};
use tokio::time::{Instant, sleep};

use self::{
    child::{NodeProcess, NodeSpec},
    signer_server::DevnetSigner,
    summary::{
        NodeRow, canonical, holds, keep_older_blocks, missing, ranges, short_hash, short_id, table,
    },
};
use crate::{
    cli::DevnetArgs,
    identity::{encode_key, write_key_file},
    rollup::Chain,
    sequencer::genesis_payload,
    status::{SYNC_OFF, Status},
    wall_clock::{instant_at_unix, now_us},
};

/// The devnet's L2 chain id (the OP Stack's local devnet id).
pub(crate) const CHAIN_ID: u64 = 901;
/// Time before the genesis block at least, for the nodes to start and connect.
const GENESIS_LEAD: Duration = Duration::from_secs(3);
/// Extra lead per node, as nodes start one after another.
const GENESIS_LEAD_PER_NODE: Duration = Duration::from_millis(500);
/// Extra lead with discovery: the table reaches the dial loop 3 s after start and the first
/// connect tick is at 5 s, so a node's first peers come 5-6 s after it starts.
const DISCOVERY_LEAD: Duration = Duration::from_secs(8);
/// op-node's default `p2p.peers.lo`, which the devnet's nodes run with.
const PEERS_LO: usize = op_p2p_gating::conn_manager::DEFAULT_LOW_WATER;
/// How long a node may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the nodes' status files are read.
const POLL: Duration = Duration::from_millis(200);
/// How long after the last block is due the devnet keeps waiting for stragglers, at least.
const MIN_GRACE: Duration = Duration::from_secs(10);
/// Above this many nodes (with `--dir`) the per-node table goes to `DIR/nodes.md`: the
/// aggregate tables say what a reader of the terminal needs.
const NODE_TABLE_MAX: usize = 20;
/// How long a node has to stop by itself before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the devnet failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DevnetError {
    /// A file operation or process start failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// Why it failed.
        source: io::Error,
    },
    /// A node did not start.
    #[error("node {index} did not start: {reason}; last log line: {log}")]
    NodeStart {
        /// The node.
        index: usize,
        /// Why.
        reason: String,
        /// The last line of its log.
        log: String,
    },
    /// A node exited while the devnet ran.
    #[error("node {index} exited unexpectedly ({status}); its log is {log}")]
    NodeExited {
        /// The node.
        index: usize,
        /// How it ended.
        status: String,
        /// Its log file.
        log: String,
    },
    /// Some node lacks blocks at the end.
    #[error("{0}")]
    Incomplete(String),
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DevnetError {
    let what = what.into();
    move |source| DevnetError::Io { what, source }
}

/// Runs the devnet; returns when it is over (or on Ctrl-C, after stopping every node).
pub(crate) async fn run(args: DevnetArgs) -> Result<(), DevnetError> {
    let (dir, temp) = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("op-p2p-devnet-")
                .tempdir()
                .map_err(io_err("create a temporary directory"))?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let mut devnet = Devnet::prepare(&args, &dir)?;
    let result = tokio::select! {
        result = devnet.run() => result,
        _ = tokio::signal::ctrl_c() => Err(DevnetError::Interrupted),
    };
    devnet.stop_all().await;
    match (&result, temp) {
        (Ok(()), _) => {}
        (Err(_), Some(temp)) => {
            let kept = temp.keep();
            println!("devnet files kept in {}", kept.display());
        }
        (Err(_), None) => println!("devnet files in {}", dir.display()),
    }
    result
}

/// The devnet's state.
struct Devnet {
    args: DevnetArgs,
    /// Where its files are.
    dir: PathBuf,
    exe: PathBuf,
    chain: Chain,
    specs: Vec<NodeSpec>,
    peer_ids: Vec<libp2p_identity::PeerId>,
    nodes: Vec<Option<NodeProcess>>,
    addrs: Vec<Option<Multiaddr>>,
    late: Option<usize>,
    /// Node 0's ENR, once it runs (discovery on).
    bootnode: Option<String>,
    /// When each node was started.
    started: Vec<Option<Instant>>,
    /// How long after its start each node first had [`Devnet::peer_target`] peers.
    connected_after: Vec<Option<Duration>>,
    /// The sequencer's head when every node first had [`Devnet::peer_target`] peers: later
    /// blocks propagate through the settled topology.
    connected_at_head: Option<u64>,
    /// The sequencer key.
    sequencer_signer: BlockSigner,
    /// The in-process signer the sequencer signs through, with `--remote-signer`.
    remote_signer: Option<DevnetSigner>,
}

impl Devnet {
    /// Writes the rollup config and keys, and plans the nodes.
    fn prepare(args: &DevnetArgs, dir: &Path) -> Result<Self, DevnetError> {
        let exe = std::env::current_exe().map_err(io_err("find this executable"))?;
        let mut lead =
            GENESIS_LEAD + GENESIS_LEAD_PER_NODE * u32::try_from(args.nodes).unwrap_or(64);
        if !args.static_peers {
            lead += DISCOVERY_LEAD;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let genesis_time = (now + lead).as_secs() + 1;
        let rollup = RollupConfig {
            genesis: Genesis {
                l2: GenesisBlock { number: 0 },
                l2_time: genesis_time,
            },
            block_time: args.block_time,
            l2_chain_id: CHAIN_ID,
            regolith_time: Some(0),
            canyon_time: Some(0),
            delta_time: Some(0),
            ecotone_time: Some(0),
            fjord_time: Some(0),
            granite_time: Some(0),
            holocene_time: Some(0),
            isthmus_time: Some(0),
            jovian_time: None,
        };
        // The genesis block is a synthetic block every node rebuilds from this config; its hash
        // is `genesis.l2.hash`, so the nodes store it and serve it over payload_by_number.
        let genesis = genesis_payload(&rollup).map_err(|e| DevnetError::Io {
            what: "build the genesis block".into(),
            source: io::Error::other(e),
        })?;
        let chain = Chain {
            rollup,
            genesis: BlockRef::of(&genesis),
        };
        let rollup_path = dir.join("rollup.json");
        std::fs::write(&rollup_path, chain.to_json())
            .map_err(io_err(format!("write {}", rollup_path.display())))?;

        let sequencer_secret = secp256k1::SecretKey::generate();
        let sequencer_key = alloy_primitives::hex::encode_prefixed(sequencer_secret.to_bytes());
        let signer = BlockSigner::new(B256::from(sequencer_secret.to_bytes())).map_err(|e| {
            DevnetError::Io {
                what: "make the sequencer key".into(),
                source: io::Error::other(e),
            }
        })?;

        let late = args.late_joiner.then_some(args.nodes - 1);
        let mut specs = Vec::new();
        let mut peer_ids = Vec::new();
        for index in 0..args.nodes {
            let node_dir = dir.join(format!("node-{index}"));
            std::fs::create_dir_all(&node_dir)
                .map_err(io_err(format!("create {}", node_dir.display())))?;
            let key = secp256k1::Keypair::generate();
            let peer_id = libp2p_identity::Keypair::from(key.clone())
                .public()
                .to_peer_id();
            let sequencer = index == 0;
            let spec = NodeSpec {
                index,
                ip: std::net::Ipv4Addr::new(127, 0, 0, u8::try_from(index + 1).unwrap_or(255)),
                dir: node_dir,
                rollup_config: rollup_path.clone(),
                signer_address: signer.address().to_string(),
                sequencer_key: sequencer.then(|| sequencer_key.clone()),
                remote_signer: None,
                last_block: sequencer.then_some(args.blocks),
                block_bytes: if sequencer { args.block_bytes } else { 0 },
                static_peers: Vec::new(),
                discovery: !args.static_peers,
                bootnodes: Vec::new(),
                metrics_port: args.metrics,
            };
            write_key_file(&spec.key_path(), &encode_key(&key))
                .map_err(io_err(format!("write {}", spec.key_path().display())))?;
            specs.push(spec);
            peer_ids.push(peer_id);
        }
        Ok(Self {
            args: args.clone(),
            dir: dir.to_path_buf(),
            exe,
            chain,
            nodes: (0..args.nodes).map(|_| None).collect(),
            addrs: vec![None; args.nodes],
            specs,
            peer_ids,
            late,
            bootnode: None,
            started: vec![None; args.nodes],
            connected_after: vec![None; args.nodes],
            connected_at_head: None,
            sequencer_signer: signer,
            remote_signer: None,
        })
    }

    /// The peer count that counts as connected: min(`p2p.peers.lo`, nodes − 1).
    fn peer_target(&self) -> usize {
        PEERS_LO.min(self.args.nodes - 1)
    }

    fn role(&self, index: usize) -> &'static str {
        if index == 0 {
            "sequencer"
        } else if Some(index) == self.late {
            "late joiner"
        } else {
            "verifier"
        }
    }

    /// Starts node `index` with the listed nodes as static peers and waits until it listens.
    async fn start(&mut self, index: usize, statics: &[usize]) -> Result<(), DevnetError> {
        let mut spec = self.specs[index].clone();
        let ip = spec.ip;
        spec.static_peers = statics
            .iter()
            .filter_map(|i| self.addrs.get(*i).cloned().flatten())
            .collect();
        spec.bootnodes = self.bootnode.iter().cloned().collect();
        let mut node = NodeProcess::spawn(&self.exe, spec, self.peer_ids[index])?;
        self.started[index] = Some(Instant::now());
        let addr = node.wait_listening(START_TIMEOUT).await?;
        if index == 0 && !self.args.static_peers {
            self.bootnode = Some(node.wait_enr(START_TIMEOUT).await?);
        }
        let metrics = self
            .args
            .metrics
            .map(|port| format!("  metrics: http://{ip}:{port}/metrics"))
            .unwrap_or_default();
        println!(
            "node {index}  {:<11}  {}  {addr}  {}{metrics}",
            self.role(index),
            short_id(&self.peer_ids[index].to_string()),
            if !self.args.static_peers {
                if index == 0 {
                    "bootnode".to_owned()
                } else {
                    "bootnode: node 0".to_owned()
                }
            } else if statics.is_empty() {
                "static: -".to_owned()
            } else {
                let list: Vec<String> = statics.iter().map(ToString::to_string).collect();
                format!("static: {}", list.join(","))
            }
        );
        self.addrs[index] = Some(addr);
        self.nodes[index] = Some(node);
        Ok(())
    }

    /// The nodes a node started at `index` knows with `--static`: the one or two started just
    /// before it (none with discovery).
    fn statics_for(&self, index: usize) -> Vec<usize> {
        if !self.args.static_peers {
            return Vec::new();
        }
        (index.saturating_sub(2)..index)
            .rev()
            .filter(|i| self.addrs[*i].is_some())
            .collect()
    }

    async fn run(&mut self) -> Result<(), DevnetError> {
        if self.args.remote_signer {
            let server = DevnetSigner::start(self.sequencer_signer.clone()).await?;
            println!(
                "remote signer: {} (op-signer JSON-RPC) signs for {}; the sequencer holds no key",
                server.url,
                self.sequencer_signer.address()
            );
            self.specs[0].remote_signer = Some(server.url.clone());
            self.specs[0].sequencer_key = None;
            self.remote_signer = Some(server);
        }
        let rollup = self.chain.rollup.clone();
        println!(
            "op-p2p devnet: {} nodes, {} blocks of {} s, chain {}, genesis at unix {}, {}{}",
            self.args.nodes,
            self.args.blocks,
            rollup.block_time,
            rollup.l2_chain_id,
            rollup.genesis.l2_time,
            if self.args.static_peers {
                "static peers, no discovery"
            } else {
                "discovery from node 0 as bootnode"
            },
            if self.late.is_some() {
                ", late joiner"
            } else {
                ""
            }
        );
        for index in 0..self.args.nodes {
            if Some(index) == self.late {
                continue;
            }
            let statics = self.statics_for(index);
            self.start(index, &statics).await?;
        }

        let blocks = self.args.blocks;
        let block_time = Duration::from_secs(rollup.block_time);
        let last_due = rollup
            .timestamp_for_block(blocks)
            .unwrap_or(rollup.genesis.l2_time);
        let grace = MIN_GRACE.max(block_time * 5);
        let deadline = instant_at_unix(last_due) + grace;
        let late_at = (blocks / 3).max(1);
        let mut printed = 0u64;
        let mut statuses: Vec<Option<Status>> = vec![None; self.args.nodes];

        loop {
            sleep(POLL).await;
            self.check_alive()?;
            for (i, node) in self.nodes.iter().enumerate() {
                if let Some(mut status) = node.as_ref().and_then(NodeProcess::status) {
                    if let Some(previous) = statuses[i].take() {
                        keep_older_blocks(&mut status, previous.blocks);
                    }
                    statuses[i] = Some(status);
                }
            }
            self.track_connectivity(&statuses);
            let Some(sequencer) = statuses[0].clone() else {
                continue;
            };
            let canonical = canonical(&sequencer, blocks);

            if let Some(late) = self.late
                && self.nodes[late].is_none()
                && sequencer.head.number >= late_at
            {
                let statics: Vec<usize> = if self.args.static_peers {
                    (1..late).rev().take(2).collect()
                } else {
                    Vec::new()
                };
                self.start(late, &statics).await?;
                println!(
                    "node {late} joined late, at block {}",
                    sequencer.head.number
                );
            }

            // One line per block, once every running node has it or it is two blocks old.
            while printed < blocks {
                let n = printed + 1;
                let Some((hash, built)) = canonical.get(&n) else {
                    break;
                };
                let held: Vec<u64> = statuses
                    .iter()
                    .flatten()
                    .filter_map(|s| holds(s, n, hash))
                    .collect();
                let running = self.nodes.iter().flatten().count();
                let old = now_us().saturating_sub(*built) > 2 * block_time.as_micros() as u64;
                if held.len() < running && !old {
                    break;
                }
                let slowest = held.iter().max().map_or(0, |t| t.saturating_sub(*built));
                println!(
                    "block {n:>4}  {}  held by {}/{} nodes  slowest {}",
                    short_hash(hash),
                    held.len(),
                    self.args.nodes,
                    summary::format_us(slowest),
                );
                printed = n;
            }

            // Done when every node holds every block, or when the only nodes still missing
            // blocks can never get them: with req-resp sync off a reported gap stays open.
            let settled = canonical.len() as u64 == blocks
                && self.nodes.iter().all(Option::is_some)
                && statuses.iter().all(|s| {
                    s.as_ref().is_some_and(|s| {
                        missing(s, &canonical, blocks).is_empty()
                            || (s.sync == SYNC_OFF && s.gaps_unfilled > 0)
                    })
                });
            if settled || Instant::now() >= deadline {
                return self.finish(&statuses, &canonical);
            }
        }
    }

    /// Notes when each node first has [`Self::peer_target`] peers; prints when all have.
    fn track_connectivity(&mut self, statuses: &[Option<Status>]) {
        let target = self.peer_target();
        let before = self.connected_after.iter().all(Option::is_some);
        for (i, status) in statuses.iter().enumerate() {
            if self.connected_after[i].is_none()
                && let (Some(status), Some(started)) = (status, self.started[i])
                && status.peers >= target
            {
                self.connected_after[i] = Some(started.elapsed());
            }
        }
        if !before
            && self.connected_after.iter().all(Option::is_some)
            && let Some(first) = self.started.iter().flatten().min()
        {
            self.connected_at_head = statuses
                .first()
                .and_then(Option::as_ref)
                .map(|s| s.head.number);
            println!(
                "all {} nodes have {target} peers, {:.1} s after the first node started",
                self.args.nodes,
                first.elapsed().as_secs_f64()
            );
        }
    }

    /// Prints the table and the verdict.
    fn finish(
        &self,
        statuses: &[Option<Status>],
        canonical: &summary::Canonical,
    ) -> Result<(), DevnetError> {
        let blocks = self.args.blocks;
        let rows: Vec<NodeRow> = statuses
            .iter()
            .enumerate()
            .map(|(index, status)| NodeRow {
                index,
                role: self.role(index).to_owned(),
                status: status.clone(),
                connected_after: self.connected_after[index],
                peak_rss_kib: self.nodes[index]
                    .as_ref()
                    .and_then(NodeProcess::peak_rss_kib),
            })
            .collect();
        println!();
        let per_node = table(&rows, canonical, blocks, self.peer_target());
        if self.args.nodes > NODE_TABLE_MAX && self.args.dir.is_some() {
            let path = self.dir.join("nodes.md");
            std::fs::write(&path, &per_node)
                .map_err(io_err(format!("write {}", path.display())))?;
            println!("per-node table: {}\n", path.display());
        } else {
            println!("{per_node}");
        }
        let deliveries = aggregate::deliveries(statuses, canonical);
        println!("blocks 1-{blocks}:\n");
        print!("{}", aggregate::tables(&rows, &deliveries));
        if let Some(head) = self.connected_at_head
            && head + 1 < blocks
        {
            // The same without the blocks sent while the nodes were still finding peers.
            let settled: Vec<_> = deliveries
                .iter()
                .copied()
                .filter(|d| d.number > head)
                .collect();
            println!(
                "\nblocks {}-{blocks}, after every node had {} peers:\n",
                head + 1,
                self.peer_target()
            );
            print!("{}", aggregate::latency_table(&settled));
        }
        let mut problems = Vec::new();
        if canonical.len() as u64 != blocks {
            problems.push(format!(
                "the sequencer produced {} of {blocks} blocks",
                canonical.len()
            ));
        }
        for row in &rows {
            let Some(status) = &row.status else {
                problems.push(format!("node {} never reported", row.index));
                continue;
            };
            let gone = missing(status, canonical, blocks);
            if gone.is_empty() {
                continue;
            }
            let mut problem = format!(
                "node {} ({}) is missing blocks {}",
                row.index,
                row.role,
                ranges(&gone)
            );
            if status.sync == SYNC_OFF {
                problem.push_str(
                    ": req-resp sync (payload_by_number) is off, so the gap was reported but not \
                     filled",
                );
            }
            problems.push(problem);
        }
        if let Some(server) = &self.remote_signer {
            println!(
                "\nremote signer: {} signatures served at {}",
                server.signed(),
                server.url
            );
            if server.signed() < canonical.len() as u64 {
                problems.push(format!(
                    "the remote signer served {} signatures for {} blocks",
                    server.signed(),
                    canonical.len()
                ));
            }
        }
        if problems.is_empty() {
            println!(
                "\nok: all {} nodes hold blocks 1-{blocks} with identical hashes",
                self.args.nodes
            );
            Ok(())
        } else {
            Err(DevnetError::Incomplete(problems.join("; ")))
        }
    }

    /// Fails if a started node has exited.
    fn check_alive(&mut self) -> Result<(), DevnetError> {
        for node in self.nodes.iter_mut().flatten() {
            if let Some(status) = node.exited() {
                return Err(DevnetError::NodeExited {
                    index: node.spec.index,
                    status: status.to_string(),
                    log: node.spec.log_path().display().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Stops every node: closes their control channels, waits, kills stragglers.
    async fn stop_all(&mut self) {
        let stops = self
            .nodes
            .iter_mut()
            .flatten()
            .map(|node| node.stop(STOP_TIMEOUT));
        futures::future::join_all(stops).await;
    }
}
