//! The address blocks must be signed by, shared between the validator and whoever follows the
//! L1 system config, so it can be rotated while the node runs.

use std::sync::{Arc, PoisonError, RwLock};

use op_p2p_types::Address;

/// The unsafe block signer (op-node's `P2PSequencerAddress`, read from the L1 `SystemConfig`),
/// shared and updatable at run time.
///
/// Cloning shares the value: a [`set`](Self::set) on one clone is seen by all, from the next
/// message the validator checks. The zero address means "not known yet", and the validator then
/// ignores every message (op-node does the same).
#[derive(Debug, Clone, Default)]
pub struct UnsafeBlockSigner(Arc<RwLock<Address>>);

impl UnsafeBlockSigner {
    /// A signer handle holding `address`.
    pub fn new(address: Address) -> Self {
        Self(Arc::new(RwLock::new(address)))
    }

    /// The current address.
    pub fn get(&self) -> Address {
        // An `Address` is written whole, so a writer that panicked cannot leave it torn.
        *self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the address (signer rotation).
    pub fn set(&self, address: Address) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = address;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_address() {
        let a = UnsafeBlockSigner::default();
        assert_eq!(a.get(), Address::ZERO);
        let b = a.clone();
        b.set(Address::repeat_byte(7));
        assert_eq!(a.get(), Address::repeat_byte(7));
    }
}
