//! The transport and the swarm (spec §9): TCP only, noise, yamux, a dial timeout, no relay.

use std::time::Duration;

use libp2p_core::{Transport as _, muxing::StreamMuxerBox, upgrade::Version};
use libp2p_identity::Keypair;
use libp2p_swarm::{Config, Swarm};

use crate::{
    behaviour::NodeBehaviour,
    metrics::transport::{Meter, Metered},
};

/// How long a connection no behaviour needs stays open. go-libp2p keeps connections until the
/// connection manager trims them; rust-libp2p closes idle ones (gossipsub keeps only mesh
/// connections alive), so the timeout is long and trimming stays the connection manager's job.
pub(crate) const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Inbound streams negotiating at once per connection. libp2p-swarm's default (128) is below
/// the sync server's per-connection stream bound (256), so a burst of payload_by_number requests
/// would be cut at the negotiation stage instead of reaching the server's own limits (the sync
/// crate's docs advise raising it).
pub(crate) const MAX_NEGOTIATING_INBOUND_STREAMS: usize =
    op_p2p_reqresp_sync::DEFAULT_MAX_CONCURRENT_STREAMS;

/// Why the swarm could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SwarmError {
    /// noise refused the key.
    #[error("noise: {0}")]
    Noise(#[from] libp2p_noise::Error),
}

/// Builds the swarm: TCP (nodelay) upgraded with multistream-select 1.0 (not the lazy variant, for go-libp2p), noise (XX, the node's
/// secp256k1 identity) and yamux, the whole upgrade bounded by `dial_timeout`
/// (`p2p.timeout.dial`; op-node's negotiation and accept timeouts are never applied, and
/// go-libp2p's default negotiation timeout is the same 10 s). Every muxed stream is metered
/// (`meter`: open streams, bytes in and out).
pub(crate) fn build(
    key: &Keypair,
    behaviour: NodeBehaviour,
    dial_timeout: Duration,
    meter: Meter,
) -> Result<Swarm<NodeBehaviour>, SwarmError> {
    let transport = libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::new().nodelay(true))
        .upgrade(Version::V1)
        .authenticate(libp2p_noise::Config::new(key)?)
        .multiplex(libp2p_yamux::Config::default())
        .timeout(dial_timeout)
        .map(move |(peer, muxer), _| (peer, StreamMuxerBox::new(Metered::new(muxer, meter))))
        .boxed();
    Ok(Swarm::new(
        transport,
        behaviour,
        key.public().to_peer_id(),
        Config::with_tokio_executor()
            .with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT)
            .with_max_negotiating_inbound_streams(MAX_NEGOTIATING_INBOUND_STREAMS),
    ))
}
