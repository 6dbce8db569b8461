//! `op-p2p gossip validate`: op-node's blocks validation of messages given in hex, one JSON
//! object per message.
//!
//! Each message runs through every rule in op-node's order, the stateful ones (repeats, the
//! per-height limit) included, in input order against one validator. Decoded fields and the
//! recovered signer are shown whenever the message decodes, even when an earlier rule (such as
//! a wrong signer) decided the verdict before op-node would have decoded it.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    time::Duration,
};

use alloy_primitives::hex;
use op_p2p_gossip::{UnsafeBlockSigner, Validator, Verdict};
use op_p2p_types::{BlocksTopic, ExecutionPayloadEnvelope, RollupConfig, SignedBlockMessage};
use serde::Serialize;

use crate::{cli::ValidateArgs, error::Error};

/// Runs the command: messages from `--hex`, `--file`, or else `stdin`; JSON lines to `out`.
pub(crate) fn run(
    args: &ValidateArgs,
    stdin: impl BufRead,
    out: &mut impl Write,
) -> Result<(), Error> {
    let rollup = rollup_config(args)?;
    if args.topic.chain_id != rollup.l2_chain_id {
        return Err(Error::TopicChain {
            topic: args.topic.to_string(),
            chain_id: rollup.l2_chain_id,
        });
    }
    let validator = Validator::new(
        rollup,
        UnsafeBlockSigner::new(args.signer),
        Duration::from_secs(args.timestamp_threshold),
    );
    let mut validate = |line: usize, text: &str| -> Result<bool, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(false);
        }
        let data = hex::decode(text).map_err(|source| Error::Hex { line, source })?;
        let report = report(&validator, args.topic, &data, args.now);
        serde_json::to_writer(&mut *out, &report).map_err(|e| Error::Output(e.into()))?;
        writeln!(out).map_err(Error::Output)?;
        Ok(true)
    };

    let mut any = false;
    if let Some(text) = &args.hex {
        any = validate(1, text)?;
    } else {
        let lines: Box<dyn BufRead> = match &args.file {
            Some(path) => Box::new(BufReader::new(File::open(path).map_err(|source| {
                Error::OpenInput {
                    path: path.clone(),
                    source,
                }
            })?)),
            None => Box::new(stdin),
        };
        for (i, line) in lines.lines().enumerate() {
            let line = line.map_err(Error::Input)?;
            any |= validate(i + 1, &line)?;
        }
    }
    if any { Ok(()) } else { Err(Error::NoInput) }
}

/// The rollup config from `--rollup-config`, or a minimal one for `--chain-id`; Jovian forced
/// active by `--jovian-active`.
fn rollup_config(args: &ValidateArgs) -> Result<RollupConfig, Error> {
    let mut rollup = match (&args.rollup_config, args.chain_id) {
        (Some(path), _) => {
            let json = std::fs::read_to_string(path).map_err(|source| Error::ReadRollupConfig {
                path: path.clone(),
                source,
            })?;
            RollupConfig::from_json(&json).map_err(|source| Error::RollupConfig {
                path: path.clone(),
                source,
            })?
        }
        // clap requires one of the two, so the chain id is there when the file is not.
        (None, chain_id) => RollupConfig {
            l2_chain_id: chain_id.unwrap_or_default(),
            block_time: 2,
            ..Default::default()
        },
    };
    if args.jovian_active {
        rollup.jovian_time = Some(0);
    }
    Ok(rollup)
}

/// One message's JSON report.
fn report(validator: &Validator, topic: BlocksTopic, data: &[u8], now: u64) -> Report {
    let Verdict {
        reason,
        signer,
        envelope,
    } = validator.validate_message(topic.version, data, now);
    let outcome = reason.map_or(op_p2p_gossip::Outcome::Accept, |r| r.outcome());

    // Best effort for display when the verdict came before recovery or decoding.
    let decoded = SignedBlockMessage::decode(data).ok();
    let signer = signer.or_else(|| {
        decoded
            .as_ref()
            .and_then(|m| m.recover_signer(topic.chain_id).ok())
    });
    let envelope: Option<ExecutionPayloadEnvelope> = envelope.or_else(|| {
        decoded
            .as_ref()
            .and_then(|m| m.decode_envelope(topic.version).ok())
    });
    let payload = envelope.as_ref().map(|e| &e.execution_payload);

    Report {
        verdict: outcome.as_str(),
        reason: reason.map(|r| r.as_str()),
        message_id: hex::encode_prefixed(op_p2p_types::message_id(&topic.to_string(), data)),
        signer: signer.map(|s| s.to_checksum(None)),
        block_number: payload.map(|p| p.block_number),
        block_hash: payload.map(|p| hex::encode_prefixed(p.block_hash)),
        parent_hash: payload.map(|p| hex::encode_prefixed(p.parent_hash)),
        timestamp: payload.map(|p| p.timestamp),
        tx_count: payload.map(|p| p.transactions.len()),
        withdrawal_count: payload.and_then(|p| p.withdrawals.as_ref().map(Vec::len)),
    }
}

/// One message's JSON line, fields in this order; `null` where a value is unknown.
#[derive(Debug, Serialize)]
struct Report {
    /// `accept`, `ignore` or `reject`.
    verdict: &'static str,
    /// The first failing rule (`Reason::as_str`), `null` on accept.
    reason: Option<&'static str>,
    /// op-node's topic-bound message id.
    message_id: String,
    /// The address the signature recovers to, EIP-55.
    signer: Option<String>,
    /// Block number.
    block_number: Option<u64>,
    /// Block hash as carried in the payload.
    block_hash: Option<String>,
    /// Parent hash.
    parent_hash: Option<String>,
    /// Block timestamp.
    timestamp: Option<u64>,
    /// Transactions.
    tx_count: Option<usize>,
    /// Withdrawals (`null` for v1 payloads, which have no list).
    withdrawal_count: Option<usize>,
}
