//! The block signer of a sequencer: a local key (`p2p.sequencer.key`) or a remote op-signer
//! (`signer.endpoint` + `signer.address`), as op-node's `p2p/cli/load_signer.go` chooses.
//!
//! - [`remote`]: the op-signer JSON-RPC client (`opsigner_signBlockPayload`, and `…V2`);
//! - [`tls`]: the rustls client configuration for mutual TLS (`signer.tls.*`);
//! - [`BlockPublisher`]: sign, check, publish, used by the sequencer and by
//!   `admin_postUnsafePayload`.
//!
//! Signing runs on the caller's task (the app task, an RPC task), never on the swarm task: the
//! swarm task only receives the finished signature ([`crate::handle::NodeHandle::publish`]).
//!
//! Every remote signature is recovered and compared with `signer.address` before anything is
//! published (op-node publishes what op-signer returns unchecked): a signer holding the wrong
//! key would otherwise make every peer reject — and, before issue 13, penalise — our blocks.

pub(crate) mod remote;
pub(crate) mod tls;

use std::sync::Arc;

use op_p2p_types::{
    Address, B256, BlockSigner, ExecutionPayloadEnvelope, SIGNATURE_LEN, SignatureError,
    payload_hash, recover_signer, signing_hash,
};

pub(crate) use self::remote::{RemoteSigner, RemoteSignerSettings, SignerApi};
use crate::handle::{HandleError, NodeHandle, PublishError};

/// Why a block was not signed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    /// The remote signer did not answer in time.
    #[error("remote signer {endpoint}: no signature within {timeout:?} (--signer.timeout)")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The limit.
        timeout: std::time::Duration,
    },
    /// The request failed: connection, TLS, HTTP status or a JSON-RPC error.
    #[error("remote signer {endpoint}: {method} failed: {reason}")]
    Request {
        /// The endpoint.
        endpoint: String,
        /// The JSON-RPC method.
        method: &'static str,
        /// Why, as the client reports it.
        reason: String,
    },
    /// The answer is not a hex 65-byte signature.
    #[error("remote signer {endpoint}: the answer is not a 65-byte hex signature: {answer:?}")]
    Malformed {
        /// The endpoint.
        endpoint: String,
        /// What came back (truncated).
        answer: String,
    },
    /// The signature does not recover to a key.
    #[error("the signer's signature does not recover to an address: {0}")]
    Unrecoverable(#[from] SignatureError),
    /// The signature is by another key than the configured signer.
    #[error(
        "the signature recovers to {recovered}, not to the block signer {expected}: the \
         remote signer holds another key (check --signer.address)"
    )]
    WrongKey {
        /// `signer.address`.
        expected: Address,
        /// Who actually signed.
        recovered: Address,
    },
}

/// Why a block was signed but not published, or not signed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishFailure {
    /// Signing failed; nothing was handed to gossipsub.
    #[error("not signed: {0}")]
    Sign(#[from] SignError),
    /// The swarm task refused it.
    #[error("not published: {0}")]
    Publish(#[from] PublishError),
    /// The swarm task is gone or stuck.
    #[error("not published: {0}")]
    Handle(#[from] HandleError),
}

/// A sequencer's block signer.
#[derive(Debug)]
pub(crate) enum Signer {
    /// `p2p.sequencer.key`.
    Local(BlockSigner),
    /// `signer.endpoint` + `signer.address`.
    Remote(RemoteSigner),
}

impl Signer {
    /// Signs `envelope` for chain `chain_id` (spec §1.5): the signing hash over the payload
    /// hash of its SSZ encoding. A remote signature is checked against `signer.address`.
    pub(crate) async fn sign(
        &self,
        chain_id: u64,
        envelope: &ExecutionPayloadEnvelope,
    ) -> Result<[u8; SIGNATURE_LEN], SignError> {
        let payload_hash = payload_hash(&envelope.encode_ssz());
        let hash = signing_hash(chain_id, payload_hash);
        match self {
            Self::Local(key) => Ok(key.sign_hash(hash)),
            Self::Remote(remote) => {
                let signature = remote.sign(chain_id, payload_hash).await?;
                check_signature(hash, &signature, remote.address())?;
                Ok(signature)
            }
        }
    }
}

/// Checks that `signature` over `hash` is `expected`'s.
pub(crate) fn check_signature(
    hash: B256,
    signature: &[u8; SIGNATURE_LEN],
    expected: Address,
) -> Result<(), SignError> {
    let recovered = recover_signer(hash, signature)?;
    if recovered != expected {
        return Err(SignError::WrongKey {
            expected,
            recovered,
        });
    }
    Ok(())
}

/// Signs blocks and hands them to the swarm task: the sequencer's and the admin RPC's one
/// path to gossip.
#[derive(Debug, Clone)]
pub(crate) struct BlockPublisher {
    signer: Arc<Signer>,
    handle: NodeHandle,
    chain_id: u64,
}

impl BlockPublisher {
    /// A publisher signing with `signer` for chain `chain_id`.
    pub(crate) fn new(signer: Arc<Signer>, handle: NodeHandle, chain_id: u64) -> Self {
        Self {
            signer,
            handle,
            chain_id,
        }
    }

    /// Signs `envelope` (awaiting a remote signer here, on the caller's task) and publishes
    /// it on its scheduled topic; returns when it was handed to gossipsub (unix µs).
    pub(crate) async fn sign_and_publish(
        &self,
        envelope: ExecutionPayloadEnvelope,
    ) -> Result<u64, PublishFailure> {
        let signature = self.signer.sign(self.chain_id, &envelope).await?;
        let published_us = self.handle.publish(envelope, signature).await??;
        Ok(published_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_by_another_key_is_named() {
        let ours = BlockSigner::new(B256::repeat_byte(1)).unwrap();
        let theirs = BlockSigner::new(B256::repeat_byte(2)).unwrap();
        let hash = signing_hash(901, B256::repeat_byte(7));
        check_signature(hash, &ours.sign_hash(hash), ours.address()).unwrap();
        let error = check_signature(hash, &theirs.sign_hash(hash), ours.address()).unwrap_err();
        assert!(
            matches!(error, SignError::WrongKey { expected, recovered }
                if expected == ours.address() && recovered == theirs.address()),
            "{error}"
        );
        let mut bad = ours.sign_hash(hash);
        bad[64] = 27;
        assert!(matches!(
            check_signature(hash, &bad, ours.address()),
            Err(SignError::Unrecoverable(_))
        ));
    }
}
