//! `cargo xtask bench-net`: propagation at scale (crates/node/README.md, "Propagation at
//! scale").
//!
//! Builds the release binary and runs `op-p2p devnet --nodes N --blocks M --block-time 1
//! --block-bytes B --dir DIR` with discovery on: node 0 (the sequencer) is the only bootnode and
//! every other node picks its peers through discv5 and op-node's dial loop, so the topology is
//! whatever discovery makes of it (random, not designed). The devnet prints one line per block
//! and the aggregate tables (latency p50/p99/max over all gossip deliveries and per hop count,
//! the last node per block, peak RSS and peers per node as min/median/max); the per-node table
//! goes to `DIR/nodes.md`. Its output is also kept in `DIR/devnet.out`.

use std::{
    fs,
    io::{BufRead as _, BufReader, Write as _},
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{Error, Result, cargo, display, flags, run, setup, workspace_root};

/// The options of `cargo xtask bench-net`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    nodes: u64,
    blocks: u64,
    block_bytes: u64,
    dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nodes: 50,
            blocks: 120,
            // OP Mainnet-sized blocks.
            block_bytes: 120_000,
            dir: std::env::temp_dir().join("op-p2p-bench-net"),
        }
    }
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options::default();
    for flag in flags::pairs(args)? {
        match flag.name {
            "--nodes" => options.nodes = flag.number()?,
            "--blocks" => options.blocks = flag.number()?,
            "--block-bytes" => options.block_bytes = flag.number()?,
            "--dir" => options.dir = flag.path(),
            _ => return Err(flag.unknown("bench-net")),
        }
    }
    Ok(options)
}

/// `cargo xtask bench-net [--nodes 50] [--blocks 120] [--block-bytes 120000] [--dir DIR]`.
pub(crate) fn run_bench_net(args: &[String]) -> Result {
    let options = parse(args)?;
    let dir = &options.dir;
    if dir.exists() {
        fs::remove_dir_all(dir)
            .map_err(|e| Error::Input(format!("cannot clear {}: {e}", dir.display())))?;
    }
    fs::create_dir_all(dir)
        .map_err(|e| Error::Input(format!("cannot create {}: {e}", dir.display())))?;

    setup::ensure_system_packages()?;
    let mut build = cargo(&["build", "--release", "-p", "op-p2p-node"])?;
    println!("==> {}", display(&build));
    run(&mut build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace_root().map(|r| r.join("target")),
        |t| Ok(PathBuf::from(t)),
    )?;
    let exe = target.join("release").join("op-p2p");

    let mut devnet = Command::new(&exe);
    devnet
        .args(["devnet", "--nodes", &options.nodes.to_string()])
        .args(["--blocks", &options.blocks.to_string(), "--block-time", "1"])
        .args(["--block-bytes", &options.block_bytes.to_string(), "--dir"])
        .arg(dir)
        .stdout(Stdio::piped());
    let out_path = dir.join("devnet.out");
    println!(
        "==> {} (output also in {})",
        display(&devnet),
        out_path.display()
    );
    let mut out = fs::File::create(&out_path)
        .map_err(|e| Error::Input(format!("cannot create {}: {e}", out_path.display())))?;
    let mut child = devnet.spawn().map_err(|source| Error::Spawn {
        cmd: display(&devnet),
        source,
    })?;
    // Tee the devnet's output: to the terminal and to devnet.out.
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            println!("{line}");
            let _ = writeln!(out, "{line}");
        }
    }
    let status = child.wait().map_err(|source| Error::Spawn {
        cmd: display(&devnet),
        source,
    })?;
    if !status.success() {
        return Err(Error::Failed {
            cmd: display(&devnet),
            status,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_fifty_nodes_of_mainnet_sized_blocks() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.nodes, 50);
        assert_eq!(options.block_bytes, 120_000);
        let args: Vec<String> = ["--nodes", "100", "--blocks", "30", "--dir", "/tmp/x"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let options = parse(&args).unwrap();
        assert_eq!((options.nodes, options.blocks), (100, 30));
        assert_eq!(options.dir, PathBuf::from("/tmp/x"));
        assert!(parse(&["--nodes".to_owned()]).is_err());
        assert!(parse(&["--bogus".to_owned(), "1".to_owned()]).is_err());
    }
}
