//! The machine-readable status (`--status-file`): one JSON object, rewritten atomically
//! (temporary file, then rename) every [`STATUS_INTERVAL`] and at shutdown. The devnet and the
//! tests read it; a reader never sees a half-written file.

use std::{
    io,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// How often the status file is rewritten.
pub(crate) const STATUS_INTERVAL: Duration = Duration::from_millis(500);
/// The most blocks listed (the newest): enough for any devnet, bounded for a long-running node.
pub(crate) const STATUS_MAX_BLOCKS: usize = 2048;

/// [`Status::sync`] of a node with req-resp sync off (`--p2p.sync.req-resp=false`).
pub(crate) const SYNC_OFF: &str = "off";
/// [`Status::sync`] of a node that serves and requests payload_by_number.
pub(crate) const SYNC_ON: &str = "on";

/// A node's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Status {
    /// The node's peer id.
    pub(crate) peer_id: String,
    /// Its process id.
    pub(crate) pid: u32,
    /// The L2 chain id.
    pub(crate) chain_id: u64,
    /// `sequencer` or `verifier`.
    pub(crate) role: String,
    /// Where it listens.
    pub(crate) listen_addrs: Vec<String>,
    /// Whether payload_by_number sync is on (`on`) or off (`off`).
    pub(crate) sync: String,
    /// The unsafe head.
    pub(crate) head: BlockStatus,
    /// Stored blocks along the chain (and any waiting above the head), oldest first, at most
    /// [`STATUS_MAX_BLOCKS`].
    pub(crate) blocks: Vec<BlockStatus>,
    /// Payloads stored from gossip (all time).
    pub(crate) blocks_via_gossip: u64,
    /// Payloads stored from payload_by_number (all time).
    pub(crate) blocks_via_sync: u64,
    /// Payloads this node built as sequencer (all time).
    pub(crate) blocks_local: u64,
    /// Gap ranges the node needed filled and could not have requested (sync off).
    pub(crate) gaps_unfilled: u64,
    /// Blocks missing now between the unsafe head and the lowest stored block above it
    /// (0: no gap); `p2p_sync_gap_blocks` in the metrics.
    #[serde(default)]
    pub(crate) gap: u64,
    /// Connected peers the sync client asks: they serve payload_by_number (0 with sync off).
    /// A gap with none waits for one to connect.
    #[serde(default)]
    pub(crate) sync_peers: usize,
    /// Gossip validation and publishing counters since start.
    pub(crate) gossip: GossipStatus,
    /// Connected peers.
    pub(crate) peers: usize,
    /// Their ids and gossipsub scores.
    pub(crate) connected: Vec<PeerStatus>,
    /// Timed peer bans in force.
    pub(crate) bans: Vec<BanStatus>,
    /// The score book (persisted scores of every peer seen within the retention).
    pub(crate) scores: Vec<ScoreStatus>,
    /// Discovery; `None` with `p2p.no-discovery`.
    #[serde(default)]
    pub(crate) discovery: Option<DiscoveryStatus>,
    /// Tasks alive on the node's tokio runtime (a soak run watches it for leaks).
    #[serde(default)]
    pub(crate) tasks: usize,
    /// When this was written, unix ms.
    pub(crate) updated_ms: u64,
}

/// What discovery did since start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct DiscoveryStatus {
    /// The local ENR (text).
    pub(crate) enr: String,
    /// The discv5 UDP address.
    pub(crate) udp: String,
    /// Records in the discv5 table.
    pub(crate) table: usize,
    /// Records loaded from the persisted table at start.
    pub(crate) table_loaded: u64,
    /// Records that passed the filter and went to the dial loop.
    pub(crate) accepted: u64,
    /// Distinct peers the dial loop holds as candidates.
    pub(crate) candidates: u64,
    /// Records skipped, by reason.
    pub(crate) skipped: std::collections::BTreeMap<String, u64>,
    /// Dials the dial loop started.
    pub(crate) dials: u64,
    /// Of them, failed.
    pub(crate) dial_failures: u64,
    /// Of them, refused by a gate.
    pub(crate) denied: u64,
    /// Distinct peers connected by a discovery dial.
    pub(crate) connected: u64,
}

/// Gossip counters since the node started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct GossipStatus {
    /// Messages accepted.
    pub(crate) accepted: u64,
    /// Messages ignored (duplicates, too old, queue full, …).
    pub(crate) ignored: u64,
    /// Messages rejected (bad signature, bad hash, …).
    pub(crate) rejected: u64,
    /// Blocks we published.
    pub(crate) published: u64,
    /// Blocks gossipsub refused to publish (no peers yet, …).
    pub(crate) publish_failed: u64,
}

/// One stored block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockStatus {
    /// Number.
    pub(crate) number: u64,
    /// Hash, 0x-hex.
    pub(crate) hash: String,
    /// `local`, `gossip`, `sync` (`genesis` for a head at genesis).
    pub(crate) origin: String,
    /// When it was stored, unix µs (0 for genesis).
    pub(crate) received_us: u64,
    /// When this node handed it to gossipsub, unix µs: its own blocks, while it remembers
    /// them (the start of propagation, as the devnet measures it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) published_us: Option<u64>,
    /// The peer a gossip block came from (gossipsub's propagation source: the neighbour that
    /// forwarded it, not its author), while the node remembers it: the devnet follows these
    /// links back to the sequencer to count a delivery's hops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<String>,
}

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PeerStatus {
    /// Peer id.
    pub(crate) peer: String,
    /// Current gossipsub score.
    pub(crate) score: Option<f64>,
}

/// One timed ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BanStatus {
    /// Peer id.
    pub(crate) peer: String,
    /// Unix second the ban lifts.
    pub(crate) until: u64,
}

/// One score-book record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScoreStatus {
    /// Peer id.
    pub(crate) peer: String,
    /// The last gossip total snapshot (what banning compares).
    pub(crate) gossip_total: f64,
    /// The request-response application score.
    pub(crate) app: f64,
}

/// Writes `status` to `path` atomically.
pub(crate) fn write(path: &Path, status: &Status) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(status).map_err(io::Error::other)?;
    let tmp = tmp_path(path);
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}

/// Reads a status file.
pub(crate) fn read(path: &Path) -> io::Result<Status> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let status = Status {
            peer_id: "p".into(),
            pid: 1,
            chain_id: 901,
            role: "verifier".into(),
            listen_addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
            sync: SYNC_ON.into(),
            head: BlockStatus {
                number: 0,
                hash: "0x00".into(),
                origin: "genesis".into(),
                received_us: 0,
                published_us: None,
                from: None,
            },
            blocks: vec![],
            blocks_via_gossip: 0,
            blocks_via_sync: 0,
            blocks_local: 0,
            gaps_unfilled: 0,
            gap: 0,
            sync_peers: 0,
            gossip: GossipStatus::default(),
            peers: 0,
            connected: vec![],
            bans: vec![],
            scores: vec![],
            discovery: None,
            tasks: 3,
            updated_ms: 5,
        };
        write(&path, &status).unwrap();
        assert_eq!(read(&path).unwrap(), status);
        assert!(!tmp_path(&path).exists());
    }
}
