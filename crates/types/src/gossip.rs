//! The blocks-topic message codec: snappy block format around `signature ++ signed bytes`
//! (spec §1.3), with op-node's size checks (spec §2, steps 1–5).

use alloy_primitives::{Address, B256, Bytes};

use crate::{
    error::{GossipDecodeError, SignatureError, SszError},
    payload::{ExecutionPayloadEnvelope, PayloadVersion},
    signing::{BlockSigner, SIGNATURE_LEN, payload_hash, recover_signer, signing_hash},
};

/// The largest gossip message, compressed or decoded: 10 MiB (op-node `maxGossipSize`). Also the
/// gossipsub maximum transmit size.
pub const MAX_GOSSIP_SIZE: usize = 10 * (1 << 20);

/// The smallest decoded gossip message: a 65-byte signature and at least one byte
/// (op-node `minGossipSize`).
pub const MIN_GOSSIP_SIZE: usize = SIGNATURE_LEN + 1;

/// A decompressed blocks-topic message: a 65-byte signature followed by the signed bytes.
///
/// Holding the decompressed buffer lets the signed bytes, and the transactions decoded from them,
/// be zero-copy slices of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBlockMessage {
    data: Bytes,
}

impl SignedBlockMessage {
    /// Decompresses gossip `data` (snappy block format) and checks its size. The declared decoded
    /// length is checked against [`MAX_GOSSIP_SIZE`] before anything is allocated.
    pub fn decode(data: &[u8]) -> Result<Self, GossipDecodeError> {
        let len = snap::raw::decompress_len(data).map_err(GossipDecodeError::SnappyHeader)?;
        if len > MAX_GOSSIP_SIZE {
            return Err(GossipDecodeError::TooLarge(len));
        }
        if len < MIN_GOSSIP_SIZE {
            return Err(GossipDecodeError::TooSmall(len));
        }
        let decompressed = snap::raw::Decoder::new()
            .decompress_vec(data)
            .map_err(GossipDecodeError::Snappy)?;
        Ok(Self {
            data: Bytes::from(decompressed),
        })
    }

    /// Wraps already-decompressed bytes, with the same size checks as [`Self::decode`].
    pub fn from_decompressed(data: Bytes) -> Result<Self, GossipDecodeError> {
        match data.len() {
            len if len > MAX_GOSSIP_SIZE => Err(GossipDecodeError::TooLarge(len)),
            len if len < MIN_GOSSIP_SIZE => Err(GossipDecodeError::TooSmall(len)),
            _ => Ok(Self { data }),
        }
    }

    /// A message from a signature and the bytes it signs.
    pub fn new(signature: &[u8; SIGNATURE_LEN], signed_bytes: &[u8]) -> Self {
        let mut data = Vec::with_capacity(SIGNATURE_LEN + signed_bytes.len());
        data.extend_from_slice(signature);
        data.extend_from_slice(signed_bytes);
        Self { data: data.into() }
    }

    /// Encodes `envelope` at its own version and signs it for chain `chain_id`, as op-node's
    /// `SignAndPublishL2Payload` does.
    pub fn sign(signer: &BlockSigner, chain_id: u64, envelope: &ExecutionPayloadEnvelope) -> Self {
        let mut data = vec![0u8; SIGNATURE_LEN];
        envelope.encode_ssz_to(&mut data);
        let signature = signer.sign_payload(chain_id, &data[SIGNATURE_LEN..]);
        data[..SIGNATURE_LEN].copy_from_slice(&signature);
        Self { data: data.into() }
    }

    /// The gossip `data` for this message: its snappy block compression.
    pub fn encode(&self) -> Vec<u8> {
        // Compression of an in-memory buffer within snappy's 2^32 input limit cannot fail, and
        // `from_decompressed`/`decode` cap messages at 10 MiB.
        snap::raw::Encoder::new()
            .compress_vec(&self.data)
            .unwrap_or_else(|e| {
                unreachable!("snappy compression of {} bytes: {e}", self.data.len())
            })
    }

    /// The decompressed message: signature ++ signed bytes.
    pub const fn as_bytes(&self) -> &Bytes {
        &self.data
    }

    /// The 65-byte signature `r ++ s ++ v`.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        self.data[..SIGNATURE_LEN]
            .try_into()
            .unwrap_or_else(|_| unreachable!("constructors guarantee at least 66 bytes"))
    }

    /// The signed bytes (everything after the signature), sharing the message buffer.
    pub fn signed_bytes(&self) -> Bytes {
        self.data.slice(SIGNATURE_LEN..)
    }

    /// keccak256 of the signed bytes.
    pub fn payload_hash(&self) -> B256 {
        payload_hash(&self.data[SIGNATURE_LEN..])
    }

    /// Recovers the address that signed this message for chain `chain_id`.
    pub fn recover_signer(&self, chain_id: u64) -> Result<Address, SignatureError> {
        recover_signer(
            signing_hash(chain_id, self.payload_hash()),
            self.signature(),
        )
    }

    /// Decodes the signed bytes as an envelope of `version`.
    pub fn decode_envelope(
        &self,
        version: PayloadVersion,
    ) -> Result<ExecutionPayloadEnvelope, SszError> {
        ExecutionPayloadEnvelope::decode_ssz(version, &self.signed_bytes())
    }
}
