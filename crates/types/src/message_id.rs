//! The gossipsub message id, exactly as op-node's `BuildMsgIdFn` computes it (spec §1.4).
//!
//! Decision: the topic is hashed in, as op-node does (and has since Bedrock); the spec text and
//! kona leave it out. Ids travel in IHAVE/IWANT/IDONTWANT, so only op-node's form interoperates,
//! and binding the id to the topic stops a copy on the wrong topic from suppressing the real one.

use sha2::{Digest, Sha256};

use crate::gossip::MAX_GOSSIP_SIZE;

/// A gossipsub message id: the first 20 bytes of a SHA-256.
pub type MessageId = [u8; 20];

/// Domain for messages that snappy-decode within the size cap.
pub const MESSAGE_DOMAIN_VALID_SNAPPY: [u8; 4] = [1, 0, 0, 0];
/// Domain for everything else.
pub const MESSAGE_DOMAIN_INVALID_SNAPPY: [u8; 4] = [0, 0, 0, 0];

/// The id of raw gossip `data` on `topic`: the hash of the decompressed bytes if `data` is valid
/// snappy decoding to at most 10 MiB, else of the raw bytes.
pub fn message_id(topic: &str, data: &[u8]) -> MessageId {
    message_id_and_decompressed(topic, data).0
}

/// [`message_id`], and the decompressed bytes it hashed when `data` is valid snappy decoding to
/// at most 10 MiB, so that a validator need not decompress the message a second time.
pub fn message_id_and_decompressed(topic: &str, data: &[u8]) -> (MessageId, Option<Vec<u8>>) {
    match decompress_capped(data) {
        Some(decompressed) => (
            message_id_decompressed(topic, &decompressed),
            Some(decompressed),
        ),
        None => (hash(MESSAGE_DOMAIN_INVALID_SNAPPY, topic, data), None),
    }
}

/// The id of a message whose `data` is known to decompress to `decompressed`.
pub fn message_id_decompressed(topic: &str, decompressed: &[u8]) -> MessageId {
    hash(MESSAGE_DOMAIN_VALID_SNAPPY, topic, decompressed)
}

fn decompress_capped(data: &[u8]) -> Option<Vec<u8>> {
    let len = snap::raw::decompress_len(data).ok()?;
    if len > MAX_GOSSIP_SIZE {
        return None;
    }
    snap::raw::Decoder::new().decompress_vec(data).ok()
}

fn hash(domain: [u8; 4], topic: &str, data: &[u8]) -> MessageId {
    let digest = Sha256::new()
        .chain_update(domain)
        .chain_update((topic.len() as u64).to_le_bytes())
        .chain_update(topic.as_bytes())
        .chain_update(data)
        .finalize();
    let mut id = [0u8; 20];
    id.copy_from_slice(&digest[..20]);
    id
}
