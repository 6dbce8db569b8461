//! `op-p2p`, the reference OP Stack P2P node.
//!
//! ```text
//! op-p2p node --rollup.config rollup.json --p2p.unsafe-block-signer 0x… [op-node p2p flags]
//! op-p2p node --network op-mainnet [op-node p2p flags]
//! op-p2p devnet [--nodes 5] [--blocks 30] [--block-time 2] [--late-joiner] [--dir DIR]
//! op-p2p gossip validate (--rollup-config FILE | --chain-id N) --topic TOPIC --signer ADDR …
//! op-p2p sync decode-response --rollup-config FILE --number N [--hex HEX | < stdin]
//! op-p2p sync fetch --rollup-config FILE --peer MULTIADDR --number N
//! ```
//!
//! Exit status: 0 on success, 1 on a failure (bad configuration, a port in use, a devnet node
//! without every block), 2 on a bad command line, 130 when the devnet is interrupted. Errors
//! are one line on stderr, `op-p2p: error: …`, naming the flag or file at fault.
//!
//! # Map
//! - command line: `cli` (clap), `duration` (Go durations), `config` (checks);
//! - the node: `node` assembles it; `event_loop` owns the swarm built by `swarm` from
//!   `behaviour`; `handle` talks to it; `app` owns the `payload_store`, the `sequencer`, the
//!   `gap`-fill seam and the `status` file; `identity`, `rollup`, `network` (the
//!   `--network` presets), `control` (stdin), `logging`, `wall_clock`;
//! - `rpc`: the operator RPC (`opp2p_*` JSON-RPC and `/healthz`);
//! - `devnet`: the local network of node processes;
//! - `gossip_validate`: the gossip debugging command;
//! - `sync_cmd`: the payload_by_number debugging commands.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod app;
mod behaviour;
mod cli;
mod config;
mod control;
mod devnet;
mod duration;
mod error;
mod event_loop;
mod gap;
mod gossip_validate;
mod handle;
mod identity;
mod l1_info;
mod logging;
mod metrics;
mod network;
mod node;
mod payload_store;
mod recent_blocks;
mod rollup;
mod rpc;
mod sequencer;
mod signer;
mod status;
mod swarm;
mod sync_cmd;
mod user_transactions;
mod wall_clock;

use std::{
    io::{self, Write as _},
    process::ExitCode,
    time::Duration,
};

use clap::Parser as _;

use crate::{
    cli::{Cli, Command, DevnetArgs, GossipCommand, NodeArgs, SyncCommand},
    config::NodeConfig,
    devnet::DevnetError,
    error::Error,
};

/// Exit status of a failure.
const EXIT_FAILURE: u8 = 1;
/// Exit status of a bad command line (clap's).
const EXIT_USAGE: u8 = 2;
/// Exit status of an interrupted devnet (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;
/// How long the runtime waits for leftover tasks at exit. The stdin reader of
/// `--control-stdin` sits in a blocking read that only the parent can end, so the runtime must
/// not wait for it.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap prints them to stdout.
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(EXIT_FAILURE),
            };
        }
        Err(e) => {
            eprintln!("op-p2p: error: {}", one_line(&e.to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match cli.command {
        Command::Node(args) => run_node(&args),
        Command::Devnet(args) => run_devnet(args),
        Command::Gossip(GossipCommand::Validate(args)) => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            gossip_validate::run(&args, io::stdin().lock(), &mut out)
                .and_then(|()| out.flush().map_err(Error::Output))
        }
        Command::Sync(SyncCommand::DecodeResponse(args)) => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            sync_cmd::decode_response(&args, io::stdin().lock(), &mut out)
                .and_then(|()| out.flush().map_err(Error::Output))
        }
        Command::Sync(SyncCommand::Fetch(args)) => runtime().and_then(|runtime| {
            let result = runtime.block_on(sync_cmd::fetch(&args));
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
            let stdout = io::stdout();
            let mut out = stdout.lock();
            result.and_then(|report| sync_cmd::print(&report, &mut out))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("op-p2p: error: {}", one_line(&e.to_string()));
            match e {
                Error::Devnet(DevnetError::Interrupted) => ExitCode::from(EXIT_INTERRUPTED),
                _ => ExitCode::from(EXIT_FAILURE),
            }
        }
    }
}

/// `op-p2p node`.
fn run_node(args: &NodeArgs) -> Result<(), Error> {
    let config = NodeConfig::from_args(args, std::env::vars_os())?;
    node::preflight(&config)?;
    logging::init();
    let runtime = runtime()?;
    let result = runtime.block_on(node::run(config));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    result
}

/// `op-p2p devnet`.
fn run_devnet(args: DevnetArgs) -> Result<(), Error> {
    let runtime = runtime()?;
    let result = runtime.block_on(devnet::run(args));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    result.map_err(Error::from)
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// A clap error as one line: the message and its details, without usage and tips.
fn one_line(rendered: &str) -> String {
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() || line.starts_with("tip:") {
            continue;
        }
        parts.push(line.trim_start_matches("error: "));
    }
    parts.join(" ")
}
