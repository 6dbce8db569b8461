//! Every byte of the OP Stack rollup-node P2P protocol that is not a libp2p concern.
//!
//! - [`ExecutionPayload`] V1–V4 and [`ExecutionPayloadEnvelope`], SSZ-encoded exactly as op-node
//!   does (`op-service/eth/ssz.go`), with alloy primitive types throughout.
//! - Block-hash recomputation ([`ExecutionPayloadEnvelope::check_block_hash`]) on alloy's header
//!   and trie.
//! - The blocks gossip message: [`SignedBlockMessage`] (snappy block format, 10 MiB cap checked
//!   before allocating, signature ++ body), the [signing hash](signing_hash) and
//!   [signer recovery](recover_signer), the topic-bound [`message_id`], and [`BlocksTopic`].
//! - `payload_by_number` framing: [`encode_request`], [`ResultCode`], [`ResponseVersion`], the
//!   snappy framed body with raw and decoded caps, and [`decode_response`].
//! - The [`RollupConfig`] subset that picks topics and payload versions from timestamps.
//!
//! The crate is pure: no I/O, no clock reads (time is always an argument), no networking.
//! Decoders return typed errors and never panic or allocate past their caps on any input.
//!
//! # Example
//! A sequencer signs a block; a verifier decodes the gossip bytes and runs every stateless check.
//! ```
//! use op_p2p_types::{
//!     B256, BlockSigner, ExecutionPayload, ExecutionPayloadEnvelope, PayloadVersion,
//!     SignedBlockMessage,
//! };
//!
//! let signer = BlockSigner::new(B256::repeat_byte(1))?;
//! let mut envelope = ExecutionPayloadEnvelope {
//!     parent_beacon_block_root: Some(B256::ZERO),
//!     execution_payload: ExecutionPayload {
//!         withdrawals: Some(vec![]),
//!         blob_gas_used: Some(0),
//!         excess_blob_gas: Some(0),
//!         ..Default::default()
//!     },
//! };
//! envelope.execution_payload.block_hash = envelope.compute_block_hash()?;
//! let wire: Vec<u8> = SignedBlockMessage::sign(&signer, 10, &envelope).encode();
//!
//! let message = SignedBlockMessage::decode(&wire)?;
//! let checks = message.check(10, PayloadVersion::V3);
//! assert_eq!(checks.signer, Ok(signer.address()));
//! assert_eq!(checks.payload, Ok((envelope, Ok(()))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where op-node and the spec disagree
//! This crate follows deployed op-node (the reference in `spec/protocol.md` §14):
//! - the message id hashes the topic in;
//! - the protocol id has no trailing slash ([`payload_by_number_protocol_id_with_slash`] exists
//!   for servers that also answer the spec's form);
//! - Isthmus payloads travel as `payload_by_number` version 1, never 2.
//!
//! # Feature flags
//! - `engine`: conversions to and from `alloy-rpc-types-engine` payloads.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod block_hash;
mod block_ref;
#[cfg(feature = "engine")]
mod engine;
mod error;
mod gossip;
mod message_id;
mod payload;
mod payload_by_number;
mod rollup;
mod signing;
mod ssz;
mod topic;
mod verify;

pub use self::{
    block_hash::transactions_root,
    block_ref::BlockRef,
    error::{
        BlockHashError, GossipDecodeError, InvalidSecretKey, ResponseError, RollupConfigError,
        SignatureError, SszError, TopicError,
    },
    gossip::{MAX_GOSSIP_SIZE, MIN_GOSSIP_SIZE, SignedBlockMessage},
    message_id::{
        MESSAGE_DOMAIN_INVALID_SNAPPY, MESSAGE_DOMAIN_VALID_SNAPPY, MessageId, REUSED_BUFFER_MAX,
        message_id, message_id_decompressed, message_id_with,
    },
    payload::{
        ExecutionPayload, ExecutionPayloadEnvelope, MAX_EXTRA_DATA_BYTES,
        MAX_TRANSACTIONS_PER_PAYLOAD, MAX_WITHDRAWALS_PER_PAYLOAD, PayloadVersion,
        WITHDRAWAL_SSZ_LEN,
    },
    payload_by_number::{
        MAX_RESPONSE_DECODED_BYTES, MAX_RESPONSE_RAW_BYTES, READ_CHUNK, REQUEST_LEN,
        ResponseVersion, ResultCode, decode_framed, decode_request, decode_response,
        decode_response_body, encode_error_response, encode_framed, encode_request,
        encode_response, encode_success_response, read_window,
    },
    rollup::{Genesis, GenesisBlock, Hardfork, RollupConfig},
    signing::{
        BlockSigner, SIGNATURE_LEN, SIGNING_DOMAIN_BLOCKS_V1, payload_hash, recover_signer,
        signing_hash, signing_hash_with_domain,
    },
    topic::{BlocksTopic, payload_by_number_protocol_id, payload_by_number_protocol_id_with_slash},
    verify::{MessageChecks, PARALLEL_VERIFY_MIN_BYTES},
};

/// The alloy types payloads are made of, re-exported so dependents need no version matching.
pub use alloy_eips::eip4895::Withdrawal;
pub use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
