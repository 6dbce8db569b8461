//! `op-p2p`, the reference OP Stack P2P node. For now it carries one debugging command:
//!
//! ```text
//! op-p2p gossip validate (--rollup-config FILE | --chain-id N) --topic TOPIC --signer ADDR \
//!     --now UNIX [--jovian-active] [--timestamp-threshold SECS] [--hex HEX | --file FILE | stdin]
//! ```
//!
//! Exit status: 0 when every message was validated (whatever the verdicts), 1 on bad input,
//! 2 on a bad command line. Errors are one line on stderr.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod cli;
mod error;
mod gossip_validate;

use std::{
    io::{self, Write as _},
    process::ExitCode,
};

use clap::Parser as _;

use crate::cli::{Cli, Command, GossipCommand};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap prints them to stdout.
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            };
        }
        Err(e) => {
            let rendered = e.to_string();
            let line = rendered.lines().next().unwrap_or("invalid command line");
            eprintln!("op-p2p: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Gossip(GossipCommand::Validate(args)) => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            gossip_validate::run(args, io::stdin().lock(), &mut out)
                .and_then(|()| out.flush().map_err(error::Error::Output))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("op-p2p: {e}");
            ExitCode::FAILURE
        }
    }
}
