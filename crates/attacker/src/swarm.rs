//! The attacker's swarm: the node's transport (TCP, noise, yamux) and a gossipsub that publishes
//! whatever it is given, to every peer, with no local checks.

use std::{
    hash::{DefaultHasher, Hash as _, Hasher as _},
    time::Duration,
};

use libp2p_core::{Transport as _, muxing::StreamMuxerBox, transport::Boxed, upgrade::Version};
use libp2p_gossipsub::{self as gossipsub, MessageAuthenticity, ValidationMode};
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::Swarm;

/// Larger than any message we send, so our own gossipsub never refuses one: the receiver's cap
/// is what is under test.
const MAX_TRANSMIT: usize = 12 * 1024 * 1024;
/// A swarm on identity `key` (secp256k1) whose send queue per connection holds `queue_len`
/// messages: small for the bombs, so a receiver that stops reading costs us little memory
/// (publishing then fails and is counted), larger for the block kinds sent at full speed.
pub(crate) fn build(
    key: &Keypair,
    queue_len: usize,
) -> Result<Swarm<gossipsub::Behaviour>, Box<dyn std::error::Error>> {
    let config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_TRANSMIT)
        .validation_mode(ValidationMode::Anonymous)
        .connection_handler_queue_len(queue_len)
        .history_length(1)
        .history_gossip(1)
        .flood_publish(true)
        // Every message its own id (the data carries a counter).
        .message_id_fn(|message| {
            let mut hasher = DefaultHasher::new();
            message.data.hash(&mut hasher);
            message.topic.hash(&mut hasher);
            gossipsub::MessageId::from(hasher.finish().to_be_bytes().to_vec())
        })
        .build()?;
    let behaviour = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)?;
    Ok(Swarm::new(
        transport(key)?,
        behaviour,
        key.public().to_peer_id(),
        libp2p_swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(3600)),
    ))
}

/// The node's transport: TCP, noise, yamux.
pub(crate) fn transport(
    key: &Keypair,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Box<dyn std::error::Error>> {
    Ok(
        libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::new().nodelay(true))
            .upgrade(Version::V1)
            .authenticate(libp2p_noise::Config::new(key)?)
            .multiplex(libp2p_yamux::Config::default())
            .timeout(Duration::from_secs(10))
            .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
            .boxed(),
    )
}
