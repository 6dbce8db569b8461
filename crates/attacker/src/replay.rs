//! Kinds `replay-topic` and `malleate`: the sequencer's own, valid blocks, taken from what the
//! attacked node gossips to us, sent back altered only where a signature does not look.
//!
//! - `replay-topic`: the same data on the other three version topics. The signature covers the
//!   chain id and the payload, not the topic, so it still recovers the sequencer; the message id
//!   is topic-bound, so gossipsub does not drop it as a duplicate.
//! - `malleate`: ECDSA malleability. `(r, s, v)` and `(r, n − s, v ^ 1)` are both valid
//!   signatures of the same hash by the same key (secp256k1's group order `n`); op-node, like
//!   geth's `SigToPub`, has no low-s rule, so the copy recovers the sequencer too, carries the
//!   same block, and has a new message id.

use op_p2p_types::{SIGNATURE_LEN, SignedBlockMessage};

/// secp256k1's group order `n`, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// The malleated twin of gossip `data` (compressed): `s` → `n − s`, `v` → `v ^ 1`. `None` for
/// data that is not a decodable block message or whose `s` is zero or not below `n`.
pub(crate) fn malleate(data: &[u8]) -> Option<Vec<u8>> {
    let message = SignedBlockMessage::decode(data).ok()?;
    let mut signature = *message.signature();
    let s: [u8; 32] = signature[32..64].try_into().ok()?;
    signature[32..64].copy_from_slice(&order_minus(&s)?);
    signature[SIGNATURE_LEN - 1] ^= 1;
    Some(SignedBlockMessage::new(&signature, &message.signed_bytes()).encode())
}

/// `n − s` for `0 < s < n`, big-endian.
fn order_minus(s: &[u8; 32]) -> Option<[u8; 32]> {
    if s.iter().all(|b| *b == 0) || s >= &ORDER {
        return None;
    }
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use op_p2p_types::{B256, BlockSigner};

    use super::*;

    #[test]
    fn the_malleated_twin_recovers_the_same_signer_with_other_bytes() {
        let signer = BlockSigner::new(B256::repeat_byte(1)).unwrap();
        let body = vec![0x42u8; 300];
        let original = SignedBlockMessage::new(&signer.sign_payload(901, &body), &body);
        let data = original.encode();
        let twin = malleate(&data).unwrap();
        assert_ne!(twin, data);
        let twin = SignedBlockMessage::decode(&twin).unwrap();
        assert_eq!(twin.signed_bytes(), original.signed_bytes());
        assert_eq!(twin.recover_signer(901).unwrap(), signer.address());
        // Twice is the original again.
        assert_eq!(malleate(&malleate(&data).unwrap()).unwrap(), data);
    }

    #[test]
    fn order_minus_edges() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let mut n_minus_one = ORDER;
        n_minus_one[31] -= 1;
        assert_eq!(order_minus(&one), Some(n_minus_one));
        assert_eq!(order_minus(&[0; 32]), None);
        assert_eq!(order_minus(&ORDER), None);
    }
}
