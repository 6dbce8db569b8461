//! One devnet node: a child process of this same binary running `op-p2p node`, its files, and
//! its control channel.
//!
//! A child never outlives the devnet: it reads control commands from its stdin and shuts down
//! when stdin closes, which happens however the devnet ends (even SIGKILL); and the handle kills
//! it on drop.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::PeerId;
use tokio::{
    process::{Child, ChildStdin, Command},
    time::{Instant, sleep},
};

use super::DevnetError;
use crate::status::{self, Status};

/// How often a starting node's status file is looked for.
const POLL: Duration = Duration::from_millis(50);

/// What one node is started with.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    /// Its number in the devnet.
    pub(crate) index: usize,
    /// Its loopback address: node `i` is 127.0.0.`i + 1`, one address per node as hosts would
    /// have (its metrics are served there too). The IP-colocation penalty needs no exemption:
    /// like go-libp2p-pubsub, op-p2p's P6 does not count loopback connections (every connection
    /// a node accepts comes from 127.0.0.1, since libp2p-tcp binds outgoing sockets to 0.0.0.0).
    pub(crate) ip: std::net::Ipv4Addr,
    /// Its directory: key, database, status, log.
    pub(crate) dir: PathBuf,
    /// The rollup config.
    pub(crate) rollup_config: PathBuf,
    /// The block signer address.
    pub(crate) signer_address: String,
    /// The sequencer key, for the sequencer.
    pub(crate) sequencer_key: Option<String>,
    /// The remote signer's endpoint, for the sequencer with `--remote-signer` (instead of the
    /// key).
    pub(crate) remote_signer: Option<String>,
    /// The last block the sequencer produces.
    pub(crate) last_block: Option<u64>,
    /// The sequencer's `--sequencer.block-bytes` (0: not passed).
    pub(crate) block_bytes: u64,
    /// Static peers.
    pub(crate) static_peers: Vec<Multiaddr>,
    /// Whether discovery runs (`--static` turns it off).
    pub(crate) discovery: bool,
    /// Bootnode ENRs.
    pub(crate) bootnodes: Vec<String>,
    /// The metrics port (on [`Self::ip`]), when the devnet serves metrics.
    pub(crate) metrics_port: Option<u16>,
}

impl NodeSpec {
    /// The node key file.
    pub(crate) fn key_path(&self) -> PathBuf {
        self.dir.join("p2p_priv.txt")
    }

    /// The status file.
    pub(crate) fn status_path(&self) -> PathBuf {
        self.dir.join("status.json")
    }

    /// The log file (the child's stderr).
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    /// The command-line arguments of `op-p2p node`.
    pub(crate) fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "node".into(),
            "--rollup.config".into(),
            self.rollup_config.clone().into(),
            "--p2p.listen.ip".into(),
            self.ip.to_string().into(),
            "--p2p.listen.tcp".into(),
            "0".into(),
            "--p2p.priv.path".into(),
            self.key_path().into(),
            "--p2p.peerstore.path".into(),
            self.dir.join("db").into(),
            "--status-file".into(),
            self.status_path().into(),
            "--control-stdin".into(),
            // Several nodes on one host: each RPC server on a free port.
            "--rpc.port".into(),
            "0".into(),
            "--p2p.unsafe-block-signer".into(),
            self.signer_address.clone().into(),
        ];
        if self.discovery {
            args.push("--p2p.discovery.path".into());
            args.push(self.dir.join("discovery").into());
            if !self.bootnodes.is_empty() {
                args.push("--p2p.bootnodes".into());
                args.push(self.bootnodes.join(",").into());
            }
        } else {
            args.push("--p2p.no-discovery".into());
        }
        if !self.static_peers.is_empty() {
            let joined: Vec<String> = self.static_peers.iter().map(ToString::to_string).collect();
            args.push("--p2p.static".into());
            args.push(joined.join(",").into());
        }
        if let Some(endpoint) = &self.remote_signer {
            args.push("--signer.endpoint".into());
            args.push(endpoint.into());
            args.push("--signer.address".into());
            args.push(self.signer_address.clone().into());
        }
        if let Some(last) = self.last_block {
            args.push("--sequencer.last-block".into());
            args.push(last.to_string().into());
        }
        if self.block_bytes > 0 {
            args.push("--sequencer.block-bytes".into());
            args.push(self.block_bytes.to_string().into());
        }
        if let Some(port) = self.metrics_port {
            args.push("--metrics.enabled".into());
            args.push("--metrics.addr".into());
            args.push(self.ip.to_string().into());
            args.push("--metrics.port".into());
            args.push(port.to_string().into());
        }
        args
    }
}

/// A running devnet node.
#[derive(Debug)]
pub(crate) struct NodeProcess {
    /// What it was started with.
    pub(crate) spec: NodeSpec,
    /// Its peer id.
    pub(crate) peer_id: PeerId,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl NodeProcess {
    /// Starts `exe node …` for `spec`. The child inherits no `OP_NODE_*` variables (the devnet
    /// is self-contained); the sequencer key goes in through `OP_NODE_P2P_SEQUENCER_KEY`, so it
    /// is not on a command line.
    pub(crate) fn spawn(exe: &Path, spec: NodeSpec, peer_id: PeerId) -> Result<Self, DevnetError> {
        let log = std::fs::File::create(spec.log_path()).map_err(|source| DevnetError::Io {
            what: format!("create {}", spec.log_path().display()),
            source,
        })?;
        let mut command = Command::new(exe);
        command
            .args(spec.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OP_NODE_") {
                command.env_remove(name);
            }
        }
        if let Some(key) = &spec.sequencer_key {
            command.env("OP_NODE_P2P_SEQUENCER_KEY", key);
        }
        let mut child = command.spawn().map_err(|source| DevnetError::Io {
            what: format!("start {}", exe.display()),
            source,
        })?;
        let stdin = child.stdin.take();
        Ok(Self {
            spec,
            peer_id,
            child,
            stdin,
        })
    }

    /// Waits until the node's status file shows a listen address; returns it with the peer id
    /// appended, ready for another node's `--p2p.static`.
    pub(crate) async fn wait_listening(
        &mut self,
        timeout: Duration,
    ) -> Result<Multiaddr, DevnetError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(addr) = self
                .status()
                .and_then(|s| s.listen_addrs.into_iter().next())
                .and_then(|a| a.parse::<Multiaddr>().ok())
            {
                return Ok(addr.with(Protocol::P2p(self.peer_id)));
            }
            if let Some(status) = self.exited() {
                return Err(self.failed(format!("exited during start ({status})")));
            }
            if Instant::now() >= deadline {
                return Err(self.failed(format!("not listening after {timeout:?}")));
            }
            sleep(POLL).await;
        }
    }

    /// Waits until the node's status shows its ENR (discovery on).
    pub(crate) async fn wait_enr(&mut self, timeout: Duration) -> Result<String, DevnetError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(enr) = self.status().and_then(|s| s.discovery).map(|d| d.enr) {
                return Ok(enr);
            }
            if let Some(status) = self.exited() {
                return Err(self.failed(format!("exited during start ({status})")));
            }
            if Instant::now() >= deadline {
                return Err(self.failed(format!("no ENR after {timeout:?}")));
            }
            sleep(POLL).await;
        }
    }

    /// The node's latest status, if it has written one.
    pub(crate) fn status(&self) -> Option<Status> {
        status::read(&self.spec.status_path()).ok()
    }

    /// The process's peak resident memory so far (VmHWM in `/proc/PID/status`), KiB; `None`
    /// once it has exited, or off Linux.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        vm_hwm_kib(&status)
    }

    /// The exit status, if the process has ended.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the node cleanly: closes its stdin (its control channel), then waits up to
    /// `timeout` before killing it. Returns whether it stopped by itself.
    pub(crate) async fn stop(&mut self, timeout: Duration) -> bool {
        drop(self.stdin.take());
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.kill().await;
                false
            }
        }
    }

    /// A start failure, with the end of the node's log.
    fn failed(&self, reason: String) -> DevnetError {
        let log = std::fs::read_to_string(self.spec.log_path()).unwrap_or_default();
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned();
        DevnetError::NodeStart {
            index: self.spec.index,
            reason,
            log: last,
        }
    }
}

/// The `VmHWM:` line of a `/proc/PID/status` text (`VmHWM:     40960 kB`), in KiB.
fn vm_hwm_kib(proc_status: &str) -> Option<u64> {
    proc_status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(discovery: bool) -> NodeSpec {
        NodeSpec {
            index: 2,
            ip: std::net::Ipv4Addr::new(127, 0, 0, 3),
            dir: PathBuf::from("/tmp/devnet/node-2"),
            rollup_config: PathBuf::from("/tmp/devnet/rollup.json"),
            signer_address: "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1".into(),
            sequencer_key: None,
            remote_signer: None,
            last_block: None,
            block_bytes: 0,
            static_peers: Vec::new(),
            discovery,
            bootnodes: vec!["enr:-a".into(), "enr:-b".into()],
            metrics_port: None,
        }
    }

    fn args(spec: &NodeSpec) -> Vec<String> {
        spec.args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn discovery_or_static_wiring() {
        let with = args(&spec(true));
        let at = with.iter().position(|a| a == "--p2p.bootnodes").unwrap();
        assert_eq!(with[at + 1], "enr:-a,enr:-b");
        let at = with.iter().position(|a| a == "--p2p.listen.ip").unwrap();
        assert_eq!(with[at + 1], "127.0.0.3");
        assert!(with.iter().any(|a| a.ends_with("node-2/discovery")));
        assert!(!with.iter().any(|a| a == "--p2p.no-discovery"));

        let without = args(&spec(false));
        assert!(without.iter().any(|a| a == "--p2p.no-discovery"));
        assert!(!without.iter().any(|a| a == "--p2p.bootnodes"));
        assert!(!without.iter().any(|a| a.starts_with("--signer.")));
    }

    #[test]
    fn a_remote_signer_replaces_the_key() {
        let mut remote = spec(false);
        remote.remote_signer = Some("http://127.0.0.1:4444".into());
        let with = args(&remote);
        let at = with.iter().position(|a| a == "--signer.endpoint").unwrap();
        assert_eq!(with[at + 1], "http://127.0.0.1:4444");
        let at = with.iter().position(|a| a == "--signer.address").unwrap();
        assert_eq!(with[at + 1], remote.signer_address);
    }

    #[test]
    fn peak_rss_from_proc_status() {
        let text =
            "Name:\top-p2p\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30000 kB\n";
        assert_eq!(vm_hwm_kib(text), Some(40_960));
        assert_eq!(vm_hwm_kib("Name:\top-p2p\n"), None);
        // This test's own process has one.
        let own = std::fs::read_to_string("/proc/self/status");
        if let Ok(own) = own {
            assert!(vm_hwm_kib(&own).is_some_and(|kib| kib > 0));
        }
    }
}
