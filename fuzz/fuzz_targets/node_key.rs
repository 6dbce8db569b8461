//! The node's key file (`p2p.priv.path`) and `p2p.priv.raw`: op-node's hex secp256k1 secret.
//!
//! Input: the file's bytes. Runs the node's `parse_key`, compiled here from the node's own
//! source file (no node crate, no RocksDB). An accepted key re-encodes to the text op-node
//! writes, which parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The node's key parser, exactly as the node binary compiles it.
#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/node/src/identity.rs"]
mod identity;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(keypair) = identity::parse_key(text) {
        let secp = keypair
            .clone()
            .try_into_secp256k1()
            .expect("parse_key makes secp256k1 keys");
        let encoded = identity::encode_key(&secp);
        assert_eq!(encoded.len(), 64);
        let again = identity::parse_key(&encoded).expect("re-parses");
        assert_eq!(again.public(), keypair.public());
    }
});
