//! Why a connection was refused, as a typed error the application can downcast from
//! [`ConnectionDenied`](libp2p_swarm::ConnectionDenied).

use std::net::IpAddr;

use ipnet::IpNet;
use libp2p_identity::PeerId;

/// The error inside the [`ConnectionDenied`](libp2p_swarm::ConnectionDenied) that
/// [`Behaviour`](crate::Behaviour) returns: `cause.downcast_ref::<Denied>()` recovers the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("connection gated: {reason}")]
pub struct Denied {
    /// The rule that refused the connection.
    pub reason: DenyReason,
}

/// The rule that refused a connection or dial.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DenyReason {
    /// The peer is on the permanent block list.
    #[error("peer {0} is blocked")]
    PeerBlocked(PeerId),
    /// The peer has a timed ban that has not expired.
    #[error("peer {peer} is banned until {until} (unix seconds)")]
    PeerBanned {
        /// The banned peer.
        peer: PeerId,
        /// When the ban lifts, in unix seconds.
        until: u64,
    },
    /// The remote IP is on the permanent block list.
    #[error("IP {0} is blocked")]
    IpBlocked(IpAddr),
    /// The remote IP lies in a blocked subnet.
    #[error("IP {ip} is in blocked subnet {subnet}")]
    SubnetBlocked {
        /// The remote IP.
        ip: IpAddr,
        /// The blocked subnet containing it.
        subnet: IpNet,
    },
    /// The remote IP has a timed ban that has not expired.
    #[error("IP {ip} is banned until {until} (unix seconds)")]
    IpBanned {
        /// The banned IP.
        ip: IpAddr,
        /// When the ban lifts, in unix seconds.
        until: u64,
    },
    /// The peer's last reported score is below the configured minimum
    /// ([`Config::with_min_score`](crate::Config::with_min_score)).
    #[error("peer {peer} has score {score}, below the minimum {min}")]
    ScoreTooLow {
        /// The peer.
        peer: PeerId,
        /// Its last reported score (0 if none was reported, as op-node reads unknown scores).
        score: f64,
        /// The configured minimum.
        min: f64,
    },
    /// An expired ban could not be removed from the peer store. As op-node's expiry gater does,
    /// the connection is refused rather than let a ban's state disagree with the store; the error
    /// is logged and the lift is retried on the next check.
    #[error("expired ban could not be lifted in the peer store")]
    BanStore,
    /// The remote IP already has the maximum of inbound connections in their handshake
    /// ([`Config::with_max_pending_inbound_per_ip`](crate::Config::with_max_pending_inbound_per_ip)).
    #[error("IP {ip} already has {pending} inbound handshakes in progress")]
    TooManyPendingInbound {
        /// The remote IP.
        ip: IpAddr,
        /// Its handshakes in progress.
        pending: usize,
    },
}
