//! Why a command failed.

use std::{io, path::PathBuf};

use op_p2p_types::RollupConfigError;

/// A command failure; the message is one line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
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
    /// There was no message at all.
    #[error("no message given (use --hex, --file, or one hex message per line on stdin)")]
    NoInput,
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(io::Error),
}
