//! Publishing blocks: sign with a local sequencer key, or pass an already-signed envelope
//! through unchanged, on the topic the rollup schedule assigns to the payload's timestamp
//! (op-node's `SignAndPublishL2Payload`, `PublishSignedL2Payload`, spec §1.2, §1.5).

use libp2p_gossipsub::MessageId;
use op_p2p_types::{
    BlockSigner, BlocksTopic, ExecutionPayloadEnvelope, RollupConfig, SIGNATURE_LEN,
    SignedBlockMessage,
};

use crate::{
    error::Error,
    router::{Gossipsub, topic_hash},
};

/// Publishes blocks of one chain.
#[derive(Debug, Clone)]
pub struct Publisher {
    rollup: RollupConfig,
}

impl Publisher {
    /// A publisher for the chain `rollup`.
    pub const fn new(rollup: RollupConfig) -> Self {
        Self { rollup }
    }

    /// The topic for `envelope`: the one scheduled at its timestamp (Isthmus → v4, Ecotone → v3,
    /// Canyon → v2, else v1).
    ///
    /// Unlike op-node, a payload whose fields encode to another version is refused here rather
    /// than published for every peer to reject.
    pub fn topic_for(&self, envelope: &ExecutionPayloadEnvelope) -> Result<BlocksTopic, Error> {
        let timestamp = envelope.execution_payload.timestamp;
        let topic = self.rollup.blocks_topic(timestamp);
        let payload = envelope.version();
        if payload != topic.version {
            return Err(Error::VersionMismatch {
                payload,
                scheduled: topic.version,
                timestamp,
            });
        }
        Ok(topic)
    }

    /// Signs `envelope` with the sequencer key `signer` and publishes it.
    pub fn publish(
        &self,
        behaviour: &mut Gossipsub,
        signer: &BlockSigner,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<MessageId, Error> {
        let topic = self.topic_for(envelope)?;
        let message = SignedBlockMessage::sign(signer, self.rollup.l2_chain_id, envelope);
        Self::publish_message(behaviour, topic, &message)
    }

    /// Publishes `envelope` with a `signature` made elsewhere (op-conductor, a remote signer),
    /// unchanged.
    pub fn publish_signed(
        &self,
        behaviour: &mut Gossipsub,
        envelope: &ExecutionPayloadEnvelope,
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<MessageId, Error> {
        let topic = self.topic_for(envelope)?;
        let message = SignedBlockMessage::new(signature, &envelope.encode_ssz());
        Self::publish_message(behaviour, topic, &message)
    }

    /// Publishes a complete signed message on `topic`, as is.
    pub fn publish_message(
        behaviour: &mut Gossipsub,
        topic: BlocksTopic,
        message: &SignedBlockMessage,
    ) -> Result<MessageId, Error> {
        Ok(behaviour.publish(topic_hash(topic), message.encode())?)
    }
}
