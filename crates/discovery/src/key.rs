//! The node key in both worlds: libp2p's secp256k1 keypair signs the ENR as a discv5
//! `CombinedKey` (the `enr` crate's pure-Rust k256 key), and an ENR's key becomes a libp2p
//! peer id (op-node's `enrToAddrInfo`).

use enr::{CombinedKey, CombinedPublicKey, EnrPublicKey as _, NodeId};
use libp2p_identity::{Keypair, PeerId, PublicKey};

use crate::error::Error;

/// The discv5 signing key of the node's libp2p key: the same secp256k1 secret, so the ENR's
/// node id and the libp2p peer id name one node (op-node uses the one key for both).
pub fn enr_key(keypair: &Keypair) -> Result<CombinedKey, Error> {
    let secp = keypair
        .clone()
        .try_into_secp256k1()
        .map_err(|_| Error::KeyType)?;
    let mut secret = secp.secret().to_bytes();
    let key = CombinedKey::secp256k1_from_bytes(&mut secret).map_err(|_| Error::KeyType);
    // `secp256k1_from_bytes` zeroizes the buffer it reads.
    key
}

/// The libp2p public key of an ENR's key, if it is secp256k1 (op-node loads only that type and
/// skips any other record).
pub fn libp2p_public_key(key: &CombinedPublicKey) -> Option<PublicKey> {
    match key {
        CombinedPublicKey::Secp256k1(_) => {
            let compressed = key.encode();
            libp2p_identity::secp256k1::PublicKey::try_from_bytes(&compressed)
                .ok()
                .map(PublicKey::from)
        }
        _ => None,
    }
}

/// The peer id of an ENR's key, if it is secp256k1.
pub fn peer_id(key: &CombinedPublicKey) -> Option<PeerId> {
    libp2p_public_key(key).map(|k| k.to_peer_id())
}

/// The discv5 node id of a libp2p key, if it is secp256k1: the id its ENR would carry
/// (`opp2p_*`'s `nodeID`), computed by the `enr` crate (keccak-256 of the uncompressed key).
pub fn node_id(key: &PublicKey) -> Option<NodeId> {
    let secp = key.clone().try_into_secp256k1().ok()?;
    let verifying = enr::k256::ecdsa::VerifyingKey::from_sec1_bytes(&secp.to_bytes()).ok()?;
    Some(NodeId::from(CombinedPublicKey::Secp256k1(verifying)))
}

#[cfg(test)]
mod tests {
    use enr::EnrKey as _;

    use super::*;

    #[test]
    fn one_key_one_identity() {
        let keypair = Keypair::generate_secp256k1();
        let enr_key = enr_key(&keypair).unwrap();
        assert_eq!(
            peer_id(&enr_key.public()),
            Some(keypair.public().to_peer_id())
        );
        assert!(matches!(
            super::enr_key(&Keypair::generate_ed25519()),
            Err(Error::KeyType)
        ));
        assert_eq!(peer_id(&CombinedKey::generate_ed25519().public()), None);
        // The node id of the libp2p key is the ENR key's.
        assert_eq!(
            node_id(&keypair.public()),
            Some(NodeId::from(enr_key.public()))
        );
        assert_eq!(node_id(&Keypair::generate_ed25519().public()), None);
    }
}
