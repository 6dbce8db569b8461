//! [`NodeHandle`]: how the rest of the node talks to the task that owns the swarm (style §3.3):
//! a cloneable handle over a bounded channel, every question answered on a oneshot, every wait
//! bounded by [`COMMAND_TIMEOUT`].

use std::time::Duration;

use libp2p_core::Multiaddr;
use libp2p_identity::PeerId;
use op_p2p_types::{ExecutionPayloadEnvelope, SIGNATURE_LEN};
use tokio::sync::{mpsc, oneshot};

use op_p2p_types::BlockRef;

use crate::gap::{GapFillError, Scheduled};

/// Commands waiting for the swarm task before senders wait: enough for a burst of status,
/// publish and control requests, small enough that a stuck task is noticed.
pub(crate) const COMMAND_CHANNEL_SIZE: usize = 64;
/// The longest a command may take to be answered before the caller gives up.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A question for the swarm task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Publish a block signed off the swarm task ([`crate::signer`]).
    Publish {
        /// The block.
        envelope: Box<ExecutionPayloadEnvelope>,
        /// Its signature.
        signature: [u8; SIGNATURE_LEN],
        /// Whether gossipsub took it, and when it was handed over (unix µs).
        reply: oneshot::Sender<Result<u64, PublishError>>,
    },
    /// Ask the sync client for the blocks between two.
    RequestRange {
        /// The unsafe head.
        start: BlockRef,
        /// The block waiting above it.
        end: BlockRef,
        /// Numbers scheduled, or why not.
        reply: oneshot::Sender<Result<Scheduled, GapFillError>>,
    },
    /// The network state, for the status file.
    Snapshot {
        /// The state.
        reply: oneshot::Sender<NetworkSnapshot>,
    },
    /// Ban a peer (op-node's `BanPeer`): stored, enforced by gating, connections closed.
    BanPeer {
        /// The peer.
        peer: PeerId,
        /// For how long.
        duration: Duration,
        /// Whether the ban was stored.
        reply: oneshot::Sender<Result<u64, op_p2p_gating::Error>>,
    },
    /// An `opp2p_*` RPC request (see [`crate::rpc`]).
    Rpc(crate::rpc::Request),
    /// Stop the swarm task.
    Shutdown {
        /// Answered as the task ends.
        reply: oneshot::Sender<()>,
    },
}

/// Why a block was not published.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    /// gossipsub refused (no peers yet, a duplicate, …).
    #[error(transparent)]
    Gossip(#[from] op_p2p_gossip::Error),
}

/// The network state the status file shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkSnapshot {
    /// Where we listen.
    pub(crate) listen_addrs: Vec<Multiaddr>,
    /// Connected peers, with their current gossipsub score (`None` with scoring off).
    pub(crate) peers: Vec<(PeerId, Option<f64>)>,
    /// Timed peer bans in force: peer and unix second the ban lifts.
    pub(crate) bans: Vec<(PeerId, u64)>,
    /// Connected peers the sync client asks (they serve payload_by_number); 0 with sync off.
    pub(crate) sync_peers: usize,
}

/// The handle failed: the swarm task is gone or did not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandleError {
    /// The task has stopped.
    #[error("the swarm task has stopped")]
    Stopped,
    /// No answer within [`COMMAND_TIMEOUT`].
    #[error("the swarm task did not answer within {COMMAND_TIMEOUT:?}")]
    Timeout,
}

/// The cloneable handle to the swarm task.
#[derive(Debug, Clone)]
pub(crate) struct NodeHandle {
    commands: mpsc::Sender<Command>,
}

impl NodeHandle {
    /// A handle and the receiving end the swarm task reads.
    pub(crate) fn channel() -> (Self, mpsc::Receiver<Command>) {
        let (commands, rx) = mpsc::channel(COMMAND_CHANNEL_SIZE);
        (Self { commands }, rx)
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HandleError> {
        let (reply, answer) = oneshot::channel();
        let exchange = async {
            self.commands
                .send(command(reply))
                .await
                .map_err(|_| HandleError::Stopped)?;
            answer.await.map_err(|_| HandleError::Stopped)
        };
        tokio::time::timeout(COMMAND_TIMEOUT, exchange)
            .await
            .map_err(|_| HandleError::Timeout)?
    }

    /// Publishes `envelope` with `signature` (made by [`crate::signer::Signer`]); on success,
    /// when it was handed to gossipsub (unix µs).
    pub(crate) async fn publish(
        &self,
        envelope: ExecutionPayloadEnvelope,
        signature: [u8; SIGNATURE_LEN],
    ) -> Result<Result<u64, PublishError>, HandleError> {
        self.call(|reply| Command::Publish {
            envelope: Box::new(envelope),
            signature,
            reply,
        })
        .await
    }

    /// Hands the range (`start`, `end`) to the gap filler.
    pub(crate) async fn request_range(
        &self,
        start: BlockRef,
        end: BlockRef,
    ) -> Result<Result<Scheduled, GapFillError>, HandleError> {
        self.call(|reply| Command::RequestRange { start, end, reply })
            .await
    }

    /// The current network state.
    pub(crate) async fn snapshot(&self) -> Result<NetworkSnapshot, HandleError> {
        self.call(|reply| Command::Snapshot { reply }).await
    }

    /// Bans `peer` for `duration`; returns the unix second the ban lifts.
    pub(crate) async fn ban_peer(
        &self,
        peer: PeerId,
        duration: Duration,
    ) -> Result<Result<u64, op_p2p_gating::Error>, HandleError> {
        self.call(|reply| Command::BanPeer {
            peer,
            duration,
            reply,
        })
        .await
    }

    /// Sends an `opp2p_*` RPC request and waits for its answer.
    pub(crate) async fn rpc<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> crate::rpc::Request,
    ) -> Result<T, HandleError> {
        self.call(|reply| Command::Rpc(request(reply))).await
    }

    /// Stops the swarm task and waits until it has stopped.
    pub(crate) async fn shutdown(&self) -> Result<(), HandleError> {
        match self.call(|reply| Command::Shutdown { reply }).await {
            Ok(()) | Err(HandleError::Stopped) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
