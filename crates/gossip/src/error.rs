//! Everything that can go wrong setting up gossip or publishing a block.

use libp2p_gossipsub as gossipsub;
use op_p2p_types::PayloadVersion;

/// A gossip setup or publish failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mesh parameter is outside op-node's 1..=1000.
    #[error("mesh parameter {name} = {value} is outside 1..=1000")]
    MeshParameterOutOfRange {
        /// `D`, `Dlo`, `Dhi` or `Dlazy`.
        name: &'static str,
        /// The configured value.
        value: usize,
    },
    /// The mesh bounds are not ordered `Dlo <= D <= Dhi`.
    #[error("mesh bounds must satisfy Dlo <= D <= Dhi, got {dlo} / {d} / {dhi}")]
    MeshOrder {
        /// Configured Dlo.
        dlo: usize,
        /// Configured D.
        d: usize,
        /// Configured Dhi.
        dhi: usize,
    },
    /// A queue size, the validation concurrency or the validation timeout is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// gossipsub rejected the router configuration.
    #[error("invalid gossipsub configuration: {0}")]
    GossipsubConfig(#[from] gossipsub::ConfigBuilderError),
    /// gossipsub refused to build the behaviour (it reports this as a bare string).
    #[error("cannot build the gossipsub behaviour: {0}")]
    Behaviour(&'static str),
    /// gossipsub rejected the peer-score parameters (it reports these as strings).
    #[error("invalid peer-score parameters: {0}")]
    PeerScore(String),
    /// Subscribing to a blocks topic failed.
    #[error("cannot subscribe to {topic}: {source}")]
    Subscribe {
        /// The topic.
        topic: String,
        /// gossipsub's reason.
        source: gossipsub::SubscriptionError,
    },
    /// The payload's layout is not the one the rollup schedule assigns to its timestamp, so
    /// every peer would reject it.
    #[error(
        "payload is {payload:?} but its timestamp {timestamp} belongs on the {scheduled:?} topic"
    )]
    VersionMismatch {
        /// The version the payload's fields encode to.
        payload: PayloadVersion,
        /// The version scheduled at its timestamp.
        scheduled: PayloadVersion,
        /// The payload timestamp.
        timestamp: u64,
    },
    /// gossipsub did not publish the message.
    #[error("publish failed: {0}")]
    Publish(#[from] gossipsub::PublishError),
}
