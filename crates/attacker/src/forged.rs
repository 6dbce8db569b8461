//! Kinds `forged-signature` and `own-key`: block messages whose signature is not the unsafe
//! block signer's. The body is a counter and filler, not a payload: every validator (op-node's
//! and ours) checks the signature before it decodes the payload (rule 6 before rule 7), so the
//! body's shape never matters to the verdict, and every message is distinct (no gossipsub
//! duplicate).

use op_p2p_types::{B256, BlockSigner, SignedBlockMessage};

/// Bytes after the signature.
const BODY_LEN: usize = 1024;

/// The signatures of kind `forged-signature`, round robin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forgery {
    /// `v` = 27 (Ethereum's legacy offset): not 0 or 1, so no key is recovered.
    LegacyV,
    /// `r` = 0: no point, no key.
    ZeroR,
    /// `r` and `s` all ones, above the curve order: the signature does not parse.
    Overflow,
    /// Random `r` and `s` with `v` 0/1: no key (when `r` is no x coordinate) or a random key,
    /// which is not the signer.
    Random,
}

impl Forgery {
    pub(crate) const ALL: [Self; 4] = [Self::LegacyV, Self::ZeroR, Self::Overflow, Self::Random];

    /// The 65-byte signature of the `n`-th message.
    fn signature(self, n: u64) -> [u8; 65] {
        let mut sig = [0u8; 65];
        match self {
            Self::LegacyV => {
                sig[..64].copy_from_slice(&noise(n, 64));
                sig[64] = 27;
            }
            Self::ZeroR => {
                sig[32..64].copy_from_slice(&noise(n, 32));
                sig[64] = (n % 2) as u8;
            }
            Self::Overflow => {
                sig[..64].fill(0xff);
                sig[64] = (n % 2) as u8;
            }
            Self::Random => {
                sig[..64].copy_from_slice(&noise(n, 64));
                sig[64] = (n % 2) as u8;
            }
        }
        sig
    }
}

/// The `n`-th message of kind `forged-signature` (compressed gossip data).
pub(crate) fn forged(n: u64) -> Vec<u8> {
    let forgery = Forgery::ALL[(n % Forgery::ALL.len() as u64) as usize];
    SignedBlockMessage::new(&forgery.signature(n), &body(n)).encode()
}

/// The `n`-th message of kind `own-key`: validly signed for `chain_id`, by `signer` (the
/// attacker's own key), which recovers to an address that is not the unsafe block signer.
pub(crate) fn own_key(signer: &BlockSigner, chain_id: u64, n: u64) -> Vec<u8> {
    let body = body(n);
    SignedBlockMessage::new(&signer.sign_payload(chain_id, &body), &body).encode()
}

/// The block signer of the attacker's identity key (32 secret bytes).
pub(crate) fn signer(secret: [u8; 32]) -> Option<BlockSigner> {
    BlockSigner::new(B256::from(secret)).ok()
}

/// The body of the `n`-th message: the counter, then filler.
fn body(n: u64) -> Vec<u8> {
    let mut body = noise(n, BODY_LEN);
    body[..8].copy_from_slice(&n.to_le_bytes());
    body
}

/// `len` pseudo-random bytes from `seed` (splitmix64: distinct per seed, no `rand` needed).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use op_p2p_types::SignatureError;

    use super::*;

    const CHAIN: u64 = 901;

    fn decode(data: &[u8]) -> SignedBlockMessage {
        SignedBlockMessage::decode(data).unwrap()
    }

    #[test]
    fn forgeries_recover_no_key_or_not_the_signer() {
        let sequencer = signer([1; 32]).unwrap().address();
        let mut unrecoverable = 0;
        for n in 0..64 {
            let message = decode(&forged(n));
            match message.recover_signer(CHAIN) {
                Err(SignatureError::InvalidRecoveryId(_) | SignatureError::Unrecoverable) => {
                    unrecoverable += 1;
                }
                Ok(address) => assert_ne!(address, sequencer),
            }
        }
        // The three deterministic forgeries never recover; random ones sometimes do.
        assert!(unrecoverable >= 48, "{unrecoverable}");
        assert_ne!(forged(1), forged(5));
    }

    #[test]
    fn own_key_messages_recover_the_attackers_address() {
        let own = signer([7; 32]).unwrap();
        let message = decode(&own_key(&own, CHAIN, 3));
        assert_eq!(message.recover_signer(CHAIN).unwrap(), own.address());
        assert_ne!(own_key(&own, CHAIN, 3), own_key(&own, CHAIN, 4));
    }
}
