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
    message_id_with(topic, data, |_, _| {})
}

/// [`message_id`], handing the id and the decompressed bytes to `decompressed` when `data` is
/// valid snappy decoding to at most 10 MiB (so a caller can keep them and not decompress the
/// message again).
///
/// Decompression goes into a buffer this thread reuses from message to message (up to
/// [`REUSED_BUFFER_MAX`]; larger messages get a buffer of their own), so computing an id
/// allocates and zero-fills nothing per message: gossipsub computes one for every copy of a
/// message it receives, duplicates included.
pub fn message_id_with(
    topic: &str,
    data: &[u8],
    decompressed: impl FnOnce(&MessageId, &[u8]),
) -> MessageId {
    let Ok(len) = snap::raw::decompress_len(data) else {
        return hash(MESSAGE_DOMAIN_INVALID_SNAPPY, topic, data);
    };
    if len > MAX_GOSSIP_SIZE {
        return hash(MESSAGE_DOMAIN_INVALID_SNAPPY, topic, data);
    }
    let with_bytes = |bytes: Option<&[u8]>| match bytes {
        Some(bytes) => {
            let id = message_id_decompressed(topic, bytes);
            decompressed(&id, bytes);
            id
        }
        None => hash(MESSAGE_DOMAIN_INVALID_SNAPPY, topic, data),
    };
    if len > REUSED_BUFFER_MAX {
        let mut buffer = vec![0; len];
        return with_bytes(decompress_into(data, &mut buffer));
    }
    BUFFER.with_borrow_mut(|buffer| {
        // Grown once to the largest message seen, never shrunk: later messages overwrite it
        // without zero-filling.
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        with_bytes(decompress_into(data, &mut buffer[..len]))
    })
}

/// The largest decompressed message [`message_id_with`] decompresses into its reused per-thread
/// buffer: 1 MiB (blocks are ~0.5–500 KB; the 10 MiB cap is rare and should not pin 10 MiB per
/// thread).
pub const REUSED_BUFFER_MAX: usize = 1 << 20;

thread_local! {
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Decompresses `data` into `out`, which is exactly its declared length; `None` if it is not
/// valid snappy of that length.
fn decompress_into<'a>(data: &[u8], out: &'a mut [u8]) -> Option<&'a [u8]> {
    let written = snap::raw::Decoder::new().decompress(data, out).ok()?;
    out.get(..written)
}

/// The id of a message whose `data` is known to decompress to `decompressed`.
pub fn message_id_decompressed(topic: &str, decompressed: &[u8]) -> MessageId {
    hash(MESSAGE_DOMAIN_VALID_SNAPPY, topic, decompressed)
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
