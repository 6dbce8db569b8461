//! The control channel on stdin (`--control-stdin`), for a supervising parent (the devnet, the
//! tests): one command per line, and end of input means the parent is gone, so the node shuts
//! down and never outlives it.
//!
//! | line | does |
//! |---|---|
//! | `ban <peer id> <seconds>` | bans the peer as op-node's `BanPeer` (stored, enforced by gating, connections closed) |
//! | `report <peer id> valid\|error\|rejected` | records a request-response result in the score book, as the sync client does |
//! | `signer <address>` | sets the unsafe block signer gossip validates against (a signer rotation, without a restart) |
//! | `shutdown` | clean shutdown, as SIGTERM |
//!
//! Each command is answered on stdout with one line, `ok <command>` or `error <reason>`.

use std::time::Duration;

use libp2p_identity::PeerId;
use op_p2p_peerstore::ReqRespEvent;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    sync::mpsc,
};

/// Control commands waiting for the node.
pub(crate) const CONTROL_CHANNEL_SIZE: usize = 16;

/// One control command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ControlCommand {
    /// Ban a peer.
    Ban {
        /// The peer.
        peer: PeerId,
        /// For how long.
        duration: Duration,
    },
    /// Record a request-response result for a peer.
    Report {
        /// The peer.
        peer: PeerId,
        /// What happened.
        event: ReqRespEvent,
    },
    /// Set the unsafe block signer (a rotation).
    Signer(op_p2p_types::Address),
    /// Shut down (also sent when stdin closes).
    Shutdown,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Unknown command word.
    #[error("unknown command {0:?} (ban, report, signer, shutdown)")]
    Unknown(String),
    /// Wrong arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// Parses one line.
pub(crate) fn parse(line: &str) -> Result<ControlCommand, ParseError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["ban", peer, secs] => Ok(ControlCommand::Ban {
            peer: peer.parse().map_err(|_| ParseError::Usage(BAN_USAGE))?,
            duration: Duration::from_secs(secs.parse().map_err(|_| ParseError::Usage(BAN_USAGE))?),
        }),
        ["ban", ..] => Err(ParseError::Usage(BAN_USAGE)),
        ["report", peer, event] => Ok(ControlCommand::Report {
            peer: peer.parse().map_err(|_| ParseError::Usage(REPORT_USAGE))?,
            event: match *event {
                "valid" => ReqRespEvent::ValidResponse,
                "error" => ReqRespEvent::ErrorResponse,
                "rejected" => ReqRespEvent::RejectedPayload,
                _ => return Err(ParseError::Usage(REPORT_USAGE)),
            },
        }),
        ["report", ..] => Err(ParseError::Usage(REPORT_USAGE)),
        ["signer", address] => Ok(ControlCommand::Signer(
            address
                .parse()
                .map_err(|_| ParseError::Usage(SIGNER_USAGE))?,
        )),
        ["signer", ..] => Err(ParseError::Usage(SIGNER_USAGE)),
        ["shutdown"] => Ok(ControlCommand::Shutdown),
        [other, ..] => Err(ParseError::Unknown((*other).to_owned())),
        [] => Err(ParseError::Unknown(String::new())),
    }
}

const BAN_USAGE: &str = "ban <peer id> <seconds>";
const REPORT_USAGE: &str = "report <peer id> valid|error|rejected";
const SIGNER_USAGE: &str = "signer <0x address>";

/// Reads stdin until it closes, forwarding commands (and a final [`ControlCommand::Shutdown`]).
/// Lines that do not parse are answered with `error …` on stdout right away.
pub(crate) fn spawn_stdin_reader() -> mpsc::Receiver<ControlCommand> {
    let (tx, rx) = mpsc::channel(CONTROL_CHANNEL_SIZE);
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => match parse(&line) {
                    Ok(command) => {
                        if tx.send(command).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => answer(&format!("error {error}")),
                },
                Ok(None) | Err(_) => {
                    let _ = tx.send(ControlCommand::Shutdown).await;
                    return;
                }
            }
        }
    });
    rx
}

/// Writes one answer line to stdout.
pub(crate) fn answer(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    // The parent may be gone; then there is nobody to tell.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_commands() {
        let peer = PeerId::random();
        assert_eq!(
            parse(&format!("ban {peer} 60")),
            Ok(ControlCommand::Ban {
                peer,
                duration: Duration::from_secs(60)
            })
        );
        assert_eq!(
            parse(&format!(" report {peer} rejected ")),
            Ok(ControlCommand::Report {
                peer,
                event: ReqRespEvent::RejectedPayload
            })
        );
        assert_eq!(parse("shutdown"), Ok(ControlCommand::Shutdown));
        assert_eq!(parse("ban x 1"), Err(ParseError::Usage(BAN_USAGE)));
        assert_eq!(
            parse(&format!("report {peer} great")),
            Err(ParseError::Usage(REPORT_USAGE))
        );
        assert!(matches!(parse("dance"), Err(ParseError::Unknown(_))));
        let address: op_p2p_types::Address = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
            .parse()
            .unwrap();
        assert_eq!(
            parse("signer 0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"),
            Ok(ControlCommand::Signer(address))
        );
        assert_eq!(parse("signer 0x12"), Err(ParseError::Usage(SIGNER_USAGE)));
    }
}
