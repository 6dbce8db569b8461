//! Helpers: rollup configs, node processes of the built binary, their status files and control
//! channels. Every wait is bounded by [`TIMEOUT`]; nothing asserts on timing.

use std::{
    io::{BufRead, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// The binary under test: cargo's, or `OP_P2P_BIN` when set (a copy of it, for checkouts that
/// share one target directory and so one `target/debug/op-p2p` that another build may replace
/// while the tests run).
pub(crate) fn bin() -> std::ffi::OsString {
    std::env::var_os("OP_P2P_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_op-p2p").into())
}
/// The bound on every wait.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);
/// The sequencer key of the tests (`0x01…01`).
pub(crate) const SEQUENCER_KEY: &str =
    "0x0101010101010101010101010101010101010101010101010101010101010101";
/// Its address.
pub(crate) const SEQUENCER_ADDRESS: &str = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1";

/// Writes a rollup.json for chain 901 with 1 s blocks, every fork up to Isthmus from genesis,
/// genesis `lead` seconds from now.
pub(crate) fn write_rollup(dir: &Path, lead: u64) -> PathBuf {
    write_rollup_for(dir, lead, 901)
}

/// [`write_rollup`] for chain `chain_id`, as `rollup-<chain id>.json` (`rollup.json` for 901).
pub(crate) fn write_rollup_for(dir: &Path, lead: u64, chain_id: u64) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let json = serde_json::json!({
        "genesis": {
            "l2": { "number": 0, "hash": format!("0x{}", "ab".repeat(32)) },
            "l2_time": now + lead,
        },
        "block_time": 1,
        "l2_chain_id": chain_id,
        "regolith_time": 0, "canyon_time": 0, "delta_time": 0, "ecotone_time": 0,
        "fjord_time": 0, "granite_time": 0, "holocene_time": 0, "isthmus_time": 0,
    });
    let path = if chain_id == 901 {
        dir.join("rollup.json")
    } else {
        dir.join(format!("rollup-{chain_id}.json"))
    };
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// The flags every test node needs: the rollup config, a loopback listener on a free port, its
/// key file and peer store, its discovery table (`<peerstore>-discovery`, or in memory with a
/// peer store in memory), and the devnet's unsafe block signer.
pub(crate) fn node_args(rollup: &Path, key: &str, peerstore: &str) -> Vec<String> {
    let discovery = if peerstore == "memory" {
        "memory".to_owned()
    } else {
        format!("{peerstore}-discovery")
    };
    [
        "--rollup.config",
        &rollup.display().to_string(),
        "--p2p.listen.ip",
        "127.0.0.1",
        "--p2p.listen.tcp",
        "0",
        "--p2p.priv.path",
        key,
        "--p2p.peerstore.path",
        peerstore,
        "--p2p.unsafe-block-signer",
        SEQUENCER_ADDRESS,
        // Several nodes at once: the RPC server on a free port (the RPC tests pick theirs).
        "--rpc.port",
        "0",
        "--p2p.discovery.path",
        &discovery,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A command of the binary with no inherited `OP_NODE_*` variables and backtraces on, so a
/// panic would show.
pub(crate) fn op_p2p() -> Command {
    let mut command = Command::new(bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OP_NODE_") {
            command.env_remove(name);
        }
    }
    command.env("RUST_BACKTRACE", "1");
    command
}

/// Runs the binary with `args`, writing `stdin` to it, and waits for it (for the one-shot
/// commands, which exit on their own once stdin closes).
pub(crate) fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = op_p2p()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs the binary to completion.
pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = op_p2p();
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a node that wrongly starts is killed, and the test fails on its exit status.
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A node process with a status file and a control channel.
pub(crate) struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: mpsc::Receiver<String>,
    /// Its status file.
    pub(crate) status_path: PathBuf,
}

impl Node {
    /// Starts `op-p2p node` with `args`, a status file at `status_path`, and the stdin control
    /// channel; stderr goes to `log`.
    pub(crate) fn start(
        args: &[String],
        env: &[(&str, &str)],
        status_path: &Path,
        log: &Path,
    ) -> Self {
        let _ = std::fs::remove_file(status_path);
        let mut command = op_p2p();
        command
            .arg("node")
            .args(args)
            .arg("--status-file")
            .arg(status_path)
            .arg("--control-stdin")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap());
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, answers) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            stdin,
            answers,
            status_path: status_path.to_path_buf(),
        }
    }

    /// The latest status, if written.
    pub(crate) fn status(&self) -> Option<Value> {
        let bytes = std::fs::read(&self.status_path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Waits for a status that satisfies `ready`.
    pub(crate) fn wait_status(&mut self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.status().filter(|s| ready(s)) {
                return status;
            }
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!("node exited ({exit}) while waiting for: {what}");
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {TIMEOUT:?}: {what}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a control command and returns the node's answer line.
    pub(crate) fn command(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.answers
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no answer to {line:?}"))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits (bounded) for the process to end by itself.
    pub(crate) fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node did not stop within {TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Closes the control channel (the node shuts down) and waits for the exit.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.wait()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first listen address of a status, with the node's peer id.
pub(crate) fn dial_addr(status: &Value) -> String {
    format!(
        "{}/p2p/{}",
        status["listen_addrs"][0].as_str().unwrap(),
        status["peer_id"].as_str().unwrap()
    )
}

/// Block number → hash, from a status.
pub(crate) fn block_hashes(status: &Value) -> Vec<(u64, String)> {
    status["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["number"].as_u64().unwrap(),
                b["hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A TCP port on 127.0.0.1 free now (bound and released; the node binds it a moment later).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
